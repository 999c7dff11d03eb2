"""Several sync workers share the database: each ATS connection is served by one worker at a
time (fleet-wide lease), so its rate limit holds however many workers run, and the workers
split the connections between them."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import func, select

from outbound.settings import Settings
from outbound.store.db import Database
from outbound.store.models import ConnectionLease, SyncJob
from outbound.sync.worker import Worker
from tests.conftest import Sim, Team
from tests.test_api_core import make_sequence
from tests.test_sync_crelate import add, connect, person

PER_CONNECTION = 40


async def run_fleet(db: Database, settings: Settings, n: int, timeout: float) -> list[str]:
    workers = [
        Worker(db, settings, worker_id=f"fleet-{i}", backoff_base=0.05, backoff_cap=0.5)
        for i in range(n)
    ]
    runners = [asyncio.create_task(w.run(poll_interval=0.05)) for w in workers]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    try:
        while loop.time() < deadline:
            await asyncio.sleep(0.2)
            if await asyncio.to_thread(workers[0].open_job_count) == 0:
                break
        else:
            raise TimeoutError("the fleet did not finish")
    finally:
        for w in workers:
            w.stop()
        await asyncio.gather(*runners)
    return [w.worker_id for w in workers]


def test_three_workers_keep_each_connections_rate_limit_and_share_the_work(
    team: Team, crelate: Sim, db: Database, settings: Settings
) -> None:
    # The ATS allows 15 requests/s per key; each worker paces itself at 12/s per connection.
    # Three workers on one key would send up to 36/s: only one may serve it at a time.
    crelate.rate_limit(15, burst=2)
    settings.crelate_rate_per_second = 12
    settings.lease_seconds = 6
    connect(team, "owner", "alice")
    connect(team, "manager", "bob")
    for role in ("owner", "manager"):
        seq = make_sequence(team, role)
        add(team, seq, *(person(f"{role}{i}") for i in range(PER_CONNECTION)), role=role)

    asyncio.run(run_fleet(db, settings, 3, timeout=120))

    stats: dict[str, Any] = crelate.stats()
    assert stats["rate_limited"] == 0  # no 429: never two workers on one key
    assert crelate.duplicates() == 0
    with db.session() as session:
        done = session.scalar(select(func.count(SyncJob.id)).where(SyncJob.status == "done"))
        by_worker = dict(
            session.execute(
                select(SyncJob.locked_by, func.count(SyncJob.id)).group_by(SyncJob.locked_by)
            ).all()
        )
        leases_left = session.scalar(select(func.count()).select_from(ConnectionLease))
    assert done == 2 * PER_CONNECTION  # one check-and-sync job per contact
    assert len([w for w, n in by_worker.items() if w and n]) >= 2  # the work was shared
    assert leases_left == 0  # stopped workers hand their connections back
    assert len(crelate.records("contacts")) >= 2 * PER_CONNECTION


def test_a_lease_back_within_the_share_is_served_again(
    team: Team, crelate: Sim, db: Database, settings: Settings
) -> None:
    """A connection a worker began to hand back (it was over its share) must be served again
    once it is within the share: otherwise nobody claims its jobs and they wait forever."""
    from outbound.sync import claims

    connect(team, "owner", "alice")
    add(team, make_sequence(team), person(1))
    held = claims.acquire_connections(db, "w-a", 30, busy=set())
    (connection_id,) = held
    with db.session() as session:  # as if it had been over the share while busy
        lease = session.get(ConnectionLease, connection_id)
        assert lease is not None
        lease.releasing = True
    assert claims.acquire_connections(db, "w-a", 30, busy=set()) == {connection_id}
    assert claims.claim(db, "w-a", 10, 30, {connection_id: 10})  # its jobs are claimable
