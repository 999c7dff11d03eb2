"""Issue 7 in Chromium, Clockwork: the same journey with projects instead of jobs. Clockwork has
no contact lists, so there is no import; the page says nothing about one."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.conftest import Sim, clockwork_credentials
from tests.web.conftest import LiveTeam, Shots, go, reload_until, sign_in_with_keyboard


def test_recruiting_team_runs_clockwork_from_the_browser(
    page: Page, live: LiveTeam, clockwork: Sim, shots: Shots
) -> None:
    r = live.api(
        "PUT",
        "/connection",
        "owner",
        json={"provider": "clockwork", "credentials": clockwork_credentials("bob")},
    )
    assert r.status_code == 200, r.text
    sign_in_with_keyboard(page, live, "manager")

    go(page, "Integrations")
    page.locator("summary", has_text="Clockwork").click()
    form = page.locator("form", has=page.locator("input[value=clockwork]"))
    creds = clockwork_credentials("alice")
    # Refused on the field, before any ATS call.
    form.get_by_label("Firm", exact=True).fill("bad firm!")
    form.get_by_label("Api key").fill(creds["api_key"])
    form.get_by_label("Api secret").fill(creds["api_secret"])
    form.get_by_label("Firm service key").fill(creds["firm_service_key"])
    form.get_by_role("button", name="Connect Clockwork").click()
    expect(page.locator("#e-clockwork-firm")).to_be_visible()
    form = page.locator("form", has=page.locator("input[value=clockwork]"))
    expect(form.get_by_label("Firm", exact=True)).to_have_value("bad firm!")  # kept for correction
    for secret in ("Api key", "Api secret", "Firm service key"):  # never echoed back
        expect(form.get_by_label(secret)).to_have_value("")
    html = page.content()
    assert not [k for k in ("api_key", "api_secret", "firm_service_key") if creds[k] in html]
    form.get_by_label("Firm", exact=True).fill(creds["firm"])
    for name, key in (
        ("Api key", "api_key"),
        ("Api secret", "api_secret"),
        ("Firm service key", "firm_service_key"),
    ):
        form.get_by_label(name).fill(creds[key])
    form.get_by_role("button", name="Connect Clockwork").click()
    expect(page.get_by_role("status")).to_contain_text("Connected")
    expect(page.get_by_text("Contacts are logged in Clockwork as")).to_be_visible()
    expect(page.get_by_label("Sync contacts as")).to_have_count(0)  # Clockwork: people only

    page.get_by_label("Sync mode").select_option("on_add")
    page.get_by_label("Default project").select_option(index=1)
    page.get_by_label(re.compile("^Deduplication")).check()
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_role("status")).to_contain_text("Settings saved")
    shots(page, "integrations-clockwork")

    go(page, "Sequences")
    page.get_by_role("link", name="New sequence").click()
    page.get_by_role("textbox", name="Name").fill("CFO search")
    page.locator("#subject_0").fill("A CFO role, {{first_name}}")
    page.locator("#body_0").fill("Hi {{first_name}}, are you open to a conversation?")
    page.get_by_role("button", name="Create sequence").click()
    page.get_by_role("link", name="Syncing").click()
    project = page.get_by_label("Project")
    project.select_option(index=1)
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("applies to contacts added from now on")
    shots(page, "sequence-syncing-clockwork")

    page.get_by_role("link", name="Contacts").click()
    expect(page.get_by_label("Import from Crelate")).to_have_count(0)
    page.get_by_label("Add contacts").fill(
        "cfo.one@finance.example.com, Cleo, One, Globex\ndana.existing@example.com, Dana, Existing"
    )
    page.get_by_role("button", name="Add to sequence").click()
    reload_until(page, page.locator("tr", has_text="cfo.one@").locator(".badge.synced"))
    reload_until(page, page.locator("tr", has_text="dana").get_by_text("Exists in Clockwork"))
    shots(page, "contacts-clockwork")
    people = [p for p in clockwork.records("people") if p.get("emails")]
    assert clockwork.duplicates() == 0 and people

    page.get_by_role("button", name="Resync to Clockwork").first.click()
    expect(page.locator("#bulk-out")).to_contain_text("Nothing new to resync")

    # Clone: the owner (on Clockwork) is eligible; the recruiter has no ATS.
    go(page, "Integrations")
    expect(page.get_by_label("Riley Recruiter")).to_be_disabled()
    page.get_by_label("Olivia Owner").check()
    page.get_by_role("button", name="Clone settings").click()
    expect(page.get_by_role("status")).to_contain_text("cloned to 1")
    assert live.api("GET", "/settings", "owner").json()["dedup_enabled"] is True

    # The dashboard chart counts real events: record one send and one reply through the API.
    seq_id = live.api("GET", "/sequences", "manager").json()[0]["id"]
    rows = live.api("GET", f"/sequences/{seq_id}/contacts", "manager").json()
    eid = next(r["id"] for r in rows if r["contact"]["email"].startswith("cfo.one"))
    for kind in ("sent", "replied"):
        live.api("POST", f"/enrollments/{eid}/events", "manager", json={"kind": kind})
    go(page, "Dashboard")
    expect(page.get_by_text("1 sent", exact=True)).to_be_visible()
    expect(page.get_by_text("1 replied", exact=True)).to_be_visible()
    bars = page.locator("svg.chart title", has_text=": 1 sent")
    expect(bars).to_have_count(1)  # today's bar
    shots(page, "dashboard-clockwork")
