"""One shared suite, run against every connector and its simulator: a third ATS passes this too.

Each case drives the Connector protocol only, so it pins what the sync engine relies on.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest

from outbound.connectors.base import (
    ActivityInput,
    AuthError,
    Connector,
    PermanentError,
    PersonInput,
)
from outbound.connectors.registry import make_connector
from outbound.settings import Settings
from tests.conftest import CRELATE_KEYS, Sim, clockwork_credentials

PROVIDERS = ["crelate", "clockwork"]
CREDENTIALS = {"crelate": {"api_key": CRELATE_KEYS["alice"]}, "clockwork": clockwork_credentials()}
BAD = {"crelate": {"api_key": "nope"}, "clockwork": {**clockwork_credentials(), "api_secret": "x"}}


@pytest.fixture(params=PROVIDERS)
def provider(request: pytest.FixtureRequest, crelate: Sim, clockwork: Sim) -> str:
    return str(request.param)


@pytest.fixture
def run(provider: str, settings: Settings) -> Iterator[Callable[..., Any]]:
    def _run(
        action: Callable[[Connector], Awaitable[Any]], creds: dict[str, str] | None = None
    ) -> Any:
        async def go() -> Any:
            connector = make_connector(provider, creds or CREDENTIALS[provider], settings)
            try:
                return await action(connector)
            finally:
                await connector.aclose()

        return asyncio.run(go())

    yield _run


def new_person(**extra: Any) -> PersonInput:
    tag = uuid.uuid4().hex[:8]
    return PersonInput(
        email=f"suite-{tag}@example.com",
        first_name="Suite",
        last_name=tag,
        title="Engineer",
        company="Initech",
        **extra,
    )


def test_verify_names_the_user(run: Callable[..., Any]) -> None:
    identity = run(lambda c: c.verify())
    assert identity.user_id and identity.user_name and identity.org


def test_bad_credentials_raise_auth_error(run: Callable[..., Any], provider: str) -> None:
    with pytest.raises(AuthError):
        run(lambda c: c.verify(), BAD[provider])


def test_create_then_find_by_email_case_insensitively(run: Callable[..., Any]) -> None:
    person = new_person()

    async def flow(c: Connector) -> tuple[str, Any, Any]:
        pid = await c.create_person(person)
        await c.complete_person(pid, person, fresh=True)
        return pid, await c.find_person_by_email(person.email.upper()), await c.get_person(pid)

    pid, found, got = run(flow)
    assert found is not None and found.id == pid and got.email == person.email


def test_find_unknown_email_is_none(run: Callable[..., Any]) -> None:
    assert run(lambda c: c.find_person_by_email("nobody-at-all@example.com")) is None


def test_complete_person_is_idempotent(run: Callable[..., Any]) -> None:
    person = new_person(phone="+14155550100")

    async def flow(c: Connector) -> Any:
        pid = await c.create_person(person)
        await c.complete_person(pid, person, fresh=True)
        await c.complete_person(pid, person, fresh=False)  # a retry writes nothing twice
        return await c.get_person(pid)

    got = run(flow)
    emails = got.fields.get("emailAddresses")
    if emails is not None:
        assert len(emails) == 1


def test_jobs_stages_attach_and_set_stage(run: Callable[..., Any]) -> None:
    person = new_person()

    async def flow(c: Connector) -> tuple[bool, bool, list[str]]:
        job = (await c.list_jobs())[0].id
        stages = await c.list_stages(job)
        pid = await c.create_person(person)
        await c.complete_person(pid, person, fresh=True)
        before = await c.is_attached(pid, job)
        await c.attach(pid, job)
        after = await c.is_attached(pid, job)
        await c.set_stage(pid, job, next(s for s in stages if s.name == "Replied"))
        return before, after, [s.name for s in stages]

    before, after, names = run(flow)
    assert (before, after) == (False, True)
    assert "Messaged" in names and "Replied" in names


def test_activity_is_recognisable_by_its_marker(run: Callable[..., Any]) -> None:
    person = new_person()
    marker = f"outbound-event-{uuid.uuid4().hex}"

    async def flow(c: Connector) -> tuple[bool, bool]:
        pid = await c.create_person(person)
        await c.complete_person(pid, person, fresh=True)
        before = await c.has_activity(pid, marker)
        await c.log_activity(
            pid, ActivityInput("sent", "Hello", "Hi there", "2026-11-01T10:00:00Z", marker)
        )
        return before, await c.has_activity(pid, marker)

    assert run(flow) == (False, True)


def test_recover_create_finds_only_our_half_written_record(
    run: Callable[..., Any], provider: str
) -> None:
    person = new_person()

    async def flow(c: Connector) -> tuple[str, str | None]:
        since = "2000-01-01T00:00:00Z"
        pid = await c.create_person(person)  # email not yet written (Clockwork: separate call)
        return pid, await c.recover_create(person, since)

    pid, recovered = run(flow)
    # Crelate writes the email with the record, so find_person_by_email is its recovery path.
    assert recovered == (pid if provider == "clockwork" else None)


def test_describe_fields_and_lists(run: Callable[..., Any], provider: str) -> None:
    async def flow(c: Connector) -> tuple[Any, Any]:
        return await c.describe_fields(), [x async for x in c.list_lists()]

    fields, lists = run(flow)
    assert fields and all(f.name for f in fields)
    assert bool(lists) is (provider == "crelate")


def test_validation_errors_are_permanent(run: Callable[..., Any]) -> None:
    async def flow(c: Connector) -> None:
        pid = await c.create_person(new_person())
        await c.attach(pid, "00000000-0000-0000-0000-000000000000")

    with pytest.raises(PermanentError):
        run(flow)
