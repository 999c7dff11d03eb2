"""Group commit (store/group_commit.py): the sync worker's small write transactions share one
commit, yet each caller sees exactly what a transaction of its own would have given it."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, SessionTransaction

from outbound.store.db import Database
from outbound.store.group_commit import GroupCommit
from outbound.store.models import Team


def team_names(db: Database) -> set[str]:
    with db.read_session() as s:
        return set(s.scalars(select(Team.name)))


def add_team(name: str) -> Any:
    def work(session: Session) -> int:
        team = Team(name=name)
        session.add(team)
        session.flush()
        return team.id

    return work


def test_concurrent_units_share_commits_and_each_gets_its_own_result(db: Database) -> None:
    group = GroupCommit(db, max_units=8)

    async def main() -> list[int]:
        return await asyncio.gather(*(group.run(add_team(f"T{i}")) for i in range(40)))

    ids = asyncio.run(main())
    assert len(set(ids)) == 40  # every caller got the id of its own row
    assert team_names(db) == {f"T{i}" for i in range(40)}
    with db.read_session() as s:
        assert dict(s.execute(select(Team.id, Team.name)).tuples().all()) == {
            ids[i]: f"T{i}" for i in range(40)
        }
    # Fewer transactions than units, none larger than the cap.
    assert group.units == 40
    assert 5 <= group.batches < 40


def test_a_failing_unit_is_undone_alone_and_its_caller_gets_the_error(db: Database) -> None:
    group = GroupCommit(db)

    def half_then_fail(session: Session) -> None:
        session.add(Team(name="half-written"))
        session.flush()
        raise ValueError("this unit's own error")

    async def main() -> list[Any]:
        return await asyncio.gather(
            group.run(add_team("before")),
            group.run(half_then_fail),
            group.run(add_team("after")),
            return_exceptions=True,
        )

    before, failed, after = asyncio.run(main())
    assert isinstance(before, int) and isinstance(after, int)
    assert isinstance(failed, ValueError) and str(failed) == "this unit's own error"
    assert team_names(db) == {"before", "after"}  # the failed unit's row is not there
    assert group.units == 3 + 2  # the batch was undone; the two others committed in the next


def test_when_the_commit_fails_every_unit_gets_the_error_and_nothing_is_written(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    group = GroupCommit(db)
    commits = {"n": 0}
    real_commit = SessionTransaction.commit

    def commit_fails_once(self: SessionTransaction, _to_root: bool = False) -> None:
        if self._parent is None:  # the batch's own transaction: no savepoint, no flush
            commits["n"] += 1
            if commits["n"] == 1:
                raise OperationalError("COMMIT", None, Exception("server closed the connection"))
        real_commit(self, _to_root)

    monkeypatch.setattr(SessionTransaction, "commit", commit_fails_once)

    async def main() -> list[Any]:
        first = await asyncio.gather(
            *(group.run(add_team(f"lost{i}")) for i in range(5)), return_exceptions=True
        )
        again = await group.run(add_team("next"))  # the group goes on after a failed batch
        return [*first, again]

    *lost, again = asyncio.run(main())
    assert all(isinstance(r, OperationalError) for r in lost), lost
    assert isinstance(again, int)
    assert team_names(db) == {"next"}


def test_a_caller_learns_of_success_only_once_others_can_read_it(db: Database) -> None:
    group = GroupCommit(db)
    seen: list[bool] = []

    async def main() -> None:
        async def one(i: int) -> None:
            await group.run(add_team(f"D{i}"))
            # Read through another connection: the row is committed, not just flushed.
            seen.append(f"D{i}" in await db.in_thread(team_names, db))

        await asyncio.gather(*(one(i) for i in range(10)))

    asyncio.run(main())
    assert seen == [True] * 10
    with db.read_session() as s:
        assert s.scalar(select(func.count(Team.id))) == 10


def test_callers_are_cancelled_with_the_group_not_left_waiting(db: Database) -> None:
    """The worker's loop closing mid-commit: the callers of that batch and of the next are
    cancelled (and can end) instead of waiting for ever for a commit nobody will make."""
    group = GroupCommit(db)
    started = threading.Event()

    def slow(session: Session) -> int:
        started.set()
        time.sleep(0.3)
        return 1

    async def main() -> tuple[asyncio.Future[Any], asyncio.Future[Any], set[Any]]:
        first = asyncio.ensure_future(group.run(slow))
        while not started.is_set():
            await asyncio.sleep(0.01)
        second = asyncio.ensure_future(group.run(add_team("queued")))
        await asyncio.sleep(0)
        assert group._flusher is not None
        group._flusher.cancel()
        _, pending = await asyncio.wait({first, second}, timeout=5)
        return first, second, pending

    first, second, pending = asyncio.run(main())
    assert not pending
    assert first.cancelled() and second.cancelled()
