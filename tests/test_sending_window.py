"""Sending windows: days and hours in the mailbox's own time zone, and spacing."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from outbound.domain.sending_window import SendingWindow

WEEKDAYS = [0, 1, 2, 3, 4]


def ny(start: str = "09:00", end: str = "17:00", limit: int = 100) -> SendingWindow:
    return SendingWindow.parse("America/New_York", start, end, WEEKDAYS, limit)


def test_open_hours_are_in_the_mailbox_time_zone() -> None:
    # Tuesday 2026-11-24 13:30 UTC is 08:30 in New York: not yet.
    assert not ny().is_open(datetime(2026, 11, 24, 13, 30, tzinfo=UTC))
    assert ny().is_open(datetime(2026, 11, 24, 14, 30, tzinfo=UTC))
    assert ny().next_open(datetime(2026, 11, 24, 13, 30, tzinfo=UTC)) == datetime(
        2026, 11, 24, 14, 0, tzinfo=UTC
    )


def test_friday_evening_waits_for_monday_morning() -> None:
    friday_evening = datetime(2026, 11, 27, 23, 0, tzinfo=UTC)  # 18:00 in New York
    assert ny().next_open(friday_evening) == datetime(2026, 11, 30, 14, 0, tzinfo=UTC)


def test_window_past_midnight_and_whole_day() -> None:
    night = SendingWindow.parse("UTC", "22:00", "02:00", [0, 1, 2, 3, 4, 5, 6], 10)
    assert night.is_open(datetime(2026, 11, 24, 1, 0, tzinfo=UTC))
    assert not night.is_open(datetime(2026, 11, 24, 3, 0, tzinfo=UTC))
    always = SendingWindow.parse("UTC", "00:00", "00:00", [0, 1, 2, 3, 4, 5, 6], 10)
    assert always.window_seconds() == 86_400


def test_spacing_spreads_the_daily_limit_over_the_window_with_jitter() -> None:
    window = ny(limit=80)  # 8 hours / 80 = 6 minutes on average
    gaps = [window.spacing(random.Random(i)).total_seconds() for i in range(200)]
    assert min(gaps) >= 0.7 * 360 and max(gaps) <= 1.3 * 360
    assert len({round(g) for g in gaps}) > 50  # not a fixed tick


def test_daily_limit_counts_from_local_midnight() -> None:
    start = ny().local_day_start(datetime(2026, 11, 24, 3, 0, tzinfo=UTC))  # 22:00 on the 23rd
    assert start == datetime(2026, 11, 23, 5, 0, tzinfo=UTC)
