"""Mailboxes connected by OAuth 2.0 (auth_kind, oauth_provider) and the connect requests in
flight, issue 18

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import outbound.store.models

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UtcDateTime = outbound.store.models.UtcDateTime


def upgrade() -> None:
    with op.batch_alter_table("mailboxes") as batch:
        batch.add_column(
            sa.Column("auth_kind", sa.String(length=10), nullable=False, server_default="password")
        )
        batch.add_column(sa.Column("oauth_provider", sa.String(length=20), nullable=True))
    op.create_table(
        "mailbox_oauth_requests",
        sa.Column("id", BigId, nullable=False),
        sa.Column("state_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", BigId, nullable=False),
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("verifier_encrypted", sa.LargeBinary(), nullable=False),
        sa.Column("return_to", sa.String(length=500), nullable=False),
        sa.Column("expires_at", UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("state_hash"),
    )
    op.create_index(
        "ix_mailbox_oauth_requests_user_id", "mailbox_oauth_requests", ["user_id"], unique=False
    )
    op.create_index(
        "ix_mailbox_oauth_requests_expires_at",
        "mailbox_oauth_requests",
        ["expires_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_table("mailbox_oauth_requests")
    with op.batch_alter_table("mailboxes") as batch:
        batch.drop_column("oauth_provider")
        batch.drop_column("auth_kind")
