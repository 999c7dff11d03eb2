"""The Mailbox page: SMTP to send, IMAP to read replies, sending window and daily limit."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from outbound.api.deps import BoxDep, DbDep, SettingsDep
from outbound.api.schemas import MailboxIn
from outbound.service import mailboxes
from outbound.service.errors import ServiceError
from outbound.web.forms import FormInvalid, attempt, blank_to_none, parse
from outbound.web.render import page
from outbound.web.session import check_csrf, current_caller

router = APIRouter(include_in_schema=False)
DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


@router.get("/mailbox")
def mailbox_page(request: Request, db: DbDep) -> Response:
    with db.session() as session:
        caller, user = current_caller(request, session)
        mb = mailboxes.get_mailbox(session, caller.user_id)
        values: dict[str, Any] = {}
        if mb is not None:
            values = {k: getattr(mb, k) for k in mailboxes.SETTABLE}
        return page(
            request,
            "mailbox.html",
            user=user,
            nav="mailbox",
            mb=mb,
            values=values,
            days=DAYS,
            flash=request.query_params.get("done"),
        )


@router.post("/mailbox", dependencies=[Depends(check_csrf)])
async def save_mailbox(request: Request, db: DbDep, box: BoxDep, settings: SettingsDep) -> Response:
    form = await request.form()
    # The ATS and mail servers are called synchronously: off the event loop.
    return await run_in_threadpool(_save_mailbox, request, form, db, box, settings)


def _save_mailbox(request: Request, form: Any, db: Any, box: Any, settings: Any) -> Response:
    raw = {k: str(v) for k, v in form.items() if k not in ("csrf_token", "send_days")}
    data: dict[str, Any] = {k: blank_to_none(v) for k, v in raw.items()}
    data["send_days"] = [int(str(d)) for d in form.getlist("send_days") if str(d).isdigit()]
    with db.session() as session:
        caller, user = current_caller(request, session)
        existing = mailboxes.get_mailbox(session, caller.user_id)
    try:
        body = parse(MailboxIn, {k: v for k, v in data.items() if v is not None})
        values = body.model_dump(exclude={"smtp_password", "imap_password"})
        values["smtp_username"] = values["smtp_username"] or body.email
        passwords = {"smtp_password": body.smtp_password, "imap_password": body.imap_password}
        change = attempt(
            lambda: mailboxes.plan_change(existing, caller, values, passwords, box, settings)
        )
        # No transaction is open while the servers answer (on SQLite it would hold the lock).
        attempt(lambda: mailboxes.verify(change.mailbox, change.secrets))
        with db.session() as session:
            try:
                mailboxes.save_change(session, caller, change, box)
            except ServiceError as exc:  # changed meanwhile: said above the form
                raise FormInvalid({"form": exc.message}) from exc
    except FormInvalid as exc:
        keep = {k: v for k, v in data.items() if "password" not in k}  # never echo passwords
        return page(
            request,
            "mailbox.html",
            422,
            user=user,
            nav="mailbox",
            mb=existing,
            values=keep,
            errors=exc.errors,
            days=DAYS,
        )
    return RedirectResponse("/mailbox?done=Mailbox saved: both servers answered.", 303)
