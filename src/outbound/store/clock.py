"""The database's clock, for every lease, timer and progress stamp: PostgreSQL may serve
workers and web processes on machines whose clocks differ, and they must still agree on when
a lease ran out or an add stopped moving. SQLite is embedded: its clock is this machine's,
the only one there is."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from outbound.store.models import utcnow


def database_now(session: Session) -> datetime:
    """Now by the database's clock, as a value (one query on PostgreSQL)."""
    if _is_postgresql(session):
        now: datetime = session.execute(select(func.now())).scalar_one()
        return now
    return utcnow()


def database_now_in_sql(session: Session) -> Any:
    """Now by the database's clock, as something to write or compare in a statement: SQL's
    ``now()`` on PostgreSQL (no query of its own), this machine's time on SQLite."""
    return func.now() if _is_postgresql(session) else utcnow()


def _is_postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"
