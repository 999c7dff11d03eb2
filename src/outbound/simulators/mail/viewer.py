"""The demo's "Sent mail" page: what the SMTP sink kept, newest first, with what each prospect
will do about it. Read-only; mounted by `outbound demo` only."""

from __future__ import annotations

import html
from email import message_from_bytes, policy
from email.utils import parseaddr, parsedate_to_datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from outbound.mailclients.inbox import open_maildir
from outbound.simulators.mail.prospects import behaviour

STYLE = (
    "body{font-family:system-ui,sans-serif;margin:1.5rem;max-width:72rem}"
    "table{border-collapse:collapse;width:100%}td,th{padding:.35rem .5rem;text-align:left;"
    "border-bottom:1px solid #ddd;vertical-align:top}th{background:#f4f4f4}"
    ".tag{font-size:.8rem;padding:.1rem .4rem;border-radius:.6rem;background:#eef}"
    "details{max-width:36rem}pre{white-space:pre-wrap}"
)


def sent_messages(sink: Path, limit: int = 200) -> list[dict[str, Any]]:
    box = open_maildir(sink)
    rows: list[dict[str, Any]] = []
    for key in box.iterkeys():
        msg = message_from_bytes(box.get_bytes(key), policy=policy.default)
        to = parseaddr(str(msg["To"]))[1]
        body = msg.get_body(("plain",))
        rows.append(
            {
                "date": parsedate_to_datetime(str(msg["Date"])) if msg["Date"] else None,
                "from": str(msg["From"]),
                "to": to,
                "subject": str(msg["Subject"]),
                "in_reply_to": str(msg["In-Reply-To"] or ""),
                "body": body.get_content() if body is not None else "",
                "prospect_will": behaviour(to),
            }
        )
    rows.sort(key=lambda r: r["date"].timestamp() if r["date"] else 0, reverse=True)
    return rows[:limit]


def viewer_router(sink: Path) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/demo/mail.json")
    def mail_json() -> list[dict[str, Any]]:
        return [
            {**r, "date": r["date"].isoformat() if r["date"] else None} for r in sent_messages(sink)
        ]

    @router.get("/demo/mail", response_class=HTMLResponse)
    def mail_page() -> str:
        rows = sent_messages(sink)
        body = "".join(
            "<tr><td>{date}</td><td>{frm}</td><td>{to}</td><td><details><summary>{subject}"
            "</summary><pre>{text}</pre></details></td><td><span class=tag>{will}</span></td>"
            "</tr>".format(
                date=f"{r['date']:%H:%M:%S}" if r["date"] else "",
                frm=html.escape(r["from"]),
                to=html.escape(r["to"]),
                subject=html.escape(r["subject"]),
                text=html.escape(r["body"]),
                will=r["prospect_will"].replace("_", " "),
            )
            for r in rows
        )
        return (
            f"<!doctype html><html lang=en><head><meta charset=utf-8><title>Demo: sent mail"
            f"</title><meta name=viewport content='width=device-width,initial-scale=1'>"
            f"<meta http-equiv=refresh content=5><style>{STYLE}</style></head><body>"
            f"<h1>Sent mail (demo SMTP sink)</h1><p>{len(rows)} most recent messages Outbound "
            "sent. Nothing leaves this machine; the demo's prospects answer some of them "
            "(reply, out-of-office, bounce) into the sender's mailbox.</p><table><thead><tr>"
            "<th>Sent</th><th>From</th><th>To</th><th>Subject</th><th>Prospect will</th></tr>"
            f"</thead><tbody>{body}</tbody></table></body></html>"
        )

    return router
