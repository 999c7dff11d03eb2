"""Deciding what to send now: one step for one due contact per mailbox slot.

Each planned send is an OutboundEmail row written in the same transaction that moves the
contact on, so planning twice is impossible and nothing planned is lost. A mailbox sends only
inside its window (days, hours, time zone), at most its daily limit, and with a gap after each
send so the day's mail is spread out.

Each round's work is bounded: every query reads an index range under a LIMIT (a batch of ended
pauses, a batch of due contacts per mailbox, today's emails of one mailbox), never a whole
table. The ``*_statement`` functions build those queries, so that tests/test_query_plans.py
checks the plans of the very statements run here, on both engines.
"""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, exists, func, or_, select
from sqlalchemy.orm import Session

from outbound.domain.contact_status import BLOCKS_SENDING
from outbound.domain.sending_window import SendingWindow
from outbound.domain.template_values import template_values
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
# Ended out-of-office pauses resumed per round; more wait for the next round (half a second).
RESUME_BATCH = 500


def window_of(mb: Mailbox) -> SendingWindow:
    return SendingWindow.parse(
        mb.time_zone, mb.window_start, mb.window_end, list(mb.send_days), mb.daily_limit
    )


def resume_paused_statement(now: datetime, limit: int = RESUME_BATCH) -> Select[Enrollment]:
    """The pauses that have ended, earliest first (ix_enrollments_paused)."""
    return (
        select(Enrollment)
        .where(Enrollment.state == "paused", Enrollment.paused_until <= now)
        .order_by(Enrollment.paused_until, Enrollment.id)
        .limit(limit)
    )


def resume_paused(session: Session, now: datetime, limit: int = RESUME_BATCH) -> int:
    """Out-of-office pauses end on their date; the sequence picks up where it stopped."""
    paused = session.scalars(resume_paused_statement(now, limit)).all()
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
        sent_today = session.scalar(sent_today_statement(mb.id, day_start)) or 0
        if sent_today >= mb.daily_limit:
            mb.next_slot_at = window.next_open(day_start + timedelta(days=1))
            continue
        # Slots a few seconds ahead are planned in one go, each send at its own time, so a
        # fast (demo) clock is not held back by the loop while real sends stay spread out.
        slot = max(now, mb.next_slot_at or now)
        budget = min(PLAN_BATCH, mb.daily_limit - sent_today)
        if slot > now + PLAN_AHEAD or not window.is_open(slot):
            continue
        # One query for the round's candidates and a few for what their emails need, not a
        # few per send: they are taken in order while slots remain; the rest stay due.
        due = list(session.scalars(next_due_statement(mb, now, budget)))
        batch = load_batch(session, mb, due)
        for enrollment in due:
            if budget <= 0 or slot > now + PLAN_AHEAD or not window.is_open(slot):
                break
            if prepare(session, mb, enrollment, now, batch, send_at=slot):
                planned += 1
                budget -= 1
                gap = window.spacing(rng).total_seconds() * day_seconds / 86_400.0
                slot += timedelta(seconds=gap)
                mb.next_slot_at = slot
    return planned


def sent_today_statement(mailbox_id: int, day_start: datetime) -> Select[int]:
    """The mailbox's emails since its local midnight (ix_outbound_emails_mailbox_day)."""
    return select(func.count(OutboundEmail.id)).where(
        OutboundEmail.mailbox_id == mailbox_id,
        OutboundEmail.created_at >= day_start,
        OutboundEmail.status != "cancelled",
    )


def next_due_statement(mb: Mailbox, now: datetime, limit: int) -> Select[Enrollment]:
    """The mailbox owner's next contacts to email, in the order they fell due.

    Read along ix_enrollments_next_send_at; the duplicate-check condition is one probe of
    ix_sync_jobs_enrollment per candidate (without it, a scan of sync_jobs per candidate).
    Due contacts whose check is still open are stepped over, a probe each: the one cost that
    grows, with those contacts, never with the tables."""
    return (
        select(Enrollment)
        .join(Sequence, Sequence.id == Enrollment.sequence_id)
        .where(
            Sequence.owner_id == mb.user_id,
            Sequence.archived_at.is_(None),  # an archived sequence sends nothing more
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
            # The dedup check runs first (alone, or as a sync's look-up), so "Exists in ..."
            # and a do-not-contact flag are known before any email. One probe per kind: an
            # equality on kind keeps each on ix_sync_jobs_enrollment (an IN did not, on
            # PostgreSQL).
            *(
                ~exists().where(
                    SyncJob.enrollment_id == Enrollment.id,
                    SyncJob.kind == kind,
                    SyncJob.status.in_(("pending", "running")),
                )
                for kind in ("check_duplicate", "check_and_sync")
            ),
        )
        .order_by(Enrollment.next_send_at, Enrollment.id)
        .limit(limit)
    )


@dataclass
class Batch:
    """What a round's emails need, read for all its candidates at once."""

    sender: User
    sequences: dict[int, Sequence]
    contacts: dict[int, Contact]
    suppressed: dict[tuple[int, str], str]  # (team, address) -> reason
    earlier: dict[int, list[str]]  # enrollment -> Message-IDs it was sent, in order


def load_batch(session: Session, mb: Mailbox, due: list[Enrollment]) -> Batch:
    sender = session.get(User, mb.user_id)
    assert sender is not None
    if not due:
        return Batch(sender, {}, {}, {}, {})
    seq_ids = {e.sequence_id for e in due}
    # Held here: the session's identity map keeps objects only while something refers to them.
    sequences = {q.id: q for q in session.scalars(select(Sequence).where(Sequence.id.in_(seq_ids)))}
    contacts = {
        c.id: c
        for c in session.scalars(select(Contact).where(Contact.id.in_({e.contact_id for e in due})))
    }
    rows = session.execute(
        select(Suppression.team_id, Suppression.email, Suppression.reason).where(
            Suppression.team_id.in_({e.team_id for e in due}),
            Suppression.email.in_({c.email for c in contacts.values()}),
        )
    )
    suppressed = {(team, email): reason for team, email, reason in rows}
    earlier: dict[int, list[str]] = {}
    for enrollment_id, message_id in session.execute(
        select(OutboundEmail.enrollment_id, OutboundEmail.message_id)
        .where(OutboundEmail.enrollment_id.in_([e.id for e in due]), OutboundEmail.status == "sent")
        .order_by(OutboundEmail.enrollment_id, OutboundEmail.step_position, OutboundEmail.id)
    ):
        earlier.setdefault(enrollment_id, []).append(message_id)
    return Batch(sender, sequences, contacts, suppressed, earlier)


def prepare(
    session: Session,
    mb: Mailbox,
    enrollment: Enrollment,
    now: datetime,
    batch: Batch,
    send_at: datetime | None = None,
) -> bool:
    """Write the next step's email for this contact, or say on the contact why not."""
    seq = batch.sequences[enrollment.sequence_id]
    contact = batch.contacts[enrollment.contact_id]
    sender = batch.sender
    enrollment.next_send_at = None
    suppressed = batch.suppressed.get((enrollment.team_id, contact.email))
    if suppressed is not None:
        enrollment.state = "unsubscribed" if suppressed == "unsubscribed" else "bounced"
        return False
    if enrollment.next_step >= len(seq.steps):
        enrollment.state = "finished"
        return False
    step = seq.steps[enrollment.next_step]
    values = template_values(contact, sender.name)
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
    earlier = batch.earlier.get(enrollment.id, [])
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
