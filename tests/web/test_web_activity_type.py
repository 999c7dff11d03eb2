"""In Chromium: a Crelate organisation without an "Email" activity type (audit #32). The
Integrations page warns before any contact syncs; choosing a type and saving removes the warning
and stores the choice. A key that may not list types, and an unreachable Crelate, get a message
rather than an error page."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.conftest import CRELATE_KEYS, Sim
from tests.web.conftest import LiveTeam, Shots, go, sign_in_with_keyboard, unlabeled_inputs

NO_EMAIL_TYPE = 'Crelate has no activity type named "Email"'


def test_choosing_the_type_logged_emails_are_filed_as(
    page: Page, live: LiveTeam, crelate: Sim, shots: Shots
) -> None:
    crelate.profiles("no_email_activity_type")
    r = live.api(
        "PUT",
        "/connection",
        json={"provider": "crelate", "credentials": {"api_key": CRELATE_KEYS["alice"]}},
    )
    assert r.status_code == 200, r.text
    sign_in_with_keyboard(page, live, "owner")
    go(page, "Integrations")

    warning = page.locator("#activity-type-warning")
    expect(warning).to_contain_text(NO_EMAIL_TYPE)
    expect(warning).to_contain_text("emails will not be logged")
    picker = page.get_by_label("Log emails as")
    expect(picker.locator("option:checked")).to_have_text(re.compile("choose"))
    expect(picker.locator("option", has_text="Email")).to_have_count(0)
    assert unlabeled_inputs(page) == []
    shots(page, "integrations-no-email-type")

    picker.select_option(label="Call")
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_role("status")).to_contain_text("Settings saved")
    expect(page.get_by_label("Log emails as").locator("option:checked")).to_have_text("Call")
    expect(page.get_by_text(NO_EMAIL_TYPE)).to_have_count(0)
    call = next(t["Id"] for t in crelate.records("activity_types") if t["Name"] == "Call")
    assert live.api("GET", "/settings").json()["activity_type_id"] == call
    shots(page, "integrations-type-chosen")

    # Saving other settings keeps the choice.
    page.get_by_label("Sync mode").select_option("on_reply")
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_role("status")).to_contain_text("Settings saved")
    assert live.api("GET", "/settings").json()["activity_type_id"] == call

    # A key that may not list the types: the jobs still load, the saved choice is kept.
    crelate.profiles("activitytypes_forbidden")
    page.reload()
    expect(page.get_by_text("may not list activity types")).to_be_visible()
    expect(page.get_by_label("Log emails as")).to_have_count(0)
    expect(page.get_by_label("Default job").locator("option")).not_to_have_count(1)
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_role("status")).to_contain_text("Settings saved")
    assert live.api("GET", "/settings").json()["activity_type_id"] == call
    # …and without a saved choice the page says emails will not be logged.
    live.api("PATCH", "/settings", json={"activity_type_id": None})
    page.reload()
    expect(page.locator("#activity-type-warning")).to_contain_text("will not be logged")
    shots(page, "integrations-types-forbidden")

    # Crelate down: a message, not an error page.
    crelate.faults(error_rate=1.0)
    response = page.reload()
    assert response is not None and response.status == 200
    expect(page.get_by_text("Could not load jobs, fields and activity types")).to_be_visible()
    crelate.faults(error_rate=0)
