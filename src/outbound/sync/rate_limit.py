"""Per ATS credential pacing inside one worker: a token bucket that a 429 can pause."""

from __future__ import annotations

import asyncio
import time


class TokenBucket:
    def __init__(self, rate_per_second: float, burst: float | None = None) -> None:
        self.rate = rate_per_second
        self.capacity = burst if burst is not None else max(1.0, rate_per_second)
        self.tokens = self.capacity
        self.updated = time.monotonic()
        self.paused_until = 0.0
        self._lock = asyncio.Lock()

    def pause(self, seconds: float) -> None:
        """The ATS said Retry-After: nobody on this credential calls before then."""
        self.paused_until = max(self.paused_until, time.monotonic() + seconds)
        self.tokens = 0

    async def acquire(self) -> None:
        if self.rate <= 0:  # no pacing of our own, but a Retry-After still holds everyone
            delay = self.paused_until - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            return
        async with self._lock:
            while True:
                now = time.monotonic()
                if now < self.paused_until:
                    await asyncio.sleep(self.paused_until - now)
                    continue
                self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
                self.updated = now
                if self.tokens >= 1:
                    self.tokens -= 1
                    return
                await asyncio.sleep((1 - self.tokens) / self.rate)
