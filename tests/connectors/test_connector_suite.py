"""The shared connector suite for each registered ATS: one line each (see suite.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from outbound.connectors.registry import spec_of
from tests.connectors.suite import connector_suite, stop_simulators

TestCrelateConnector = connector_suite(spec_of("crelate"))
TestClockworkConnector = connector_suite(spec_of("clockwork"))


@pytest.fixture(scope="module", autouse=True)
def _simulators() -> Iterator[None]:
    yield
    stop_simulators()
