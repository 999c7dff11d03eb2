"""What an inbound message means for the contact it concerns, in one transaction.

A message is matched to the email it answers by ``In-Reply-To`` / ``References`` (our
Message-IDs), a bounce by the original Message-ID embedded in the DSN, and failing both by the
sender's address. Then: a reply stops the steps and is recorded (and synced); an auto-reply is
recorded but is not a reply, and an out-of-office pauses the contact until the date it gives
(or a week); a hard bounce marks the contact bounced and suppresses the address team-wide; soft
bounces count toward a threshold; a delivery delay (the MTA still trying) changes nothing.

Matching costs a bounded number of index lookups per message, whatever the volume stored: the
Message-IDs looked up are capped (``MAX_THREAD_IDS``) and each lookup reads a unique or composite
index (the ``*_statement`` functions, whose plans tests/test_query_plans.py checks).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import Message
from email.utils import parseaddr

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from outbound.mail.classify import Classification, _header, _text, classify, parse
from outbound.mail.out_of_office import return_date
from outbound.service.enrollments import record_event, stop_sending
from outbound.service.outreach import suppress
from outbound.store.models import (
    Contact,
    Enrollment,
    InboundMessage,
    Mailbox,
    OutboundEmail,
)

MESSAGE_IDS = re.compile(r"<[^<>\s]+>")
OUT_OF_OFFICE = re.compile(
    r"out of (the )?office|\booo\b|vacation|holiday|on leave|parental leave|annual leave|"
    r"away from|i am away|i'm away|currently away|be back|will return|returning|abwesen|"
    r"absence|congés|ausente",
    re.I,
)
DEFAULT_PAUSE = timedelta(days=7)
# Message-IDs of a thread looked up per message: In-Reply-To and the newest References (ours
# are recent); a References header of thousands of ids must not become one huge IN (...).
MAX_THREAD_IDS = 50
# Where the quoted original starts: Gmail/Apple "On ... wrote:", Outlook's separator.
QUOTE_HEADER = re.compile(r"^\s*(On .{5,200} wrote:|-----\s*Original Message\s*-----)\s*$")


@dataclass(frozen=True)
class Outcome:
    kind: str  # reply | auto_reply | bounce | unmatched | duplicate
    enrollment_id: int | None
    detail: str


def dedup_key(msg: Message, raw: bytes) -> str:
    mid = str(msg.get("Message-ID", "")).strip()
    return mid[:300] if mid else "sha256:" + hashlib.sha256(raw).hexdigest()


def reply_text(msg: Message, limit: int = 4000) -> str:
    """The new text of a reply: the plain part without quoted lines and the quote header."""
    text = ""
    for part in msg.walk():
        if part.get_content_type() == "text/plain" and not part.is_multipart():
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                text = payload.decode(part.get_content_charset() or "utf-8", "replace")
                break
    if not text:
        text = _text(msg)
    kept = []
    for line in text.splitlines():
        if line.startswith(">"):
            continue
        if (
            re.match(r"^\s*On .{5,200} wrote:\s*$", line)
            or line.strip() == "-----Original Message-----"
        ):
            break
        kept.append(line)
    return "\n".join(kept).strip()[:limit]


def our_email_statement(team_id: int, ids: list[str]) -> Select[OutboundEmail]:
    """The latest of our emails among these Message-IDs (the unique message_id index)."""
    return (
        select(OutboundEmail)
        .where(OutboundEmail.team_id == team_id, OutboundEmail.message_id.in_(ids))
        .order_by(OutboundEmail.id.desc())
        .limit(1)
    )


def by_address_statement(mailbox_id: int, address: str) -> Select[OutboundEmail]:
    """The latest email this mailbox sent to the address (ix_outbound_emails_mailbox_to)."""
    return (
        select(OutboundEmail)
        .where(
            OutboundEmail.mailbox_id == mailbox_id,
            OutboundEmail.to_address == address.lower(),
            OutboundEmail.status == "sent",
        )
        .order_by(OutboundEmail.id.desc())
        .limit(1)
    )


def thread_ids(in_reply_to: str, references: str) -> list[str]:
    """The Message-IDs a message answers, nearest first, at most ``MAX_THREAD_IDS``."""
    found = MESSAGE_IDS.findall(in_reply_to) + MESSAGE_IDS.findall(references)[::-1]
    return list(dict.fromkeys(found))[:MAX_THREAD_IDS]


def _our_email(session: Session, mailbox: Mailbox, ids: list[str]) -> OutboundEmail | None:
    if not ids:
        return None
    return session.scalar(our_email_statement(mailbox.team_id, ids))


def _by_address(session: Session, mailbox: Mailbox, address: str) -> OutboundEmail | None:
    if not address:
        return None
    return session.scalar(by_address_statement(mailbox.id, address))


def _failed_recipient(msg: Message) -> str:
    for header in ("X-Failed-Recipients", "Final-Recipient", "Original-Recipient"):
        value = msg.get(header)
        if value:
            return parseaddr(str(value).split(";")[-1])[1]
    match = re.search(r"(?:Final|Original)-Recipient:\s*rfc822;\s*<?([^\s>]+)", _text(msg), re.I)
    return match.group(1) if match else ""


def _match_and_apply(
    session: Session,
    mailbox: Mailbox,
    msg: Message,
    verdict: Classification,
    sender: str,
    now: datetime,
    soft_bounce_limit: int,
) -> Outcome:
    if verdict.kind == "bounce":
        ours = _our_email(session, mailbox, [verdict.original_message_id or ""])
        ours = ours or _by_address(session, mailbox, _failed_recipient(msg))
    else:
        ids = thread_ids(_header(msg, "In-Reply-To"), _header(msg, "References"))
        ours = _our_email(session, mailbox, ids) or _by_address(session, mailbox, sender)
    enrollment = session.get(Enrollment, ours.enrollment_id) if ours is not None else None
    if enrollment is None:
        return Outcome("unmatched", None, f"{verdict.kind} not about any of our emails")
    return _apply(session, mailbox, enrollment, ours, msg, verdict, now, soft_bounce_limit)


def ingest(
    session: Session,
    mailbox: Mailbox,
    raw: bytes,
    *,
    now: datetime,
    uid: int | None = None,
    soft_bounce_limit: int = 3,
) -> Outcome:
    msg = parse(raw)
    key = dedup_key(msg, raw)
    seen = session.scalar(
        select(InboundMessage.id).where(
            InboundMessage.mailbox_id == mailbox.id, InboundMessage.dedup_key == key
        )
    )
    if seen is not None:
        return Outcome("duplicate", None, "already handled")
    verdict = classify(msg)
    sender = parseaddr(_header(msg, "From"))[1].lower()
    own = sender == mailbox.email.lower() or _our_email(session, mailbox, [key]) is not None
    if own and verdict.kind != "bounce":
        # A copy of our own email (BCC to self, a client filing sent mail in the inbox): its
        # threading headers name our earlier step, but it is nobody's reply.
        outcome = Outcome("own", None, "a copy of our own email")
    else:
        outcome = _match_and_apply(session, mailbox, msg, verdict, sender, now, soft_bounce_limit)
    session.add(
        InboundMessage(
            mailbox_id=mailbox.id,
            dedup_key=key,
            uid=uid,
            from_address=sender[:320] or None,
            subject=_header(msg, "Subject")[:2000],
            kind=outcome.kind,
            detail=outcome.detail[:2000],
            enrollment_id=outcome.enrollment_id,
            received_at=now,
        )
    )
    return outcome


def _apply(
    session: Session,
    mailbox: Mailbox,
    enrollment: Enrollment,
    ours: OutboundEmail | None,
    msg: Message,
    verdict: Classification,
    now: datetime,
    soft_bounce_limit: int,
) -> Outcome:
    email_id = ours.id if ours is not None else None
    subject = _header(msg, "Subject")
    if verdict.kind == "bounce":
        if verdict.bounce_type == "not_failure":
            return Outcome("bounce", enrollment.id, "delivery report, not a failure")
        if verdict.bounce_type == "delayed":  # the MTA is still trying: nothing to do yet
            status = verdict.status or "no status"
            return Outcome("bounce", enrollment.id, f"delivery delayed, not a failure ({status})")
        contact = session.get(Contact, enrollment.contact_id)
        assert contact is not None
        status = verdict.status or "unknown status"
        if verdict.bounce_type == "soft":
            enrollment.soft_bounces += 1
            if enrollment.soft_bounces < soft_bounce_limit:
                return Outcome(
                    "bounce",
                    enrollment.id,
                    f"soft bounce {enrollment.soft_bounces} of {soft_bounce_limit} ({status})",
                )
            detail = f"{soft_bounce_limit} soft bounces in a row (last {status})"
        else:
            detail = f"hard bounce ({status})"
        record_event(
            session, enrollment, "bounced", subject=subject, body=detail, email_id=email_id
        )
        suppress(session, mailbox.team_id, contact.email, "bounced")
        return Outcome("bounce", enrollment.id, detail)
    if verdict.kind == "auto_reply":
        text = subject + "\n" + reply_text(msg)
        record_event(
            session, enrollment, "auto_reply", subject=subject, body=text[:2000], email_id=email_id
        )
        if not OUT_OF_OFFICE.search(text) or enrollment.state != "active":
            return Outcome("auto_reply", enrollment.id, "automatic reply")
        back = return_date(text, now)
        until = back or now + DEFAULT_PAUSE
        resume_from = stop_sending(session, enrollment)
        if resume_from is not None:
            enrollment.next_step = resume_from
        enrollment.state = "paused"
        enrollment.paused_until = until
        said = "the return date in the message" if back else "no return date given: one week"
        return Outcome(
            "auto_reply", enrollment.id, f"out of office until {until:%Y-%m-%d} ({said})"
        )
    record_event(
        session, enrollment, "replied", subject=subject, body=reply_text(msg), email_id=email_id
    )
    return Outcome("reply", enrollment.id, "reply")
