"""Counting the SQL a piece of work sends: for tests that check work stays bounded."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from outbound.store.db import Database


@contextmanager
def statements_sent(db: Database) -> Iterator[list[str]]:
    """Every SQL statement sent to the database while inside (BEGIN included)."""
    seen: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", note)
