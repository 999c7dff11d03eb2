"""A worker whose every slot is busy still renews the leases of the connections it serves, so a
long ATS call never lets another worker take a connection (and its rate limit) over."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from outbound.settings import Settings
from outbound.store.db import Database
from outbound.store.models import ConnectionLease, SyncJob
from outbound.sync.worker import Worker
from tests.conftest import Sim, Team
from tests.test_api_core import make_sequence
from tests.test_sync_crelate import add, connect, person

# A contact's sync job: alone, or also its duplicate check (deduplication on, the default).
SYNC_KINDS = ("sync_contact", "check_and_sync")


def lease_until(db: Database) -> Any:
    with db.session() as session:
        return session.scalar(select(ConnectionLease.expires_at))


def job_status(db: Database) -> str | None:
    with db.session() as session:
        return session.scalar(select(SyncJob.status).where(SyncJob.kind.in_(SYNC_KINDS)))


def test_a_full_worker_keeps_renewing_its_connection_leases(
    team: Team, crelate: Sim, db: Database, settings: Settings
) -> None:
    connect(team)
    add(team, make_sequence(team), person(1))
    crelate.faults(latency_ms=1500)  # every ATS call is slow: the one job outlives its lease
    settings.worker_concurrency = 1
    settings.lease_seconds = 2

    async def observe() -> tuple[Any, Any, str | None]:
        worker = Worker(db, settings, request_timeout=10)
        runner = asyncio.create_task(worker.run(poll_interval=0.05))
        while job_status(db) != "running":
            await asyncio.sleep(0.05)
        first = await asyncio.to_thread(lease_until, db)
        await asyncio.sleep(2.2)  # past the first lease, the job still in flight
        later, status = await asyncio.to_thread(lease_until, db), job_status(db)
        worker.stop()
        await runner
        return first, later, status

    first, later, status = asyncio.run(observe())
    assert status == "running"  # the slot was still busy when the lease was looked at again
    assert later > first  # and the connection's lease was renewed meanwhile


def test_a_worker_whose_clock_runs_a_minute_ahead_takes_no_live_lease(
    team: Team, crelate: Sim, db: Database, monkeypatch: Any
) -> None:
    import pytest

    from outbound.store import clock
    from outbound.sync import claims

    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite is embedded: one machine, one clock")
    connect(team)
    add(team, make_sequence(team), person(1))  # open work for the connection
    with db.session() as session:
        (connection_id,) = session.scalars(select(SyncJob.connection_id).distinct()).all()
    assert claims.acquire_connections(db, "worker-a", 60, set()) == {connection_id}
    real = clock.utcnow
    monkeypatch.setattr(clock, "utcnow", lambda: real() + timedelta(seconds=61))  # B's clock
    assert connection_id not in claims.acquire_connections(db, "worker-b", 60, set())
    with db.session() as session:
        holder = session.scalar(select(ConnectionLease.worker_id))
    assert holder == "worker-a"  # the live worker keeps what it serves
