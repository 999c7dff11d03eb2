"""An empty database at the latest migration for each test, on SQLite or PostgreSQL.

Running every migration for every test cost about a second each (most of the suite's time on
this machine). The migrations run once per test process instead, and each test gets a copy:

- SQLite: the migrated template file is copied with SQLite's backup API into the test's file;
- PostgreSQL: the schema is migrated once, then emptied between tests with one ``TRUNCATE``
  (identities restarted, so ids start at 1 as in a new database), as long as the schema is
  still what the migrations made: a fingerprint of the catalogue (tables, columns, defaults,
  indexes, constraints, triggers, functions, the Alembic revision) is compared first, and any
  difference (a test's trigger, a migration test's older revision) rebuilds it from scratch.

The migrations themselves are still tested from an empty database (tests/test_migrations.py,
test_schema_matches_models.py) on both engines.
"""

from __future__ import annotations

import sqlite3
import tempfile
from pathlib import Path

from sqlalchemy import Engine, text

from outbound.store.db import create_private_file, make_engine
from outbound.store.migrate import upgrade

_sqlite_template: Path | None = None
_pg_at_head: dict[str, str] = {}  # URL -> fingerprint of the schema the migrations made

# Everything a test could leave behind in the schema besides rows.
_FINGERPRINT = """
SELECT md5(coalesce(string_agg(x, ',' ORDER BY x), '')) FROM (
  SELECT 'c:' || c.relname || ':' || c.relkind::text FROM pg_class c
    WHERE c.relnamespace = 'public'::regnamespace
  UNION ALL SELECT 'a:' || a.attrelid::regclass::text || '.' || a.attname || ':'
      || format_type(a.atttypid, a.atttypmod) || a.attnotnull::text
      || coalesce(pg_get_expr(d.adbin, d.adrelid), '')
    FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    WHERE c.relnamespace = 'public'::regnamespace AND a.attnum > 0 AND NOT a.attisdropped
  UNION ALL SELECT 't:' || t.tgname || t.tgenabled::text FROM pg_trigger t
    JOIN pg_class c ON c.oid = t.tgrelid
    WHERE c.relnamespace = 'public'::regnamespace AND NOT t.tgisinternal
  UNION ALL SELECT 'p:' || p.proname FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace
  UNION ALL SELECT 'k:' || conname || pg_get_constraintdef(oid) FROM pg_constraint
    WHERE connamespace = 'public'::regnamespace
  UNION ALL SELECT 'i:' || indexdef FROM pg_indexes WHERE schemaname = 'public'
  UNION ALL SELECT 'r:' || rulename FROM pg_rules WHERE schemaname = 'public'
  UNION ALL SELECT 'v:' || version_num FROM alembic_version
) AS s(x)
"""


def reset_schema(url: str) -> None:
    """Drop every table (PostgreSQL); the next ``fresh_database`` migrates from scratch."""
    if not url.startswith("postgresql"):
        return
    _pg_at_head.pop(url, None)
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def fresh_database(url: str) -> None:
    """Make ``url`` an empty database at the latest migration."""
    if url.startswith("postgresql"):
        _fresh_postgresql(url)
    else:
        _fresh_sqlite(Path(url.split("///", 1)[-1]))


def _fresh_sqlite(path: Path) -> None:
    global _sqlite_template
    if _sqlite_template is None:
        template = Path(tempfile.mkdtemp(prefix="outbound-template-")) / "template.db"
        upgrade(f"sqlite:///{template}")
        _sqlite_template = template
    create_private_file(path)
    source, target = sqlite3.connect(_sqlite_template), sqlite3.connect(path)
    try:
        source.backup(target)
        target.execute("PRAGMA journal_mode=WAL")  # as make_engine leaves a new database
    finally:
        source.close()
        target.close()


def _fresh_postgresql(url: str) -> None:
    engine = make_engine(url)
    try:
        expected = _pg_at_head.get(url)
        if expected is not None and _fingerprint(engine) == expected:
            _truncate(engine)
            return
        reset_schema(url)
        upgrade(url)
        _pg_at_head[url] = _fingerprint(engine)
    finally:
        engine.dispose()


def _fingerprint(engine: Engine) -> str | None:
    with engine.connect() as conn:
        if conn.scalar(text("SELECT to_regclass('public.alembic_version')")) is None:
            return None  # not a migrated schema
        fingerprint: str = conn.scalar(text(_FINGERPRINT))
        return fingerprint


def _truncate(engine: Engine) -> None:
    with engine.begin() as conn:
        tables = conn.scalars(
            text(
                "SELECT quote_ident(tablename) FROM pg_tables "
                "WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
            )
        ).all()
        conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
