"""The REST API fuzzed from its own OpenAPI schema (schemathesis): whatever a client sends, no
5xx, and every answer matches the schema it documents. Requests are authenticated as a team
owner, so the operations run for real, not just bounce off the 401."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance

from outbound.api.app import create_app
from outbound.service.accounts import create_team, create_user
from outbound.settings import Settings
from outbound.store.db import Database
from outbound.store.migrate import upgrade
from tests.conftest import Sim, database_url

# Fuzzed everywhere but here: these dial the servers named in the body, and random host names
# would only measure DNS timeouts. Their bad input is covered by tests/mail and test_api_core.
NOT_FUZZED = {("PUT", "/api/v1/mailbox")}
# CI runs a fixed (derandomized) sample; OUTBOUND_FUZZ_EXAMPLES=500 runs a larger, random one.
EXAMPLES_PER_OPERATION = int(os.environ.get("OUTBOUND_FUZZ_EXAMPLES", "12"))
DERANDOMIZE = "OUTBOUND_FUZZ_EXAMPLES" not in os.environ


@pytest.fixture(scope="module")
def api(
    tmp_path_factory: pytest.TempPathFactory, crelate_server: Sim, clockwork_server: Sim
) -> Iterator[tuple[Any, dict[str, str]]]:
    from tests.pg import reset_schema

    tmp: Path = tmp_path_factory.mktemp("fuzz")
    s = Settings(
        data_dir=tmp,
        database_url=database_url(tmp),
        crelate_base_url=crelate_server.server.url + "/api3",
        clockwork_base_url=clockwork_server.server.url + "/v3.0",
        crelate_rate_per_second=0,
        clockwork_rate_per_second=0,
    )
    reset_schema(s.resolved_database_url)
    upgrade(s.resolved_database_url)
    db = Database(s.resolved_database_url)
    with db.session() as session:
        team = create_team(session, "Fuzz")
        _, token = create_user(session, team.id, "owner@fuzz.example.com", "Owner", "owner")
    yield create_app(s, db), {"Authorization": f"Bearer {token}"}
    db.dispose()


def test_no_server_error_and_answers_match_the_schema(api: tuple[Any, dict[str, str]]) -> None:
    app, auth = api
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    fuzzed = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) in NOT_FUZZED:
            continue
        fuzzed.append(f"{operation.method.upper()} {operation.path}")

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
            derandomize=DERANDOMIZE,
        )
        def check(case: Any) -> None:
            response = case.call(headers=auth)
            case.validate_response(
                response, checks=[not_a_server_error, response_schema_conformance]
            )

        check()
    assert len(fuzzed) > 30  # every operation of the API, not a handful
