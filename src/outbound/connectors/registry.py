"""Which connector serves which provider, and the credentials each needs."""

from __future__ import annotations

from typing import Any

from outbound.connectors import probes
from outbound.connectors.base import Connector
from outbound.connectors.clockwork import probes as clockwork_probes
from outbound.connectors.clockwork.connector import ClockworkConnector
from outbound.connectors.crelate import probes as crelate_probes
from outbound.connectors.crelate.connector import CrelateConnector
from outbound.http import AsyncClient
from outbound.settings import Settings

# Field name → help text shown where the user enters it (guides: where to find each key).
CREDENTIAL_FIELDS: dict[str, dict[str, str]] = {
    "crelate": {
        "api_key": "Crelate → Settings → My Settings & Preferences → API Access tab.",
    },
    "clockwork": {
        "firm": "Your firm's subdomain: 'acme' in https://acme.clockworkrecruiting.com.",
        "api_key": "Clockwork → your name (top right) → Profile → API Keys → Create.",
        "api_secret": "Shown once, in the same popup as the API key.",
        "firm_service_key": "Shown in the API Keys section after you close the popup.",
    },
}


def missing_credentials(provider: str, credentials: dict[str, Any]) -> list[str]:
    return [
        name for name in CREDENTIAL_FIELDS[provider] if not str(credentials.get(name) or "").strip()
    ]


def make_connector(
    provider: str,
    credentials: dict[str, Any],
    settings: Settings,
    *,
    client: AsyncClient | None = None,
    timeout: float = 10.0,
) -> Connector:
    if provider == "crelate":
        return CrelateConnector(
            settings.crelate_base_url, credentials["api_key"], client=client, timeout=timeout
        )
    if provider == "clockwork":
        return ClockworkConnector(
            settings.clockwork_base_url,
            credentials["firm"],
            credentials["api_key"],
            credentials["api_secret"],
            credentials["firm_service_key"],
            client=client,
            timeout=timeout,
        )
    raise ValueError(f"unknown provider {provider!r}")


def probes_for(provider: str) -> dict[str, probes.ProbeFn]:
    """`outbound doctor`'s probes for one ATS, one per fact in its unverified module."""
    if provider == "crelate":
        return crelate_probes.PROBES
    if provider == "clockwork":
        return clockwork_probes.PROBES
    raise ValueError(f"unknown provider {provider!r}")
