"""`outbound doctor`'s building blocks: a probe checks one unverified ATS fact against a real
account and says whether it holds, and which simulator profile the answer matches.

Each connector folder has a ``probes`` module whose ``PROBES`` maps every probe named in its
``unverified`` module to a function; a test keeps the two lists equal.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from outbound.connectors.base import AtsError, PermanentError

Outcome = Literal["holds", "differs", "skipped", "failed"]


@dataclass(frozen=True)
class ProbeResult:
    name: str
    outcome: Outcome
    detail: str
    profile: str | None = None  # the simulator profile this answer matches (None: the default)


@dataclass
class ProbeContext:
    """What probes share in one run: whether writes are allowed, and what earlier probes found."""

    write: bool
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    found: dict[str, Any] = field(default_factory=dict)
    # Paths of the throw-away records the write probes made, deleted at the end.
    cleanup: list[str] = field(default_factory=list)
    left_behind: list[str] = field(default_factory=list)


ProbeFn = Callable[[Any, ProbeContext], Awaitable[ProbeResult]]


async def run_probe(name: str, probe: ProbeFn, connector: Any, ctx: ProbeContext) -> ProbeResult:
    """One probe; an ATS error it did not expect is its result, never the end of the run."""
    try:
        return await probe(connector, ctx)
    except AtsError as exc:
        return ProbeResult(name, "failed", exc.message)


def holds(name: str, detail: str, profile: str | None = None) -> ProbeResult:
    return ProbeResult(name, "holds", detail, profile)


def differs(name: str, detail: str, profile: str | None = None) -> ProbeResult:
    return ProbeResult(name, "differs", detail, profile)


def skipped(name: str, detail: str) -> ProbeResult:
    return ProbeResult(name, "skipped", detail)


async def delete_throwaways(connector: Any, ctx: ProbeContext) -> None:
    """Remove what the write probes made, newest first; what cannot be removed is reported."""
    for path in reversed(ctx.cleanup):
        try:
            await connector.request("DELETE", path)
        except PermanentError:
            ctx.left_behind.append(path)
