"""Group commit: the small write transactions of many concurrent jobs committed together.

A sync job writes twice or more per ATS call (the ledger's intent before it, the outcome after),
each a few statements. Run one by one, every unit pays a thread hop, a session, ``BEGIN`` and
``COMMIT`` (and on SQLite its turn for the write lock), which cost more CPU than the statements.
Here the units that arrive while a batch is committing wait for the next batch, which runs them
all in one transaction on one thread hop:

- a unit that raises gets its error, exactly as if it had run in a transaction of its own: the
  batch's transaction is rolled back and the other units go back to the head of the queue, to
  commit in the next batch. Units rarely fail (a database fault), so the batch is optimistic:
  no savepoint around each unit (two statements each) to undo one alone;
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
                results = await self.db.in_thread(self._commit, [u.work for u in batch])
            except _UnitFailed as failed:  # that unit's error; the others go again, first
                _settle(batch[failed.index], failed.error)
                self._waiting.extendleft(
                    reversed(batch[: failed.index] + batch[failed.index + 1 :])
                )
                continue
            except Exception as exc:  # the transaction as a whole failed: nobody's work holds
                for unit in batch:
                    _settle(unit, exc)
                continue
            except BaseException:  # cancelled (the loop is closing): so is everyone waiting
                for unit in (*batch, *self._waiting):
                    unit.done.cancel()
                self._waiting.clear()
                raise
            for unit, value in zip(batch, results, strict=True):
                if not unit.done.done():  # else its caller was cancelled meanwhile
                    unit.done.set_result(value)

    def _commit(self, works: list[Callable[[Session], Any]]) -> list[Any]:
        results: list[Any] = []
        with self.db.session() as session:
            for index, work in enumerate(works):
                try:
                    results.append(work(session))
                except Exception as exc:
                    raise _UnitFailed(index, exc) from exc  # leaving the block rolls back
        return results


class _UnitFailed(Exception):
    """One unit of a batch raised: the batch's transaction is rolled back."""

    def __init__(self, index: int, error: Exception) -> None:
        super().__init__(index, error)
        self.index = index
        self.error = error


def _settle(unit: _Unit, error: BaseException) -> None:
    if not unit.done.done():  # its caller may have been cancelled meanwhile
        unit.done.set_exception(error)
