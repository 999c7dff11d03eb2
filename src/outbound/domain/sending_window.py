"""When a mailbox may send: its days, hours and time zone, a daily limit, and spacing between
sends so a day's mail is spread over the window instead of bursted. Pure, no I/O."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class SendingWindow:
    time_zone: str
    start: time
    end: time
    days: frozenset[int]  # 0 = Monday
    daily_limit: int

    @classmethod
    def parse(
        cls, time_zone: str, start: str, end: str, days: list[int], daily_limit: int
    ) -> SendingWindow:
        return cls(
            time_zone,
            time.fromisoformat(start),
            time.fromisoformat(end),
            frozenset(days),
            daily_limit,
        )

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    def _bounds(self, local_day: datetime) -> tuple[datetime, datetime]:
        opens = local_day.replace(
            hour=self.start.hour, minute=self.start.minute, second=0, microsecond=0
        )
        closes = local_day.replace(
            hour=self.end.hour, minute=self.end.minute, second=0, microsecond=0
        )
        if closes <= opens:  # past midnight; "00:00"-"00:00" is the whole day
            closes += timedelta(days=1)
        return opens, closes

    def is_open(self, now: datetime) -> bool:
        local = now.astimezone(self.zone)
        for back in (0, 1):  # a window past midnight belongs to the day it opened
            day = local - timedelta(days=back)
            if day.weekday() not in self.days:
                continue
            opens, closes = self._bounds(day)
            if opens <= local < closes:
                return True
        return False

    def next_open(self, now: datetime) -> datetime:
        """The first moment at or after ``now`` when sending is allowed (UTC)."""
        if self.is_open(now):
            return now
        local = now.astimezone(self.zone)
        for ahead in range(0, 8):
            day = local + timedelta(days=ahead)
            if day.weekday() not in self.days:
                continue
            opens, _ = self._bounds(day)
            if opens > local:
                return opens.astimezone(UTC)
        raise ValueError("the sending window has no sending days")

    def window_seconds(self) -> float:
        opens, closes = self._bounds(datetime(2024, 1, 1, tzinfo=self.zone))
        return (closes - opens).total_seconds()

    def spacing(self, rng: random.Random | None = None) -> timedelta:
        """Gap after one send before the next: the window spread over the daily limit, with
        ±30% jitter so sends do not tick like a machine."""
        base = self.window_seconds() / max(1, self.daily_limit)
        jitter = (rng or random).uniform(0.7, 1.3)
        return timedelta(seconds=base * jitter)

    def local_day_start(self, now: datetime) -> datetime:
        """Midnight of the mailbox's current day, in UTC: the daily limit counts from here."""
        local = now.astimezone(self.zone)
        return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)
