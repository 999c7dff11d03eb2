"""Every open problem of one contact at once, derived from what is stored: the contact's
error, its sync work (retrying or failed), the ATS connection it syncs through, the mailbox
its sequence sends from, and a pause with its reason. Read-only; a few indexed look-ups."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from outbound.domain import problems as words
from outbound.domain.problems import Problem
from outbound.domain.vocabulary import PROVIDER_TITLES
from outbound.store.models import (
    ActivityEvent,
    AtsConnection,
    Enrollment,
    Mailbox,
    Sequence,
    SyncJob,
    User,
)

# Contact errors the sync worker writes: a failed job already says them, once is enough.
SYNC_ERRORS = ("sync_error", "ats_unreachable", "ats_permission", "reconnect_needed")
# States in which the contact still waits for mail to go out.
SENDING_STATES = ("active", "paused")


def problems_of(session: Session, enrollment: Enrollment) -> list[Problem]:
    """Errors first (a person must act), then what is waiting and clears by itself."""
    found: list[Problem] = []
    if enrollment.error_code:
        found.append(words.contact_error(enrollment.error_code, enrollment.error_message))
    found += _sync_problems(session, enrollment)
    found += _connection_problems(session, enrollment)
    found += _mailbox_problems(session, enrollment)
    found += _pause_problems(session, enrollment)
    return sorted(found, key=lambda p: p.severity != "error")


def ats_title(enrollment: Enrollment) -> str:
    provider = (enrollment.sync_snapshot or {}).get("provider") or ""
    return PROVIDER_TITLES.get(provider, "the ATS")


def _sync_problems(session: Session, enrollment: Enrollment) -> list[Problem]:
    ats = ats_title(enrollment)
    retrying = session.scalar(
        select(SyncJob)
        .where(
            SyncJob.enrollment_id == enrollment.id,
            SyncJob.status.in_(("pending", "running")),
            SyncJob.last_error.is_not(None),
        )
        .order_by(SyncJob.id.desc())
        .limit(1)
    )
    if retrying is not None:
        return [
            words.sync_retrying(ats, retrying.last_error, retrying.attempts, retrying.run_after)
        ]
    if enrollment.sync_state != "failed":
        return []
    failed = session.scalar(
        select(SyncJob)
        .where(SyncJob.enrollment_id == enrollment.id, SyncJob.status == "failed")
        .order_by(SyncJob.id.desc())
        .limit(1)
    )
    if failed is None or enrollment.error_code in SYNC_ERRORS:
        return []  # the contact's own error already says it
    return [words.sync_failed(ats, failed.last_error, failed.attempts, failed.finished_at)]


def _connection_problems(session: Session, enrollment: Enrollment) -> list[Problem]:
    snapshot = enrollment.sync_snapshot
    if not snapshot or not snapshot.get("sync_enabled", True):
        return []
    conn = session.get(AtsConnection, snapshot["connection_id"])
    ats = ats_title(enrollment)
    if conn is None or conn.status == "disconnected" or conn.disconnected_at is not None:
        return [words.ats_disconnected(ats)]
    if conn.status == "reconnect_needed":
        return [words.ats_paused(ats, conn.status_reason)]
    return []


def _mailbox_problems(session: Session, enrollment: Enrollment) -> list[Problem]:
    if enrollment.state not in SENDING_STATES:
        return []
    owner = session.scalar(
        select(User)
        .join(Sequence, Sequence.owner_id == User.id)
        .where(Sequence.id == enrollment.sequence_id)
    )
    if owner is None:
        return []
    mailbox = session.scalar(select(Mailbox).where(Mailbox.user_id == owner.id))
    if mailbox is None:
        return [words.no_mailbox(owner.name)]
    if mailbox.status != "active":
        reconnect = mailbox.status == "reconnect_needed"
        return [words.mailbox_failing(mailbox.status_reason, reconnect)]
    return []


def _pause_problems(session: Session, enrollment: Enrollment) -> list[Problem]:
    if enrollment.state != "paused":
        return []
    auto_reply = session.scalar(
        select(ActivityEvent)
        .where(ActivityEvent.enrollment_id == enrollment.id, ActivityEvent.kind == "auto_reply")
        .order_by(ActivityEvent.id.desc())
        .limit(1)
    )
    if auto_reply is not None and enrollment.paused_until is not None:
        return [
            words.out_of_office(enrollment.paused_until, auto_reply.subject, auto_reply.occurred_at)
        ]
    return [words.paused(enrollment.paused_until)]
