"""integration_settings.activity_tracking_since (activity tracking applies from the moment it
is turned on) and sync_batches (a resync that queued nothing still has a batch to ask about)

Existing settings rows keep a null activity_tracking_since: tracking that is on counts as on
since the connection was made, as before.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import outbound.store.models

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("integration_settings") as batch_op:
        batch_op.add_column(
            sa.Column(
                "activity_tracking_since",
                outbound.store.models.UtcDateTime(timezone=True),
                nullable=True,
            )
        )
    op.create_table(
        "sync_batches",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("team_id", BigId, nullable=False),
        sa.Column("created_at", outbound.store.models.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_sync_batches_team_id", "sync_batches", ["team_id"])


def downgrade() -> None:
    op.drop_index("ix_sync_batches_team_id", table_name="sync_batches")
    op.drop_table("sync_batches")
    with op.batch_alter_table("integration_settings") as batch_op:
        batch_op.drop_column("activity_tracking_since")
