"""The job table from the writing side: durable job rows, inserted in the caller's transaction.

Jobs for one contact and one connection run in id order (see sync/claims.py), so the order they
are inserted here is the order their effects reach the ATS: duplicate check, record, activity.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, insert, literal, select
from sqlalchemy.orm import Session

from outbound.store import job_counts
from outbound.store.models import Enrollment, SyncJob, utcnow

JOBS = cast(Table, SyncJob.__table__)


def job_row(
    team_id: int,
    connection_id: int,
    contact_id: int | None,
    enrollment_id: int | None,
    kind: str,
    payload: dict[str, Any] | None = None,
    batch_id: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    now = now or utcnow()
    return {
        "team_id": team_id,
        "connection_id": connection_id,
        "contact_id": contact_id,
        "enrollment_id": enrollment_id,
        "kind": kind,
        "payload": payload or {},
        "status": "pending",
        "attempts": 0,
        "run_after": now,
        "batch_id": batch_id,
        "created_at": now,
    }


def enqueue(session: Session, rows: Iterable[dict[str, Any]]) -> int:
    """Insert job rows in bulk: one statement per 2,000 rows (executemany), whatever their mix."""
    rows = list(rows)
    # The table, not the ORM entity: the ORM's bulk insert batched only runs of rows whose None
    # columns matched (a check with no batch id, then a sync with one: a statement per row),
    # and spent more time preparing rows than the database spent storing them.
    statement = insert(JOBS)
    for start in range(0, len(rows), 2000):
        session.execute(statement, rows[start : start + 2000])
    return len(rows)


def enqueue_each(
    session: Session,
    kind: str,
    enrollment_ids: Sequence[int],
    *,
    team_id: int,
    connection_id: int,
    payload: dict[str, Any] | None = None,
    batch_id: str | None = None,
    now: datetime | None = None,
) -> int:
    """One ``kind`` job for each of these enrollments (about its contact), in one INSERT …
    SELECT: the database writes the rows, nothing is built or converted per row in Python.
    Jobs of two calls keep their order per contact: the first call's come first."""
    if not enrollment_ids:
        return 0
    now = now or utcnow()
    rows = select(
        literal(team_id, JOBS.c.team_id.type),
        literal(connection_id, JOBS.c.connection_id.type),
        Enrollment.contact_id,
        Enrollment.id,
        literal(kind, JOBS.c.kind.type),
        literal(payload or {}, JOBS.c.payload.type),
        literal("pending", JOBS.c.status.type),
        literal(0, JOBS.c.attempts.type),
        literal(now, JOBS.c.run_after.type),
        literal(batch_id, JOBS.c.batch_id.type),
        literal(now, JOBS.c.created_at.type),
    ).where(Enrollment.id.in_(enrollment_ids))
    columns = [
        *("team_id", "connection_id", "contact_id", "enrollment_id", "kind", "payload"),
        *("status", "attempts", "run_after", "batch_id", "created_at"),
    ]
    result = session.execute(insert(JOBS).from_select(columns, rows.order_by(Enrollment.id)))
    return int(result.rowcount)  # type: ignore[attr-defined]


def count_by_status(session: Session) -> dict[str, int]:
    """How many jobs stand in each status (the /metrics backlog), without reading the whole
    table on every scrape: see job_counts.py."""
    return job_counts.count_by_status(session)
