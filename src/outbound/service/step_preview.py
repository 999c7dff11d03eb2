"""A step as one contact of the sequence would get it, and a test send of it to yourself.

The preview marks each variable the contact has no value for (and no fallback), so a
recruiter sees before sending what would hold the contact. The test send goes through the
signed-in user's own mailbox to their own address; the mail server is called with no
database session open.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, make_msgid

from sqlalchemy import select
from sqlalchemy.orm import Session

from outbound.crypto import SecretBox
from outbound.domain.template_values import template_values
from outbound.domain.templates import STANDARD_VARIABLES, VARIABLE
from outbound.mailclients import smtp
from outbound.service import mailbox_oauth
from outbound.service.caller import Caller
from outbound.service.errors import NotFound, ServiceError
from outbound.service.mailboxes import MailboxUnreachable, get_mailbox, smtp_config
from outbound.service.sequences import get_sequence
from outbound.settings import Settings
from outbound.store.db import Database
from outbound.store.models import Contact, Enrollment, Sequence, User

# How many of the sequence's contacts the preview offers to pick from.
PICK_LIMIT = 200


@dataclass(frozen=True)
class Piece:
    """A run of rendered text; ``missing`` names a variable left without a value."""

    text: str
    missing: str | None = None


@dataclass(frozen=True)
class Preview:
    subject: list[Piece]
    body: list[Piece]
    missing: list[str]

    def text(self, pieces: list[Piece]) -> str:
        return "".join(p.text for p in pieces)


def variables() -> tuple[str, ...]:
    """What the variable picker offers: the contact fields every template may use."""
    return STANDARD_VARIABLES


def pieces(template: str, values: dict[str, str | None], missing: list[str]) -> list[Piece]:
    out: list[Piece] = []
    at = 0
    for match in VARIABLE.finditer(template):
        out.append(Piece(template[at : match.start()]))
        name, fallback = match.group(1), match.group(2)
        value = values.get(name)
        if value is not None and str(value).strip():
            out.append(Piece(str(value).strip()))
        elif fallback is not None:
            out.append(Piece(fallback.strip()))
        else:
            out.append(Piece(f"{{{{{name}}}}}", missing=name))
            if name not in missing:
                missing.append(name)
        at = match.end()
    out.append(Piece(template[at:]))
    return [p for p in out if p.text]


def contacts_to_pick(session: Session, seq: Sequence) -> list[tuple[int, str]]:
    """The first contacts of the sequence (bounded), as (enrollment id, label)."""
    rows = session.execute(
        select(Enrollment.id, Contact.first_name, Contact.last_name, Contact.email)
        .join(Contact, Contact.id == Enrollment.contact_id)
        .where(Enrollment.sequence_id == seq.id)
        .order_by(Enrollment.id)
        .limit(PICK_LIMIT)
    ).all()
    return [
        (eid, " ".join(p for p in (first, last) if p) + f" <{email}>" if first or last else email)
        for eid, first, last, email in rows
    ]


def preview_step(
    session: Session, caller: Caller, sequence_id: int, position: int, enrollment_id: int | None
) -> tuple[Preview, Contact | None]:
    """The step rendered for one contact of the sequence (its first one when none is named)."""
    seq = get_sequence(session, caller, sequence_id)
    if not 0 <= position < len(seq.steps):
        raise NotFound(f"step {position + 1} not found", "position")
    query = select(Enrollment).where(Enrollment.sequence_id == seq.id)
    if enrollment_id is not None:
        query = query.where(Enrollment.id == enrollment_id)
    enrollment = session.scalar(query.order_by(Enrollment.id).limit(1))
    if enrollment_id is not None and enrollment is None:
        raise NotFound("that contact is not in this sequence", "enrollment_id")
    contact = session.get(Contact, enrollment.contact_id) if enrollment else None
    sender = session.get(User, seq.owner_id)
    assert sender is not None
    values = template_values(contact, sender.name) if contact else {}
    step = seq.steps[position]
    missing: list[str] = []
    subject_template = step.subject or f"Re: {seq.steps[0].subject}"
    subject = pieces(subject_template, values, missing)
    body = pieces(step.body, values, missing)
    return Preview(subject, body, missing), contact


@dataclass(frozen=True)
class TestSend:
    to_address: str
    subject: str


class NoMailbox(ServiceError):
    status_code = 409


def send_test(
    db: Database,
    box: SecretBox,
    caller: Caller,
    sequence_id: int,
    position: int,
    enrollment_id: int | None,
    settings: Settings | None = None,
) -> TestSend:
    """Send the step, rendered for a contact, to the signed-in user through their mailbox
    (``settings``: needed for a mailbox connected by OAuth, whose token may need a refresh)."""
    with db.read_session() as session:
        mb = get_mailbox(session, caller.user_id)
        if mb is None:
            raise NoMailbox("connect your mailbox first: a test is sent through it", "mailbox")
        user = session.get(User, caller.user_id)
        assert user is not None
        preview, _ = preview_step(session, caller, sequence_id, position, enrollment_id)
        config = smtp_config(mb, box.open(mb.secrets_encrypted))
        oauth, mailbox_id = mb.auth_kind == "oauth", mb.id
        from_name, from_address = mb.from_name, mb.email
        to_address = user.email
    if oauth:  # the provider may be asked for a new token: no transaction open meanwhile
        if settings is None:
            raise MailboxUnreachable("this server cannot refresh the mailbox's access", "mailbox")
        try:
            token = mailbox_oauth.access_token(db, box, settings, mailbox_id)
        except mailbox_oauth.MailboxAccessLost as exc:
            raise MailboxUnreachable(exc.reason, "mailbox") from exc
        config = dataclasses.replace(config, oauth_token=token)
    msg = EmailMessage()
    msg["From"] = formataddr((from_name, from_address))
    msg["To"] = to_address
    subject = "[Test] " + re.sub(r"\s+", " ", preview.text(preview.subject))
    msg["Subject"] = subject
    msg["Message-ID"] = make_msgid(domain=from_address.rsplit("@", 1)[-1] or None)
    msg.set_content(preview.text(preview.body))
    # No session is open: a slow mail server holds no database lock.
    try:
        asyncio.run(smtp.send(config, msg, from_address, to_address))
    except smtp.SmtpFailure as exc:
        raise MailboxUnreachable(
            f"the mail server did not take the test: {exc.message}", "mailbox"
        ) from exc
    return TestSend(to_address, subject)
