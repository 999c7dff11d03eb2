"""connection leases, worker heartbeats and mailbox poll leases: one worker per ATS connection
and per mailbox across the fleet

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import outbound.store.models

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "connection_leases",
        sa.Column("connection_id", BigId, nullable=False),
        sa.Column("worker_id", sa.String(length=100), nullable=False),
        sa.Column("expires_at", outbound.store.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("releasing", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.ForeignKeyConstraint(["connection_id"], ["ats_connections.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("connection_id"),
    )
    op.create_index("ix_connection_leases_worker_id", "connection_leases", ["worker_id"])
    op.create_table(
        "worker_heartbeats",
        sa.Column("worker_id", sa.String(length=100), nullable=False),
        sa.Column("seen_at", outbound.store.models.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("worker_id"),
    )
    op.create_index(
        "ix_sync_jobs_connection", "sync_jobs", ["connection_id", "status", "id"], unique=False
    )
    with op.batch_alter_table("mailboxes") as batch_op:
        batch_op.add_column(
            sa.Column(
                "poll_lease_until", outbound.store.models.UtcDateTime(timezone=True), nullable=True
            )
        )


def downgrade() -> None:
    op.drop_index("ix_sync_jobs_connection", table_name="sync_jobs")
    with op.batch_alter_table("mailboxes") as batch_op:
        batch_op.drop_column("poll_lease_until")
    op.drop_table("worker_heartbeats")
    op.drop_index("ix_connection_leases_worker_id", table_name="connection_leases")
    op.drop_table("connection_leases")
