"""The demo's prospects: they read what the SMTP sink kept and answer some of it the way real
people and mail systems do — a reply, an out-of-office, a bounce — by delivering the answer into
the sender's mailbox (a Maildir), which Outbound reads through its normal inbound path.

Who does what is decided by a hash of the address, so a restarted demo behaves the same; a
message is answered a few seconds after it was sent, and is handled once (moved to cur/).
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage, Message
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, make_msgid, parseaddr
from pathlib import Path

from outbound.mailclients.inbox import open_maildir

log = logging.getLogger("outbound.demo.prospects")

REPLIES = (
    "Thanks for reaching out, {first}. I'd be open to a chat - how about Thursday?",
    "Hi, timing is actually good. Send me the details?",
    "Not looking right now, but keep me in mind for next year.",
)


def behaviour(address: str) -> str:
    """reply | out_of_office | bounce | silent, the same for an address on every run."""
    bucket = int(hashlib.sha256(address.lower().encode()).hexdigest(), 16) % 100
    if bucket < 14:
        return "reply"
    if bucket < 20:
        return "out_of_office"
    if bucket < 24:
        return "bounce"
    return "silent"


def _answer_base(original: Message, sender: str, recipient: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = recipient
    msg["Date"] = format_datetime(datetime.now(UTC))
    msg["Message-ID"] = make_msgid(domain="prospects.example.com")
    msg["In-Reply-To"] = str(original["Message-ID"])
    msg["References"] = " ".join(
        x for x in (original.get("References"), str(original["Message-ID"])) if x
    )
    return msg


def _plain(msg: Message) -> str:
    for part in msg.walk():
        if part.get_content_type() == "text/plain":
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                return payload.decode(part.get_content_charset() or "utf-8", "replace")
    return ""


def reply(original: Message) -> EmailMessage:
    prospect = parseaddr(str(original["To"]))[1]
    msg = _answer_base(original, str(original["To"]), str(original["From"]))
    msg["Subject"] = "Re: " + str(original["Subject"]).removeprefix("Re: ")
    first = prospect.split(".")[0].title()
    pick = int(hashlib.sha256(prospect.encode()).hexdigest(), 16) % len(REPLIES)
    quoted = _plain(original).strip().replace("\n", "\n> ")[:300]
    msg.set_content(
        REPLIES[pick].format(first=first)
        + f"\n\nOn {original['Date']}, {original['From']} wrote:\n> {quoted}\n"
    )
    return msg


def out_of_office(original: Message) -> EmailMessage:
    back = datetime.now(UTC) + timedelta(days=3)
    msg = _answer_base(original, str(original["To"]), str(original["From"]))
    msg["Subject"] = "Automatic reply: " + str(original["Subject"])
    msg["Auto-Submitted"] = "auto-replied"
    msg["X-Auto-Response-Suppress"] = "All"
    msg.set_content(
        "Thank you for your message. I am out of the office with limited access to email "
        f"and will be back on {back:%A, %B} {back.day}, {back.year}."
    )
    return msg


def bounce(original: Message, reporting_host: str = "mx.prospects.example.com") -> Message:
    """An RFC 3464 delivery status notification for a mailbox that does not exist."""
    recipient = parseaddr(str(original["To"]))[1]
    dsn = MIMEMultipart("report", report_type="delivery-status")
    dsn["From"] = f"Mail Delivery System <MAILER-DAEMON@{reporting_host}>"
    dsn["To"] = str(original["From"])
    dsn["Subject"] = "Undelivered Mail Returned to Sender"
    dsn["Date"] = format_datetime(datetime.now(UTC))
    dsn["Message-ID"] = make_msgid(domain=reporting_host)
    dsn["Auto-Submitted"] = "auto-replied"
    dsn.attach(
        MIMEText(
            f"This is the mail system at host {reporting_host}.\n\n"
            f"<{recipient}>: host {reporting_host} said: 550 5.1.1 <{recipient}>: "
            "Recipient address rejected: User unknown in virtual mailbox table\n"
        )
    )
    per_message, per_recipient = Message(), Message()
    per_message["Reporting-MTA"] = f"dns; {reporting_host}"
    per_recipient["Final-Recipient"] = f"rfc822; {recipient}"
    per_recipient["Action"] = "failed"
    per_recipient["Status"] = "5.1.1"
    per_recipient["Diagnostic-Code"] = "smtp; 550 5.1.1 User unknown"
    status = MIMEBase("message", "delivery-status")
    status.set_payload([per_message, per_recipient])
    headers = MIMEBase("text", "rfc822-headers")
    headers.set_payload(
        "".join(f"{k}: {original[k]}\n" for k in ("From", "To", "Subject", "Message-ID", "Date"))
    )
    dsn.attach(status)
    dsn.attach(headers)
    return dsn


ANSWERS: dict[str, Callable[[Message], Message]] = {
    "reply": reply,
    "out_of_office": out_of_office,
    "bounce": bounce,
}


class ProspectSimulator(threading.Thread):
    def __init__(
        self,
        sent: Path,
        inbox_for: Callable[[str], Path | None],
        delay_seconds: float = 6.0,
        interval: float = 1.0,
    ) -> None:
        super().__init__(daemon=True, name="demo-prospects")
        self.sent = sent
        self.inbox_for = inbox_for
        self.delay_seconds = delay_seconds
        self.interval = interval
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.wait(self.interval):
            try:
                self.tick()
            except Exception:  # the demo keeps going; say what happened
                log.exception("demo prospects")

    def tick(self) -> int:
        box = open_maildir(self.sent)
        answered = 0
        now = time.time()
        for path in sorted((self.sent / "new").glob("*")):
            if now - path.stat().st_mtime < self.delay_seconds:
                continue  # people take a moment
            key = path.name.split(":", 1)[0]
            original = message_from_bytes(box.get_bytes(key), policy=policy.default)
            prospect = parseaddr(str(original["To"]))[1]
            first_email = "In-Reply-To" not in original
            what = behaviour(prospect)
            # A bounce or an out-of-office answers the first email; a reply may answer any.
            answer = ANSWERS.get(what) if (first_email or what == "reply") else None
            inbox = self.inbox_for(parseaddr(str(original["From"]))[1])
            if answer is not None and inbox is not None:
                open_maildir(inbox).add(answer(original).as_bytes())
                answered += 1
            msg = box[key]
            msg.set_subdir("cur")
            box[key] = msg
        return answered
