"""`outbound doctor`: check every unverified ATS fact against a user's real account.

Read-only unless writes are allowed (then into throw-away records deleted afterwards). The
report says which facts hold and which simulator profiles the account matches, so the first team
with a real account confirms our assumptions in a minute and can paste the table into a report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from outbound.connectors.base import AtsError, AuthError
from outbound.connectors.probes import ProbeContext, ProbeResult, delete_throwaways, run_probe
from outbound.connectors.registry import make_connector, probes_for
from outbound.settings import Settings


@dataclass(frozen=True)
class DoctorReport:
    provider: str
    results: list[ProbeResult] = field(default_factory=list)
    profiles: list[str] = field(default_factory=list)  # simulator profiles the account matches
    left_behind: list[str] = field(default_factory=list)  # throw-away records not deleted
    error: str | None = None  # the credentials did not open the account: no probe ran

    def as_dict(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "error": self.error,
            "profiles": self.profiles,
            "left_behind": self.left_behind,
            "results": [
                {"probe": r.name, "outcome": r.outcome, "detail": r.detail, "profile": r.profile}
                for r in self.results
            ],
        }


async def diagnose(
    provider: str, credentials: dict[str, Any], settings: Settings, *, write: bool = False
) -> DoctorReport:
    connector = make_connector(provider, credentials, settings, timeout=20)
    probes = probes_for(provider)
    try:
        try:
            await connector.verify()
        except AuthError as exc:
            return DoctorReport(provider, error=f"the credentials were rejected: {exc.message}")
        except AtsError as exc:
            return DoctorReport(provider, error=f"the ATS could not be reached: {exc.message}")
        ctx = ProbeContext(write=write)
        results = [await run_probe(name, fn, connector, ctx) for name, fn in probes.items()]
        await delete_throwaways(connector, ctx)
    finally:
        await connector.aclose()
    profiles = sorted({r.profile for r in results if r.profile})
    return DoctorReport(provider, results, profiles, ctx.left_behind)
