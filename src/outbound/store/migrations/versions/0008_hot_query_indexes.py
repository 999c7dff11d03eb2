"""Indexes for the hot queries (issue 15): the planner's "duplicate check first", its daily
limit and resumed pauses, inbound matching by address, and the dashboard's counts

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# (name, table, columns): tests/test_query_plans.py checks each query uses its index.
INDEXES = (
    ("ix_sync_jobs_enrollment", "sync_jobs", ["enrollment_id", "kind", "status"]),
    ("ix_enrollments_paused", "enrollments", ["state", "paused_until"]),
    ("ix_outbound_emails_mailbox_day", "outbound_emails", ["mailbox_id", "created_at", "status"]),
    ("ix_outbound_emails_mailbox_to", "outbound_emails", ["mailbox_id", "to_address", "status"]),
    ("ix_sync_calls_status_at", "sync_calls", ["status_code", "at"]),
    ("ix_activity_events_team_day", "activity_events", ["team_id", "occurred_at"]),
    # Resync pages through one sequence by id (service/enrollments.resync_in_chunks).
    ("ix_enrollments_sequence_id", "enrollments", ["sequence_id", "id"]),
)


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
