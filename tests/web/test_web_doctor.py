"""In Chromium: "Check connection" on Integrations runs `outbound doctor` read-only with the
stored credentials and shows, fact by fact, what holds of Outbound's assumptions about the ATS."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.conftest import CRELATE_KEYS, Sim
from tests.web.conftest import LiveTeam, Shots, go, sign_in_with_keyboard


def test_check_connection_shows_what_holds_of_our_assumptions(
    page: Page, live: LiveTeam, crelate: Sim, shots: Shots
) -> None:
    crelate.profiles("no_users_me", "no_email_activity_type")
    r = live.api(
        "PUT",
        "/connection",
        json={"provider": "crelate", "credentials": {"api_key": CRELATE_KEYS["alice"]}},
    )
    assert r.status_code == 200, r.text
    sign_in_with_keyboard(page, live, "owner")
    go(page, "Integrations")
    writes_before = {
        k: v for k, v in crelate.stats()["by_endpoint"].items() if not k.startswith("GET")
    }
    page.get_by_role("button", name="Check connection").click()
    table = page.locator("#doctor-out table")
    expect(table).to_be_visible()
    users_me = table.locator("tr", has_text="crelate.users_me")
    expect(users_me).to_contain_text("differs")
    expect(table.locator("tr", has_text="crelate.lists")).to_contain_text("holds")
    expect(page.locator("#doctor-out")).to_contain_text("no_email_activity_type")
    expect(page.locator("#doctor-out")).to_contain_text("no_users_me")
    shots(page, "integrations-check-connection")
    writes_after = {
        k: v for k, v in crelate.stats()["by_endpoint"].items() if not k.startswith("GET")
    }
    assert writes_after == writes_before  # read-only: nothing written into the account
    assert CRELATE_KEYS["alice"] not in page.content()
