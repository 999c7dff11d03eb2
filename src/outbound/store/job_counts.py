"""The job gauge of /metrics, without reading the whole job table on every scrape.

Jobs waiting, running or failed are what an operator watches: they are counted exactly at every
scrape, each state one range of the (status, run_after) index as long as that backlog is.
Finished jobs (done, cancelled) only pile up until retention prunes them, and counting them
reads one index entry per job ever finished, inside SQLite's write lock (every transaction
takes it). So they are recounted at every scrape only while there are few of them (under
``EXACT_BELOW``, a millisecond or two); beyond that at most once every ``REFRESH_SECONDS``,
the gauge showing the last count in between.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from weakref import WeakKeyDictionary

from sqlalchemy import Engine, Select, func, select
from sqlalchemy.orm import Session

from outbound.store.models import SyncJob

OPEN_STATES = ("pending", "running", "failed")
FINISHED_STATES = ("done", "cancelled")
EXACT_BELOW = 20_000
REFRESH_SECONDS = 30.0


def job_count_statement(status: str) -> Select[int]:
    """How many jobs stand in one status: a range of ix_sync_jobs_claim, not the table."""
    return select(func.count()).select_from(SyncJob).where(SyncJob.status == status)


@dataclass(frozen=True)
class _Finished:
    counts: dict[str, int]
    at: float


class JobCounter:
    """Job counts by status for one database (see the module's docstring)."""

    def __init__(
        self,
        exact_below: int = EXACT_BELOW,
        refresh_seconds: float = REFRESH_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.exact_below = exact_below
        self.refresh_seconds = refresh_seconds
        self.clock = clock
        self._finished: _Finished | None = None

    def count(self, session: Session) -> dict[str, int]:
        counts = {s: session.scalar(job_count_statement(s)) or 0 for s in OPEN_STATES}
        last = self._finished
        if (
            last is None
            or sum(last.counts.values()) < self.exact_below
            or self.clock() - last.at >= self.refresh_seconds
        ):
            finished = {s: session.scalar(job_count_statement(s)) or 0 for s in FINISHED_STATES}
            last = self._finished = _Finished(finished, self.clock())
        return {**counts, **last.counts}


_counters: WeakKeyDictionary[Engine, JobCounter] = WeakKeyDictionary()
_lock = threading.Lock()


def count_by_status(session: Session) -> dict[str, int]:
    """How many jobs stand in each status, with one counter (and its cache) per database."""
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    with _lock:
        counter = _counters.get(engine)
        if counter is None:
            counter = _counters[engine] = JobCounter()
    return counter.count(session)
