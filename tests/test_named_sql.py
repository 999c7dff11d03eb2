"""The queue's named SQL (store/sql/queue.sql): every statement runs on the database in use,
every one is used by the code, and the PostgreSQL-only row locking never reaches SQLite."""

from __future__ import annotations

import re
from pathlib import Path

from outbound.store import queries
from outbound.store.db import Database

CLAIMS = Path(__file__).resolve().parents[1] / "src" / "outbound" / "sync" / "claims.py"


def test_every_named_query_is_used_by_the_queue() -> None:
    names = set(queries._file("queue.sql"))
    used = set(re.findall(r'_sql\(session, "(\w+)"\)', CLAIMS.read_text(encoding="utf-8")))
    assert names == used


def test_row_locking_is_postgresql_only() -> None:
    assert "SKIP LOCKED" in str(queries.query("queue.sql", "claim_jobs", "postgresql"))
    sqlite = str(queries.query("queue.sql", "claim_jobs", "sqlite"))
    assert "SKIP LOCKED" not in sqlite and sqlite.count("(") == sqlite.count(")")


def test_every_named_query_is_valid_sql_on_this_database(db: Database) -> None:
    """EXPLAIN prepares each statement without running it: a typo or a column that does not
    exist fails here, not in a worker at 3 a.m."""
    dialect = db.engine.dialect.name
    params = {
        "worker": "w",
        "now": None,
        "lease_until": None,
        "run_after": None,
        "alive_since": None,
        "connection_id": None,
        "limit": 1,
        "job_id": 1,
        "error": "",
        "give_back": 0,
        "releasing": False,
        "job_ids": [1],
        "connection_ids": [1],
    }
    with db.engine.connect() as conn:
        for name in queries._file("queue.sql"):
            statement = queries.query("queue.sql", name, dialect, explain=True)
            used = set(statement.compile(dialect=db.engine.dialect).params)
            conn.execute(statement, {k: v for k, v in params.items() if k in used})
