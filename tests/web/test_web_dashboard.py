"""Honest state in Chromium (issue 16): an ATS outage shows as retrying with its reason and
next try, a recruiter with no mailbox sees why contacts are not emailed, and disconnecting
says first what it does to pending work, then shows that work as stuck, with where to fix it."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.conftest import CRELATE_KEYS, Sim
from tests.web.conftest import (
    LiveTeam,
    Shots,
    go,
    overflows_horizontally,
    reload_until,
    sign_in_with_keyboard,
)

STEP = [{"subject": "Hi {{first_name}}", "body": "A role for you?", "delay_days": 0}]
PEOPLE = [
    {"email": f"dev{i}@talent.example.com", "first_name": "Dev", "last_name": f"N{i}"}
    for i in range(3)
]


def sequence_with_people(live: LiveTeam, role: str, name: str) -> int:
    seq = live.api("POST", "/sequences", role, json={"name": name, "steps": STEP})
    assert seq.status_code == 201, seq.text
    added = live.api(
        "POST", f"/sequences/{seq.json()['id']}/contacts", role, json={"contacts": PEOPLE}
    )
    assert added.status_code == 201, added.text
    return int(seq.json()["id"])


def both_widths(page: Page, shots: Shots, name: str) -> None:
    shots(page, name)
    page.set_viewport_size({"width": 390, "height": 844})
    assert not overflows_horizontally(page), name
    shots(page, name + "-390px")
    page.set_viewport_size({"width": 1280, "height": 900})


def connect_crelate(live: LiveTeam) -> None:
    r = live.api(
        "PUT",
        "/connection",
        "owner",
        json={"provider": "crelate", "credentials": {"api_key": CRELATE_KEYS["alice"]}},
    )
    assert r.status_code == 200, r.text


def test_an_ats_outage_shows_as_retrying_with_its_reason(
    page: Page, live: LiveTeam, crelate: Sim, shots: Shots
) -> None:
    connect_crelate(live)
    crelate.faults(error_rate=1.0)  # every call answers 503 from now on
    sequence_with_people(live, "owner", "Backend engineers")
    sign_in_with_keyboard(page, live, "owner")

    retrying = page.locator(".banner[data-kind=retrying]")
    reload_until(page, retrying)
    expect(retrying).to_have_attribute("role", "status")
    expect(retrying).to_contain_text(re.compile(r"\d contacts? retrying"))
    expect(retrying).to_contain_text("Crelate is having trouble (it answered 503)")
    expect(retrying).to_contain_text("Outbound tries again")
    expect(retrying.get_by_role("link", name="Backend engineers")).to_be_visible()

    # One status for the connection: not "connected" beside "failing".
    card = page.get_by_role("region", name=re.compile("Olivia Owner"))
    expect(card).to_contain_text("Not answering since")
    expect(card).not_to_contain_text("Connected")
    expect(card).to_contain_text("retrying")
    expect(card).to_contain_text("has not asked Outbound to slow down")
    expect(page.locator("main")).not_to_contain_text("429")  # no jargon
    both_widths(page, shots, "dashboard-ats-outage")


def test_a_recruiter_without_a_mailbox_is_told_to_connect_one(
    page: Page, live: LiveTeam, shots: Shots
) -> None:
    sequence_with_people(live, "recruiter", "Designers")
    sign_in_with_keyboard(page, live, "recruiter")

    stuck = page.locator(".banner[data-kind=no_mailbox]")
    expect(stuck).to_have_attribute("role", "alert")
    expect(stuck).to_contain_text(
        "3 contacts can't be emailed: you have no mailbox connected — connect a mailbox."
    )
    both_widths(page, shots, "dashboard-no-mailbox")
    stuck.get_by_role("link", name="Connect a mailbox").click()
    expect(page.get_by_role("heading", name="Your mailbox")).to_be_visible()

    # A teammate sees the same stuck work, and whom to ask.
    page.get_by_role("button", name="Sign out").click()
    sign_in_with_keyboard(page, live, "manager")
    expect(page.locator(".banner[data-kind=no_mailbox]")).to_contain_text(
        "Riley Recruiter has no mailbox connected — ask Riley Recruiter to connect one."
    )


def test_disconnecting_says_what_happens_to_pending_work_then_shows_it_stuck(
    page: Page, live: LiveTeam, crelate: Sim, shots: Shots
) -> None:
    connect_crelate(live)
    crelate.faults(error_rate=1.0)  # the contacts stay pending: Crelate never answers
    sequence_with_people(live, "owner", "Data engineers")
    sign_in_with_keyboard(page, live, "owner")
    go(page, "Integrations")

    page.get_by_text("Disconnect Crelate…").click()
    effects = page.locator("#disconnect-effects")
    expect(effects).to_contain_text("3 contacts waiting to sync will stay waiting")
    expect(effects).to_contain_text("they sync when you connect Crelate again")
    both_widths(page, shots, "integrations-disconnect-confirm")
    effects.get_by_role("button", name="Disconnect Crelate").click()
    expect(page.get_by_role("status")).to_contain_text("Disconnected")

    go(page, "Dashboard")
    stuck = page.locator(".banner[data-kind=ats_missing]")
    expect(stuck).to_have_attribute("role", "alert")
    expect(stuck).to_contain_text(
        "3 contacts can't sync: Crelate was disconnected — reconnect on Integrations."
    )
    expect(page.locator(".banner[data-kind=waiting]")).to_have_count(0)  # not "pending"
    both_widths(page, shots, "dashboard-stuck-after-disconnect")
    stuck.get_by_role("link", name="Reconnect on Integrations").click()
    expect(page.get_by_role("heading", name="Connect your ATS")).to_be_visible()
