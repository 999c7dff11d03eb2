"""The worker's per-credential pacing."""

from __future__ import annotations

import asyncio
import time

import pytest

from outbound.sync.rate_limit import TokenBucket


@pytest.mark.parametrize("rate", [0.0, 50.0])
def test_retry_after_pause_holds_every_caller(rate: float) -> None:
    async def run() -> float:
        bucket = TokenBucket(rate, burst=1.0)
        bucket.pause(0.3)
        start = time.monotonic()
        await asyncio.gather(*(bucket.acquire() for _ in range(3)))
        return time.monotonic() - start

    assert asyncio.run(run()) >= 0.29  # nobody called before the ATS said it may


def test_bucket_spaces_calls_at_the_rate() -> None:
    async def run() -> float:
        bucket = TokenBucket(20.0, burst=1.0)
        start = time.monotonic()
        for _ in range(6):
            await bucket.acquire()
        return time.monotonic() - start

    assert asyncio.run(run()) >= 5 / 20 - 0.01  # 6 calls need 5 intervals of 50 ms
