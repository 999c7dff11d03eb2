"""When an import run last moved (import_runs.progress_at): a CSV add that dies with its web
process is shown as interrupted instead of "running" forever

Existing rows get the last time they are known to have moved: when they finished, else when
they were made (so a run left "running" by an older release shows as interrupted at once).

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import outbound.store.models

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

UtcDateTime = outbound.store.models.UtcDateTime


def upgrade() -> None:
    with op.batch_alter_table("import_runs") as batch:
        batch.add_column(sa.Column("progress_at", UtcDateTime(timezone=True), nullable=True))
    op.execute("UPDATE import_runs SET progress_at = COALESCE(finished_at, created_at)")
    with op.batch_alter_table("import_runs") as batch:
        batch.alter_column("progress_at", existing_type=UtcDateTime(timezone=True), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("import_runs") as batch:
        batch.drop_column("progress_at")
