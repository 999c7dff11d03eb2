"""ats_effects: the effect ledger (an intent committed before each ATS write, done after it)

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import outbound.store.models

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "ats_effects",
        sa.Column("id", BigId, nullable=False),
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("ats_org", sa.String(length=300), nullable=False),
        sa.Column("contact_id", BigId, nullable=False),
        sa.Column("effect", sa.String(length=200), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("job_id", BigId, nullable=True),
        sa.Column("began_at", outbound.store.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("done_at", outbound.store.models.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("provider", "ats_org", "contact_id", "effect", name="uq_ats_effects"),
    )
    op.create_index("ix_ats_effects_contact_id", "ats_effects", ["contact_id"])


def downgrade() -> None:
    op.drop_index("ix_ats_effects_contact_id", table_name="ats_effects")
    op.drop_table("ats_effects")
