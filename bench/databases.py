"""What every benchmark needs of its database and process: an empty database, and the peak
memory the process reached."""

from __future__ import annotations

import resource

from sqlalchemy import text

from outbound.store.db import make_engine


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def fresh_database(url: str | None, tmp: str, name: str) -> str:
    """A new SQLite file in ``tmp`` (``url`` None), or the given PostgreSQL emptied."""
    if url is None:
        return f"sqlite:///{tmp}/{name}.db"
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    return url
