"""One shared suite, run against every connector and its simulator under every behaviour
profile the simulator offers (each a plausible variant of something the real API leaves
unknown): a third ATS passes this too.

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
    PermissionDenied,
    PersonInput,
)
from outbound.connectors.registry import make_connector
from outbound.settings import Settings
from outbound.simulators.clockwork import unverified as clockwork_sim
from outbound.simulators.crelate import unverified as crelate_sim
from tests.conftest import CRELATE_KEYS, Sim, clockwork_credentials

PROVIDERS = ["crelate", "clockwork"]
SIM_PROFILES = {"crelate": crelate_sim.PROFILES, "clockwork": clockwork_sim.PROFILES}
CASES = [(p, None) for p in PROVIDERS] + [
    (p, profile) for p in PROVIDERS for profile in sorted(SIM_PROFILES[p])
]
CREDENTIALS = {"crelate": {"api_key": CRELATE_KEYS["alice"]}, "clockwork": clockwork_credentials()}
BAD = {"crelate": {"api_key": "nope"}, "clockwork": {**clockwork_credentials(), "api_secret": "x"}}


@pytest.fixture(params=CASES, ids=[f"{p}-{profile or 'default'}" for p, profile in CASES])
def case(request: pytest.FixtureRequest, crelate: Sim, clockwork: Sim) -> tuple[str, str | None]:
    provider, profile = request.param
    if profile is not None:
        {"crelate": crelate, "clockwork": clockwork}[provider].profiles(profile)
    return provider, profile


@pytest.fixture
def provider(case: tuple[str, str | None]) -> str:
    return case[0]


@pytest.fixture
def profile(case: tuple[str, str | None]) -> str | None:
    return case[1]


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


def test_verify_names_the_user(run: Callable[..., Any], profile: str | None) -> None:
    identity = run(lambda c: c.verify())
    assert identity.org
    if profile == "no_users_me":  # connects anyway; the owner is learned from a first record
        assert (identity.user_id, identity.user_name) == ("", "")
    else:
        assert identity.user_id and identity.user_name


def test_bad_credentials_raise_auth_error(run: Callable[..., Any], provider: str) -> None:
    with pytest.raises(AuthError):
        run(lambda c: c.verify(), BAD[provider])


def test_create_then_find_by_email_case_insensitively(run: Callable[..., Any]) -> None:
    person = new_person()

    async def flow(c: Connector) -> tuple[str, Any, Any]:
        pid = await c.create_person(person)
        await c.complete_person(pid, person, fresh=True)
        # The engine passes the name too: a search that ignores emails still finds the person.
        name = f"{person.first_name} {person.last_name}"
        found = await c.find_person_by_email(person.email.upper(), name)
        return pid, found, await c.get_person(pid)

    pid, found, got = run(flow)
    assert found is not None and found.id == pid and got.email == person.email


def test_find_unknown_email_is_none(run: Callable[..., Any]) -> None:
    assert run(lambda c: c.find_person_by_email("nobody-at-all@example.com")) is None


def email_count(provider: str, fields: dict[str, Any]) -> int:
    if provider == "clockwork":
        return len(fields.get("emails") or [])
    return sum(1 for k, v in fields.items() if k.startswith("EmailAddresses_") and v)


def test_complete_person_is_idempotent(run: Callable[..., Any], provider: str) -> None:
    person = new_person(phone="+14155550100")

    async def flow(c: Connector) -> Any:
        pid = await c.create_person(person)
        await c.complete_person(pid, person, fresh=True)
        await c.complete_person(pid, person, fresh=False)  # a retry writes nothing twice
        return await c.get_person(pid)

    got = run(flow)
    assert email_count(provider, got.fields) == 1


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


async def chosen_activity_type(c: Connector) -> str | None:
    """What a user would pick on the Integrations page: the Email type, else the first one."""
    types = await c.list_activity_types()
    email = next((t for t in types if t.name.lower() == "email"), None)
    return (email or types[0]).id if types else None


def test_activity_is_recognisable_by_its_marker(
    run: Callable[..., Any], profile: str | None
) -> None:
    person = new_person()
    marker = f"outbound-event-{uuid.uuid4().hex}"

    async def flow(c: Connector) -> tuple[bool, bool]:
        pid = await c.create_person(person)
        await c.complete_person(pid, person, fresh=True)
        before = await c.has_activity(pid, marker)
        await c.log_activity(
            pid,
            ActivityInput(
                "sent",
                "Hello",
                "Hi there",
                "2026-11-01T10:00:00Z",
                marker,
                activity_type_id=await chosen_activity_type(c),
            ),
        )
        return before, await c.has_activity(pid, marker)

    if profile == "activitytypes_forbidden":  # nothing to choose from: the user is told why
        with pytest.raises(PermissionDenied) as refused:
            run(flow)
        assert refused.value.call == "GET /activitytypes"
        return
    assert run(flow) == (False, True)


def test_without_a_chosen_type_logging_says_what_to_do(
    run: Callable[..., Any], profile: str | None
) -> None:
    async def flow(c: Connector) -> bool:
        pid = await c.create_person(new_person())
        activity = ActivityInput("sent", "Hello", "Hi", "2026-11-01T10:00:00Z", "m")
        await c.log_activity(pid, activity)
        return True

    if profile == "no_email_activity_type":
        with pytest.raises(PermanentError, match="Integrations page"):
            run(flow)
    elif profile == "activitytypes_forbidden":
        with pytest.raises(PermissionDenied):
            run(flow)
    else:
        assert run(flow)


def test_stages_are_read_again_when_asked_fresh(run: Callable[..., Any]) -> None:
    async def flow(c: Connector) -> tuple[list[str], list[str]]:
        job = (await c.list_jobs())[0].id
        cached = [s.name for s in await c.list_stages(job)]
        return cached, [s.name for s in await c.list_stages(job, fresh=True)]

    cached, fresh = run(flow)
    assert cached == fresh and "Replied" in fresh


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


def test_describe_fields_and_lists(
    run: Callable[..., Any], provider: str, profile: str | None
) -> None:
    async def flow(c: Connector) -> tuple[Any, Any]:
        return await c.describe_fields(), [x async for x in c.list_lists()]

    if profile == "no_lists":
        with pytest.raises(PermanentError):
            run(flow)
        return
    fields, lists = run(flow)
    assert fields and all(f.name for f in fields)
    assert bool(lists) is (provider == "crelate")


def test_validation_errors_are_permanent(run: Callable[..., Any]) -> None:
    async def flow(c: Connector) -> None:
        pid = await c.create_person(new_person())
        await c.attach(pid, "00000000-0000-0000-0000-000000000000")

    with pytest.raises(PermanentError):
        run(flow)
