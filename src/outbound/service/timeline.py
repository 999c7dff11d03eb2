"""A contact's timeline, a page at a time: the ATS calls made for the contact, newest page
first (oldest first within a page), and what retention removed from it, in summary
(service/retention.py writes those summaries)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from outbound.service.caller import Caller
from outbound.service.enrollments import get_enrollment
from outbound.store.models import Enrollment, SyncCall, TimelineSummary

PAGE_SIZE = 50
EN_DASH = "\N{EN DASH}"
MAX_PAGE_SIZE = 200

# How each counted event reads, singular and plural; in this order.
EVENT_WORDS = {
    "sent": ("email sent", "emails sent"),
    "opened": ("open", "opens"),
    "clicked": ("click", "clicks"),
    "replied": ("reply", "replies"),
    "bounced": ("bounce", "bounces"),
    "unsubscribed": ("unsubscribe", "unsubscribes"),
    "sentiment": ("sentiment change", "sentiment changes"),
}


@dataclass(frozen=True)
class Summary:
    """What retention removed: the contact's ATS calls (scope "ats_calls") or this enrollment's
    email events (scope "emails")."""

    scope: str
    counts: dict[str, int]
    first_at: datetime
    last_at: datetime
    retention_days: int

    @property
    def text(self) -> str:
        if self.scope == "ats_calls":
            calls = self.counts.get("calls", 0)
            failed = self.counts.get("failed", 0)
            what = _count(calls, "ATS call", "ATS calls")
            what += f" ({failed} failed)" if failed else ""
        else:
            order = list(EVENT_WORDS)
            kinds = sorted(self.counts, key=lambda k: (order.index(k) if k in order else 99, k))
            what = _and(
                [
                    _count(self.counts[k], *EVENT_WORDS.get(k, (f"{k} event", f"{k} events")))
                    for k in kinds
                    if self.counts[k]
                ]
            )
        return (
            f"{what} in {period(self.first_at, self.last_at)} "
            f"(details removed after {self.retention_days} days)"
        )


@dataclass(frozen=True)
class TimelinePage:
    calls: list[SyncCall]  # oldest first
    # Only on the oldest page, where the removed history belongs.
    summaries: list[Summary]
    # Pass as ``before`` for the page before this one; None: this is the oldest page.
    next_before: int | None


def timeline_page(
    session: Session,
    caller: Caller,
    enrollment_id: int,
    limit: int = PAGE_SIZE,
    before: int | None = None,
) -> TimelinePage:
    """The ``limit`` latest calls before the call ``before`` (the latest when None)."""
    enrollment = get_enrollment(session, caller, enrollment_id)
    q = select(SyncCall).where(SyncCall.contact_id == enrollment.contact_id)
    if before is not None:
        q = q.where(SyncCall.id < before)
    # One more than asked: whether an earlier page exists, without counting the contact's calls.
    calls = list(session.scalars(q.order_by(SyncCall.id.desc()).limit(limit + 1)))
    more = len(calls) > limit
    calls = calls[:limit][::-1]
    return TimelinePage(
        calls,
        [] if more else summaries_of(session, enrollment),
        calls[0].id if more else None,
    )


def summaries_of(session: Session, enrollment: Enrollment) -> list[Summary]:
    """What retention removed from this contact's calls and this enrollment's events."""
    merged: dict[int | None, Summary] = {}
    for row in session.scalars(
        select(TimelineSummary)
        .where(
            TimelineSummary.contact_id == enrollment.contact_id,
            or_(
                TimelineSummary.enrollment_id.is_(None),
                TimelineSummary.enrollment_id == enrollment.id,
            ),
        )
        .order_by(TimelineSummary.id)
    ):
        # Two pruners racing may each have written a row for one key: they add up.
        seen = merged.get(row.enrollment_id)
        merged[row.enrollment_id] = Summary(
            "ats_calls" if row.enrollment_id is None else "emails",
            dict(Counter(row.counts) + Counter(seen.counts if seen else {})),
            min(row.first_at, seen.first_at) if seen else row.first_at,
            max(row.last_at, seen.last_at) if seen else row.last_at,
            row.retention_days,
        )
    # Events first, then calls: the order the contact's story happened in.
    return sorted(merged.values(), key=lambda s: s.scope != "emails")


def period(first: datetime, last: datetime) -> str:
    """Jan 2026, Jan-Mar 2026, Dec 2025-Feb 2026 (with an en dash)."""
    if (first.year, first.month) == (last.year, last.month):
        return first.strftime("%b %Y")
    start = first.strftime("%b" if first.year == last.year else "%b %Y")
    return f"{start}{EN_DASH}{last.strftime('%b %Y')}"


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _and(parts: list[str]) -> str:
    if len(parts) <= 1:
        return "".join(parts) or "nothing"
    return f"{', '.join(parts[:-1])} and {parts[-1]}"
