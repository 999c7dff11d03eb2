"""Claiming, leasing and finishing sync jobs: the hand-written queue.

Why our own table and not a queue library: none offers SQLite by default *and* PostgreSQL
scale-out, enqueue inside our own transaction, and per-API-key rate limits together.

The claim, as SQL (one builder serves both engines):

    UPDATE sync_jobs
       SET status = 'running', attempts = attempts + 1,
           locked_by = :worker, lease_expires_at = :now + lease
     WHERE id IN (
        SELECT j.id FROM sync_jobs j JOIN ats_connections c ON c.id = j.connection_id
         WHERE c.status = 'active'
           AND (   (j.status = 'pending' AND j.run_after <= :now)
                OR (j.status = 'running' AND j.lease_expires_at < :now))   -- a dead worker's
           AND NOT EXISTS (                                                 -- per-contact order
                SELECT 1 FROM sync_jobs p
                 WHERE p.contact_id = j.contact_id AND p.connection_id = j.connection_id
                   AND p.id < j.id AND p.status IN ('pending', 'running'))
         ORDER BY j.id LIMIT :limit
           FOR UPDATE OF j SKIP LOCKED)        -- PostgreSQL; SQLite: BEGIN IMMEDIATE instead
    RETURNING *

On SQLite every transaction begins IMMEDIATE (store/db.py), so claims are serialised.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, or_, select, update
from sqlalchemy.orm import Session, aliased

from outbound.store.db import Database
from outbound.store.models import AtsConnection, SyncJob, utcnow


@dataclass(frozen=True)
class ClaimedJob:
    id: int
    team_id: int
    connection_id: int
    contact_id: int | None
    enrollment_id: int | None
    kind: str
    payload: dict[str, Any]
    attempts: int


def claim_statement(
    db: Database, worker_id: str, now: datetime, lease: timedelta, limit: int
) -> Any:
    earlier = aliased(SyncJob)
    predecessor_open = exists().where(
        earlier.contact_id == SyncJob.contact_id,
        earlier.connection_id == SyncJob.connection_id,
        earlier.id < SyncJob.id,
        earlier.status.in_(("pending", "running")),
    )
    candidates = (
        select(SyncJob.id)
        .join(AtsConnection, AtsConnection.id == SyncJob.connection_id)
        .where(
            AtsConnection.status == "active",
            or_(
                and_(SyncJob.status == "pending", SyncJob.run_after <= now),
                and_(SyncJob.status == "running", SyncJob.lease_expires_at < now),
            ),
            ~predecessor_open,
        )
        .order_by(SyncJob.id)
        .limit(limit)
    )
    if db.engine.dialect.name == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True, of=SyncJob)
    return (
        update(SyncJob)
        .where(SyncJob.id.in_(candidates.scalar_subquery()))
        .values(
            status="running",
            attempts=SyncJob.attempts + 1,
            locked_by=worker_id,
            lease_expires_at=now + lease,
        )
        .returning(
            SyncJob.id,
            SyncJob.team_id,
            SyncJob.connection_id,
            SyncJob.contact_id,
            SyncJob.enrollment_id,
            SyncJob.kind,
            SyncJob.payload,
            SyncJob.attempts,
        )
        .execution_options(synchronize_session=False)
    )


def claim(db: Database, worker_id: str, limit: int, lease_seconds: int) -> list[ClaimedJob]:
    with db.session() as session:
        rows = session.execute(
            claim_statement(db, worker_id, utcnow(), timedelta(seconds=lease_seconds), limit)
        ).all()
        return sorted((ClaimedJob(*row) for row in rows), key=lambda j: j.id)


def heartbeat(db: Database, worker_id: str, job_ids: list[int], lease_seconds: int) -> None:
    if not job_ids:
        return
    with db.session() as session:
        session.execute(
            update(SyncJob)
            .where(
                SyncJob.id.in_(job_ids), SyncJob.locked_by == worker_id, SyncJob.status == "running"
            )
            .values(lease_expires_at=utcnow() + timedelta(seconds=lease_seconds))
            .execution_options(synchronize_session=False)
        )


def _owned(session: Session, job_id: int, worker_id: str) -> SyncJob | None:
    # A worker that lost its lease must not overwrite the new owner's outcome.
    job = session.get(SyncJob, job_id)
    if job is None or job.locked_by != worker_id or job.status != "running":
        return None
    return job


def finish(session: Session, job_id: int, worker_id: str) -> bool:
    job = _owned(session, job_id, worker_id)
    if job is None:
        return False
    job.status = "done"
    job.finished_at = utcnow()
    job.lease_expires_at = None
    job.last_error = None
    return True


def fail(session: Session, job_id: int, worker_id: str, error: str) -> bool:
    job = _owned(session, job_id, worker_id)
    if job is None:
        return False
    job.status = "failed"
    job.finished_at = utcnow()
    job.lease_expires_at = None
    job.last_error = error[:2000]
    return True


def retry_later(
    session: Session,
    job_id: int,
    worker_id: str,
    delay_seconds: float,
    error: str,
    count_attempt: bool = True,
) -> bool:
    job = _owned(session, job_id, worker_id)
    if job is None:
        return False
    job.status = "pending"
    job.run_after = utcnow() + timedelta(seconds=delay_seconds)
    job.lease_expires_at = None
    job.locked_by = None
    job.last_error = error[:2000]
    if not count_attempt:  # a 429 is the ATS pacing us, not a failure of this job
        job.attempts -= 1
    return True
