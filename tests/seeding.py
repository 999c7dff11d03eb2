"""Rows straight into the tables, for tests and benchmarks that need volume or a precise mix of
states (query plans, bounded rounds, statement counts, retention, bench.planner_scale).

Nothing here goes through the service layer: no validation, no jobs enqueued, no ATS. Each
function adds what it names in the caller's session, flushes, and returns the new ids (in the
order given), so the caller decides the transaction. Bulk functions use one multi-row INSERT per
chunk, whatever the engine.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, text
from sqlalchemy.orm import Session

from outbound.store import jobs
from outbound.store.db import Database
from outbound.store.models import (
    ActivityEvent,
    AtsConnection,
    Contact,
    Enrollment,
    Mailbox,
    OutboundEmail,
    SequenceStep,
    SyncCall,
    SyncJob,
    Team,
    User,
    utcnow,
)
from outbound.store.models import Sequence as SequenceRow
from tests.pg import fresh_database

SEALED = b"sealed"  # stands for encrypted credentials nobody opens
CHUNK = 2000  # rows per INSERT statement


def migrated_database(url: str) -> Database:
    """An empty, migrated database at ``url`` (a PostgreSQL schema is dropped first)."""
    fresh_database(url)
    return Database(url)


def add_team(s: Session, name: str) -> int:
    team = Team(name=name)
    s.add(team)
    s.flush()
    return team.id


def add_user(s: Session, team_id: int, email: str, name: str, role: str = "owner") -> int:
    user = User(team_id=team_id, email=email, name=name, role=role)
    s.add(user)
    s.flush()
    return user.id


def add_connection(
    s: Session,
    team_id: int,
    user_id: int,
    ats_user_id: str,
    ats_user_name: str,
    ats_org: str = "org",
) -> int:
    """A Crelate connection whose credentials are never opened (no worker runs its jobs)."""
    conn = AtsConnection(
        user_id=user_id,
        team_id=team_id,
        provider="crelate",
        credentials_encrypted=SEALED,
        ats_org=ats_org,
        ats_user_id=ats_user_id,
        ats_user_name=ats_user_name,
    )
    s.add(conn)
    s.flush()
    return conn.id


def add_sequence(
    s: Session,
    team_id: int,
    owner_id: int,
    name: str = "S",
    steps: Sequence[tuple[str, str]] = (),
) -> int:
    """A sequence with ``steps`` as (subject, body), in order."""
    seq = SequenceRow(team_id=team_id, owner_id=owner_id, name=name)
    seq.steps = [
        SequenceStep(position=n, subject=subject, body=body)
        for n, (subject, body) in enumerate(steps)
    ]
    s.add(seq)
    s.flush()
    return seq.id


def add_mailbox(s: Session, team_id: int, user_id: int, email: str, **columns: Any) -> int:
    """A mailbox on a local SMTP host (nothing is sent), polled just now; ``columns`` override
    (e.g. the sending window and the daily limit)."""
    values: dict[str, Any] = {
        "smtp_host": "localhost",
        "smtp_port": 25,
        "smtp_security": "none",
        "smtp_username": "u",
        "secrets_encrypted": SEALED,
        "last_polled_at": utcnow(),
        **columns,
    }
    mailbox = Mailbox(user_id=user_id, team_id=team_id, email=email, **values)
    s.add(mailbox)
    s.flush()
    return mailbox.id


@dataclass(frozen=True)
class Seat:
    """A recruiter as the seeding functions set them up: their team, themselves, their ATS
    connection and one sequence of theirs."""

    team_id: int
    user_id: int
    connection_id: int
    sequence_id: int


def add_seat(
    s: Session,
    team_id: int,
    email: str,
    name: str,
    *,
    ats_user_id: str,
    ats_user_name: str | None = None,
    sequence: str = "S",
    steps: Sequence[tuple[str, str]] = (),
    role: str = "owner",
    ats_org: str = "org",
) -> Seat:
    """A user with a Crelate connection and a sequence (``steps`` as in `add_sequence`)."""
    user_id = add_user(s, team_id, email, name, role)
    conn_id = add_connection(s, team_id, user_id, ats_user_id, ats_user_name or name, ats_org)
    seq_id = add_sequence(s, team_id, user_id, sequence, steps)
    return Seat(team_id, user_id, conn_id, seq_id)


def insert_rows(s: Session, model: type[Any], rows: Sequence[dict[str, Any]]) -> list[int]:
    """Bulk INSERT of ``rows`` into ``model``'s table, ``CHUNK`` rows a statement; their new
    ids, in the order of ``rows``."""
    statement = insert(model).returning(model.id, sort_by_parameter_order=True)
    ids: list[int] = []
    for start in range(0, len(rows), CHUNK):
        ids += s.scalars(statement, list(rows[start : start + CHUNK])).all()
    return ids


def add_contacts(s: Session, team_id: int, emails: Iterable[str], **columns: Any) -> list[int]:
    """One contact per email, each with ``columns`` (e.g. ``first_name``)."""
    return insert_rows(s, Contact, [{"team_id": team_id, "email": e, **columns} for e in emails])


def add_enrollments(
    s: Session,
    seat: Seat,
    contact_ids: Sequence[int],
    each: Callable[[int], dict[str, Any]] | None = None,
    **columns: Any,
) -> list[int]:
    """The contacts enrolled in the seat's sequence, added by its user. Every row gets
    ``columns``; ``each(i)`` adds the i-th contact's own (its state, its send time…)."""
    base = {"team_id": seat.team_id, "sequence_id": seat.sequence_id, "added_by_id": seat.user_id}
    rows = [
        {**base, "contact_id": cid, **columns, **(each(i) if each else {})}
        for i, cid in enumerate(contact_ids)
    ]
    return insert_rows(s, Enrollment, rows)


def job_row(
    team_id: int,
    connection_id: int,
    kind: str = "sync_contact",
    status: str = "pending",
    *,
    contact_id: int | None = None,
    enrollment_id: int | None = None,
    at: datetime | None = None,
    **columns: Any,
) -> dict[str, Any]:
    """One sync job's row as the app enqueues it (`outbound.store.jobs.job_row`), in
    ``status``, due and created ``at`` (now by default); ``columns`` add or override
    (``payload``, ``finished_at``, ``last_error``…)."""
    row = jobs.job_row(team_id, connection_id, contact_id, enrollment_id, kind, now=at)
    return {**row, "status": status, **columns}


def add_jobs(s: Session, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Sync jobs from `job_row` rows; their ids in the same order."""
    return insert_rows(s, SyncJob, rows)


def enrol_many(
    s: Session,
    seat: Seat,
    emails: Sequence[str],
    contact: dict[str, Any] | None = None,
    each: Callable[[int], dict[str, Any]] | None = None,
    **enrollment: Any,
) -> list[tuple[int, int]]:
    """Contacts (with ``contact``'s columns) enrolled in the seat's sequence (with
    ``enrollment``'s columns and ``each(i)``'s): their (contact id, enrollment id) pairs."""
    contact_ids = add_contacts(s, seat.team_id, emails, **(contact or {}))
    enrollment_ids = add_enrollments(s, seat, contact_ids, each, **enrollment)
    return list(zip(contact_ids, enrollment_ids, strict=True))


def add_jobs_for(
    s: Session,
    seat: Seat,
    enrolled: Iterable[tuple[int, int]],
    kinds: Sequence[str] = ("check_duplicate", "sync_contact"),
    status: str | Callable[[int, int], str] = "pending",
) -> list[int]:
    """For each (contact id, enrollment id), one job of each kind on the seat's connection, in
    that order (pending by default: an add's duplicate check and record sync). ``status`` may
    be a function of (the pair's index, the kind's index)."""
    now = utcnow()
    rows = [
        job_row(
            seat.team_id,
            seat.connection_id,
            kind,
            status(i, k) if callable(status) else status,
            contact_id=cid,
            enrollment_id=eid,
            at=now,
        )
        for i, (cid, eid) in enumerate(enrolled)
        for k, kind in enumerate(kinds)
    ]
    return add_jobs(s, rows)


# -- the hot tables at volume ------------------------------------------------------------------
HOT_ROWS = 400  # contacts per mailbox: enough for statistics that tell an index from a scan


@contextmanager
def planned_session(url: str, rows: int = HOT_ROWS) -> Iterator[Session]:
    """A session on a fresh database at ``url`` holding `seed_hot_tables`, analysed, for
    reading query plans. On PostgreSQL sequential scans are off: a few hundred rows fit in a
    handful of pages, which it rightly reads whole; without them it shows the index it would
    take on a big table (full scans of an index stay visible, with no condition)."""
    db = migrated_database(url)
    try:
        seed_hot_tables(db, rows)
        with db.sessions() as s:
            s.execute(text("ANALYZE"))
            if s.get_bind().dialect.name == "postgresql":
                s.execute(text("SET enable_seqscan = off"))
            yield s
    finally:
        db.dispose()


def seed_hot_tables(db: Database, rows: int = HOT_ROWS) -> None:
    """Two teams of two mailboxes each, every mailbox with ``rows`` contacts due, paused,
    finished or replied, with their sync jobs, sent emails, ATS calls and events, spread over
    many values so that an index is worth reading (the hot queries' plans are checked on it)."""
    with db.session() as s:
        for t in range(2):
            team_id = add_team(s, f"T{t}")
            for m in range(2):
                tag = f"{t}{m}"
                seat = add_seat(
                    s,
                    team_id,
                    f"u{tag}@x.test",
                    f"U{m}",
                    ats_user_id=f"u{tag}",
                    ats_user_name="U",
                    steps=[("Hi", "Hello")],
                )
                mailbox_id = add_mailbox(s, team_id, seat.user_id, f"u{tag}@x.test")
                _seed_hot_contacts(s, seat, mailbox_id, tag, rows)


def _seed_hot_contacts(s: Session, seat: Seat, mailbox_id: int, tag: str, rows: int) -> None:
    now = utcnow()
    states = ("active", "active", "finished", "paused", "replied")

    def enrollment(i: int) -> dict[str, Any]:
        state = states[i % len(states)]
        return {
            "state": state,
            "sync_state": ("synced", "pending", "failed")[i % 3],
            "next_send_at": now + timedelta(minutes=i - rows // 2) if state == "active" else None,
            "paused_until": now + timedelta(hours=i - rows // 2) if state == "paused" else None,
        }

    emails = [f"p{i}-{tag}@y.test" for i in range(rows)]
    enrolled = enrol_many(s, seat, emails, each=enrollment)
    kinds = ("check_duplicate", "sync_contact", "log_activity")
    job_ids = add_jobs_for(
        s,
        seat,
        enrolled,
        kinds,
        lambda i, k: ("done", "done", "done", "pending", "failed")[(i + k) % 5],
    )
    insert_rows(
        s,
        OutboundEmail,
        [
            {
                "team_id": seat.team_id,
                "enrollment_id": eid,
                "mailbox_id": mailbox_id,
                "step_position": 0,
                "message_id": f"<m{i}-{tag}@x.test>",
                "token": f"t{i}-{tag}",
                "to_address": emails[i],
                "subject": "Hi",
                "body_text": "Hello",
                "status": ("sent", "sent", "queued", "cancelled")[i % 4],
                "run_after": now,
                "created_at": now - timedelta(hours=i),
            }
            for i, (_cid, eid) in enumerate(enrolled)
        ],
    )
    insert_rows(
        s,
        SyncCall,
        [
            {
                "contact_id": cid,
                "job_id": job_ids[len(kinds) * i + len(kinds) - 1],  # its last job
                "method": "POST",
                "path": "/x",
                "status_code": (200, 201, 429, 404)[i % 4],
                "outcome": "ok",
                "at": now - timedelta(minutes=i * 7),
            }
            for i, (cid, _eid) in enumerate(enrolled)
        ],
    )
    insert_rows(
        s,
        ActivityEvent,
        [
            {
                "team_id": seat.team_id,
                "enrollment_id": eid,
                "contact_id": cid,
                "kind": ("sent", "replied", "opened")[i % 3],
                "occurred_at": now - timedelta(hours=i * 3),
            }
            for i, (cid, eid) in enumerate(enrolled)
        ],
    )
