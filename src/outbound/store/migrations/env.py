"""Alembic environment: the URL comes from the caller (outbound db upgrade / tests)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from outbound.store.db import make_engine
from outbound.store.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations(connection: Connection) -> None:
    # render_as_batch lets ALTERs work on SQLite (copy-and-move tables).
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        _sqlite_foreign_keys(connection, on=False)
    try:
        with context.begin_transaction():
            context.run_migrations()
            if sqlite:
                _check_foreign_keys(connection)
    finally:
        if sqlite:
            _sqlite_foreign_keys(connection, on=True)


def _sqlite_foreign_keys(connection: Connection, on: bool) -> None:
    """SQLite's own recipe for changing a table: foreign keys off, outside any transaction (the
    pragma is a no-op inside one). With them on, dropping the old copy of a table in a batch
    migration would cascade-delete every row that refers to it."""
    if connection.in_transaction():  # autobegun by a read (Alembic's version check)
        connection.commit()
    connection.connection.driver_connection.execute(  # type: ignore[union-attr]
        f"PRAGMA foreign_keys={'ON' if on else 'OFF'}"
    )


def _check_foreign_keys(connection: Connection) -> None:
    """With the checks off, a migration must prove it left no dangling reference."""
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        raise RuntimeError(f"migration left rows referring to missing rows: {broken[:5]}")


connection = config.attributes.get("connection")
if connection is not None:
    run_migrations(connection)
else:
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as conn:
        run_migrations(conn)
    engine.dispose()
