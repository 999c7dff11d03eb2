"""The authenticated caller: every query is scoped to ``team_id``."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Caller:
    user_id: int
    team_id: int
    role: str
