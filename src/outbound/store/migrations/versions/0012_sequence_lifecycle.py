"""Sequences archived and steps reordered, issue 16

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import outbound.store.models

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "sequences",
        sa.Column("archived_at", outbound.store.models.UtcDateTime(timezone=True), nullable=True),
    )
    op.add_column("sequences", sa.Column("create_token", sa.String(64), nullable=True))
    op.create_index("ix_sequences_create_token", "sequences", ["create_token"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_sequences_create_token", table_name="sequences")
    with op.batch_alter_table("sequences") as batch:
        batch.drop_column("create_token")
        batch.drop_column("archived_at")
