"""Engine and session factory: SQLite (default, WAL) or PostgreSQL via OUTBOUND_DATABASE_URL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def make_engine(url: str, lock_timeout: float = 30.0, **kwargs: Any) -> Engine:
    """``lock_timeout``: seconds a statement waits for another transaction's lock, then fails
    (an outage to the worker: it retries later, uncounted)."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": lock_timeout}, **kwargs
        )
        _configure_sqlite(engine, lock_timeout)
        return engine
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=10,
        max_overflow=20,
        connect_args={"options": f"-c lock_timeout={round(lock_timeout * 1000)}"},
        **kwargs,
    )


def _configure_sqlite(engine: Engine, lock_timeout: float) -> None:
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

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Every transaction takes the write lock up front: no "database is locked" upgrade
        # failures half-way through, and job claims are serialised (see sync/claims.py).
        conn.exec_driver_sql("BEGIN IMMEDIATE")


class Database:
    """One engine + session factory, shared by the API, the worker and the CLI."""

    def __init__(self, url: str, lock_timeout: float = 30.0) -> None:
        self.url = url
        self.engine = make_engine(url, lock_timeout)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: everything inside commits together or not at all."""
        with self.sessions() as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
