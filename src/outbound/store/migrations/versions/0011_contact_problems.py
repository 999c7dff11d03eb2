"""Issue 16, contact problems and edits: no schema change in the end

Reserved while issue 16 was built in parallel; the work needed no new column (reply text was
already stored, a CSV import keeps no state). Kept so that every database shares one chain.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
