"""Issue 16 in Chromium, adding people: a CSV file with bad rows through its column mapping to a
report per row; the paste box with a header row and a bad line; a double click that adds once;
the Crelate list picker's error where it was clicked; screenshots at 1280 and 390 px."""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any

from playwright.sync_api import Locator, Page, expect

from outbound.store.db import Database
from tests.conftest import CRELATE_KEYS, Sim
from tests.web.conftest import (
    LiveTeam,
    Shots,
    overflows_horizontally,
    sign_in_with_keyboard,
    unlabeled_inputs,
)

DATA = Path(__file__).parent.parent / "data" / "imports"


def crelate_sequence(live: LiveTeam) -> int:
    """A sequence of the owner's, syncing to Crelate when people are added."""
    r = live.api(
        "PUT",
        "/connection",
        json={"provider": "crelate", "credentials": {"api_key": CRELATE_KEYS["alice"]}},
    )
    assert r.status_code == 200, r.text
    r = live.api(
        "POST",
        "/sequences",
        json={
            "name": "Platform engineers",
            "steps": [{"subject": "Hi {{first_name}}", "body": "Hello", "delay_days": 0}],
        },
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def enrolled(live: LiveTeam, seq: int) -> list[str]:
    rows = live.api("GET", f"/sequences/{seq}/contacts").json()
    return sorted(r["contact"]["email"] for r in rows)


def test_csv_with_bad_rows_mapping_then_report(
    page: Page, live: LiveTeam, crelate: Sim, shots: Shots
) -> None:
    seq = crelate_sequence(live)
    sign_in_with_keyboard(page, live, "owner")
    page.goto(f"{live.url}/sequences/{seq}")
    expect(page.locator("#add-csv")).to_contain_text("Crelate needs a first and last name")
    shots(page, "add-people")

    # The Crelate list picker: importing with no list chosen says so where it was clicked.
    expect(page.get_by_label("Import from Crelate")).to_contain_text("Pick one list")
    page.get_by_role("button", name="Import", exact=True).click()
    expect(page.locator("#bulk-out").get_by_role("alert")).to_have_text("Pick a list to import.")

    # Upload: the mapping step shows each column with a select and its first values.
    page.get_by_label("Upload a CSV").set_input_files(DATA / "with_bad_rows.csv")
    page.get_by_role("button", name="Read the columns").click()
    step = page.locator("#csv-step")
    expect(step.get_by_role("heading", name="Map the columns")).to_be_visible()
    expect(step.get_by_label("Import column email as")).to_have_value("email")
    expect(step.get_by_label("Import column first name as")).to_have_value("first_name")
    expect(step.get_by_label("Import column team as")).to_have_value("custom.team")
    expect(step).to_contain_text("Initech, Inc.")  # a quoted comma stays in its cell
    expect(step).to_contain_text("2 of 7 can be added; 5 will be skipped")
    skipped = step.locator("details.import-problems")
    expect(skipped.get_by_role("row", name=re.compile(r"^3 "))).to_contain_text(
        "Crelate needs a first and last name"
    )
    expect(skipped.get_by_role("row", name=re.compile(r"^7 "))).to_contain_text("repeats line 2")
    assert unlabeled_inputs(page) == []
    shots(page, "csv-mapping")
    page.set_viewport_size({"width": 390, "height": 844})
    assert not overflows_horizontally(page)
    shots(page, "csv-mapping-390px")
    page.set_viewport_size({"width": 1280, "height": 900})

    # A changed select recounts: without the email column nothing can be added.
    step.get_by_label("Import column email as").select_option("")
    expect(step.get_by_role("alert")).to_contain_text("choose the column that holds the email")
    expect(step.get_by_role("button", name=re.compile("^Add"))).to_have_count(0)
    step.get_by_label("Import column email as").select_option("email")
    step.get_by_label("Import column team as").select_option("")
    expect(step).to_contain_text("2 of 7 can be added")

    # Add: the report counts what happened and lists the skipped rows with why.
    step.get_by_role("button", name="Add 2 people").click()
    report = page.locator(".import-report")
    expect(report).to_contain_text("2 added")
    expect(report).to_contain_text("5 skipped")
    table = report.locator("table.import-skipped")
    expect(table.get_by_role("row", name=re.compile(r"^6 "))).to_contain_text("no email address")
    expect(table.get_by_role("row", name=re.compile(r"^9 "))).to_contain_text("last name: too long")
    download = report.get_by_role("link", name="Download the skipped rows (CSV)")
    assert (download.get_attribute("href") or "").startswith("data:text/csv")
    shots(page, "csv-report")
    page.set_viewport_size({"width": 390, "height": 844})
    assert not overflows_horizontally(page)
    shots(page, "csv-report-390px")
    page.set_viewport_size({"width": 1280, "height": 900})

    assert enrolled(live, seq) == ["alice.good@talent.example.com", "erin.good@talent.example.com"]
    alice = live.api("GET", "/contacts", params={"email": "alice.good@talent.example.com"})
    assert alice.json()[0]["custom_variables"] == {}  # the team column was left out
    report.get_by_role("link", name="Show the contacts").click()
    expect(page.locator("tr", has_text="erin.good@talent.example.com")).to_be_visible()


def test_paste_with_a_header_and_a_bad_line_added_once(
    page: Page, live: LiveTeam, crelate: Sim, shots: Shots
) -> None:
    seq = crelate_sequence(live)
    sign_in_with_keyboard(page, live, "owner")
    page.goto(f"{live.url}/sequences/{seq}")
    page.get_by_label("Add contacts").fill(
        "email,first name,last name,company\n"
        "ada@engines.example.com,Ada,Lovelace,Engines\n"
        "\n"
        "not-an-address,No,Email\n"
        "grace@navy.example.com,Grace\n"
        "bob@build.example.com,Bob,Builder\n"
    )
    page.get_by_role("button", name="Add to sequence").click()
    problems = page.locator("#add-paste").get_by_role("alert")
    expect(problems).to_contain_text("2 lines can't be added (line 1 was read as a header)")
    expect(problems).to_contain_text("Line 4 (not-an-address): invalid email")
    expect(problems).to_contain_text(
        "Line 5 (grace@navy.example.com): Crelate needs a first and last name"
    )
    expect(page.get_by_label("Add contacts")).to_have_value(re.compile("bob@build"))  # kept
    assert enrolled(live, seq) == []  # nothing added until confirmed
    shots(page, "paste-bad-lines")
    page.set_viewport_size({"width": 390, "height": 844})
    assert not overflows_horizontally(page)
    shots(page, "paste-bad-lines-390px")
    page.set_viewport_size({"width": 1280, "height": 900})

    # A double click on the confirmation sends one request: the button is disabled at once.
    posts: list[str] = []
    page.on(
        "request",
        lambda r: (
            posts.append(r.url) if r.method == "POST" and r.url.endswith("/contacts") else None
        ),
    )
    page.get_by_role("button", name="Add the 2 good lines, skip 2").dblclick()
    expect(page.get_by_role("status")).to_contain_text("Added 2")
    assert len(posts) == 1
    assert enrolled(live, seq) == ["ada@engines.example.com", "bob@build.example.com"]
    shots(page, "paste-added")

    # Pasting someone again updates them: the flash says so.
    page.get_by_label("Add contacts").fill("ada@engines.example.com, Ada, Lovelace, Babbage Ltd")
    page.get_by_role("button", name="Add to sequence").click()
    expect(page.get_by_role("status")).to_contain_text("1 already in the sequence")
    ada = live.api("GET", "/contacts", params={"email": "ada@engines.example.com"}).json()[0]
    assert ada["company"] == "Babbage Ltd"


def upload_people(page: Page, live: LiveTeam, seq: int, folder: Path, count: int) -> Locator:
    """Signed in as the owner, a file of ``count`` new people read on the sequence's page:
    its mapping step."""
    people = folder / "people.csv"
    rows = "".join(f"p{i}@scale.example.com,P{i},Person\n" for i in range(count))
    people.write_text("email,first name,last name\n" + rows)
    sign_in_with_keyboard(page, live, "owner")
    page.goto(f"{live.url}/sequences/{seq}")
    page.get_by_label("Upload a CSV").set_input_files(people)
    page.get_by_role("button", name="Read the columns").click()
    return page.locator("#csv-step")


def test_a_ten_thousand_row_file_shows_its_rows_counted_while_it_is_added(
    page: Page, live: LiveTeam, crelate: Sim, shots: Shots, tmp_path: Path, monkeypatch: Any
) -> None:
    """While "Add" runs the step counts the rows as they go in (a progress record, polled);
    then the per-row report replaces it. The live server's add waits after its first chunk
    until the counter has shown, so the test sees it whatever the machine's speed."""
    from outbound.service import enrollments

    gate = threading.Event()
    real = enrollments.add_contacts_in_chunks

    def paused(*args: Any, progress: Any = None, **kw: Any) -> Any:
        def then_wait(handled: int) -> None:
            if progress is not None:
                progress(handled)
            gate.wait(60)  # after each chunk, until the test has seen the counter

        return real(*args, progress=then_wait, **kw)

    monkeypatch.setattr(enrollments, "add_contacts_in_chunks", paused)
    seq = crelate_sequence(live)
    step = upload_people(page, live, seq, tmp_path, 10_000)
    expect(step).to_contain_text("10000 of 10000 can be added")
    try:
        step.get_by_role("button", name="Add 10000 people").click()
        progress = page.locator("#csv-progress")
        expect(progress).to_contain_text("Adding: 500 of 10,000 rows added")
        expect(progress.get_by_role("progressbar")).to_have_attribute("value", "500")
        expect(step.get_by_role("button", name="Add 10000 people")).to_be_disabled()
        shots(page, "csv-progress")
        page.set_viewport_size({"width": 390, "height": 844})
        assert not overflows_horizontally(page)
        shots(page, "csv-progress-390px")
        page.set_viewport_size({"width": 1280, "height": 900})
    finally:
        gate.set()
    report = page.locator(".import-report")
    expect(report).to_contain_text("10000 added", timeout=60_000)
    expect(page.locator("#csv-progress")).to_have_count(0)  # the report replaced the counter


def test_an_add_that_died_with_the_server_says_so_and_the_file_added_again_adds_the_rest(
    page: Page,
    live: LiveTeam,
    crelate: Sim,
    shots: Shots,
    tmp_path: Path,
    monkeypatch: Any,
    db: Database,
) -> None:
    """The add stops after its first chunk and never moves again (as if its process had died);
    meanwhile the server is away for a few polls (a restart): the page keeps asking, and once
    the add has not moved for the stated window it says what was added and how to add the
    rest. Reading the file again and adding it adds the rest, nobody twice."""
    from datetime import timedelta

    from sqlalchemy import select, update

    from outbound.service import enrollments, people_import
    from outbound.store.models import Enrollment, ImportRun, utcnow

    gate, let_go_and_ended = threading.Event(), threading.Event()
    real, real_add = enrollments.add_contacts_in_chunks, people_import.add
    calls: list[int] = []

    def frozen(*args: Any, progress: Any = None, **kw: Any) -> Any:
        calls.append(1)
        if len(calls) > 1:  # the file added again: as usual
            return real(*args, progress=progress, **kw)

        def then_stop(handled: int) -> None:
            if progress is not None:
                progress(handled)
            gate.wait(60)  # after the first chunk, until the test is done with the page

        return real(*args, progress=then_stop, **kw)

    def add(*args: Any, **kw: Any) -> Any:
        first = not calls
        try:
            return real_add(*args, **kw)
        finally:
            if first:
                let_go_and_ended.set()

    def in_sequence() -> list[int]:
        with db.read_session() as session:
            return list(
                session.scalars(select(Enrollment.contact_id).where(Enrollment.sequence_id == seq))
            )

    monkeypatch.setattr(enrollments, "add_contacts_in_chunks", frozen)
    monkeypatch.setattr(people_import, "add", add)
    seq = crelate_sequence(live)
    step = upload_people(page, live, seq, tmp_path, 1_200)
    try:
        step.get_by_role("button", name="Add 1200 people").click()
        progress = page.locator("#csv-progress")
        expect(progress).to_contain_text("Adding: 500 of 1,200 rows added")

        # The server is away: the page's add request ends unanswered, the polls fail, and the
        # page goes on asking.
        page.evaluate("htmx.trigger('#add-csv', 'htmx:abort')")  # the form holds it
        page.route("**/contacts/csv/progress*", lambda route: route.abort("connectionrefused"))
        for _ in range(2):
            page.wait_for_event("requestfailed", lambda r: "/csv/progress" in r.url)
        expect(progress).to_contain_text("Adding: 500 of 1,200 rows added")

        # Back, and the add has not moved for longer than the window: it stopped.
        with db.session() as session:
            session.execute(
                update(ImportRun).values(
                    progress_at=utcnow() - people_import.STALLED_AFTER - timedelta(seconds=30)
                )
            )
        page.unroute("**/contacts/csv/progress*")
        expect(progress).to_contain_text(
            "This add stopped before it finished (Outbound was restarted): 500 of 1,200 rows "
            "were added. Add the file again to add the rest: people already added are not "
            "added twice."
        )
        assert progress.get_attribute("hx-trigger") is None  # no more polling
        assert len(in_sequence()) == 500
        shots(page, "csv-interrupted")
        page.set_viewport_size({"width": 390, "height": 844})
        assert not overflows_horizontally(page)
        shots(page, "csv-interrupted-390px")
        page.set_viewport_size({"width": 1280, "height": 900})

        # Added again: the file is read again (a new add, not the stopped one) and the rest go in.
        progress.get_by_role("button", name="Read the file again").click()
        expect(step.get_by_text("This add stopped")).to_have_count(0)  # a new mapping step
        expect(step).to_contain_text("1200 of 1200 can be added")
        step.get_by_role("button", name="Add 1200 people").click()
        report = page.locator(".import-report")
        expect(report).to_contain_text("700 added")
        expect(report).to_contain_text("500 already in the sequence")
    finally:
        gate.set()
    everyone = in_sequence()
    assert len(everyone) == len(set(everyone)) == 1_200

    # The frozen add, let go, finds everyone there and ends its own record: nobody twice.
    assert let_go_and_ended.wait(60)
    with db.read_session() as session:
        runs = session.scalars(select(ImportRun).order_by(ImportRun.id)).all()
        assert [(r.status, r.added, r.already_present) for r in runs] == [
            ("done", 500, 700),
            ("done", 700, 500),
        ]
    assert sorted(in_sequence()) == sorted(everyone)
