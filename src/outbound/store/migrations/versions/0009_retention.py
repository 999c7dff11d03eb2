"""Retention (issue 15): what the pruner removed, summarised per contact (timeline_summaries),
where each table's sweep stands (retention_cursors), and the age indexes it sweeps by

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import outbound.store.models

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UtcDateTime = outbound.store.models.UtcDateTime

# (name, table, columns): service/retention.py reads each table oldest first through these.
INDEXES = (
    ("ix_sync_jobs_age", "sync_jobs", ["finished_at", "id"]),
    ("ix_sync_calls_age", "sync_calls", ["at", "id"]),
    ("ix_activity_events_age", "activity_events", ["occurred_at", "id"]),
)


def upgrade() -> None:
    op.create_table(
        "timeline_summaries",
        sa.Column("id", BigId, nullable=False),
        sa.Column("contact_id", BigId, nullable=False),
        sa.Column("enrollment_id", BigId, nullable=True),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("first_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("last_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("retention_days", sa.Integer(), nullable=False),
        sa.Column("pruned_at", UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["enrollment_id"], ["enrollments.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_timeline_summaries_contact_id", "timeline_summaries", ["contact_id"])
    op.create_table(
        "retention_cursors",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("after_at", UtcDateTime(timezone=True), nullable=True),
        sa.Column("after_id", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("name"),
    )
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
    op.drop_table("retention_cursors")
    op.drop_index("ix_timeline_summaries_contact_id", table_name="timeline_summaries")
    op.drop_table("timeline_summaries")
