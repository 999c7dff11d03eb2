"""The shared connector suite, generated per ATS from its registry entry (the Meltano SDK's
idea): `connector_suite("crelate")` is a test class that drives that ATS's connector against its
simulator, under every behaviour profile the simulator offers (each a plausible variant of
something the real API leaves unknown). A third ATS gets the same suite from one line.

Each case drives the Connector protocol only, so it pins what the sync engine relies on.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from outbound.connectors.base import (
    ActivityInput,
    AuthError,
    Connector,
    PermanentError,
    PermissionDenied,
    PersonInput,
)
from outbound.connectors.registry import make_connector, simulator_factory
from outbound.connectors.spec import AtsSpec
from outbound.settings import Settings
from outbound.simulators.server import ServerThread
from tests.conftest import Sim

_servers: dict[str, Sim] = {}


def simulator(spec: AtsSpec) -> Sim:
    """One simulator server per ATS for the module's tests (started on first use)."""
    if spec.provider not in _servers:
        server = ServerThread(simulator_factory(spec)()).start()
        _servers[spec.provider] = Sim(server, httpx.Client(base_url=server.url))
    return _servers[spec.provider]


def stop_simulators() -> None:
    for sim in _servers.values():
        sim.http.close()
        sim.server.stop()
    _servers.clear()


def simulator_profiles(spec: AtsSpec) -> list[str]:
    return sorted(simulator_factory(spec)().profiles.available)


def bad_credentials(spec: AtsSpec) -> dict[str, str]:
    """The simulator's good credentials with every secret one wrong."""
    return {
        k: (v + "-wrong" if next(f for f in spec.credentials if f.name == k).secret else v)
        for k, v in spec.simulator_credentials.items()
    }


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


async def chosen_activity_type(c: Connector) -> str | None:
    """What a user would pick on the Integrations page: the Email type, else the first one."""
    types = await c.list_activity_types()
    email = next((t for t in types if t.name.lower() == "email"), None)
    return (email or types[0]).id if types else None


class ConnectorSuite:
    """The cases; `connector_suite` makes a collected test class of it for one ATS."""

    ats: AtsSpec

    @pytest.fixture
    def spec(self) -> AtsSpec:
        return self.ats

    @pytest.fixture
    def sim(self, spec: AtsSpec) -> Sim:
        sim = simulator(spec)
        sim.reset()
        return sim

    @pytest.fixture
    def run(
        self, spec: AtsSpec, sim: Sim, profile: str | None, tmp_path: Path
    ) -> Iterator[Callable[..., Any]]:
        settings = Settings(
            data_dir=tmp_path,
            ats_base_urls={spec.provider: sim.server.url + spec.simulator_api_root},
            ats_rates_per_second={spec.provider: 0},
        )

        def _run(
            action: Callable[[Connector], Awaitable[Any]], creds: dict[str, str] | None = None
        ) -> Any:
            async def go() -> Any:
                given = creds or dict(spec.simulator_credentials)
                connector = make_connector(spec.provider, given, settings)
                try:
                    return await action(connector)
                finally:
                    await connector.aclose()

            return asyncio.run(go())

        yield _run

    def test_verify_names_the_user(self, run: Callable[..., Any], profile: str | None) -> None:
        identity = run(lambda c: c.verify())
        assert identity.org
        if profile == "no_users_me":  # connects anyway; the owner is learned from a first record
            assert (identity.user_id, identity.user_name) == ("", "")
        else:
            assert identity.user_id and identity.user_name

    def test_bad_credentials_raise_auth_error(self, run: Callable[..., Any], spec: AtsSpec) -> None:
        with pytest.raises(AuthError):
            run(lambda c: c.verify(), bad_credentials(spec))

    def test_create_then_find_by_email_case_insensitively(self, run: Callable[..., Any]) -> None:
        person = new_person()

        async def flow(c: Connector) -> tuple[str, Any, Any]:
            pid = await c.create_person(person)
            await c.complete_person(pid, person, fresh=True)
            # The engine passes the name too: a search that ignores emails still finds them.
            name = f"{person.first_name} {person.last_name}"
            found = await c.find_person_by_email(person.email.upper(), name)
            return pid, found, await c.get_person(pid)

        pid, found, got = run(flow)
        assert found is not None and found.id == pid and got.email == person.email

    def test_find_unknown_email_is_none(self, run: Callable[..., Any]) -> None:
        assert run(lambda c: c.find_person_by_email("nobody-at-all@example.com")) is None

    def test_complete_person_is_idempotent(self, run: Callable[..., Any]) -> None:
        person = new_person(phone="+14155550100")

        async def flow(c: Connector) -> Any:
            pid = await c.create_person(person)
            await c.complete_person(pid, person, fresh=True)
            await c.complete_person(pid, person, fresh=False)  # a retry writes nothing twice
            return await c.get_person(pid)

        got = run(flow)
        assert [e.lower() for e in got.stored_emails] == [person.email]

    def test_jobs_stages_attach_and_set_stage(self, run: Callable[..., Any]) -> None:
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

    def test_activity_is_recognisable_by_its_marker(
        self, run: Callable[..., Any], profile: str | None
    ) -> None:
        person = new_person()
        marker = f"outbound-event-{uuid.uuid4().hex}"

        async def flow(c: Connector) -> tuple[bool, bool]:
            pid = await c.create_person(person)
            await c.complete_person(pid, person, fresh=True)
            before = await c.has_activity(pid, marker)
            activity = ActivityInput(
                "sent",
                "Hello",
                "Hi there",
                "2026-11-01T10:00:00Z",
                marker,
                activity_type_id=await chosen_activity_type(c),
            )
            await c.log_activity(pid, activity)
            return before, await c.has_activity(pid, marker)

        if profile == "activitytypes_forbidden":  # nothing to choose from: the user is told why
            with pytest.raises(PermissionDenied) as refused:
                run(flow)
            assert refused.value.call == "GET /activitytypes"
            return
        if profile == "activities_unlisted":  # cannot check: a person is asked, never a guess
            with pytest.raises(PermanentError, match="clear the error"):
                run(flow)
            return
        assert run(flow) == (False, True)

    def test_without_a_chosen_type_logging_says_what_to_do(
        self, run: Callable[..., Any], profile: str | None
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

    def test_stages_are_read_again_when_asked_fresh(self, run: Callable[..., Any]) -> None:
        async def flow(c: Connector) -> tuple[list[str], list[str]]:
            job = (await c.list_jobs())[0].id
            cached = [s.name for s in await c.list_stages(job)]
            return cached, [s.name for s in await c.list_stages(job, fresh=True)]

        cached, fresh = run(flow)
        assert cached == fresh and "Replied" in fresh

    def test_recover_create_finds_only_our_half_written_record(
        self, run: Callable[..., Any], spec: AtsSpec
    ) -> None:
        person = new_person()

        async def flow(c: Connector) -> tuple[str, str | None]:
            since = "2000-01-01T00:00:00Z"
            pid = await c.create_person(person)  # the email not yet written, where separate
            return pid, await c.recover_create(person, since)

        pid, recovered = run(flow)
        # Where the email goes in with the record, find_person_by_email is the recovery path.
        assert recovered == (pid if spec.writes_email_separately else None)

    def test_describe_fields_and_lists(
        self, run: Callable[..., Any], spec: AtsSpec, profile: str | None
    ) -> None:
        async def flow(c: Connector) -> tuple[Any, Any]:
            return await c.describe_fields(), [x async for x in c.list_lists()]

        if profile == "no_lists":
            with pytest.raises(PermanentError):
                run(flow)
            return
        fields, lists = run(flow)
        assert fields and all(f.name for f in fields)
        assert bool(lists) is spec.list_import

    def test_validation_errors_are_permanent(self, run: Callable[..., Any]) -> None:
        async def flow(c: Connector) -> None:
            pid = await c.create_person(new_person())
            await c.attach(pid, "00000000-0000-0000-0000-000000000000")

        with pytest.raises(PermanentError):
            run(flow)


def connector_suite(spec: AtsSpec) -> type[ConnectorSuite]:
    """The suite as a test class for one ATS (registered while its tests run), once per
    simulator profile."""
    profiles: list[str | None] = [None, *simulator_profiles(spec)]

    class Suite(ConnectorSuite):
        @pytest.fixture(params=profiles, ids=[p or "default" for p in profiles])
        def profile(self, request: pytest.FixtureRequest, sim: Sim) -> str | None:
            if request.param is not None:
                sim.profiles(request.param)
            return request.param

    Suite.ats = spec
    Suite.__name__ = Suite.__qualname__ = f"Test{spec.title}Connector"
    return Suite
