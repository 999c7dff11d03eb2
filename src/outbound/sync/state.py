"""The database side of job handling: small synchronous units of work, run in threads."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from outbound.service.contact_state import find_link
from outbound.store.db import Database
from outbound.store.models import (
    ActivityEvent,
    AtsConnection,
    AtsEffect,
    AtsLink,
    Enrollment,
    IntegrationSettings,
    SyncCall,
    utcnow,
)


def save_link(
    db: Database,
    contact_id: int,
    provider: str,
    org: str,
    connection_id: int,
    **changes: Any,
) -> None:
    with db.session() as session:
        _change_link(session, contact_id, provider, org, connection_id, changes)


def _change_link(
    session: Session,
    contact_id: int,
    provider: str,
    org: str,
    connection_id: int,
    changes: dict[str, Any],
) -> None:
    link = find_link(session, contact_id, provider, org)
    if link is None:
        link = AtsLink(
            contact_id=contact_id,
            provider=provider,
            ats_org=org,
            created_by_connection_id=connection_id,
            attached_jobs=[],
            logged_events=[],
        )
        session.add(link)
    for key, value in changes.items():
        if key == "add_attached_job":
            link.attached_jobs = [*(link.attached_jobs or []), value]
        elif key == "add_logged_event":
            link.logged_events = [*(link.logged_events or []), value]
        else:
            setattr(link, key, value)


@dataclass(frozen=True)
class EffectKey:
    """One write in one ATS organisation for one contact (the ledger's unique key)."""

    provider: str
    org: str
    contact_id: int
    effect: str


def begin_effect(db: Database, key: EffectKey, job_id: int) -> str:
    """Commit the intent before the ATS call. Returns what was there before: "new" (nobody
    began this write), "intent" (a try began it and never recorded the outcome: it may have
    landed) or "done"."""
    with db.session() as session:
        row = _effect(session, key)
        if row is not None:
            return str(row.state)
        session.add(
            AtsEffect(
                provider=key.provider,
                ats_org=key.org,
                contact_id=key.contact_id,
                effect=key.effect,
                state="intent",
                job_id=job_id,
            )
        )
        return "new"


def finish_effect(
    db: Database, key: EffectKey, job_id: int, connection_id: int, **link_changes: Any
) -> None:
    """Mark the write done, and what the contact's link learns from it, in one transaction:
    a retry never finds the one without the other."""
    with db.session() as session:
        row = _effect(session, key)
        if row is not None:
            row.state, row.job_id, row.done_at = "done", job_id, utcnow()
        if link_changes:
            _change_link(
                session, key.contact_id, key.provider, key.org, connection_id, link_changes
            )


def drop_effect(db: Database, key: EffectKey) -> None:
    """The ATS refused the write outright (nothing landed): no intent is left to be asked about."""
    with db.session() as session:
        row = _effect(session, key)
        if row is not None and row.state == "intent":
            session.delete(row)


def _effect(session: Session, key: EffectKey) -> AtsEffect | None:
    return session.scalar(
        select(AtsEffect).where(
            AtsEffect.provider == key.provider,
            AtsEffect.ats_org == key.org,
            AtsEffect.contact_id == key.contact_id,
            AtsEffect.effect == key.effect,
        )
    )


def learn_owner(db: Database, connection_id: int, user_id: str, user_name: str) -> None:
    """The ATS user behind the key, read off the first record Outbound created with it."""
    with db.session() as session:
        conn = session.get(AtsConnection, connection_id)
        if conn is not None and not conn.ats_user_id:
            conn.ats_user_id = user_id
            conn.ats_user_name = user_name


def mark_enrollment(db: Database, enrollment_id: int | None, **changes: Any) -> None:
    with db.session() as session:
        change_enrollment(session, enrollment_id, **changes)


def change_enrollment(session: Session, enrollment_id: int | None, **changes: Any) -> None:
    if enrollment_id is None:
        return
    enrollment = session.get(Enrollment, enrollment_id)
    if enrollment is not None:
        for key, value in changes.items():
            setattr(enrollment, key, value)


def mark_contact_synced(
    db: Database, contact_id: int, enrollment_id: int | None, remote_id: str
) -> None:
    with db.session() as session:
        enrollment = session.get(Enrollment, enrollment_id) if enrollment_id else None
        if enrollment is not None:
            enrollment.sync_state = "synced"
            enrollment.ats_record_id = remote_id
            if enrollment.error_code in (
                "sync_error",
                "ats_unreachable",
                "ats_permission",
                "reconnect_needed",
            ):
                enrollment.error_code = None
                enrollment.error_message = None


def load_event(db: Database, event_id: int, connection_id: int) -> dict[str, Any] | None:
    """The event to log, and what the account logs emails as now (not frozen at add time)."""
    with db.session() as session:
        event = session.get(ActivityEvent, event_id)
        if event is None:
            return None
        activity_type_id = session.scalar(
            select(IntegrationSettings.activity_type_id)
            .join(AtsConnection, AtsConnection.user_id == IntegrationSettings.user_id)
            .where(AtsConnection.id == connection_id)
        )
        return {
            "activity_type_id": activity_type_id,
            "id": event.id,
            "kind": event.kind,
            "subject": event.subject or "",
            "body": event.body or "",
            "occurred_at": event.occurred_at.isoformat().replace("+00:00", "Z"),
        }


def record_calls(
    session: Session, contact_id: int | None, job_id: int, calls: list[dict[str, Any]]
) -> None:
    if contact_id is not None and calls:
        session.add_all(SyncCall(contact_id=contact_id, job_id=job_id, **c) for c in calls)


def set_connection_health(
    session: Session, connection_id: int, *, ok: bool | None = None, auth_failed: str | None = None
) -> None:
    """One flag per connection, not one per contact: set on failure, cleared on success."""
    conn = session.get(AtsConnection, connection_id)
    if conn is None:
        return
    if auth_failed is not None:
        conn.status = "reconnect_needed"
        conn.status_reason = auth_failed
    elif ok is True and conn.failing_since is not None:
        conn.failing_since = None
    elif ok is False and conn.failing_since is None:
        conn.failing_since = utcnow()
