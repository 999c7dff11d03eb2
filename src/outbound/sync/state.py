"""The database side of job handling: what one job writes, as functions of an open session.

A job commits a few times, not once per fact: each write's intent commits before its ATS
call, and the facts learnt since (a write done, a link learnt, a contact marked) ride along in
that same transaction, or in the job's settle (see JobRun in sync/handlers.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, Table, case, delete, insert, select, update
from sqlalchemy.orm import Session

from outbound.service.enrollments import insert_or_skip
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

# The statements below run several times per job: plain Core on the tables, not ORM-enabled
# statements, whose bulk path cost more CPU than the statements themselves (py-spy, bench.run).
_links = cast(Table, AtsLink.__table__)
_effects = cast(Table, AtsEffect.__table__)
_enrollments = cast(Table, Enrollment.__table__)
_calls = cast(Table, SyncCall.__table__)


def save_link(
    session: Session,
    contact_id: int,
    provider: str,
    org: str,
    connection_id: int,
    **changes: Any,
) -> None:
    _change_link(session, contact_id, provider, org, connection_id, changes)


def _change_link(
    session: Session,
    contact_id: int,
    provider: str,
    org: str,
    connection_id: int,
    changes: dict[str, Any],
) -> None:
    # Core statements, not the ORM's unit of work: this runs several times per job.
    row = session.execute(
        select(_links.c.id, _links.c.attached_jobs, _links.c.logged_events).where(
            _links.c.contact_id == contact_id,
            _links.c.provider == provider,
            _links.c.ats_org == org,
        )
    ).first()
    values: dict[str, Any] = {}
    for key, value in changes.items():
        if key == "add_attached_job":
            values["attached_jobs"] = [*((row.attached_jobs if row else None) or []), value]
        elif key == "add_logged_event":
            values["logged_events"] = [*((row.logged_events if row else None) or []), value]
        else:
            values[key] = value
    if row is None:
        session.execute(
            insert(_links).values(
                contact_id=contact_id,
                provider=provider,
                ats_org=org,
                created_by_connection_id=connection_id,
                **{"attached_jobs": [], "logged_events": [], **values},
            )
        )
    elif values:
        session.execute(update(_links).where(_links.c.id == row.id).values(**values))


@dataclass(frozen=True)
class EffectKey:
    """One write in one ATS organisation for one contact (the ledger's unique key)."""

    provider: str
    org: str
    contact_id: int
    effect: str


def begin_effect(session: Session, key: EffectKey, job_id: int) -> str:
    """The intent, committed before the ATS call. Returns what was there before: "new" (nobody
    began this write), "intent" (a try began it and never recorded the outcome: it may have
    landed) or "done"."""
    # Most writes are new: one INSERT that skips an existing row, then a read only if it did.
    # (One job at a time per person and organisation, sync/claims.py: nobody races it.)
    inserted = session.execute(
        insert_or_skip(session, AtsEffect, "provider", "ats_org", "contact_id", "effect").values(
            provider=key.provider,
            ats_org=key.org,
            contact_id=key.contact_id,
            effect=key.effect,
            state="intent",
            job_id=job_id,
        )
    )
    if cast(CursorResult[Any], inserted).rowcount == 1:
        return "new"
    return str(session.scalar(select(_effects.c.state).where(*_is(key))))


def finish_effect(
    session: Session, key: EffectKey, job_id: int, connection_id: int, **link_changes: Any
) -> None:
    """Mark the write done, and what the contact's link learns from it, in one transaction:
    a retry never finds the one without the other."""
    session.execute(
        update(_effects).where(*_is(key)).values(state="done", job_id=job_id, done_at=utcnow())
    )
    if link_changes:
        _change_link(session, key.contact_id, key.provider, key.org, connection_id, link_changes)


def drop_effect(session: Session, key: EffectKey) -> None:
    """The ATS refused the write outright (nothing landed): no intent is left to be asked about."""
    session.execute(delete(_effects).where(*_is(key), _effects.c.state == "intent"))


def _is(key: EffectKey) -> tuple[ColumnElement[bool], ...]:
    return (
        _effects.c.provider == key.provider,
        _effects.c.ats_org == key.org,
        _effects.c.contact_id == key.contact_id,
        _effects.c.effect == key.effect,
    )


def learn_owner(session: Session, connection_id: int, user_id: str, user_name: str) -> None:
    """The ATS user behind the key, read off the first record Outbound created with it."""
    conn = session.get(AtsConnection, connection_id)
    if conn is not None and not conn.ats_user_id:
        conn.ats_user_id = user_id
        conn.ats_user_name = user_name


def change_enrollment(session: Session, enrollment_id: int | None, **changes: Any) -> None:
    if enrollment_id is None or not changes:
        return
    session.execute(
        update(_enrollments).where(_enrollments.c.id == enrollment_id).values(**changes)
    )


# The errors a successful sync clears (a mail error, a duplicate warning stay).
SYNC_ERRORS = ("sync_error", "ats_unreachable", "ats_permission", "reconnect_needed")


def mark_contact_synced(session: Session, enrollment_id: int | None, remote_id: str) -> None:
    if enrollment_id is None:
        return
    columns = _enrollments.c
    was_sync_error = columns.error_code.in_(SYNC_ERRORS)
    session.execute(
        update(_enrollments)
        .where(columns.id == enrollment_id)
        .values(
            sync_state="synced",
            ats_record_id=remote_id,
            error_code=case((was_sync_error, None), else_=columns.error_code),
            error_message=case((was_sync_error, None), else_=columns.error_message),
        )
    )


def load_event(db: Database, event_id: int, connection_id: int) -> dict[str, Any] | None:
    """The event to log, and what the account logs emails as now (not frozen at add time)."""
    return load_events(db, [(event_id, connection_id)])[0]


def load_events(db: Database, wanted: list[tuple[int, int]]) -> list[dict[str, Any] | None]:
    """``load_event`` for many (event, connection) pairs in one read transaction and two
    queries: the worker reads a claimed batch's events with its contacts' states. None where
    the event is gone."""
    if not wanted:
        return []
    events = cast(Table, ActivityEvent.__table__)
    with db.read_session() as session:
        rows = session.execute(
            select(events).where(events.c.id.in_(sorted({e for e, _ in wanted})))
        )
        found = {row.id: row for row in rows}
        types = dict(
            session.execute(
                select(AtsConnection.id, IntegrationSettings.activity_type_id)
                .join(IntegrationSettings, AtsConnection.user_id == IntegrationSettings.user_id)
                .where(AtsConnection.id.in_(sorted({c for _, c in wanted})))
            )
            .tuples()
            .all()
        )
    return [
        None
        if (event := found.get(event_id)) is None
        else {
            "activity_type_id": types.get(connection_id),
            "id": event.id,
            "kind": event.kind,
            "subject": event.subject or "",
            "body": event.body or "",
            "occurred_at": event.occurred_at.isoformat().replace("+00:00", "Z"),
        }
        for event_id, connection_id in wanted
    ]


def record_calls(
    session: Session, contact_id: int | None, job_id: int, calls: list[dict[str, Any]]
) -> None:
    if contact_id is not None and calls:
        session.execute(
            insert(_calls), [{"contact_id": contact_id, "job_id": job_id, **c} for c in calls]
        )


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
