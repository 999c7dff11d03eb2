"""The job table from the writing side: durable job rows, inserted in the caller's transaction.

Jobs for one contact and one connection run in id order (see sync/claims.py), so the order they
are inserted here is the order their effects reach the ATS: duplicate check, record, activity.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from outbound.store.models import SyncJob, utcnow


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
    rows = list(rows)
    if rows:
        # executemany in chunks keeps 20k-row bulk adds fast and under parameter limits.
        for start in range(0, len(rows), 2000):
            session.execute(insert(SyncJob), rows[start : start + 2000])
    return len(rows)


def count_by_status(session: Session) -> dict[str, int]:
    """How many jobs stand in each status (the /metrics backlog)."""
    rows = session.execute(select(SyncJob.status, func.count()).group_by(SyncJob.status)).all()
    return {status: count for status, count in rows}
