"""Per-sequence figures: contacts, sent, opened, replied, interested, bounced, with rates.

One grouped query for every sequence on a page (never one per sequence), read off the
enrollments: ``engagement`` says how far our mail got, ``state`` and ``sentiment`` the answer.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.orm import Session

from outbound.store.models import Enrollment

FIGURE_NAMES = ("sent", "opened", "replied", "interested", "bounced")


@dataclass(frozen=True)
class Figures:
    contacts: int = 0
    sent: int = 0
    opened: int = 0
    replied: int = 0
    interested: int = 0
    bounced: int = 0

    def rate(self, name: str) -> int | None:
        """Percent of the contacts emailed (None before anything was sent)."""
        if not self.sent:
            return None
        return round(100 * getattr(self, name) / self.sent)


def _count(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.sum(case((condition, 1), else_=0))


def sequence_figures(
    session: Session, team_id: int, sequence_ids: Iterable[int]
) -> dict[int, Figures]:
    ids = list(sequence_ids)
    if not ids:
        return {}
    replied = Enrollment.state == "replied"
    rows = session.execute(
        select(
            Enrollment.sequence_id,
            func.count(),
            _count(Enrollment.engagement.is_not(None)),
            _count(Enrollment.engagement.in_(("opened", "clicked"))),
            _count(replied | Enrollment.sentiment.is_not(None)),
            _count(Enrollment.sentiment == "interested"),
            _count(Enrollment.state == "bounced"),
        )
        .where(Enrollment.team_id == team_id, Enrollment.sequence_id.in_(ids))
        .group_by(Enrollment.sequence_id)
    ).all()
    return {int(seq_id): Figures(*(int(v or 0) for v in values)) for seq_id, *values in rows}
