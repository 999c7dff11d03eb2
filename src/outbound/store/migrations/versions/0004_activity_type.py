"""integration_settings.activity_type_id: the activity type logged emails are filed as

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("integration_settings") as batch_op:
        batch_op.add_column(sa.Column("activity_type_id", sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("integration_settings") as batch_op:
        batch_op.drop_column("activity_type_id")
