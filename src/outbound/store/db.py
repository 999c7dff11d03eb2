"""Engine and session factory: SQLite (default, WAL) or PostgreSQL via OUTBOUND_DATABASE_URL.

Two kinds of transaction:

- ``Database.session()``, a unit of work that may write. On SQLite it takes the one write lock
  up front (``BEGIN IMMEDIATE``), after waiting its turn among this process' other writers
  (``WriterQueue``: first come, first served; SQLite's own busy handler is not fair, and a
  waiting writer could starve for a second while another thread re-took the lock).
- ``Database.read_session()``, for pages and API reads that never write. On SQLite a deferred
  ``BEGIN`` (in WAL mode a reader never waits for the writer; it sees the last commit) with
  ``PRAGMA query_only`` on; on PostgreSQL a ``READ ONLY`` transaction. A write inside one is
  refused by the database, loudly, never silently dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

T = TypeVar("T")
READ_ONLY = "outbound_read_only"  # execution option of the engine behind read sessions
_TICKET = "outbound_writer_turn"  # connection info: this connection holds its writer turn
_QUERY_ONLY = "outbound_query_only"  # connection info: PRAGMA query_only is on


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


class WriterQueue:
    """The writers of one SQLite database in this process, served in arrival order.

    A writer takes its turn before ``BEGIN IMMEDIATE`` and gives it back once its transaction
    has committed or rolled back, so at most one connection of this process asks SQLite for the
    write lock at a time and nobody overtakes a writer that came first. Waiting for a turn is
    bounded by the lock timeout, like the wait for the lock itself: then "database is locked".

    A thread that already holds a turn (a write transaction still open on another connection)
    and begins a second write transaction would wait for itself: refused at once instead, with
    the same "database is locked" (before this queue SQLite's busy handler refused it after the
    whole lock timeout). A read session inside a write one is fine: it takes no turn.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._waiting: deque[object] = deque()
        self._holder: int | None = None  # the thread ident that took the current turn

    def acquire(self, timeout: float) -> None:
        me = threading.get_ident()
        with self._cond:
            if self._holder == me:
                raise _locked(
                    "this thread already holds a write transaction on this database (another "
                    "session is still open); a second one would wait for itself"
                )
            ticket = object()
            self._waiting.append(ticket)
            deadline = time.monotonic() + timeout
            try:
                while self._holder is not None or self._waiting[0] is not ticket:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise _locked(f"waited {timeout:g} s for this process' earlier writers")
                    self._cond.wait(remaining)
            except BaseException:
                self._waiting.remove(ticket)
                self._cond.notify_all()
                raise
            self._waiting.popleft()
            self._holder = me

    def release(self) -> None:
        with self._cond:
            self._holder = None
            self._cond.notify_all()

    @property
    def waiting(self) -> int:
        """Writers waiting for their turn (for tests and diagnostics)."""
        with self._cond:
            return len(self._waiting)


def _locked(why: str) -> OperationalError:
    # The same words SQLite uses, so callers treat it as they treat a lock timeout (an outage to
    # the worker, a 503 to the API; store/outage.py).
    return OperationalError(
        "BEGIN IMMEDIATE", None, sqlite3.OperationalError(f"database is locked: {why}")
    )


_queues: dict[str, WriterQueue] = {}
_queues_lock = threading.Lock()


def writer_queue(engine: Engine) -> WriterQueue:
    """The queue of this engine's database file: shared by every engine of this process on the
    same file (the tests and the CLI may open several), one per in-memory engine."""
    database = engine.url.database or ""
    key = str(Path(database).resolve()) if database and database != ":memory:" else f"{id(engine)}"
    with _queues_lock:
        return _queues.setdefault(key, WriterQueue())


def create_private_file(path: Path) -> None:
    """The database file, created readable by the service user only (0600, in a 0700 folder
    when Outbound makes the folder); SQLite gives its -wal and -shm files the same mode. An
    existing file or folder keeps the mode its owner chose."""
    if not path.parent.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not path.exists():
        with contextlib.suppress(FileExistsError):
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def make_engine(url: str, lock_timeout: float = 30.0, **kwargs: Any) -> Engine:
    """``lock_timeout``: seconds a statement waits for another transaction's lock, then fails
    (an outage to the worker: it retries later, uncounted)."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            create_private_file(Path(path))
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": lock_timeout}, **kwargs
        )
        _configure_sqlite(engine, lock_timeout)
        return engine
    engine = create_engine(
        url,
        pool_pre_ping=True,
        pool_size=10,
        max_overflow=20,
        connect_args={"options": f"-c lock_timeout={round(lock_timeout * 1000)}"},
        **kwargs,
    )
    _configure_postgresql(engine)
    return engine


def _configure_postgresql(engine: Engine) -> None:
    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Writers are untouched (row locks, MVCC). A read session's transaction is READ ONLY:
        # psycopg opens the transaction with this first statement.
        if conn.get_execution_options().get(READ_ONLY):
            conn.exec_driver_sql("SET TRANSACTION READ ONLY")


def _unicode_lower(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


def _configure_sqlite(engine: Engine, lock_timeout: float) -> None:
    writers = writer_queue(engine)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take over transaction control from pysqlite so we can begin IMMEDIATE ourselves.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={round(lock_timeout * 1000)}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()
        # SQLite's own lower() folds ASCII only: "ÉLODIE" would never match "élodie" in a
        # search. Python's does what PostgreSQL's does (no index is built on lower()).
        dbapi_conn.create_function("lower", 1, _unicode_lower, deterministic=True)

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        info = conn.info
        if conn.get_execution_options().get(READ_ONLY):
            # A reader: no turn, no write lock. Deferred BEGIN takes a WAL snapshot at the
            # first read and never waits for the writer; query_only refuses any write.
            conn.exec_driver_sql("PRAGMA query_only=ON")
            info[_QUERY_ONLY] = True
            conn.exec_driver_sql("BEGIN")
            return
        if info.pop(_QUERY_ONLY, False):  # left on by a reader that ended abnormally
            conn.exec_driver_sql("PRAGMA query_only=OFF")
        # A writer takes the write lock up front: no "database is locked" upgrade failures
        # half-way through, and job claims are serialised (see sync/claims.py). It first waits
        # its turn among this process' writers, so that none of them starves.
        writers.acquire(lock_timeout)
        info[_TICKET] = True
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            _end(info, None)
            raise

    def _end(info: dict[Any, Any], dbapi_conn: Any) -> None:
        """The transaction on this connection is over: give the turn back, query_only off."""
        if info.pop(_TICKET, False):
            writers.release()
        if dbapi_conn is not None and info.pop(_QUERY_ONLY, False):
            dbapi_conn.execute("PRAGMA query_only=OFF")

    # The turn is given back once COMMIT or ROLLBACK is done (the engine's "commit" event
    # comes before it): the next writer's BEGIN IMMEDIATE then finds the lock free.
    dialect = engine.dialect
    commit, rollback = dialect.do_commit, dialect.do_rollback

    def do_commit(dbapi_connection: Any) -> None:
        commit(dbapi_connection)  # on failure a rollback follows, which ends the turn
        _end(_info(dbapi_connection), _dbapi(dbapi_connection))

    def do_rollback(dbapi_connection: Any) -> None:
        try:
            rollback(dbapi_connection)
        finally:
            _end(_info(dbapi_connection), _dbapi(dbapi_connection))

    dialect.do_commit = do_commit  # type: ignore[method-assign]
    dialect.do_rollback = do_rollback  # type: ignore[method-assign]

    # A connection closed or invalidated mid-transaction (no COMMIT or ROLLBACK through the
    # dialect) must not keep the turn either.
    @event.listens_for(engine, "checkin")
    def _checked_in(dbapi_conn: Any, record: Any) -> None:
        if dbapi_conn is not None and record is not None:
            _end(record.info, dbapi_conn)

    for name in ("close", "invalidate"):

        @event.listens_for(engine, name)
        def _gone(_dbapi_conn: Any, record: Any, *_: Any) -> None:
            if record is not None:
                _end(record.info, None)
                record.info.pop(_QUERY_ONLY, None)


def _info(conn: Any) -> dict[Any, Any]:
    """The pooled connection's info (where a transaction's turn is noted); an ad-hoc proxy (the
    engine's first connect) has none, and no transaction of ours either."""
    try:
        info: dict[Any, Any] = conn.info
    except (AttributeError, NotImplementedError):
        return {}
    return info


def _dbapi(conn: Any) -> Any:
    """The sqlite3 connection behind a pool proxy (the dialect is handed either)."""
    return getattr(conn, "dbapi_connection", conn)


class Database:
    """One engine + session factory, shared by the API, the worker and the CLI."""

    def __init__(self, url: str, lock_timeout: float = 30.0) -> None:
        self.url = url
        self.engine = make_engine(url, lock_timeout)
        # The same pool and events; its transactions begin read-only (see _on_begin).
        self.read_engine = self.engine.execution_options(**{READ_ONLY: True})
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._threads: ThreadPoolExecutor | None = None

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: everything inside commits together or not at all."""
        with self.sessions() as session, session.begin():
            yield session

    @contextmanager
    def read_session(self) -> Iterator[Session]:
        """A transaction that only reads: on SQLite it waits for no writer (WAL snapshot), on
        PostgreSQL it is READ ONLY. Any write inside it (a statement, or a changed object
        flushed at its end) is refused by the database with an error."""
        with self.sessions(bind=self.read_engine) as session, session.begin():
            yield session

    async def in_thread(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """A blocking unit of database work, off the event loop, on this database's own
        threads: as many as can usefully work at once (SQLite has one writer; PostgreSQL's pool
        keeps 10 connections), not the loop's default executor (6 threads on 2 cores, shared
        with everything else that uses ``asyncio.to_thread``)."""
        if self._threads is None:
            size = 4 if is_sqlite(self.engine) else 16
            self._threads = ThreadPoolExecutor(max_workers=size, thread_name_prefix="outbound-db")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._threads, partial(fn, *args, **kwargs))

    def dispose(self) -> None:
        if self._threads is not None:
            self._threads.shutdown(wait=False)
            self._threads = None
        self.engine.dispose()
