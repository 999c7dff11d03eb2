"""Issue 16 in Chromium: sequences and their steps. A double-clicked "Create sequence" makes one
sequence (and a raw second POST of the same form too); a new sequence opens on its Syncing tab,
whose "Account default" says what the default is; rename; steps reordered and deleted with the
rule for contacts mid-sequence shown first; a step previewed for a real contact with its
missing variable marked; a test sent to yourself lands in the SMTP sink; archive and delete with
confirmation; /docs with the network blocked. Screenshots at 1280 and 390 px."""

from __future__ import annotations

import mailbox
import re
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, Route, expect

from outbound.settings import Settings
from outbound.store.db import Database
from outbound.store.models import Enrollment
from tests.conftest import CRELATE_KEYS, Sim
from tests.mail.conftest import (  # noqa: F401  (the SMTP sink fixture, used by name)
    SMTP_PASSWORD,
    SMTP_USER,
    SmtpSink,
    smtp_sink,
)
from tests.web.conftest import LiveTeam, Shots, overflows_horizontally, sign_in_with_keyboard


def _both_widths(page: Page, shots: Shots, name: str) -> None:
    shots(page, f"{name}-1280")
    page.set_viewport_size({"width": 390, "height": 844})
    assert not overflows_horizontally(page), f"{name}: the page scrolls sideways at 390 px"
    shots(page, f"{name}-390")
    page.set_viewport_size({"width": 1280, "height": 900})


def _names(live: LiveTeam) -> list[str]:
    r = live.api("GET", "/sequences", params={"include_archived": "true"})
    return [s["name"] for s in r.json()]


def _mailbox(live: LiveTeam, sink: SmtpSink, inbox: Path) -> None:
    mailbox.Maildir(str(inbox), create=True)
    body: dict[str, Any] = {
        "email": live.emails["owner"],
        "from_name": "Olivia Owner",
        "smtp_host": "127.0.0.1",
        "smtp_port": sink.port,
        "smtp_security": "none",
        "smtp_username": SMTP_USER,
        "smtp_password": SMTP_PASSWORD,
        "inbound_kind": "maildir",
        "maildir_path": str(inbox),
        "time_zone": "UTC",
        "window_start": "00:00",
        "window_end": "00:00",
        "send_days": [0, 1, 2, 3, 4, 5, 6],
        "daily_limit": 5000,
    }
    r = live.api("PUT", "/mailbox", json=body)
    assert r.status_code == 200, r.text


def test_create_once_then_manage_a_sequence_and_its_steps(
    settings: Settings,
    live: LiveTeam,
    crelate: Sim,
    smtp_sink: SmtpSink,  # noqa: F811
    db: Database,
    page: Page,
    shots: Shots,
    tmp_path: Path,
) -> None:
    settings.allow_maildir = True
    r = live.api(
        "PUT",
        "/connection",
        json={"provider": "crelate", "credentials": {"api_key": CRELATE_KEYS["alice"]}},
    )
    assert r.status_code == 200, r.text
    sign_in_with_keyboard(page, live, "owner")

    # A double-click on "Create sequence" makes one sequence, opened on its Syncing tab.
    page.goto(live.url + "/sequences/new")
    page.get_by_label("Name", exact=True).fill("Backend engineers")
    page.get_by_label("Subject", exact=True).fill("A role for you, {{first_name}}")
    page.get_by_label("Body", exact=True).fill("Hi {{first_name}}, we are hiring at {{company}}.")
    _both_widths(page, shots, "new-sequence")
    page.get_by_role("button", name="Create sequence").dblclick()
    expect(page).to_have_url(re.compile(r"/sequences/\d+/syncing"))
    assert _names(live) == ["Backend engineers"]
    seq_id = int(re.findall(r"/sequences/(\d+)/", page.url)[0])
    tabs = page.get_by_role("navigation", name="Sequence").get_by_role("link")
    expect(tabs).to_have_text(["Syncing", "Steps", "Contacts"])
    expect(page.locator('nav.tabs a[aria-current="page"]')).to_have_text("Syncing")
    expect(page.get_by_role("status")).to_contain_text("Choose its job")
    record = page.get_by_label("Sync contacts as")
    expect(record.locator("option").first).to_have_text("Account default (Candidate)")
    expect(page.get_by_label("Job").locator("option").first).to_have_text("Account default (none)")
    _both_widths(page, shots, "new-sequence-syncing")

    # The same form posted twice (a resend, a second tab): still one sequence.
    page.goto(live.url + "/sequences/new")
    form = {
        "csrf_token": page.locator("input[name=csrf_token]").first.input_value(),
        "create_token": page.locator("input[name=create_token]").input_value(),
        "name": "Sent twice",
        "subject_0": "Hello",
        "body_0": "Hi",
        "delay_0": "0",
    }
    first = page.request.post(live.url + "/sequences/new", form=form, max_redirects=0)
    second = page.request.post(live.url + "/sequences/new", form=form, max_redirects=0)
    assert first.status == second.status == 303
    assert first.headers["location"].split("?")[0] == second.headers["location"].split("?")[0]
    assert _names(live) == ["Backend engineers", "Sent twice"]

    # Rename.
    page.goto(f"{live.url}/sequences/{seq_id}/steps")
    page.get_by_role("link", name="Rename").click()
    page.get_by_label("New name").fill("Backend engineers (Berlin)")
    page.get_by_role("button", name="Rename").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Backend engineers (Berlin)")

    # Two more steps, through the variable picker; a blanked body is a field error.
    page.get_by_label("Body", exact=True).nth(1).fill("Following up, ")
    page.get_by_label("Body", exact=True).nth(1).press("End")
    page.get_by_role("button", name="first_name", exact=True).click()
    expect(page.get_by_label("Body", exact=True).nth(1)).to_have_value(
        "Following up, {{first_name}}"
    )
    page.get_by_role("button", name="Save steps").click()
    expect(page.get_by_role("status")).to_contain_text("Steps saved")
    page.get_by_label("Body", exact=True).nth(2).fill("Last note from {{sender_first_name}}.")
    page.get_by_role("button", name="Save steps").click()
    expect(page.locator("fieldset.step")).to_have_count(4)  # three steps and a new one
    page.get_by_label("Body", exact=True).nth(1).fill("")
    page.get_by_role("button", name="Save steps").click()
    expect(page.locator("#e-body_1")).to_contain_text("use its Delete step button")
    _both_widths(page, shots, "steps-blank-body-refused")

    # Contacts mid-sequence: one had step 1, two had steps 1 and 2, one waits for step 3.
    people = [
        {"email": f"p{i}@talent.example.com", "first_name": f"P{i}", "last_name": "Lee"}
        for i in range(4)
    ]
    people[0]["company"] = "Acme Robotics"
    r = live.api("POST", f"/sequences/{seq_id}/contacts", json={"contacts": people})
    assert r.status_code == 201, r.text
    ids = r.json()["enrollment_ids"]
    with db.session() as session:
        for eid, pos in zip(ids, [1, 2, 2, 2], strict=True):
            e = session.get(Enrollment, eid)
            assert e is not None
            e.next_step, e.next_send_at = pos, None

    page.goto(f"{live.url}/sequences/{seq_id}/steps")
    expect(page.locator("#step-2 .step-impact")).to_have_text(
        "3 contacts had this step · 1 waiting for it"
    )
    _both_widths(page, shots, "steps-with-contacts")

    # Move step 3 up: the rule is shown before anything changes.
    page.get_by_role("link", name="Move step 3 up").click()
    expect(page.locator("[role=note]:not([data-kind])")).to_contain_text(
        "3 contacts have had step 2 but not step 3: so they do not get the same email twice, "
        "they finish the sequence"
    )
    _both_widths(page, shots, "step-move-confirm")
    page.get_by_role("button", name="Move step 3 up").click()
    expect(page.get_by_role("status")).to_contain_text("Step 3 moved up")
    expect(page.get_by_label("Body", exact=True).nth(1)).to_have_value(
        "Last note from {{sender_first_name}}."
    )

    # Delete step 2: who had it, and who waits for it, said first.
    page.get_by_role("link", name="Delete step 2").click()
    expect(page.locator("[role=note]:not([data-kind])")).to_contain_text(
        "3 contacts have already received step 2: deleting it will not unsend it. "
        "1 contact is waiting for it: they go to the step after it"
    )
    _both_widths(page, shots, "step-delete-confirm")
    page.get_by_role("button", name="Delete step 2").click()
    expect(page.get_by_role("status")).to_contain_text("Step 2 deleted")
    expect(page.locator("fieldset.step")).to_have_count(3)  # two steps and a new one
    with db.read_session() as session:
        places = [session.get(Enrollment, i).next_step for i in ids]  # type: ignore[union-attr]
    assert places == [1, 2, 2, 2]  # the one waiting gets "Following up"; the rest are done

    # Preview step 1 for a contact without a company: the gap is marked.
    page.get_by_role("link", name="Preview step 1").click()
    page.get_by_label("Preview for").select_option(label="P1 Lee <p1@talent.example.com>")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("mark.missing")).to_have_text(["{{company}}"])
    expect(page.locator("[role=note]:not([data-kind])")).to_contain_text(
        "p1@talent.example.com has no value for"
    )

    # A test send with no mailbox says how to connect one; with one, it lands in the sink.
    page.get_by_role("button", name=f"Send test to {live.emails['owner']}").click()
    expect(page.get_by_role("alert")).to_contain_text("you have none connected")
    expect(page.get_by_role("link", name="Connect your mailbox")).to_be_visible()
    _both_widths(page, shots, "step-preview-no-mailbox")
    _mailbox(live, smtp_sink, tmp_path / "inbox")
    page.get_by_label("Preview for").select_option(label="P0 Lee <p0@talent.example.com>")
    page.get_by_role("button", name="Show").click()
    page.get_by_role("button", name=f"Send test to {live.emails['owner']}").click()
    expect(page.get_by_role("status")).to_contain_text(f"Test sent to {live.emails['owner']}")
    tests = smtp_sink.to(live.emails["owner"])
    assert len(tests) == 1
    assert tests[0]["Subject"] == "[Test] A role for you, P0"
    assert "we are hiring at Acme Robotics" in tests[0].get_content()
    _both_widths(page, shots, "step-preview-sent")

    # Figures on the list; archive (confirmed) hides it; delete (confirmed) removes it.
    page.goto(live.url + "/sequences")
    row = page.get_by_role("row", name=re.compile("Backend engineers"))
    expect(row.locator("td").nth(2)).to_have_text("4")
    _both_widths(page, shots, "sequences-list")
    page.goto(f"{live.url}/sequences/{seq_id}/archive")
    expect(page.locator("[role=note]:not([data-kind])")).to_contain_text(
        "stops its mail: its 4 contacts"
    )
    _both_widths(page, shots, "archive-confirm")
    page.get_by_role("button", name="Archive sequence").click()
    expect(page.get_by_role("status")).to_contain_text("Archived Backend engineers (Berlin)")
    expect(page.get_by_role("link", name="Backend engineers (Berlin)")).to_have_count(0)
    page.get_by_role("link", name="Show archived").click()
    expect(page.get_by_role("row", name=re.compile("Archived"))).to_have_count(1)

    page.goto(f"{live.url}/sequences/{seq_id}/delete")
    expect(page.locator("[role=note]:not([data-kind])")).to_contain_text(
        "stops all mail to its 4 contacts: emails not sent yet are cancelled"
    )
    expect(page.locator("[role=note]:not([data-kind])")).to_contain_text(
        "What already reached Crelate"
    )
    _both_widths(page, shots, "delete-confirm")
    page.get_by_role("button", name="Delete sequence").click()
    expect(page.get_by_role("status")).to_contain_text("Deleted Backend engineers (Berlin)")
    assert _names(live) == ["Sent twice"]


def test_api_docs_work_with_the_network_blocked(live: LiveTeam, page: Page, shots: Shots) -> None:
    html = page.request.get(live.url + "/docs").text()
    urls = re.findall(r"""(?:src|href)=["']([^"']+)""", html) + re.findall(r"url: '([^']+)'", html)
    assert urls and all(u.startswith("/") or u.startswith("data:") for u in urls), urls

    asked_outside: list[str] = []

    def local_only(route: Route) -> None:
        if route.request.url.startswith(live.url) or route.request.url.startswith("data:"):
            route.continue_()
        else:
            asked_outside.append(route.request.url)
            route.abort()

    page.route("**/*", local_only)
    page.goto(live.url + "/docs")
    expect(page.get_by_role("heading", name=re.compile("Outbound"))).to_be_visible()
    expect(page.locator(".opblock-tag", has_text="sequences")).to_be_visible()
    expect(
        page.locator(".opblock-summary-path", has_text="/api/v1/sequences").first
    ).to_be_visible()
    assert asked_outside == []
    _both_widths(page, shots, "api-docs-offline")
