"""Crelate's registry entry."""

from __future__ import annotations

from collections.abc import Mapping

from outbound.connectors.base import Connector
from outbound.connectors.crelate import probes, unverified
from outbound.connectors.crelate.connector import CrelateConnector
from outbound.connectors.spec import AtsSpec, CredentialField
from outbound.http import AsyncClient


def build(
    base_url: str, credentials: Mapping[str, str], client: AsyncClient | None, timeout: float
) -> Connector:
    return CrelateConnector(base_url, credentials["api_key"], client=client, timeout=timeout)


SPEC = AtsSpec(
    provider="crelate",
    title="Crelate",
    credentials=(
        CredentialField(
            "api_key", "Crelate → Settings → My Settings & Preferences → API Access tab."
        ),
    ),
    build=build,
    default_base_url="https://app.crelate.com/api3",
    list_import=True,
    record_types=tuple(unverified.RECORD_TYPE_BITS),
    required_person_fields=("first_name", "last_name"),  # person_entity refuses without them
    job_word="Job",
    activity_word="activity type",
    probes=probes.PROBES,
    simulator="outbound.simulators.crelate.app:create_crelate_app",
    simulator_api_root="/api3",
    simulator_credentials={"api_key": "alicecrelatekey0000000000a"},
)
