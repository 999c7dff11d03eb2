"""Issue 7 in Chromium, Crelate: sign in, connect, settings, a sequence, contacts synced,
"Exists in Crelate", import a list, bulk resync with progress, clone settings; field errors,
labels, keyboard use and narrow screens along the way."""

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
    unlabeled_inputs,
)


def row(page: Page, email: str) -> object:
    return page.locator("tr", has_text=email)


def test_recruiting_team_runs_crelate_from_the_browser(
    page: Page, live: LiveTeam, crelate: Sim, shots: Shots
) -> None:
    # A teammate already on Crelate (for cloning); the recruiter has no integration.
    r = live.api(
        "PUT",
        "/connection",
        "manager",
        json={"provider": "crelate", "credentials": {"api_key": CRELATE_KEYS["bob"]}},
    )
    assert r.status_code == 200, r.text

    page.goto(live.url + "/login")
    shots(page, "sign-in")
    page.get_by_label("Email").fill(live.emails["owner"])
    page.get_by_label("Password").fill("wrong password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("do not match")
    expect(page.get_by_label("Email")).to_have_value(live.emails["owner"])  # kept
    sign_in_with_keyboard(page, live, "owner")
    shots(page, "dashboard-empty")

    # A sequence, and a contact added before Crelate is connected (to resync later).
    go(page, "Sequences")
    page.get_by_role("link", name="New sequence").click()
    page.get_by_role("textbox", name="Name").fill("Staff engineers")
    page.locator("#subject_0").fill("Hi {{first_name}}")
    page.locator("#body_0").fill("Hello {{first_name}, a role at {{company|your company}}?")
    page.get_by_role("button", name="Create sequence").click()
    expect(page.locator("#e-body_0")).to_contain_text("malformed variable")  # field error
    expect(page.get_by_role("textbox", name="Name")).to_have_value(
        "Staff engineers"
    )  # nothing lost
    shots(page, "sequence-new-error")
    page.locator("#body_0").fill("Hello {{first_name}}, a role at {{company|your company}}?")
    page.get_by_role("button", name="Create sequence").click()
    expect(page.get_by_role("status")).to_contain_text("Sequence created")
    shots(page, "sequence-steps")
    page.get_by_role("link", name="Contacts").click()
    page.get_by_label("Add contacts").fill("early@talent.example.com, Early, Bird, Hooli")
    page.get_by_role("button", name="Add to sequence").click()
    expect(row(page, "early@talent.example.com")).to_contain_text("not synced")

    # Integrations: a wrong key is refused on the form, the right one connects.
    go(page, "Integrations")
    shots(page, "integrations-connect")
    crelate_form = page.locator("form", has=page.locator("input[value=crelate]"))
    crelate_form.get_by_label("Api key").fill("not-a-real-key")
    crelate_form.get_by_role("button", name="Connect Crelate").click()
    expect(page.get_by_role("alert").first).to_contain_text("Crelate rejected")
    crelate_form = page.locator("form", has=page.locator("input[value=crelate]"))
    crelate_form.get_by_label("Api key").fill(CRELATE_KEYS["alice"])
    crelate_form.get_by_role("button", name="Connect Crelate").click()
    expect(page.get_by_role("status")).to_contain_text("Connected")
    expect(page.get_by_text("Contacts are logged in Crelate as")).to_be_visible()

    # Sync settings: mode, record type, default job from Crelate, dedup, tracking, a mapping.
    page.get_by_label("Sync mode").select_option("on_add")
    page.get_by_label("Sync contacts as").select_option("candidate")
    job = page.get_by_label("Default job")
    job.select_option(index=1)
    job_name = job.locator("option:checked").inner_text()
    page.get_by_label(re.compile("^Deduplication")).check()
    page.get_by_label(re.compile("^Activity tracking")).check()
    page.locator("#ms-0").select_option("title")
    page.locator("#mt-0").select_option(index=1)
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_role("status")).to_contain_text("Settings saved")
    expect(page.get_by_label("Default job").locator("option:checked")).to_have_text(job_name)
    assert unlabeled_inputs(page) == []
    shots(page, "integrations-settings")

    # The Syncing tab warns that changes apply to contacts added afterwards.
    go(page, "Sequences")
    expect(page.get_by_role("row", name=re.compile("Staff engineers"))).to_contain_text("1")
    shots(page, "sequences")
    page.get_by_role("link", name="Staff engineers").click()
    page.get_by_role("link", name="Syncing").click()
    expect(page.get_by_role("note")).to_contain_text("only to contacts added")
    expect(page.get_by_label("Sync to Crelate")).to_be_checked()
    shots(page, "sequence-syncing")

    # Contacts: one new, one already in Crelate.
    page.get_by_role("link", name="Contacts").click()
    page.get_by_label("Add contacts").fill(
        "new.one@talent.example.com, New, One, Initech\ndana.existing@example.com, Dana, Existing"
    )
    page.get_by_role("button", name="Add to sequence").click()
    reload_until(page, page.locator("tr", has_text="new.one@").locator(".badge.synced"))
    reload_until(
        page, page.locator("tr", has_text="dana.existing").get_by_text("Exists in Crelate")
    )
    expect(row(page, "dana.existing")).to_contain_text("already in Crelate")  # explained
    expect(row(page, "early@talent.example.com")).to_contain_text("not synced")
    shots(page, "contacts-synced")

    # Timeline and sentiment on one contact (htmx, no page reload).
    new_row = page.locator("tr", has_text="new.one@")
    new_row.get_by_role("button", name="Timeline").click()
    expect(new_row.locator(".timeline")).to_contain_text("POST")
    # What was written in Crelate, read from the effect ledger: put on the default job.
    expect(new_row.locator(".timeline")).to_contain_text("Added to job")
    expect(new_row.locator(".timeline .badge.synced").first).to_have_text("done")
    # Sentiment is offered once someone answered: New One replies, then is marked interested.
    eid = live.api("GET", "/sequences/1/contacts", params={"q": "new.one"}).json()[0]["id"]
    live.api("POST", f"/enrollments/{eid}/events", json={"kind": "replied", "body": "Sure"})
    page.reload()
    new_row = page.locator("tr", has_text="new.one@")
    new_row.get_by_role("button", name="Mark New One interested").click()
    expect(new_row.get_by_role("button", name="Mark New One interested")).to_have_attribute(
        "aria-pressed", "true"
    )

    # Bulk resync with live progress: the contact added before the connection syncs.
    page.get_by_role("button", name="Resync to Crelate").first.click()
    expect(page.locator("#bulk-out")).to_contain_text("Resync finished", timeout=30_000)
    shots(page, "contacts-resync-progress")
    page.reload()
    expect(row(page, "early@talent.example.com").locator(".badge.synced")).to_be_visible()

    # Import one Crelate list, with progress and the result.
    page.get_by_label("Import from Crelate").select_option(label="Q4 Python Engineers")
    page.get_by_role("button", name="Import", exact=True).click()
    result = page.locator("#bulk-out")
    expect(result).to_contain_text("Import finished", timeout=30_000)
    expect(result).to_contain_text("Added 12 · skipped without email 3 · already present 1")
    shots(page, "contacts-import")
    page.reload()
    expect(page.locator("tr", has_text="listed0@prospects.example.com")).to_be_visible()

    # Clone settings: the Crelate teammate is eligible, the one without an ATS is greyed.
    go(page, "Integrations")
    expect(page.get_by_text("has no ATS integration set up")).to_be_visible()
    expect(page.get_by_label("Riley Recruiter")).to_be_disabled()
    page.get_by_label("Max Manager").check()
    page.get_by_role("button", name="Clone settings").click()
    expect(page.get_by_role("status")).to_contain_text("cloned to 1")
    cloned = live.api("GET", "/settings", "manager").json()
    assert cloned["field_mapping"][0]["source"] == "title"
    assert cloned["default_job_id"] is not None

    # The dashboard shows the connection's health.
    go(page, "Dashboard")
    health = page.get_by_role("region", name=re.compile("Olivia Owner"))
    expect(health).to_contain_text("synced")
    shots(page, "dashboard")

    # Readable on a phone: nothing but tables scroll sideways.
    page.set_viewport_size({"width": 390, "height": 844})
    for path in ("/", "/sequences", "/integrations", "/mailbox"):
        page.goto(live.url + path)
        assert not overflows_horizontally(page), path
    page.goto(live.url + "/sequences/1")
    assert not overflows_horizontally(page)
    shots(page, "contacts-390px")

    # And the ATS really holds one record per person (nothing duplicated by the browser).
    assert crelate.duplicates() == 0

    # Signing out ends the session: pages send you back to sign in.
    page.set_viewport_size({"width": 1280, "height": 900})
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    page.goto(live.url + "/sequences")
    expect(page).to_have_url(re.compile(r"/login$"))


def test_mailbox_form_shows_field_errors_and_keeps_input(
    page: Page, live: LiveTeam, shots: Shots
) -> None:
    sign_in_with_keyboard(page, live, "recruiter")
    go(page, "Mailbox")
    assert unlabeled_inputs(page) == []
    page.get_by_label("From address").fill("riley@acme.example.com")
    page.get_by_label("From name").fill("Riley R")
    page.get_by_label("SMTP server").fill("127.0.0.1")
    page.get_by_label("SMTP port").fill("1")  # nothing listens there
    page.get_by_label("Password").first.fill("secret-password")
    page.get_by_label("IMAP server").fill("127.0.0.1")
    page.get_by_label("Time zone").fill("Mars/Olympus")
    page.get_by_role("button", name="Check and save").click()
    expect(page.locator("#e-time_zone")).to_contain_text("unknown time zone")
    expect(page.get_by_label("From name")).to_have_value("Riley R")  # kept
    expect(page.get_by_label("Password").first).to_have_value("")  # never echoed back
    page.get_by_label("Time zone").fill("Europe/London")
    page.get_by_label("Password").first.fill("secret-password")
    page.get_by_role("button", name="Check and save").click()
    expect(page.locator("#e-smtp_host")).to_contain_text("cannot reach the SMTP server")
    shots(page, "mailbox-errors")
    assert live.api("GET", "/mailbox", "recruiter").status_code == 404  # nothing stored
