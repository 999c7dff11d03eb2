"""Group commit: the small write transactions of many concurrent jobs committed together.

A sync job writes twice or more per ATS call (the ledger's intent before it, the outcome after),
each a few statements. Run one by one, every unit pays a thread hop, a session, ``BEGIN`` and
``COMMIT`` (and on SQLite its turn for the write lock), which cost more CPU than the statements.
Here the units that arrive while a batch is committing wait for the next batch, which runs them
all in one transaction on one thread hop, each inside its own savepoint:

- a unit that raises is undone alone (its savepoint rolls back) and its caller gets the error,
  exactly as if it had run in a transaction of its own; the others commit;
- nobody learns that their unit succeeded before the batch has committed, so an intent is
  durable before the ATS call it guards, as before;
- if the commit itself fails (the database went away), every unit of the batch gets that error,
  and nothing of the batch is written.

The batch is capped (``max_units``) so that a write transaction stays short: SQLite has one
writer, and pages and API calls queue behind it.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from outbound.store.db import Database

T = TypeVar("T")


@dataclass
class _Unit:
    work: Callable[[Session], Any]
    done: asyncio.Future[Any]


class GroupCommit:
    """Units of work from many coroutines of one event loop, committed in shared transactions."""

    def __init__(self, db: Database, max_units: int = 32) -> None:
        self.db = db
        self.max_units = max_units
        self._waiting: deque[_Unit] = deque()
        self._flusher: asyncio.Task[None] | None = None
        self.batches = 0  # transactions committed or tried (for tests and the benchmark)
        self.units = 0

    async def run(self, work: Callable[[Session], T]) -> T:
        """``work(session)`` committed with whatever else is waiting; its result once durable."""
        done: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._waiting.append(_Unit(work, done))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        return await done

    async def _flush(self) -> None:
        while self._waiting:
            batch = [
                self._waiting.popleft() for _ in range(min(self.max_units, len(self._waiting)))
            ]
            self.batches += 1
            self.units += len(batch)
            try:
                outcomes = await self.db.in_thread(self._commit, [u.work for u in batch])
            except Exception as exc:  # the transaction as a whole failed: nobody's work holds
                for unit in batch:
                    if not unit.done.done():
                        unit.done.set_exception(exc)
                continue
            except BaseException:  # cancelled (the loop is closing): so is everyone waiting
                for unit in (*batch, *self._waiting):
                    unit.done.cancel()
                self._waiting.clear()
                raise
            for unit, (ok, value) in zip(batch, outcomes, strict=True):
                if unit.done.done():  # its caller was cancelled meanwhile
                    continue
                if ok:
                    unit.done.set_result(value)
                else:
                    unit.done.set_exception(value)

    def _commit(self, works: list[Callable[[Session], Any]]) -> list[tuple[bool, Any]]:
        outcomes: list[tuple[bool, Any]] = []
        with self.db.session() as session:
            if len(works) == 1:  # no savepoint needed: its error rolls the transaction back
                return [(True, works[0](session))]
            for work in works:
                try:
                    with session.begin_nested():
                        outcomes.append((True, work(session)))
                except Exception as exc:
                    outcomes.append((False, exc))
        return outcomes
