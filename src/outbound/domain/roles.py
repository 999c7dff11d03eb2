"""Who may do what inside a team."""

from __future__ import annotations


def can_manage_teammates(role: str) -> bool:
    """Owners and managers manage teammates and clone integration settings."""
    return role in ("owner", "manager")


def can_grant_role(actor_role: str, new_role: str) -> bool:
    # A manager cannot create an owner: that would let them escalate past themselves.
    if actor_role == "owner":
        return True
    return actor_role == "manager" and new_role != "owner"
