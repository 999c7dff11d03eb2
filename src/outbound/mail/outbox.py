"""The outbox: claiming planned emails and writing what became of each send.

The claim, as SQL (PostgreSQL; on SQLite transactions begin IMMEDIATE instead of SKIP LOCKED):

    UPDATE outbound_emails
       SET status = 'sending', attempts = attempts + 1,
           locked_by = :worker, lease_expires_at = :now + lease
     WHERE id IN (
        SELECT e.id FROM outbound_emails e
          JOIN mailboxes m ON m.id = e.mailbox_id
          JOIN enrollments n ON n.id = e.enrollment_id
         WHERE e.status = 'queued' AND e.run_after <= :now
           AND m.status = 'active' AND n.state = 'active'
         ORDER BY e.id LIMIT :limit
           FOR UPDATE OF e SKIP LOCKED)
    RETURNING id

"sending" is committed *before* the SMTP conversation. A row still "sending" when its lease has
expired belongs to a worker that died mid-send: it is never simply resent; `stale` hands it to
a worker that asks the mailbox's Sent folder and otherwise marks the send uncertain.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from outbound.service.enrollments import after_sent, record_event
from outbound.service.outreach import suppress
from outbound.store.models import (
    Enrollment,
    Mailbox,
    OutboundEmail,
)


def _claim(
    session: Session, where: list[Any], worker_id: str, now: datetime, lease: timedelta, limit: int
) -> list[int]:
    candidates = (
        select(OutboundEmail.id)
        .join(Mailbox, Mailbox.id == OutboundEmail.mailbox_id)
        .join(Enrollment, Enrollment.id == OutboundEmail.enrollment_id)
        .where(*where)
        .order_by(OutboundEmail.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True, of=OutboundEmail)
    rows = session.execute(
        update(OutboundEmail)
        .where(OutboundEmail.id.in_(candidates.scalar_subquery()))
        .values(
            status="sending",
            attempts=OutboundEmail.attempts + 1,
            locked_by=worker_id,
            lease_expires_at=now + lease,
        )
        .returning(OutboundEmail.id)
        .execution_options(synchronize_session=False)
    ).all()
    return sorted(r[0] for r in rows)


def claim(
    session: Session, worker_id: str, now: datetime, lease: timedelta, limit: int
) -> list[int]:
    return _claim(
        session,
        [
            OutboundEmail.status == "queued",
            OutboundEmail.run_after <= now,
            Mailbox.status == "active",
            Enrollment.state == "active",
        ],
        worker_id,
        now,
        lease,
        limit,
    )


def stale(
    session: Session, worker_id: str, now: datetime, lease: timedelta, limit: int
) -> list[int]:
    """Sends a dead worker left half-done; the caller resolves them, never resends them."""
    ids = _claim(
        session,
        [OutboundEmail.status == "sending", OutboundEmail.lease_expires_at < now],
        worker_id,
        now,
        lease,
        limit,
    )
    if ids:  # taking over is not an attempt of ours
        session.execute(
            update(OutboundEmail)
            .where(OutboundEmail.id.in_(ids))
            .values(attempts=OutboundEmail.attempts - 1)
            .execution_options(synchronize_session=False)
        )
    return ids


def owned(session: Session, email_id: int, worker_id: str) -> OutboundEmail | None:
    """The email if this worker still holds it (a lost lease must not overwrite the new owner)."""
    email = session.get(OutboundEmail, email_id)
    if email is None or email.status != "sending" or email.locked_by != worker_id:
        return None
    return email


def _release(email: OutboundEmail, status: str, error: str | None = None) -> None:
    email.status = status
    email.lease_expires_at = None
    email.locked_by = None
    email.last_error = error[:2000] if error else None


def mark_sent(session: Session, email: OutboundEmail, now: datetime, day_seconds: float) -> None:
    _release(email, "sent")
    email.sent_at = now
    enrollment = session.get(Enrollment, email.enrollment_id)
    assert enrollment is not None
    record_event(
        session,
        enrollment,
        "sent",
        subject=email.subject,
        body=email.body_text,
        occurred_at=now,
        email_id=email.id,
    )
    after_sent(session, enrollment, now, day_seconds)


def _flag(session: Session, email: OutboundEmail, code: str, message: str) -> None:
    enrollment = session.get(Enrollment, email.enrollment_id)
    assert enrollment is not None
    enrollment.error_code = code
    enrollment.error_message = message
    enrollment.next_send_at = None


def mark_uncertain(session: Session, email: OutboundEmail, reason: str) -> None:
    _release(email, "uncertain", reason)
    _flag(
        session,
        email,
        "send_uncertain",
        f"Step {email.step_position + 1} to {email.to_address} may or may not have gone out "
        f"({reason}). Check your Sent folder, then resume the contact; Outbound will not "
        "send it again unless you ask it to.",
    )


def mark_rejected(session: Session, email: OutboundEmail, error: str, recipient: bool) -> None:
    _release(email, "failed", error)
    enrollment = session.get(Enrollment, email.enrollment_id)
    assert enrollment is not None
    if recipient:  # the receiving server refused the address itself: a hard bounce
        record_event(session, enrollment, "bounced", body=error, email_id=email.id)
        suppress(session, email.team_id, email.to_address, "bounced")
        return
    _flag(
        session,
        email,
        "send_failed",
        f"The mail server refused step {email.step_position + 1}: {error}. "
        "Fix the cause, then resume the contact.",
    )


def retry_or_fail(
    session: Session,
    email: OutboundEmail,
    error: str,
    now: datetime,
    delay: float,
    max_attempts: int,
) -> None:
    if email.attempts >= max_attempts:
        _release(email, "failed", error)
        _flag(
            session,
            email,
            "send_failed",
            f"Step {email.step_position + 1} could not be sent after {email.attempts} tries: "
            f"{error}. Resume the contact to try again.",
        )
        return
    _release(email, "queued", error)
    email.run_after = now + timedelta(seconds=delay)


def pause_mailbox(
    session: Session, email: OutboundEmail, reason: str, status: str = "failing"
) -> None:
    """The mailbox's login stopped working: hold its sends (not failed) until it is fixed.
    ``status``: failing (a password to update) or reconnect_needed (an OAuth grant gone)."""
    _release(email, "queued", reason)
    email.attempts -= 1
    mailbox = session.get(Mailbox, email.mailbox_id)
    if mailbox is not None:
        mailbox.status = status
        mailbox.status_reason = reason
