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
           AND NOT EXISTS (              -- per person and ATS organisation: one at a time
                SELECT 1 FROM sync_jobs p JOIN ats_connections pc ON pc.id = p.connection_id
                 WHERE p.contact_id = j.contact_id AND pc.status = 'active'
                   AND pc.provider = c.provider AND pc.ats_org = c.ats_org
                   AND p.id < j.id AND p.status IN ('pending', 'running'))
         ORDER BY j.id LIMIT :limit
           FOR UPDATE OF j SKIP LOCKED)        -- PostgreSQL; SQLite: BEGIN IMMEDIATE instead
    RETURNING *

:now is the database's clock (`database_now`), never a worker's: machines whose clocks differ
still agree on when a lease has run out. On SQLite every transaction begins IMMEDIATE
(store/db.py), so claims are serialised.

One worker per ATS connection, fleet-wide: a worker only claims jobs of connections it holds a
lease on (`connection_leases`), so each connection's pacing lives in exactly one process and
its rate limit holds however many workers run. Each round a worker (`acquire_connections`):

    -- say it is alive; renew what it holds
    UPSERT worker_heartbeats (worker_id, seen_at = :now)
    UPDATE connection_leases SET expires_at = :now + lease WHERE worker_id = :worker
    -- its fair share: connections with open work / live workers (rounded up)
    -- take free or expired leases up to that share (INSERT ... ON CONFLICT DO NOTHING;
    -- UPDATE ... WHERE expires_at < :now re-checks the row under its lock on PostgreSQL)
    -- over its share: mark leases `releasing` (no new claims), drop them once idle

A dead worker's leases expire like its jobs' do, and another worker takes them over.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, exists, func, insert, or_, select, update
from sqlalchemy.orm import Session, aliased

from outbound.store.db import Database
from outbound.store.models import (
    AtsConnection,
    ConnectionLease,
    SyncJob,
    WorkerHeartbeat,
    utcnow,
)


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


def database_now(session: Session) -> datetime:
    """The database's clock, for every lease and timer: workers on machines whose clocks
    differ still agree on when a lease has run out. (SQLite is embedded: its clock is this
    machine's, the only one there is.)"""
    if session.get_bind().dialect.name == "postgresql":
        now: datetime = session.execute(select(func.now())).scalar_one()
        return now
    return utcnow()


def claim_statement(
    db: Database,
    worker_id: str,
    now: datetime,
    lease: timedelta,
    limit: int,
    connection_id: int | None = None,
) -> Any:
    earlier = aliased(SyncJob)
    earlier_connection = aliased(AtsConnection)
    # One person in one ATS organisation is worked on by one job at a time, in order, whichever
    # connection (teammate) or worker the jobs belong to: links and the effect ledger are per
    # organisation, so two connections must not race on the same person.
    predecessor_open = exists().where(
        earlier.contact_id == SyncJob.contact_id,
        earlier.id < SyncJob.id,
        earlier.status.in_(("pending", "running")),
        earlier_connection.id == earlier.connection_id,
        earlier_connection.provider == AtsConnection.provider,
        earlier_connection.ats_org == AtsConnection.ats_org,
        earlier_connection.status == "active",  # a parked connection's jobs cannot run anyway
    )
    candidates = (
        select(SyncJob.id)
        .join(AtsConnection, AtsConnection.id == SyncJob.connection_id)
        .join(ConnectionLease, ConnectionLease.connection_id == SyncJob.connection_id)
        .where(
            ConnectionLease.worker_id == worker_id,
            ConnectionLease.expires_at > now,
            ConnectionLease.releasing.is_(False),
            AtsConnection.status == "active",
            or_(
                and_(SyncJob.status == "pending", SyncJob.run_after <= now),
                and_(SyncJob.status == "running", SyncJob.lease_expires_at < now),
            ),
            ~predecessor_open,
            *([SyncJob.connection_id == connection_id] if connection_id is not None else []),
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


def claim(
    db: Database,
    worker_id: str,
    limit: int,
    lease_seconds: int,
    per_connection: dict[int, int] | None = None,
) -> list[ClaimedJob]:
    """Claim up to ``limit`` jobs. With ``per_connection`` ({connection: at most}), the claim
    goes connection by connection, so one busy connection's backlog cannot take every slot
    while it waits on its own pacing (the others idle)."""
    lease = timedelta(seconds=lease_seconds)
    with db.session() as session:
        now = database_now(session)
        if per_connection is None:
            rows = session.execute(claim_statement(db, worker_id, now, lease, limit)).all()
        else:
            rows = []
            for connection_id, cap in per_connection.items():
                room = min(cap, limit - len(rows))
                if room <= 0:
                    continue
                rows += session.execute(
                    claim_statement(db, worker_id, now, lease, room, connection_id)
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
            .values(lease_expires_at=database_now(session) + timedelta(seconds=lease_seconds))
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
    job.finished_at = database_now(session)
    job.lease_expires_at = None
    job.last_error = None
    return True


def fail(session: Session, job_id: int, worker_id: str, error: str) -> bool:
    job = _owned(session, job_id, worker_id)
    if job is None:
        return False
    job.status = "failed"
    job.finished_at = database_now(session)
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
    job.run_after = database_now(session) + timedelta(seconds=delay_seconds)
    job.lease_expires_at = None
    job.locked_by = None
    job.last_error = error[:2000]
    if not count_attempt:  # a 429 is the ATS pacing us, not a failure of this job
        job.attempts -= 1
    return True


def _insert_ignore(session: Session, rows: list[dict[str, Any]]) -> None:
    """INSERT ... ON CONFLICT DO NOTHING on both engines (a lost race is not an error)."""
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        session.execute(pg_insert(ConnectionLease).values(rows).on_conflict_do_nothing())
    else:
        session.execute(insert(ConnectionLease).prefix_with("OR IGNORE"), rows)


def acquire_connections(
    db: Database, worker_id: str, lease_seconds: int, busy: set[int]
) -> set[int]:
    """Renew, take and hand back connection leases; returns the connections this worker may
    claim for. ``busy``: connections with jobs of this worker still in flight."""
    with db.session() as session:
        now = database_now(session)
        until = now + timedelta(seconds=lease_seconds)
        beat = session.get(WorkerHeartbeat, worker_id)
        if beat is None:
            session.add(WorkerHeartbeat(worker_id=worker_id, seen_at=now))
        else:
            beat.seen_at = now
        session.execute(
            update(ConnectionLease)
            .where(ConnectionLease.worker_id == worker_id)
            .values(expires_at=until)
            .execution_options(synchronize_session=False)
        )
        live = (
            session.scalar(
                select(func.count()).where(
                    WorkerHeartbeat.seen_at > now - timedelta(seconds=lease_seconds)
                )
            )
            or 1
        )
        with_work = set(
            session.scalars(
                select(SyncJob.connection_id)
                .distinct()
                .join(AtsConnection, AtsConnection.id == SyncJob.connection_id)
                .where(
                    AtsConnection.status == "active",
                    SyncJob.status.in_(("pending", "running")),
                )
            )
        )
        share = max(1, math.ceil(len(with_work) / live))
        held = dict(
            session.execute(
                select(ConnectionLease.connection_id, ConnectionLease.releasing).where(
                    ConnectionLease.worker_id == worker_id
                )
            ).all()
        )
        # Hand back what has no work left, and what is over the share (once it is idle);
        # what is within the share is served, even if it was being handed back before.
        keep = [c for c in held if c in with_work or c in busy]
        over = max(0, len(keep) - share)
        drop = {c for c in held if c not in keep}
        give_up = sorted(keep, key=lambda c: (c in busy, c))[:over]
        drop |= {c for c in give_up if c not in busy}
        _mark_releasing(session, worker_id, {c for c in give_up if c in busy}, True)
        _mark_releasing(
            session, worker_id, {c for c in keep if c not in give_up and held[c]}, False
        )
        if drop:
            session.execute(
                delete(ConnectionLease)
                .where(
                    ConnectionLease.worker_id == worker_id,
                    ConnectionLease.connection_id.in_(drop),
                )
                .execution_options(synchronize_session=False)
            )
        mine = set(keep) - drop
        room = share - len(mine)
        if room > 0:
            # Expired leases of dead workers first, then connections nobody holds.
            expired = session.scalars(
                select(ConnectionLease.connection_id)
                .where(
                    ConnectionLease.expires_at < now,
                    ConnectionLease.connection_id.in_(with_work),
                )
                .limit(room)
            ).all()
            for c in expired:
                taken = getattr(
                    session.execute(
                        update(ConnectionLease)
                        .where(ConnectionLease.connection_id == c, ConnectionLease.expires_at < now)
                        .values(worker_id=worker_id, expires_at=until, releasing=False)
                        .execution_options(synchronize_session=False)
                    ),
                    "rowcount",
                    0,
                )
                if taken:
                    mine.add(c)
            room = share - len(mine)
        if room > 0:
            leased = set(session.scalars(select(ConnectionLease.connection_id)))
            free = sorted(with_work - leased)[:room]
            _insert_ignore(
                session,
                [
                    {
                        "connection_id": c,
                        "worker_id": worker_id,
                        "expires_at": until,
                        "releasing": False,
                    }
                    for c in free
                ],
            )
        return set(
            session.scalars(
                select(ConnectionLease.connection_id).where(
                    ConnectionLease.worker_id == worker_id,
                    ConnectionLease.releasing.is_(False),
                )
            )
        )


def _mark_releasing(session: Session, worker_id: str, ids: set[int], releasing: bool) -> None:
    if ids:
        session.execute(
            update(ConnectionLease)
            .where(ConnectionLease.worker_id == worker_id, ConnectionLease.connection_id.in_(ids))
            .values(releasing=releasing)
            .execution_options(synchronize_session=False)
        )


def release_all(db: Database, worker_id: str) -> None:
    """A worker stopping cleanly hands its connections to the others at once."""
    with db.session() as session:
        session.execute(delete(ConnectionLease).where(ConnectionLease.worker_id == worker_id))
        session.execute(delete(WorkerHeartbeat).where(WorkerHeartbeat.worker_id == worker_id))
