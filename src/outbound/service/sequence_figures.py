"""Per-sequence figures: contacts, sent, opened, replied, interested, bounced, with rates.

One grouped query for every sequence on a page (never one per sequence), read off the
enrollments: ``engagement`` says how far our mail got, ``state`` and ``sentiment`` the answer.

One sequence's page reads `sequence_groups` instead: its enrollments counted by every column
a summary of the sequence looks at, one grouped read from which its figures, its status tabs'
counts (service.contact_list) and its stuck work (service.work_state) are all worked out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, case, func, select
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


# -- one sequence, one read ---------------------------------------------------------------
@dataclass(frozen=True)
class Group:
    """The contacts of a sequence that share every column its summary reads."""

    sync_state: str
    error_code: str | None
    state: str
    engagement: str | None
    sentiment: str | None
    contacts: int
    due: int  # of them, those with an email planned (next_send_at set)


def groups_statement(
    team_id: int, sequence_id: int
) -> Select[str, str | None, str, str | None, str | None, int, int]:
    """The sequence's enrollments by (sync state, error, state, engagement, sentiment).
    sync_state leads the GROUP BY: led by ``state``, SQLite would read ix_enrollments_paused
    whole (every sequence's rows) for its order instead of this sequence's rows alone."""
    keys = (
        Enrollment.sync_state,
        Enrollment.error_code,
        Enrollment.state,
        Enrollment.engagement,
        Enrollment.sentiment,
    )
    return (
        select(*keys, func.count(), func.count(Enrollment.next_send_at))
        .where(Enrollment.team_id == team_id, Enrollment.sequence_id == sequence_id)
        .group_by(*keys)
    )


def sequence_groups(session: Session, team_id: int, sequence_id: int) -> list[Group]:
    return [
        Group(sync, code, state, engagement, sentiment, int(n), int(due))
        for sync, code, state, engagement, sentiment, n, due in session.execute(
            groups_statement(team_id, sequence_id)
        )
    ]


def figures_of(groups: Iterable[Group]) -> Figures:
    """The figures `sequence_figures` reads in SQL, from the groups (the same rules)."""
    totals = dict.fromkeys(("contacts", *FIGURE_NAMES), 0)
    for g in groups:
        totals["contacts"] += g.contacts
        totals["sent"] += g.contacts if g.engagement is not None else 0
        totals["opened"] += g.contacts if g.engagement in ("opened", "clicked") else 0
        replied = g.state == "replied" or g.sentiment is not None
        totals["replied"] += g.contacts if replied else 0
        totals["interested"] += g.contacts if g.sentiment == "interested" else 0
        totals["bounced"] += g.contacts if g.state == "bounced" else 0
    return Figures(**totals)
