"""Deciding what to send now: one step for one due contact per mailbox slot.

Each planned send is an OutboundEmail row written in the same transaction that moves the
contact on, so planning twice is impossible and nothing planned is lost. A mailbox sends only
inside its window (days, hours, time zone), at most its daily limit, and with a gap after each
send so the day's mail is spread out.
"""

from __future__ import annotations

import random
import secrets
from datetime import datetime, timedelta

from sqlalchemy import exists, func, or_, select
from sqlalchemy.orm import Session

from outbound.domain.contact_status import BLOCKS_SENDING
from outbound.domain.sending_window import SendingWindow
from outbound.domain.templates import MissingVariables, render
from outbound.mail.compose import links_in, new_message_id, thread_subject
from outbound.store.models import (
    Contact,
    Enrollment,
    Mailbox,
    OutboundEmail,
    Sequence,
    Suppression,
    SyncJob,
    User,
)

PLAN_AHEAD = timedelta(seconds=5)
PLAN_BATCH = 50


def window_of(mb: Mailbox) -> SendingWindow:
    return SendingWindow.parse(
        mb.time_zone, mb.window_start, mb.window_end, list(mb.send_days), mb.daily_limit
    )


def template_values(contact: Contact, sender: User) -> dict[str, str | None]:
    full = " ".join(p for p in (contact.first_name, contact.last_name) if p) or None
    values: dict[str, str | None] = {
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "full_name": full,
        "email": contact.email,
        "title": contact.title,
        "company": contact.company,
        "phone": contact.phone,
        "location": contact.location,
        "linkedin_url": contact.linkedin_url,
        "sender_name": sender.name,
        "sender_first_name": sender.name.split()[0] if sender.name else None,
    }
    for key, value in (contact.custom_variables or {}).items():
        values.setdefault(key, None if value is None else str(value))
    return values


def resume_paused(session: Session, now: datetime) -> int:
    """Out-of-office pauses end on their date; the sequence picks up where it stopped."""
    paused = session.scalars(
        select(Enrollment).where(Enrollment.state == "paused", Enrollment.paused_until <= now)
    ).all()
    for enrollment in paused:
        enrollment.state = "active"
        enrollment.paused_until = None
        enrollment.next_send_at = now
    return len(paused)


def _mailboxes_due(session: Session, now: datetime) -> list[Mailbox]:
    q = select(Mailbox).where(
        Mailbox.status == "active",
        (Mailbox.next_slot_at.is_(None)) | (Mailbox.next_slot_at <= now),
    )
    if session.get_bind().dialect.name == "postgresql":
        q = q.with_for_update(skip_locked=True)  # one planner per mailbox across the fleet
    return list(session.scalars(q))


def plan(
    session: Session,
    now: datetime,
    day_seconds: float = 86_400.0,
    rng: random.Random | None = None,
) -> int:
    """Plan the sends whose slots fall in the next few seconds, for every mailbox whose slot
    has come; returns how many were planned."""
    planned = 0
    for mb in _mailboxes_due(session, now):
        window = window_of(mb)
        if not window.is_open(now):
            mb.next_slot_at = window.next_open(now)
            continue
        day_start = window.local_day_start(now)
        sent_today = session.scalar(
            select(func.count(OutboundEmail.id)).where(
                OutboundEmail.mailbox_id == mb.id,
                OutboundEmail.created_at >= day_start,
                OutboundEmail.status != "cancelled",
            )
        )
        if (sent_today or 0) >= mb.daily_limit:
            mb.next_slot_at = window.next_open(day_start + timedelta(days=1))
            continue
        # Slots a few seconds ahead are planned in one go, each send at its own time, so a
        # fast (demo) clock is not held back by the loop while real sends stay spread out.
        slot = max(now, mb.next_slot_at or now)
        budget = min(PLAN_BATCH, mb.daily_limit - (sent_today or 0))
        while budget > 0 and slot <= now + PLAN_AHEAD and window.is_open(slot):
            enrollment = _next_due(session, mb, now)
            if enrollment is None:
                break
            if prepare(session, mb, enrollment, now, send_at=slot):
                planned += 1
                budget -= 1
                gap = window.spacing(rng).total_seconds() * day_seconds / 86_400.0
                slot += timedelta(seconds=gap)
                mb.next_slot_at = slot
    return planned


def _next_due(session: Session, mb: Mailbox, now: datetime) -> Enrollment | None:
    return session.scalar(
        select(Enrollment)
        .join(Sequence, Sequence.id == Enrollment.sequence_id)
        .where(
            Sequence.owner_id == mb.user_id,
            Enrollment.state == "active",
            or_(
                Enrollment.error_code.is_(None),
                Enrollment.error_code.not_in(BLOCKS_SENDING),
            ),
            Enrollment.next_send_at <= now,
            # A follow-up goes only once the inbox has been read since it fell due:
            # a reply that came in before then is seen first and stops it.
            or_(
                Enrollment.next_step == 0,
                Enrollment.next_send_at <= (mb.last_polled_at or datetime.min),
            ),
            # The dedup check runs first, so "Exists in ..." warns before any email.
            ~exists().where(
                SyncJob.enrollment_id == Enrollment.id,
                SyncJob.kind == "check_duplicate",
                SyncJob.status.in_(("pending", "running")),
            ),
        )
        .order_by(Enrollment.next_send_at, Enrollment.id)
        .limit(1)
    )


def prepare(
    session: Session,
    mb: Mailbox,
    enrollment: Enrollment,
    now: datetime,
    send_at: datetime | None = None,
) -> bool:
    """Write the next step's email for this contact, or say on the contact why not."""
    seq = session.get(Sequence, enrollment.sequence_id)
    contact = session.get(Contact, enrollment.contact_id)
    sender = session.get(User, mb.user_id)
    assert seq is not None and contact is not None and sender is not None
    enrollment.next_send_at = None
    suppressed = session.scalar(
        select(Suppression.reason).where(
            Suppression.team_id == enrollment.team_id, Suppression.email == contact.email
        )
    )
    if suppressed is not None:
        enrollment.state = "unsubscribed" if suppressed == "unsubscribed" else "bounced"
        return False
    if enrollment.next_step >= len(seq.steps):
        enrollment.state = "finished"
        return False
    step = seq.steps[enrollment.next_step]
    values = template_values(contact, sender)
    try:
        first_subject = render(seq.steps[0].subject, values)
        subject = thread_subject(first_subject, render(step.subject, values))
        body = render(step.body, values)
    except MissingVariables as exc:
        names = ", ".join(f"{{{{{n}}}}}" for n in exc.names)
        enrollment.error_code = "missing_variable"
        enrollment.error_message = (
            f"Step {step.position + 1} uses {names}, which {contact.email} has no value for. "
            "Add the value to the contact (or give the variable a fallback such as "
            "{{company|your team}}), then resume the contact."
        )
        return False
    earlier = session.scalars(
        select(OutboundEmail.message_id)
        .where(OutboundEmail.enrollment_id == enrollment.id, OutboundEmail.status == "sent")
        .order_by(OutboundEmail.step_position, OutboundEmail.id)
    ).all()
    session.add(
        OutboundEmail(
            team_id=enrollment.team_id,
            enrollment_id=enrollment.id,
            mailbox_id=mb.id,
            step_position=step.position,
            message_id=new_message_id(mb.email),
            token=secrets.token_urlsafe(18),
            to_address=contact.email,
            subject=subject,
            body_text=body,
            in_reply_to=earlier[-1] if earlier else None,
            references=" ".join(earlier) if earlier else None,
            links=links_in(body),
            tracking=seq.tracking_enabled,
            unsubscribe_link=seq.unsubscribe_link,
            status="queued",
            run_after=send_at or now,
            created_at=now,
        )
    )
    return True
