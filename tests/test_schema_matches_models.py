"""The migrations build exactly the schema the models describe (tables, columns, types and
indexes), on the engine under test: an index added to a model without its migration (or the
other way round) fails here, not in production."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from outbound.store.db import make_engine
from outbound.store.migrate import upgrade
from outbound.store.models import Base
from tests.conftest import database_url
from tests.pg import reset_schema


def test_migrations_at_head_match_the_models(tmp_path: Path) -> None:
    url = database_url(tmp_path)
    reset_schema(url)
    upgrade(url)
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()
