"""Browser tests: the real app on a real socket (with its workers), Debian's Chromium driven by
Playwright, screenshots of every page under tests/artifacts/."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from outbound.api.app import create_app
from outbound.service.accounts import create_team, create_user
from outbound.settings import Settings
from outbound.simulators.server import ServerThread
from outbound.store.db import Database
from outbound.web.session import hash_password

CHROMIUM = "/usr/bin/chromium"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The browser journeys run on SQLite only: what they add over the API and service tests
    (pages, htmx, layout) does not depend on the engine, and every query behind them runs on
    PostgreSQL in those tests; on both, the suite would pass its 15-minute budget."""
    if not os.environ.get("OUTBOUND_TEST_DATABASE_URL"):
        return
    skip = pytest.mark.skip(reason="browser journeys run on SQLite (engine-independent)")
    for item in items:
        if Path(str(item.fspath)).parent == Path(__file__).parent:
            item.add_marker(skip)


ARTIFACTS = Path(__file__).parent.parent / "artifacts"
# Without the background-networking flags Chromium keeps dialling Google, which this machine
# refuses; as root it needs --no-sandbox.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is not installed: scripts/test installs Debian's chromium")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@dataclass
class LiveTeam:
    url: str
    passwords: dict[str, str]
    emails: dict[str, str]
    tokens: dict[str, str]
    user_ids: dict[str, int]

    def api(self, method: str, path: str, role: str = "owner", **kw: Any) -> httpx.Response:
        return httpx.request(
            method,
            self.url + "/api/v1" + path,
            headers={"Authorization": f"Bearer {self.tokens[role]}"},
            timeout=30,
            **kw,
        )


@pytest.fixture
def live(settings: Settings, db: Database) -> Iterator[LiveTeam]:
    settings.worker_concurrency = 8
    server = ServerThread(create_app(settings, db, run_worker=True)).start()
    team = LiveTeam(server.url, {}, {}, {}, {})
    with db.session() as session:
        t = create_team(session, "Acme Talent")
        for role, name in (
            ("owner", "Olivia Owner"),
            ("manager", "Max Manager"),
            ("recruiter", "Riley Recruiter"),
        ):
            password = f"pw-{role}-123"
            user, token = create_user(
                session,
                t.id,
                f"{role}@acme.example.com",
                name,
                role,
                password_hash=hash_password(password),
            )
            team.passwords[role], team.emails[role] = password, user.email
            team.tokens[role], team.user_ids[role] = token, user.id
    yield team
    server.stop()


@dataclass
class Shots:
    folder: Path
    count: int = 0
    taken: list[str] = field(default_factory=list)

    def __call__(self, page: Page, name: str) -> None:
        self.count += 1
        path = self.folder / f"{self.count:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        self.taken.append(path.name)


@pytest.fixture
def shots(request: pytest.FixtureRequest) -> Shots:
    folder = ARTIFACTS / re.sub(r"[^\w-]", "_", request.node.name)
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.png"):
        old.unlink()
    return Shots(folder)


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    p = context.new_page()
    p.set_default_timeout(15_000)
    yield p
    context.close()


def sign_in_with_keyboard(page: Page, live: LiveTeam, role: str) -> None:
    """Sign in using only the keyboard: the form must be usable without a mouse."""
    page.goto(live.url + "/")
    expect(page).to_have_url(re.compile(r"/login$"))
    page.get_by_label("Email").focus()
    page.keyboard.type(live.emails[role])
    page.keyboard.press("Tab")
    page.keyboard.type(live.passwords[role])
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()


def reload_until(page: Page, locator: Any, timeout: float = 30) -> None:
    """Reload until something the workers produce shows up (they run in the server)."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if locator.count() > 0:
            return
        page.wait_for_timeout(500)
        page.reload()
    expect(locator.first).to_be_visible()


def unlabeled_inputs(page: Page) -> list[str]:
    return list(
        page.evaluate(
            """() => [...document.querySelectorAll('input,select,textarea')]
                .filter(e => e.type !== 'hidden')
                .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))
                .map(e => e.name || e.id)"""
        )
    )


def overflows_horizontally(page: Page) -> bool:
    return bool(page.evaluate("() => document.documentElement.scrollWidth > window.innerWidth + 1"))


def go(page: Page, name: str) -> None:
    """Follow a link in the main navigation."""
    page.get_by_role("navigation", name="Main").get_by_role("link", name=name).click()
