"""Named SQL read from ``.sql`` files beside this module (procrastinate's model): each query
follows a ``-- name: <name>`` line, so the queue's statements are reviewed as SQL.

Why a few lines of our own and not aiosql: the statements run inside SQLAlchemy sessions (one
transaction with the rest of a job's outcome), with SQLAlchemy's types on the way in and out
(UTC datetimes stored naive on SQLite, JSON payloads); aiosql brings its own driver adapters.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from typing import Any

from sqlalchemy import BigInteger, BindParameter, TextClause, bindparam, text

from outbound.store.models import UtcDateTime

_NAME = re.compile(r"^-- name: (\w+)\s*$", re.MULTILINE)
_PG_ONLY = "-- postgresql only"
_PARAM = re.compile(r"(?<![:\w]):(\w+)")  # as text() reads them ("::type" casts are not)
# Parameters and result columns whose SQL type the text cannot say.
_DATETIMES = ("now", "lease_until", "run_after", "alive_since")
_LISTS = ("job_ids", "connection_ids")


@cache
def _file(file: str) -> dict[str, str]:
    source = resources.files("outbound.store.sql").joinpath(file).read_text(encoding="utf-8")
    parts = _NAME.split(source)
    return {name: body.strip() for name, body in zip(parts[1::2], parts[2::2], strict=True)}


@cache
def query(file: str, name: str, dialect: str, explain: bool = False) -> TextClause:
    """The named statement for this database (lines marked postgresql-only dropped elsewhere),
    with its parameters typed; ``explain`` asks for its plan instead (tests, reviews)."""
    lines = _file(file)[name].splitlines()
    if dialect != "postgresql":
        lines = [line for line in lines if _PG_ONLY not in line]
    sql = "\n".join(line for line in lines if not line.lstrip().startswith("--"))
    if explain:
        sql = ("EXPLAIN QUERY PLAN " if dialect == "sqlite" else "EXPLAIN ") + sql
    statement = text(sql.rstrip().rstrip(";"))
    params = set(_PARAM.findall(sql))
    typed: list[BindParameter[Any]] = [
        bindparam(p, type_=UtcDateTime()) for p in _DATETIMES if p in params
    ]
    typed += [bindparam(p, expanding=True) for p in _LISTS if p in params]
    if "connection_id" in params:
        typed.append(bindparam("connection_id", type_=BigInteger()))
    return statement.bindparams(*typed)
