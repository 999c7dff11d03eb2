"""Clockwork's registry entry."""

from __future__ import annotations

from collections.abc import Mapping

from outbound.connectors.base import Connector
from outbound.connectors.clockwork import probes
from outbound.connectors.clockwork.connector import ClockworkConnector
from outbound.connectors.spec import AtsSpec, CredentialField
from outbound.http import AsyncClient


def build(
    base_url: str, credentials: Mapping[str, str], client: AsyncClient | None, timeout: float
) -> Connector:
    return ClockworkConnector(
        base_url,
        credentials["firm"],
        credentials["api_key"],
        credentials["api_secret"],
        credentials["firm_service_key"],
        client=client,
        timeout=timeout,
    )


SPEC = AtsSpec(
    provider="clockwork",
    title="Clockwork",
    credentials=(
        CredentialField(
            "firm",
            "Your firm's subdomain: 'acme' in https://acme.clockworkrecruiting.com.",
            secret=False,
            pattern=r"^[A-Za-z0-9-]+$",
            max_length=100,
        ),
        CredentialField(
            "api_key", "Clockwork → your name (top right) → Profile → API Keys → Create."
        ),
        CredentialField("api_secret", "Shown once, in the same popup as the API key."),
        CredentialField(
            "firm_service_key", "Shown in the API Keys section after you close the popup."
        ),
    ),
    build=build,
    default_base_url="https://api.clockworkrecruiting.com/v3.0",
    flags_do_not_contact=True,
    writes_email_separately=True,
    job_word="Project",
    activity_word="note category",
    probes=probes.PROBES,
    simulator="outbound.simulators.clockwork.app:create_clockwork_app",
    simulator_api_root="/v3.0",
    simulator_credentials={
        "firm": "acme",
        "api_key": "cw-alice-key",
        "api_secret": "cw-alice-secret",
        "firm_service_key": "acme-firm-service-key-0001",
    },
)
