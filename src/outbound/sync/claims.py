"""Claiming, leasing and finishing sync jobs: the hand-written queue. Its statements are
named SQL in ``store/sql/queue.sql``, read as SQL and reviewed as SQL; this module decides which
run when.

Why our own table and not a queue library: none offers SQLite by default *and* PostgreSQL
scale-out, enqueue inside our own transaction, and per-API-key rate limits together.

Every lease and timer uses the database's clock (`database_now`), never a worker's. On SQLite
every transaction begins IMMEDIATE (store/db.py), so claims are serialised; on PostgreSQL the
claim skips rows another worker has locked.

One worker per ATS connection, fleet-wide: a worker only claims jobs of connections it holds a
lease on (`connection_leases`), so each connection's pacing lives in exactly one process and
its rate limit holds however many workers run. Each round a worker (`acquire_connections`)
says it is alive and renews what it holds, works out its fair share (connections with open
work / live workers, rounded up), takes dead workers' expired leases and free connections up
to that share, and over its share marks leases `releasing` (no new claims), dropping them once
idle. A dead worker's leases expire like its jobs' do, and another worker takes them over.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import JSON, BigInteger, Integer, String
from sqlalchemy.orm import Session

from outbound.store import queries
from outbound.store.clock import database_now
from outbound.store.db import Database


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


def _sql(session: Session, name: str) -> Any:
    return queries.query("queue.sql", name, session.get_bind().dialect.name)


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


# What the claim answers, typed (the JSON payload is text on SQLite).
_CLAIMED_COLUMNS = {
    "id": BigInteger(),
    "team_id": BigInteger(),
    "connection_id": BigInteger(),
    "contact_id": BigInteger(),
    "enrollment_id": BigInteger(),
    "kind": String(),
    "payload": JSON(),
    "attempts": Integer(),
}


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
    with db.session() as session:
        now = database_now(session)
        statement = _sql(session, "claim_jobs").columns(**_CLAIMED_COLUMNS)
        params = {
            "worker": worker_id,
            "now": now,
            "lease_until": now + timedelta(seconds=lease_seconds),
        }
        wanted = [(None, limit)] if per_connection is None else list(per_connection.items())
        rows: list[Any] = []
        for connection_id, cap in wanted:
            room = min(cap, limit - len(rows))
            if room > 0:
                rows += session.execute(
                    statement, {**params, "connection_id": connection_id, "limit": room}
                ).all()
        return sorted((ClaimedJob(*row) for row in rows), key=lambda j: j.id)


def heartbeat(session: Session, worker_id: str, job_ids: list[int], lease_seconds: int) -> None:
    """Renew the leases of this worker's running jobs. The worker runs it in its group commit
    (as one more unit), never beside it: on PostgreSQL a renewal of many rows in a transaction
    of its own deadlocked with a group of settles locking some of the same rows."""
    if not job_ids:
        return
    until = database_now(session) + timedelta(seconds=lease_seconds)
    session.execute(
        _sql(session, "renew_job_leases"),
        {"job_ids": sorted(job_ids), "worker": worker_id, "lease_until": until},
    )


def finish(session: Session, job_id: int, worker_id: str) -> bool:
    """Record the job done; False if this worker no longer holds it (its lease was taken)."""
    result = session.execute(
        _sql(session, "finish_job"),
        {"job_id": job_id, "worker": worker_id, "now": database_now(session)},
    )
    return _rowcount(result) == 1


def fail(session: Session, job_id: int, worker_id: str, error: str) -> bool:
    result = session.execute(
        _sql(session, "fail_job"),
        {
            "job_id": job_id,
            "worker": worker_id,
            "now": database_now(session),
            "error": error[:2000],
        },
    )
    return _rowcount(result) == 1


def retry_later(
    session: Session,
    job_id: int,
    worker_id: str,
    delay_seconds: float,
    error: str,
    count_attempt: bool = True,
) -> bool:
    result = session.execute(
        _sql(session, "retry_job"),
        {
            "job_id": job_id,
            "worker": worker_id,
            "run_after": database_now(session) + timedelta(seconds=delay_seconds),
            "error": error[:2000],
            "give_back": 0 if count_attempt else 1,
        },
    )
    return _rowcount(result) == 1


def acquire_connections(
    db: Database, worker_id: str, lease_seconds: int, busy: set[int]
) -> set[int]:
    """Renew, take and hand back connection leases; returns the connections this worker may
    claim for. ``busy``: connections with jobs of this worker still in flight."""
    with db.session() as session:
        now = database_now(session)
        me = {"worker": worker_id}
        until = now + timedelta(seconds=lease_seconds)
        session.execute(_sql(session, "worker_alive"), {**me, "now": now})
        session.execute(_sql(session, "renew_connection_leases"), {**me, "lease_until": until})
        alive_since = now - timedelta(seconds=lease_seconds)
        live = session.execute(_sql(session, "count_live_workers"), {"alive_since": alive_since})
        share_of = max(1, int(live.scalar_one() or 1))
        with_work = set(session.execute(_sql(session, "connections_with_work")).scalars())
        share = max(1, math.ceil(len(with_work) / share_of))
        held = {c: bool(r) for c, r in session.execute(_sql(session, "held_leases"), me).all()}
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
            session.execute(_sql(session, "drop_leases"), {**me, "connection_ids": sorted(drop)})
        mine = set(keep) - drop
        if share > len(mine) and with_work:
            # Expired leases of dead workers first, then connections nobody holds.
            expired = session.execute(
                _sql(session, "expired_leases"),
                {"now": now, "connection_ids": sorted(with_work), "limit": share - len(mine)},
            ).scalars()
            take = _sql(session, "take_expired_lease")
            for c in list(expired):
                taken = session.execute(
                    take, {**me, "connection_id": c, "now": now, "lease_until": until}
                )
                if _rowcount(taken):
                    mine.add(c)
        if share > len(mine):
            leased = set(session.execute(_sql(session, "leased_connections")).scalars())
            take_free = _sql(session, "take_free_lease")
            for c in sorted(with_work - leased)[: share - len(mine)]:
                session.execute(take_free, {**me, "connection_id": c, "lease_until": until})
        return set(session.execute(_sql(session, "claimable_connections"), me).scalars())


def _mark_releasing(session: Session, worker_id: str, ids: set[int], releasing: bool) -> None:
    if ids:
        session.execute(
            _sql(session, "mark_releasing"),
            {"worker": worker_id, "connection_ids": sorted(ids), "releasing": releasing},
        )


def release_all(db: Database, worker_id: str) -> None:
    """A worker stopping cleanly hands its connections to the others at once."""
    with db.session() as session:
        session.execute(_sql(session, "release_leases"), {"worker": worker_id})
        session.execute(_sql(session, "worker_gone"), {"worker": worker_id})
