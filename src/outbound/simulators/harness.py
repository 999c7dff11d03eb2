"""What both ATS simulators share and neither ATS has: per-key rate limiting, seeded fault
injection, request counting, and the admin routes tests and benchmarks read.

These are test features, not claims about Crelate or Clockwork (their limits are undocumented).
"""

from __future__ import annotations

import asyncio
import json
import logging
import pickle
import random
import re
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from starlette.types import ASGIApp, Message, Receive, Scope, Send

ErrorBody = Callable[[int, str, Scope], Any]  # a JSON value: some APIs answer a bare string
KeyOf = Callable[[Scope], str | None]

_ID_SEGMENT = re.compile(
    r"/([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|\d+)(?=/|$)"
)


def endpoint_of(method: str, path: str) -> str:
    """'POST /api3/contacts/<guid>' → 'POST /api3/contacts/{id}' for per-endpoint counts."""
    return f"{method} {_ID_SEGMENT.sub('/{id}', path)}"


@dataclass
class FaultConfig:
    seed: int = 0
    latency_ms: float = 0.0  # added to every request
    latency_jitter_ms: float = 0.0  # plus uniform(0, jitter)
    error_rate: float = 0.0  # 5xx before the handler runs (nothing stored)
    drop_rate: float = 0.0  # connection dropped before the handler runs
    commit_then_fail_rate: float = 0.0  # write stored, client sees a 5xx or a timeout
    rate_limited_rate: float = 0.0  # 429 + Retry-After: 1 regardless of the bucket (seeded)
    hang_seconds: float = 15.0  # how long a "timeout" commit-then-fail stalls before dropping


@dataclass
class RateLimitConfig:
    requests_per_second: float = 0.0  # 0 = no limit
    burst: float = 0.0  # 0 = same as rate

    def capacity(self) -> float:
        return self.burst or max(1.0, self.requests_per_second)


@dataclass
class Stats:
    requests: int = 0
    rate_limited: int = 0
    injected_errors: int = 0
    dropped: int = 0
    commit_then_fail: int = 0
    by_endpoint: Counter[str] = field(default_factory=Counter)
    by_key: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "rate_limited": self.rate_limited,
            "injected_errors": self.injected_errors,
            "dropped": self.dropped,
            "commit_then_fail": self.commit_then_fail,
            "by_endpoint": dict(self.by_endpoint),
            "by_key": dict(self.by_key),
        }


class UnknownProfile(ValueError):
    pass


class Profiles:
    """The simulator's answers where the real API's behaviour is unknown: each plausible variant
    is a named profile, switched on per organisation (one simulator serves one organisation).

    Profiles in one ``exclusive`` group are alternatives; switching one on switches its rivals off.
    """

    def __init__(
        self,
        available: Mapping[str, str],
        defaults: Iterable[str] = (),
        exclusive: Iterable[Iterable[str]] = (),
    ) -> None:
        self.available = dict(available)
        self.defaults = frozenset(defaults)
        self.exclusive = [frozenset(group) for group in exclusive]
        self.active: set[str] = set()
        self.set(self.defaults)

    def __contains__(self, name: object) -> bool:
        return name in self.active

    def set(self, names: Iterable[str]) -> list[str]:
        """Make exactly ``names`` (plus the defaults of groups none of them touches) active."""
        wanted = set(names)
        unknown = sorted(wanted - self.available.keys())
        if unknown:
            raise UnknownProfile(
                f"unknown profile {unknown[0]!r}; one of: {', '.join(sorted(self.available))}"
            )
        for group in self.exclusive:
            chosen = wanted & group
            if len(chosen) > 1:
                raise UnknownProfile(f"profiles {', '.join(sorted(chosen))} exclude each other")
            if not chosen:
                wanted |= self.defaults & group
        self.active = wanted
        return sorted(self.active)

    def describe(self) -> dict[str, Any]:
        return {"active": sorted(self.active), "available": self.available}


class Harness:
    """ASGI middleware around an emulated API, plus its run-time configuration."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        api_prefix: str,
        key_of: KeyOf,
        error_body: ErrorBody,
        faults: FaultConfig | None = None,
        rate_limit: RateLimitConfig | None = None,
        profiles: Profiles | None = None,
    ) -> None:
        self.app = app
        self.profiles = profiles or Profiles({})
        self.api_prefix = api_prefix
        self.key_of = key_of
        self.error_body = error_body
        self.faults = faults or FaultConfig()
        self.rate_limit = rate_limit or RateLimitConfig()
        self.stats = Stats()
        self.rng = random.Random(self.faults.seed)
        self._buckets: dict[str, tuple[float, float]] = {}
        self.on_shutdown: Callable[[], None] | None = None

    def configure_faults(self, **changes: Any) -> FaultConfig:
        self.faults = FaultConfig(**{**asdict(self.faults), **changes})
        self.rng = random.Random(self.faults.seed)  # replayable from the seed
        return self.faults

    def configure_rate_limit(self, **changes: Any) -> RateLimitConfig:
        self.rate_limit = RateLimitConfig(**{**asdict(self.rate_limit), **changes})
        self._buckets.clear()
        return self.rate_limit

    def reset_stats(self) -> None:
        self.stats = Stats()

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.on_shutdown is not None:
                    self.on_shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    def _take_token(self, key: str) -> float:
        """0 when allowed, else seconds until a token is available."""
        rate = self.rate_limit.requests_per_second
        if rate <= 0:
            return 0.0
        capacity = self.rate_limit.capacity()
        now = time.monotonic()
        tokens, updated = self._buckets.get(key, (capacity, now))
        tokens = min(capacity, tokens + (now - updated) * rate)
        if tokens >= 1:
            self._buckets[key] = (tokens - 1, now)
            return 0.0
        self._buckets[key] = (tokens, now)
        return (1 - tokens) / rate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(scope, receive, send)
            return
        if scope["type"] != "http" or not scope["path"].startswith(self.api_prefix):
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        key = self.key_of(scope) or "anonymous"
        self.stats.requests += 1
        self.stats.by_endpoint[endpoint_of(method, path)] += 1
        self.stats.by_key[key] += 1

        f = self.faults
        if f.latency_ms or f.latency_jitter_ms:
            await asyncio.sleep((f.latency_ms + self.rng.uniform(0, f.latency_jitter_ms)) / 1000)
        wait = self._take_token(key)
        if wait > 0:
            self.stats.rate_limited += 1
            retry_after = max(1, int(wait + 0.999))
            await _json(
                send,
                429,
                self.error_body(429, "Too many requests", scope),
                {"retry-after": str(retry_after)},
            )
            return
        if f.rate_limited_rate and self.rng.random() < f.rate_limited_rate:
            self.stats.rate_limited += 1
            await _json(
                send,
                429,
                self.error_body(429, "Too many requests (injected)", scope),
                {"retry-after": "1"},
            )
            return
        roll = self.rng.random()
        if roll < f.error_rate:
            self.stats.injected_errors += 1
            await _json(send, 503, self.error_body(503, "Service unavailable (injected)", scope))
            return
        if roll < f.error_rate + f.drop_rate:
            self.stats.dropped += 1
            await _drop(send)
            return
        is_write = method in ("POST", "PUT", "PATCH", "DELETE")
        if not (is_write and self.rng.random() < f.commit_then_fail_rate):
            await self.app(scope, receive, send)
            return
        # Commit-then-fail: the handler runs and stores the write; the client never learns.
        captured: list[Message] = []

        async def capture(message: Message) -> None:
            captured.append(message)

        await self.app(scope, receive, capture)
        status = next((m["status"] for m in captured if m["type"] == "http.response.start"), 500)
        if status >= 400:  # nothing was stored: pass the real answer through
            for message in captured:
                await send(message)
            return
        self.stats.commit_then_fail += 1
        if self.rng.random() < 0.5:
            await _json(send, 500, self.error_body(500, "Internal server error (injected)", scope))
        else:
            await asyncio.sleep(f.hang_seconds)
            await _drop(send)


async def _json(send: Send, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
    payload = json.dumps(body).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    raw += [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": payload})


class _IgnoreInjectedDrops(logging.Filter):
    """uvicorn logs our deliberate short body as an application error; it is not one."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not (exc is not None and "Too little data for declared Content-Length" in str(exc))


logging.getLogger("uvicorn.error").addFilter(_IgnoreInjectedDrops())


async def _drop(send: Send) -> None:
    # Promise a body and end early: the server aborts the connection mid-response, which the
    # client sees exactly as a dropped connection.
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json"), (b"content-length", b"64")],
        }
    )
    await send({"type": "http.response.body", "body": b"{", "more_body": False})


def load_state(path: Path | None) -> dict[str, Any] | None:
    """A simulator's organisation as saved by a previous run (the demo reuses its data dir)."""
    if path is None or not path.exists():
        return None
    with path.open("rb") as fh:
        state: dict[str, Any] = pickle.load(fh)  # our own file, written by save_state
    return state


def save_state(path: Path, state: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    with tmp.open("wb") as fh:
        pickle.dump(state, fh)
    tmp.replace(path)


class InspectableStore(Protocol):
    """What each simulator's in-memory organisation offers the admin routes."""

    def records(self, kind: str) -> list[Any]: ...
    def duplicates(self) -> dict[str, int]: ...


def mount_admin(
    api: Any,
    harness: Harness,
    store: Callable[[], InspectableStore],
    record_kinds: Sequence[str],
    reset: Callable[[str | None], Awaitable[None] | None],
) -> None:
    """Add the /_admin inspection routes to a simulator app."""
    api.include_router(
        admin_routes(
            lambda: harness,
            lambda kind: store().records(kind),
            lambda: list(record_kinds),
            lambda: store().duplicates(),
            reset,
        )
    )


def _profile_names(body: Any) -> list[str]:
    names = body.get("active") if isinstance(body, dict) else body
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise UnknownProfile('send {"active": ["profile", ...]}')
    return names


def admin_routes(
    harness_getter: Callable[[], Harness],
    records: Callable[[str], list[Any]],
    kinds: Callable[[], list[str]],
    duplicates: Callable[[], dict[str, int]],
    reset: Callable[[str | None], Awaitable[None] | None],
) -> Any:
    """The inspection API (/_admin), outside the emulated paths."""
    from fastapi import APIRouter, Body, HTTPException

    router = APIRouter(prefix="/_admin", tags=["admin"])

    @router.get("/stats")
    async def stats() -> dict[str, Any]:
        return harness_getter().stats.as_dict()

    @router.post("/stats/reset")
    async def stats_reset() -> dict[str, str]:
        harness_getter().reset_stats()
        return {"status": "ok"}

    @router.get("/records")
    async def record_kinds() -> list[str]:
        return kinds()

    @router.get("/records/{kind}")
    async def list_records(kind: str) -> list[Any]:
        if kind not in kinds():
            raise HTTPException(404, f"unknown record kind {kind!r}; one of {kinds()}")
        return records(kind)

    @router.get("/duplicates")
    async def dupes() -> dict[str, Any]:
        by_email = duplicates()
        return {"duplicate_emails": len(by_email), "by_email": by_email}

    @router.get("/faults")
    async def get_faults() -> dict[str, Any]:
        return asdict(harness_getter().faults)

    @router.put("/faults")
    async def put_faults(changes: dict[str, Any] = Body(...)) -> dict[str, Any]:
        try:
            return asdict(harness_getter().configure_faults(**changes))
        except TypeError as exc:
            raise HTTPException(422, str(exc)) from exc

    @router.get("/rate-limit")
    async def get_rate_limit() -> dict[str, Any]:
        return asdict(harness_getter().rate_limit)

    @router.put("/rate-limit")
    async def put_rate_limit(changes: dict[str, Any] = Body(...)) -> dict[str, Any]:
        try:
            return asdict(harness_getter().configure_rate_limit(**changes))
        except TypeError as exc:
            raise HTTPException(422, str(exc)) from exc

    @router.get("/profiles")
    async def get_profiles() -> dict[str, Any]:
        return harness_getter().profiles.describe()

    @router.put("/profiles")
    async def put_profiles(body: Any = Body(...)) -> dict[str, Any]:
        """Which variant of each unknown behaviour this organisation shows (see /profiles)."""
        profiles = harness_getter().profiles
        try:
            profiles.set(_profile_names(body))
        except UnknownProfile as exc:
            raise HTTPException(422, str(exc)) from exc
        return profiles.describe()

    @router.post("/reset")
    async def do_reset(seed: str | None = None, keep_profiles: bool = False) -> dict[str, str]:
        """A fresh organisation from the seed; profiles back to their defaults unless kept."""
        harness = harness_getter()
        if not keep_profiles:
            harness.profiles.set(harness.profiles.defaults)
        result = reset(seed)
        if result is not None:
            await result
        harness.reset_stats()
        return {"status": "ok"}

    return router
