"""Fair writers on SQLite (issue 15's load target): the writers of one process take turns in
the order they came (``WriterQueue``), so none starves while others re-take the lock, as
SQLite's own busy handler allowed. PostgreSQL keeps its row locks: nothing here applies to it,
except that nested sessions behave as before.

Behaviour only: arrival order is made certain by waiting until the queue holds each writer
before the next one starts; nothing is timed."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from outbound.store.db import Database, WriterQueue, writer_queue
from outbound.store.models import Team

sqlite_only = pytest.mark.usefixtures("_sqlite")


@pytest.fixture
def _sqlite(db: Database) -> None:
    if db.engine.dialect.name != "sqlite":
        pytest.skip("the writer queue is SQLite's (PostgreSQL locks rows)")


def wait_until(condition: Callable[[], bool]) -> None:
    """Spin until ``condition`` holds (threads reaching a point); a hang fails the test."""
    done = threading.Event()
    for _ in range(10_000):
        if condition():
            return
        done.wait(0.005)
    raise AssertionError("the other threads never got there")


def teams(db: Database) -> list[str]:
    with db.read_session() as s:
        return list(s.scalars(select(Team.name).order_by(Team.id)))


def test_the_queue_serves_writers_in_arrival_order() -> None:
    queue = WriterQueue()
    queue.acquire(10)  # held here while the others line up
    served: list[int] = []

    def writer(n: int) -> None:
        queue.acquire(10)
        served.append(n)
        queue.release()

    threads = []
    for n in range(6):
        thread = threading.Thread(target=writer, args=(n,))
        thread.start()
        threads.append(thread)
        wait_until(lambda n=n: queue.waiting == n + 1)  # type: ignore[misc]
    queue.release()
    for thread in threads:
        thread.join(30)
    assert served == list(range(6))
    assert queue.waiting == 0


def test_a_writer_that_waits_too_long_leaves_the_queue() -> None:
    queue = WriterQueue()
    queue.acquire(10)
    errors: list[Exception] = []

    def impatient() -> None:
        try:
            queue.acquire(0.05)
        except OperationalError as exc:
            errors.append(exc)

    thread = threading.Thread(target=impatient)
    thread.start()
    thread.join(30)
    assert len(errors) == 1 and "database is locked" in str(errors[0])
    assert queue.waiting == 0
    queue.release()
    queue.acquire(10)  # the queue still works
    queue.release()


@pytest.fixture
def holder(db: Database) -> Iterator[tuple[threading.Event, threading.Thread]]:
    """A thread inside a write transaction until the yielded Event is set."""
    inside, release = threading.Event(), threading.Event()

    def hold() -> None:
        with db.session() as s:
            s.add(Team(name="holder"))
            s.flush()
            inside.set()
            release.wait(60)

    thread = threading.Thread(target=hold)
    thread.start()
    assert inside.wait(30)
    yield release, thread
    release.set()
    thread.join(30)


@sqlite_only
def test_writers_of_one_process_commit_in_arrival_order(
    db: Database, holder: tuple[threading.Event, threading.Thread]
) -> None:
    release, held = holder
    queue = writer_queue(db.engine)
    failures: list[Exception] = []

    def writer(n: int) -> None:
        try:
            with db.session() as s:
                s.add(Team(name=f"w{n}"))
        except Exception as exc:  # pragma: no cover - reported below
            failures.append(exc)

    threads = []
    for n in range(8):
        thread = threading.Thread(target=writer, args=(n,))
        thread.start()
        threads.append(thread)
        wait_until(lambda n=n: queue.waiting == n + 1)  # type: ignore[misc]
    release.set()
    held.join(30)
    for thread in threads:
        thread.join(60)
    assert failures == []
    assert teams(db) == ["holder", *(f"w{n}" for n in range(8))]
    assert queue.waiting == 0


@sqlite_only
def test_every_database_object_on_one_file_shares_the_queue(db: Database) -> None:
    other = Database(db.url)
    try:
        assert writer_queue(other.engine) is writer_queue(db.engine)
    finally:
        other.dispose()


@sqlite_only
def test_a_nested_write_session_in_the_same_thread_is_refused_not_deadlocked(
    db: Database,
) -> None:
    with db.session() as outer:
        outer.add(Team(name="outer"))
        outer.flush()
        with pytest.raises(OperationalError, match="database is locked"), db.session() as inner:
            inner.add(Team(name="inner"))
            inner.flush()
        with db.read_session() as reader:  # reading meanwhile is fine
            assert list(reader.scalars(select(Team.name))) == []
    assert teams(db) == ["outer"]
    with db.session() as s:  # and the turn was given back
        s.add(Team(name="after"))
    assert teams(db) == ["outer", "after"]


def test_nested_sessions_that_begin_one_after_the_other_still_work(db: Database) -> None:
    """An outer session that has not touched the database yet holds nothing: an inner one may
    write and commit first (both engines)."""
    with db.session() as outer:
        with db.session() as inner:
            inner.add(Team(name="inner"))
        outer.add(Team(name="outer"))
    assert teams(db) == ["inner", "outer"]


@sqlite_only
def test_the_turn_is_given_back_after_a_rollback_and_a_lost_connection(db: Database) -> None:
    queue = writer_queue(db.engine)
    with pytest.raises(RuntimeError), db.session() as s:
        s.add(Team(name="rolled back"))
        s.flush()
        raise RuntimeError("the work failed")
    with db.sessions() as s:
        s.begin()
        s.add(Team(name="invalidated"))
        s.flush()
        s.connection().invalidate()  # the connection is gone mid-transaction
    done: list[str] = []

    def writer() -> None:  # another thread: it would wait forever for a turn never given back
        with db.session() as s:
            s.add(Team(name="next"))
        done.append("next")

    thread = threading.Thread(target=writer)
    thread.start()
    thread.join(60)
    assert done == ["next"]
    assert teams(db) == ["next"]
    assert queue.waiting == 0
