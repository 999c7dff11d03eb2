"""The ATSs Outbound speaks to: one registry line each. Everything provider-specific outside a
connector's folder (API schemas, web forms, CLI, pacing, the shared test suite) is made from
the entries here, so a third ATS is its folder plus one `register(...)` line.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

from outbound.connectors.base import Connector
from outbound.connectors.clockwork.spec import SPEC as CLOCKWORK
from outbound.connectors.crelate.spec import SPEC as CRELATE
from outbound.connectors.probes import ProbeFn
from outbound.connectors.spec import AtsSpec
from outbound.domain import vocabulary
from outbound.http import AsyncClient
from outbound.settings import Settings

ATS: dict[str, AtsSpec] = {}


def register(spec: AtsSpec) -> AtsSpec:
    """Make an ATS known everywhere, the pure rules' vocabulary included."""
    ATS[spec.provider] = spec
    vocabulary.add_provider(
        spec.provider, spec.title, flags_do_not_contact=spec.flags_do_not_contact
    )
    return spec


def unregister(provider: str) -> None:
    """Forget an ATS (a plug-in unloaded, or a test's own ATS after its tests)."""
    ATS.pop(provider, None)
    vocabulary.remove_provider(provider)


register(CRELATE)
register(CLOCKWORK)


def spec_of(provider: str) -> AtsSpec:
    try:
        return ATS[provider]
    except KeyError:
        raise ValueError(f"unknown provider {provider!r}") from None


def credential_fields() -> dict[str, dict[str, str]]:
    """Field name → where to find it, per ATS (shown where the user enters it)."""
    return {p: spec.credential_help() for p, spec in ATS.items()}


def base_url(provider: str, settings: Settings) -> str:
    """OUTBOUND_<ATS>_BASE_URL, else OUTBOUND_ATS_BASE_URLS[<ats>], else the real API."""
    spec = spec_of(provider)
    named = getattr(settings, f"{provider}_base_url", None)
    return str(named or settings.ats_base_urls.get(provider) or spec.default_base_url)


def rate_per_second(provider: str, settings: Settings) -> float:
    """The pacing per credential, configured like the base URL; 0 means unpaced."""
    named = getattr(settings, f"{provider}_rate_per_second", None)
    if named is not None:
        return float(named)
    return float(
        settings.ats_rates_per_second.get(provider, spec_of(provider).default_rate_per_second)
    )


def make_connector(
    provider: str,
    credentials: Mapping[str, Any],
    settings: Settings,
    *,
    client: AsyncClient | None = None,
    timeout: float = 10.0,
) -> Connector:
    return spec_of(provider).build(base_url(provider, settings), credentials, client, timeout)


def probes_for(provider: str) -> Mapping[str, ProbeFn]:
    """`outbound doctor`'s probes for one ATS, one per fact in its unverified module."""
    return spec_of(provider).probes


def simulator_factory(spec: AtsSpec) -> Callable[..., Any]:
    """The ATS's simulator app factory (imported on demand: connectors never import it)."""
    module, _, name = spec.simulator.partition(":")
    if not module:
        raise ValueError(f"{spec.title} has no simulator")
    factory: Callable[..., Any] = getattr(importlib.import_module(module), name)
    return factory
