"""Shared fixtures: a migrated database, the API in-process, the ATS simulators on real sockets."""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from outbound.api.app import create_app
from outbound.settings import Settings
from outbound.simulators.clockwork.app import create_clockwork_app
from outbound.simulators.crelate.app import create_crelate_app
from outbound.simulators.server import ServerThread
from outbound.store.db import Database
from outbound.sync.worker import Worker

CRELATE_KEYS = {
    "alice": "alicecrelatekey0000000000a",
    "bob": "bobcrelatekey000000000000b",
    "carol": "carolcrelatekey0000000000c",
}
CLOCKWORK_FIRM_KEY = "acme-firm-service-key-0001"


def clockwork_credentials(who: str = "alice") -> dict[str, str]:
    return {
        "firm": "acme",
        "api_key": f"cw-{who}-key",
        "api_secret": f"cw-{who}-secret",
        "firm_service_key": CLOCKWORK_FIRM_KEY,
    }


@dataclass
class Sim:
    server: ServerThread
    http: httpx.Client

    def records(self, kind: str) -> list[dict[str, Any]]:
        response = self.http.get(f"/_admin/records/{kind}")
        response.raise_for_status()
        data: list[dict[str, Any]] = response.json()
        return data

    def stats(self) -> dict[str, Any]:
        data: dict[str, Any] = self.http.get("/_admin/stats").json()
        return data

    def duplicates(self) -> int:
        return int(self.http.get("/_admin/duplicates").json()["duplicate_emails"])

    def faults(self, **changes: Any) -> None:
        self.http.put("/_admin/faults", json=changes).raise_for_status()

    def rate_limit(self, rps: float, burst: float = 0) -> None:
        self.http.put(
            "/_admin/rate-limit", json={"requests_per_second": rps, "burst": burst}
        ).raise_for_status()

    def profiles(self, *active: str) -> list[str]:
        """Switch this simulated organisation to the named behaviour profiles (others: default)."""
        response = self.http.put("/_admin/profiles", json={"active": list(active)})
        response.raise_for_status()
        names: list[str] = response.json()["active"]
        return names

    def reset(self, seed: str = "standard") -> None:
        self.http.post("/_admin/reset", params={"seed": seed}).raise_for_status()
        self.faults(
            seed=0,
            error_rate=0,
            drop_rate=0,
            commit_then_fail_rate=0,
            latency_ms=0,
            latency_jitter_ms=0,
            hang_seconds=15,
            rate_limited_rate=0,
        )
        self.rate_limit(0)


# A test that asks for none of these, and whose module never names the database URL, cannot
# reach the database under test.
DATABASE_FIXTURES = {"db", "settings"}
DATABASE_WORDS = ("database_url", "DATABASE_URL")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """In the PostgreSQL pass, tests that use no database (connectors against the simulators,
    mail parsing, templates, the simulators themselves) are skipped: the SQLite pass runs
    them, and running them twice only lengthened the suite."""
    if not os.environ.get("OUTBOUND_TEST_DATABASE_URL"):
        return
    skip = pytest.mark.skip(reason="uses no database: runs in the SQLite pass")
    sources: dict[str, bool] = {}
    for item in items:
        path = str(item.fspath)
        if path not in sources:
            text = Path(path).read_text(encoding="utf-8")
            sources[path] = any(word in text for word in DATABASE_WORDS)
        if not sources[path] and not DATABASE_FIXTURES.intersection(item.fixturenames):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def crelate_server() -> Iterator[Sim]:
    server = ServerThread(create_crelate_app()).start()
    with httpx.Client(base_url=server.url) as http:
        yield Sim(server, http)
    server.stop()


@pytest.fixture(scope="session")
def clockwork_server() -> Iterator[Sim]:
    server = ServerThread(create_clockwork_app()).start()
    with httpx.Client(base_url=server.url) as http:
        yield Sim(server, http)
    server.stop()


@pytest.fixture
def crelate(crelate_server: Sim) -> Sim:
    crelate_server.reset()
    return crelate_server


@pytest.fixture
def clockwork(clockwork_server: Sim) -> Sim:
    clockwork_server.reset()
    return clockwork_server


def database_url(tmp_path: Path) -> str:
    return os.environ.get("OUTBOUND_TEST_DATABASE_URL") or f"sqlite:///{tmp_path / 'outbound.db'}"


@pytest.fixture
def settings(tmp_path: Path, crelate_server: Sim, clockwork_server: Sim) -> Settings:
    return Settings(
        data_dir=tmp_path,
        database_url=database_url(tmp_path),
        crelate_base_url=crelate_server.server.url + "/api3",
        clockwork_base_url=clockwork_server.server.url + "/v3.0",
        crelate_rate_per_second=0,
        clockwork_rate_per_second=0,
        max_attempts=8,
    )


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
    from tests.pg import fresh_database

    fresh_database(settings.resolved_database_url)
    database = Database(settings.resolved_database_url)
    yield database
    database.dispose()


@pytest.fixture
def client(settings: Settings, db: Database) -> Iterator[TestClient]:
    with TestClient(create_app(settings, db)) as c:
        yield c


class Team:
    """A team with an owner, a manager and a recruiter, each with an authenticated client."""

    def __init__(self, client: TestClient, db: Database, name: str = "Acme") -> None:
        from outbound.service.accounts import create_team, create_user

        self.client = client
        with db.session() as session:
            team = create_team(session, name)
            self.team_id = team.id
            slug = name.lower().replace(" ", "")
            self.tokens: dict[str, str] = {}
            self.user_ids: dict[str, int] = {}
            for role in ("owner", "manager", "recruiter"):
                user, token = create_user(
                    session, team.id, f"{role}@{slug}.test", role.title(), role
                )
                self.tokens[role] = token
                self.user_ids[role] = user.id

    def headers(self, role: str = "owner") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def call(self, method: str, path: str, role: str = "owner", **kw: Any) -> httpx.Response:
        return self.client.request(method, "/api/v1" + path, headers=self.headers(role), **kw)


def web_csrf(team: Team, path: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', team.client.get(path).text)
    assert match
    return match.group(1)


def sign_in_owner(team: Team, db: Database, password: str = "pw-owner-123") -> None:
    """The team's owner, given ``password``, signed in on the web pages of ``team.client``."""
    from outbound.store.models import User
    from outbound.web.session import hash_password

    with db.session() as session:
        user = session.get(User, team.user_ids["owner"])
        assert user is not None
        user.password_hash = hash_password(password)
        email = user.email
    signed_in = team.client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": web_csrf(team, "/login")},
        follow_redirects=False,
    )
    assert signed_in.status_code == 303


@pytest.fixture
def team(client: TestClient, db: Database) -> Team:
    return Team(client, db)


def run_worker(db: Database, settings: Settings, timeout: float = 60, **kw: Any) -> None:
    worker = Worker(
        db,
        settings,
        backoff_base=0.01,
        backoff_cap=0.2,
        request_timeout=kw.pop("request_timeout", 5.0),
        **kw,
    )
    asyncio.run(worker.drain(timeout=timeout))


@pytest.fixture
def work(db: Database, settings: Settings) -> Any:
    """Run the sync worker until no work is left."""

    def _run(timeout: float = 60, **kw: Any) -> None:
        run_worker(db, settings, timeout, **kw)

    return _run
