"""The REST API fuzzed from its own OpenAPI schema (schemathesis), on SQLite and on PostgreSQL
(``OUTBOUND_TEST_DATABASE_URL``): whatever a client sends, no 5xx, and every check schemathesis
has passes: answers match the schema they document (bodies, status codes, headers, content
types), and a request the schema calls valid is not refused as invalid. Requests are
authenticated as a team owner, so the operations run for real, not just bounce off the 401.

A second test puts a control character into every text field the schema describes, one at a
time: a 422 naming the field, never a 500 (PostgreSQL cannot store NUL) nor a silent store.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import load_all_checks
from schemathesis.core.failures import Failure
from schemathesis.specs.openapi.checks import positive_data_acceptance

from outbound.api.app import create_app
from outbound.service.accounts import create_team, create_user
from outbound.settings import Settings
from outbound.store.db import Database
from tests.conftest import Sim, database_url

# Fuzzed everywhere but here: these dial the servers named in the body, and random host names
# would only measure DNS timeouts. Their bad input is covered by tests/mail and test_api_core.
NOT_FUZZED = {("PUT", "/api/v1/mailbox")}
# CI runs a fixed (derandomized) sample; OUTBOUND_FUZZ_EXAMPLES=500 runs a larger, random one.
EXAMPLES_PER_OPERATION = int(os.environ.get("OUTBOUND_FUZZ_EXAMPLES", "12"))
DERANDOMIZE = "OUTBOUND_FUZZ_EXAMPLES" not in os.environ

# Refusals of schema-valid requests that depend on the state of the world, not on the request:
# the schema cannot state them. (operation, field the 4xx names); any other 4xx that names a
# field to a valid request is a rule the schema is missing.
STATE_REFUSALS: dict[str, tuple[str, ...]] = {
    # The job/project must exist in the owner's ATS (and an ATS must be connected).
    "POST /api/v1/sequences": ("sync.job_id",),
    "PATCH /api/v1/sequences/{sequence_id}": ("sync.job_id",),
    # The ATS refuses the credentials; or another ATS is connected already.
    "PUT /api/v1/connection": ("credentials", "provider"),
    # A target mapped twice: JSON Schema has no "unique by property".
    "PATCH /api/v1/settings": ("field_mapping[",),
    "POST /api/v1/sequences/{sequence_id}/resync": ("connection",),
    "POST /api/v1/sequences/{sequence_id}/imports": ("connection", "list_id"),
    "GET /api/v1/enrollments/{enrollment_id}/dry-run": ("connection",),
    "POST /api/v1/enrollments/{enrollment_id}/resume": ("enrollment_id",),
    "GET /api/v1/connection/activity-types": ("activity_type_id",),
    "DELETE /api/v1/users/{user_id}": ("user_id",),  # yourself
    # What a CSV file holds (rows, an email column) and its mapping's JSON: no schema states it.
    "POST /api/v1/sequences/{sequence_id}/contacts/csv": ("file", "mapping"),
    # A cursor is one the list gave (for this sort); a resync needs a connected ATS.
    "GET /api/v1/sequences/{sequence_id}/contacts": ("cursor",),
    "POST /api/v1/sequences/{sequence_id}/contacts/bulk": ("connection",),
    # Which mail providers this server is registered with is its configuration, not a schema.
    "POST /api/v1/mailbox/oauth/{provider}": ("provider",),
}


def positive_data_accepted_unless_state(ctx: Any, response: Any, case: Any) -> bool | None:
    """schemathesis' positive_data_acceptance, but for the refusals in STATE_REFUSALS."""
    try:
        return positive_data_acceptance(ctx, response, case)
    except Failure:
        allowed = STATE_REFUSALS.get(f"{case.method.upper()} {case.path}", ())
        try:
            field = str(response.json().get("field") or "")
        except ValueError:
            field = ""
        if field and field.startswith(allowed):
            return None
        raise


def _beyond_64_bits(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return abs(value) > 2**63 - 1
    if isinstance(value, dict):
        return any(_beyond_64_bits(v) for v in value.values())
    if isinstance(value, list):
        return any(_beyond_64_bits(v) for v in value)
    return False


def _generated(operation: Any) -> Any:
    # schemathesis steps over a maximum near 2**63 by float rounding (9223372036854775999 for
    # 2**63 - 1): such a case breaks the schema it came from, so it is not sent.
    return operation.as_strategy().filter(
        lambda c: (
            not any(_beyond_64_bits(part) for part in (c.body, c.path_parameters, c.query) if part)
        )
    )


@pytest.fixture(scope="module")
def api(
    tmp_path_factory: pytest.TempPathFactory, crelate_server: Sim, clockwork_server: Sim
) -> Iterator[tuple[Any, dict[str, str]]]:
    from tests.pg import fresh_database

    tmp: Path = tmp_path_factory.mktemp("fuzz")
    s = Settings(
        data_dir=tmp,
        database_url=database_url(tmp),
        crelate_base_url=crelate_server.server.url + "/api3",
        clockwork_base_url=clockwork_server.server.url + "/v3.0",
        crelate_rate_per_second=0,
        clockwork_rate_per_second=0,
        # The fuzzer presents invalid tokens on purpose (its auth checks): it is not a guesser.
        api_token_failures_per_address=1_000_000,
    )
    fresh_database(s.resolved_database_url)
    db = Database(s.resolved_database_url)
    with db.session() as session:
        team = create_team(session, "Fuzz")
        _, token = create_user(session, team.id, "owner@fuzz.example.com", "Owner", "owner")
    yield create_app(s, db), {"Authorization": f"Bearer {token}"}
    db.dispose()


def _operations(app: Any) -> list[Any]:
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    found = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) not in NOT_FUZZED:
            found.append(operation)
    assert len(found) > 30  # every operation of the API, not a handful
    return found


def test_no_server_error_and_every_check_passes(api: tuple[Any, dict[str, str]]) -> None:
    app, auth = api
    load_all_checks()
    sent = 0
    operations = _operations(app)
    for operation in operations:

        @given(case=_generated(operation))
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
            derandomize=DERANDOMIZE,
        )
        def check(case: Any) -> None:
            nonlocal sent
            sent += 1
            response = case.call(headers=auth)
            case.validate_response(
                response,
                headers=auth,
                excluded_checks=[positive_data_acceptance],
                additional_checks=[positive_data_accepted_unless_state],
            )

        check()
    print(f"\nfuzzed {len(operations)} operations with {sent} requests: 0 failures")


def _text_leaves(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Where a string sits in a generated body (dict keys are names, not values: skipped)."""
    if isinstance(value, str):
        yield path
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _text_leaves(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _text_leaves(item, (*path, i))


def _with_control(value: Any, path: tuple[Any, ...], char: str, at: int) -> Any:
    if not path:
        return value[:at] + char + value[at:]
    head, *rest = path
    if isinstance(value, dict):
        return {**value, head: _with_control(value[head], tuple(rest), char, at)}
    copy = list(value)
    copy[head] = _with_control(value[head], tuple(rest), char, at)
    return copy


def _field_name(path: tuple[Any, ...]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else ("." if out else "") + str(part)
    return out


# NUL, other C0 controls, DEL, a C1 control (not U+0085: it is white space, trimmed at an end).
CONTROLS = ["\x00", "\x01", "\x1b", "\x7f", "\x9f"]


def test_a_control_character_in_any_text_field_is_a_422_naming_it(
    api: tuple[Any, dict[str, str]],
) -> None:
    app, auth = api
    mutated: set[str] = set()
    for operation in _operations(app):

        @given(case=_generated(operation), data=st.data())
        @settings(
            max_examples=max(4, EXAMPLES_PER_OPERATION // 2),
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
            derandomize=DERANDOMIZE,
        )
        def check(case: Any, data: Any) -> None:
            places = [("body", p) for p in _text_leaves(case.body)] if case.body else []
            places += [("query", (k,)) for k, v in (case.query or {}).items() if isinstance(v, str)]
            if not places:
                return
            where, path = data.draw(st.sampled_from(places))
            char = data.draw(st.sampled_from(CONTROLS))
            original = case.body if where == "body" else case.query
            text = original
            for part in path:
                text = text[part]
            at = data.draw(st.integers(0, len(text)))
            changed = _with_control(original, path, char, at)
            if where == "body":
                case.body = changed
            else:
                case.query = changed
            response = case.call(headers=auth)
            field = _field_name(path)
            assert response.status_code == 422, (case.method, case.path, field, response.text)
            body = response.json()
            named = [body.get("field")] + [e["field"] for e in body.get("errors") or []]
            # A tagged union names its tag when the tag itself is what broke.
            assert any(
                n and (n == field or n.startswith((field + ".", field + "["))) for n in named
            ), (case.method, case.path, field, body)
            mutated.add(f"{case.method} {case.path} {where}:{field}")

        check()
    assert len(mutated) > 30, sorted(mutated)
    print(f"\na control character in {len(mutated)} text fields: a 422 naming each")
