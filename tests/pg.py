"""PostgreSQL helpers for the test-suite: a clean schema per test when a PG URL is given."""

from __future__ import annotations

from sqlalchemy import text

from outbound.store.db import make_engine


def reset_schema(url: str) -> None:
    if not url.startswith("postgresql"):
        return
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
