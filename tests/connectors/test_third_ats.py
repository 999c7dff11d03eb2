"""A third ATS from the test folder: its folder (tests/connectors/toy) and one registry line,
and the generated suite runs against it with nothing under src/ changed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from outbound.connectors.registry import ATS, register, unregister
from outbound.connectors.spec import AtsSpec, CredentialField
from tests.connectors.suite import connector_suite, stop_simulators
from tests.connectors.toy import connector, simulator

TOY = AtsSpec(
    provider="toy",
    title="Toy",
    credentials=(CredentialField("token", "Toy → Settings → API token."),),
    build=connector.build,
    default_base_url="https://api.toy.example/v1",
    job_word="Opening",
    simulator="tests.connectors.toy.simulator:create_toy_app",
    simulator_api_root="/toy",
    simulator_credentials={"token": simulator.TOKEN},
)

TestToyConnector = connector_suite(TOY)


@pytest.fixture(scope="module", autouse=True)
def _registered() -> Iterator[None]:
    register(TOY)  # the registry line (undone after, so other tests see the two real ATSs)
    yield
    unregister("toy")
    stop_simulators()


def test_the_registered_ats_is_known_to_the_rest_of_outbound() -> None:
    from outbound.domain.vocabulary import PROVIDER_TITLES, PROVIDERS

    assert ATS["toy"] is TOY
    assert "toy" in PROVIDERS and PROVIDER_TITLES["toy"] == "Toy"
