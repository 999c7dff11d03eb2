"""Accounts scoped to their team: an email is unique within a team, issue 17

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # On SQLite this copies the table; env.py turns foreign keys off around migrations, or the
    # copy's DROP TABLE would cascade into every row that refers to a user.
    with op.batch_alter_table("users") as batch:
        batch.drop_constraint("uq_users_email", type_="unique")
        batch.create_unique_constraint("uq_users_team_email", ["team_id", "email"])
        batch.create_index("ix_users_email", ["email"])


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_index("ix_users_email")
        batch.drop_constraint("uq_users_team_email", type_="unique")
        batch.create_unique_constraint("uq_users_email", ["email"])
