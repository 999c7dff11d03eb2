"""Issue 16 in Chromium: the contacts list of a sequence of 820 people. Every contact is
reachable (pages and search), status tabs with their counts, row selection and bulk actions
(pause with what was skipped, resync of "all matching", remove with confirmation, move), the
per-row buttons that apply, errors where they were clicked, and a phone-sized screen."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import Page, expect
from sqlalchemy import update

from outbound.store.db import Database
from outbound.store.models import Enrollment
from tests.conftest import CRELATE_KEYS, Sim
from tests.web.conftest import LiveTeam, Shots, overflows_horizontally, sign_in_with_keyboard

MANY = 820
STEPS = [{"subject": "Hi {{first_name}}", "body": "Hello", "delay_days": 0}]


# Contact 0's address is long enough to be cut in its column at 1280 px.
LONG = "p0000.alexandria-catherine.montgomery-worthington@talent-acquisition.example.com"


def person(i: int) -> dict[str, Any]:
    return {
        "email": LONG if i == 0 else f"p{i:04d}@talent.example.com",
        "first_name": "Person",
        "last_name": f"N{i:04d}",
        "company": "Initech",
    }


def seed(live: LiveTeam, db: Database) -> tuple[int, int, list[int]]:
    """A sequence of 820 contacts (a few replied, finished, needing attention) and another."""
    seq = live.api("POST", "/sequences", json={"name": "Staff engineers", "steps": STEPS}).json()
    other = live.api("POST", "/sequences", json={"name": "Managers", "steps": STEPS}).json()
    r = live.api(
        "POST",
        f"/sequences/{seq['id']}/contacts",
        json={"contacts": [person(i) for i in range(MANY)]},
    )
    assert r.status_code == 201, r.text
    ids = r.json()["enrollment_ids"]
    with db.session() as s:
        # No mailbox: nothing is planned to go out while the test runs.
        s.execute(update(Enrollment).where(Enrollment.id.in_(ids)).values(next_send_at=None))
        for picked, values in (
            (ids[6:8], {"state": "replied", "engagement": "messaged"}),
            (ids[10:12], {"state": "finished", "engagement": "messaged"}),
            (
                ids[20:23],
                {"error_code": "missing_variable", "error_message": "Missing {{company}}"},
            ),
        ):
            s.execute(update(Enrollment).where(Enrollment.id.in_(picked)).values(**values))
    return seq["id"], other["id"], ids


def contact_row(page: Page, n: int) -> Any:
    return page.locator("#contacts-list tbody tr", has_text=f"p{n:04d}@")


def tab(page: Page, label: str) -> Any:
    return page.get_by_role("navigation", name="Contact status").get_by_role(
        "link", name=re.compile(f"^{label} \\d+$")
    )


def result(page: Page) -> Any:
    return page.locator("#contacts-result")


def test_a_recruiter_works_through_820_contacts(
    page: Page, live: LiveTeam, db: Database, crelate: Sim, shots: Shots
) -> None:
    seq, other, ids = seed(live, db)
    sign_in_with_keyboard(page, live, "owner")
    page.goto(f"{live.url}/sequences/{seq}")

    # Tabs with their counts; 50 rows a page, not 500 and not all. The counts, the figures and
    # the banners load after the rows (one read of the whole sequence the rows do not wait for).
    expect(tab(page, "All")).to_have_text("All 820")
    figures = page.get_by_role("list", name="Figures")
    expect(figures).to_contain_text("820 contacts")
    expect(figures).to_contain_text("4 sent")
    expect(figures).to_contain_text("2 replied (50%)")
    expect(figures).not_to_have_attribute("aria-busy", "true")
    expect(tab(page, "All")).to_have_attribute("aria-current", "page")
    expect(tab(page, "Needs attention")).to_have_text("Needs attention 3")
    expect(tab(page, "Replied")).to_have_text("Replied 2")
    expect(page.locator("#contacts-list tbody tr")).to_have_count(50)
    expect(page.get_by_text("50 shown of 820")).to_be_visible()
    shots(page, "contacts-1280")

    # Per-row buttons only where they apply, named with the contact.
    replied = contact_row(page, 6)
    expect(replied.get_by_role("button", name="Mark Person N0006 interested")).to_have_attribute(
        "aria-pressed", "false"
    )
    expect(contact_row(page, 5).get_by_role("button", name=re.compile("interested"))).to_have_count(
        0
    )
    replied.get_by_role("button", name="Mark Person N0006 interested").click()
    expect(
        contact_row(page, 6).get_by_role("button", name="Mark Person N0006 interested")
    ).to_have_attribute("aria-pressed", "true")
    expect(contact_row(page, 6).locator(".badge.interested")).to_have_text("Interested")
    expect(contact_row(page, 5).get_by_role("link", name="Person N0005")).to_have_attribute(
        "href", f"/enrollments/{ids[5]}"
    )
    # A refused row action says why on the row (no ATS connected yet).
    contact_row(page, 5).get_by_role("button", name="Resync Person N0005 to ATS").click()
    expect(contact_row(page, 5).get_by_role("alert")).to_contain_text("Connect an ATS")

    # A long address is cut with an ellipsis on one line (never broken mid-word); the whole
    # address is its title and on the contact's page.
    email = page.locator("#contacts-list tbody tr", has_text="Person N0000").locator(".email")
    expect(email).to_have_attribute("title", LONG)
    one_line = email.evaluate(
        """e => ({cut: e.scrollWidth > e.clientWidth,
                  ellipsis: getComputedStyle(e).textOverflow === 'ellipsis',
                  lines: Math.round(e.getBoundingClientRect().height /
                                    parseFloat(getComputedStyle(e).lineHeight))})"""
    )
    assert one_line == {"cut": True, "ellipsis": True, "lines": 1}, one_line

    # Contact 801 by paging...
    for _ in range(20):
        if contact_row(page, 801).count():
            break
        page.get_by_role("link", name="Next →").click()
    expect(contact_row(page, 801)).to_be_visible()
    expect(page.get_by_role("link", name="Next →")).to_have_count(0)  # the last page
    page.get_by_role("link", name="← Previous").click()
    expect(contact_row(page, 799)).to_be_visible()
    expect(contact_row(page, 801)).to_have_count(0)

    # ... and by search, as you type; the URL keeps it (reload shows the same).
    page.goto(f"{live.url}/sequences/{seq}")
    page.get_by_label("Search contacts").fill("N0801")
    expect(page.locator("#contacts-list tbody tr")).to_have_count(1)
    expect(contact_row(page, 801)).to_be_visible()
    expect(page).to_have_url(re.compile(r"q=N0801"))
    expect(tab(page, "All")).to_have_text("All 1")
    page.reload()
    expect(page.get_by_label("Search contacts")).to_have_value("N0801")
    expect(page.locator("#contacts-list tbody tr")).to_have_count(1)
    shots(page, "contacts-search")

    # A tab lists its contacts only; sorting by name descending starts at the end.
    page.goto(f"{live.url}/sequences/{seq}")
    tab(page, "Needs attention").click()
    expect(tab(page, "Needs attention")).to_have_attribute("aria-current", "page")
    expect(page.locator("#contacts-list tbody tr")).to_have_count(3)
    tab(page, "All").click()
    page.get_by_role("link", name="Contact", exact=True).click()  # by name, A to Z
    page.get_by_role("link", name="Contact ▲").click()  # then Z to A
    expect(page.locator("#contacts-list tbody tr").first).to_contain_text("p0819@")

    # Select some and pause them: what was skipped, and why.
    page.goto(f"{live.url}/sequences/{seq}")
    for n in (3, 4, 10):
        page.get_by_label(f"Select Person N{n:04d}").check()
    expect(page.locator("#bulk-selected")).to_have_text("3 selected")
    page.locator("#bulk-form").get_by_role("button", name="Pause").click()
    expect(result(page).get_by_role("status")).to_have_text(
        re.compile("Paused 2; 1 skipped: already finished")
    )
    expect(tab(page, "Paused")).to_have_text("Paused 2")
    expect(contact_row(page, 3).locator(".badge.paused")).to_be_visible()
    shots(page, "contacts-bulk-pause")

    # Remove, after a confirmation (cancelled once: nothing removed).
    page.get_by_label("Select Person N0001").check()
    page.once("dialog", lambda d: d.dismiss())
    page.locator("#bulk-form").get_by_role("button", name="Remove…").click()
    expect(tab(page, "All")).to_have_text("All 820")
    asked: list[str] = []

    def accept(dialog: Any) -> None:
        asked.append(dialog.message)
        dialog.accept()

    page.once("dialog", accept)
    page.locator("#bulk-form").get_by_role("button", name="Remove…").click()
    expect(result(page)).to_contain_text("Removed 1.")
    expect(tab(page, "All")).to_have_text("All 819")
    assert asked and asked[0].startswith("Remove 1 contact from this sequence?")
    expect(contact_row(page, 1)).to_have_count(0)

    # Move one to another sequence of the team.
    page.get_by_label("Select Person N0002").check()
    page.get_by_label("Move to sequence").select_option(label="Managers")
    page.locator("#bulk-form").get_by_role("button", name="Move", exact=True).click()
    expect(result(page)).to_contain_text("Moved 1 to Managers.")
    moved = live.api("GET", f"/sequences/{other}/contacts").json()
    assert [m["contact"]["email"] for m in moved] == ["p0002@talent.example.com"]

    # "Select all 100 matching" (beyond this page) and resync them once Crelate is connected.
    r = live.api(
        "PUT",
        "/connection",
        json={"provider": "crelate", "credentials": {"api_key": CRELATE_KEYS["alice"]}},
    )
    assert r.status_code == 200, r.text
    page.goto(f"{live.url}/sequences/{seq}?q=N07")
    expect(tab(page, "All")).to_have_text("All 100")
    page.get_by_label("Select all on this page").check()
    expect(page.locator("#bulk-selected")).to_have_text("50 selected")
    page.get_by_role("button", name="Select all 100 matching").click()
    expect(page.locator("#bulk-selected")).to_have_text("All 100 matching contacts selected")
    shots(page, "contacts-select-all-matching")
    page.locator("#bulk-form").get_by_role("button", name="Resync to Crelate").click()
    expect(result(page)).to_contain_text("Resync queued for 100.")
    rows = live.api("GET", f"/sequences/{seq}/contacts", params={"q": "N07", "limit": 200}).json()
    assert len(rows) == 100 and all(r["sync_state"] != "not_synced" for r in rows)
    # Live progress that counts what is done, as the sequence-wide resync shows it.
    progress = page.locator("#progress-bulk")
    expect(progress).to_contain_text(
        re.compile(r"Resync of the selected contacts: \d+ of 100 done")
    )
    shots(page, "contacts-bulk-resync-progress")
    expect(progress).to_contain_text("Resync finished.", timeout=60_000)
    expect(progress).to_contain_text("100 of 100 done")
    # Again (all 100 synced or waiting): said as such, and the progress above stays.
    page.get_by_label("Select all on this page").check()
    page.get_by_role("button", name="Select all 100 matching").click()
    page.locator("#bulk-form").get_by_role("button", name="Resync to Crelate").click()
    expect(result(page)).to_contain_text(
        "Nothing new to resync: 100 contacts are already synced or already waiting to sync."
    )
    expect(result(page)).not_to_contain_text("0 of")
    expect(progress).to_contain_text("100 of 100 done")
    shots(page, "contacts-bulk-resync-again")
    others = live.api("GET", f"/sequences/{seq}/contacts", params={"q": "N06", "limit": 200})
    assert {r["sync_state"] for r in others.json()} == {"not_synced"}

    # Nothing selected: the bar says so where it was clicked.
    page.goto(f"{live.url}/sequences/{seq}")
    page.locator("#bulk-form").get_by_role("button", name="Resume").click()
    expect(result(page).get_by_role("alert")).to_contain_text("Select contacts first")

    # On a phone: rows become cards; status and errors show without sideways scrolling.
    page.set_viewport_size({"width": 390, "height": 844})
    tab(page, "Needs attention").click()
    expect(page.locator("#contacts-list tbody tr")).to_have_count(3)
    assert not overflows_horizontally(page)
    error = contact_row(page, 20).locator("td.err")
    error.scroll_into_view_if_needed()
    expect(error).to_be_in_viewport()
    box = error.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
    expect(contact_row(page, 20).locator(".badge.needs_attention")).to_be_visible()
    shots(page, "contacts-attention-390px")
    page.goto(f"{live.url}/sequences/{seq}")
    assert not overflows_horizontally(page)
    shots(page, "contacts-390px")
    # The column headers are hidden on a phone: a sort menu stands in for them.
    head = page.locator(".contacts-table thead").bounding_box()
    assert head is not None and head["width"] <= 1  # clipped: for screen readers only
    expect(page.get_by_label("Sort by")).to_be_visible()
    page.get_by_label("Sort by").select_option(label="Name, Z to A")
    expect(page).to_have_url(re.compile(r"sort=-name"))
    expect(page.locator("#contacts-list tbody tr").first).to_contain_text("p0819@")
    expect(page.get_by_label("Sort by")).to_have_value("-name")
    assert not overflows_horizontally(page)
    shots(page, "contacts-sorted-390px")
