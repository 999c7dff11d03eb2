"""Clockwork connections: the API key stored as the connection's user id becomes a non-secret
fingerprint (the key itself stays only in the encrypted credentials)

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

PREFIX = "clockwork-key-"


def key_fingerprint(api_key: str) -> str:
    """As ClockworkConnector.verify() names a key's user now (copied: migrations stay fixed)."""
    return PREFIX + hashlib.sha256(api_key.encode()).hexdigest()[:12]


def upgrade() -> None:
    connections = sa.table(
        "ats_connections",
        sa.column("id", sa.BigInteger),
        sa.column("provider", sa.String),
        sa.column("ats_user_id", sa.String),
        sa.column("ats_user_name", sa.String),
    )
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(connections.c.id, connections.c.ats_user_id).where(
            connections.c.provider == "clockwork"
        )
    ).all()
    for row_id, user_id in rows:
        if user_id and not str(user_id).startswith(PREFIX):
            bind.execute(
                connections.update()
                .where(connections.c.id == row_id)
                .values(
                    ats_user_id=key_fingerprint(str(user_id)), ats_user_name="Clockwork API user"
                )
            )


def downgrade() -> None:
    pass  # the keys are not brought back out of their fingerprints
