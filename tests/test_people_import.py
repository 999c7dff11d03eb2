"""Issue 16, adding people: a CSV file or pasted lines read with their real line numbers, a
header row recognised and its columns mapped, every row checked (the ATS's required names
included) with a per-row report; re-adding someone updates them; the REST endpoint's 4xx."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from outbound.domain.people_import import (
    ImportRefused,
    check_mapping,
    check_rows,
    guess_mapping,
    read_table,
)
from outbound.service import enrollments
from outbound.store.db import Database
from tests.conftest import Sim, Team
from tests.test_api_core import make_sequence
from tests.test_bulk_work import owner
from tests.test_sync_crelate import connect

DATA = Path(__file__).parent / "data" / "imports"


def no_problem(_: dict[str, Any]) -> str | None:
    return None


# -- reading: header, mapping, line numbers ---------------------------------------------------
def test_semicolons_bom_and_a_header_map_by_name() -> None:
    table = read_table((DATA / "semicolons_bom.csv").read_bytes().decode("utf-8"))
    assert table.delimiter == ";"
    assert table.header is not None and table.header[0] == "E-mail"  # the BOM is gone
    assert guess_mapping(table) == [
        "email",
        "first_name",
        "last_name",
        "company",
        "title",
        "custom.favourite_colour",  # anything else: a variable named after its header
    ]
    # Real line numbers: the header is line 1, the blank line 3 counts.
    assert [line for line, _ in table.rows] == [2, 4]
    assert table.rows[0][1][3] == "Analytical Engines; Ltd"  # a quoted delimiter stays


def test_pasted_lines_without_header_keep_the_paste_order_and_quoted_commas() -> None:
    table = read_table((DATA / "headerless.txt").read_text())
    assert table.header is None
    assert [line for line, _ in table.rows] == [1, 3]
    assert guess_mapping(table) == ["email", "first_name", "last_name", "company", "title"]
    assert table.rows[0][1][3] == "Analytical Engines, Ltd"


def test_header_names_people_write() -> None:
    table = read_table(
        "Firstname,Last Name,EMAIL ADDRESS,Company Name,Position,LinkedIn,City,Mobile\n"
        "Ada,Lovelace,ada@x.example.com,Engines,Eng,https://linkedin.com/in/ada,London,+44\n"
    )
    assert guess_mapping(table) == [
        "first_name",
        "last_name",
        "email",
        "company",
        "title",
        "linkedin_url",
        "location",
        "phone",
    ]


def test_a_quoted_field_over_two_lines_keeps_the_next_row_on_its_own_line() -> None:
    table = read_table('email,first name\nada@x.example.com,"two\nlines"\nbob@x.example.com,Bob\n')
    assert [line for line, _ in table.rows] == [2, 4]


def test_mapping_is_checked() -> None:
    with pytest.raises(ImportRefused, match="email"):
        check_mapping(["first_name", "last_name"])
    with pytest.raises(ImportRefused, match="columns 1 and 2 are both mapped to First name"):
        check_mapping(["first_name", "first_name", "email"])
    with pytest.raises(ImportRefused, match="variable name"):
        check_mapping(["email", "custom.2 bad"])


def test_every_bad_row_with_its_line_and_reason() -> None:
    table = read_table((DATA / "with_bad_rows.csv").read_text())
    checked = check_rows(
        table,
        guess_mapping(table),
        lambda d: None if "@" in d["email"] else "invalid email: is not an email address",
    )
    reasons = {r.line: r.reason for r in checked.rows}
    assert reasons[2] is None
    assert reasons[5] == "invalid email: is not an email address"
    assert reasons[6] == "no email address"
    assert reasons[7] == "repeats line 2 (same email)"
    assert 4 not in reasons  # a blank line is no row
    assert checked.rows[0].data["custom_variables"] == {"team": "Platform"}


def test_too_many_rows_is_refused_whole() -> None:
    text = "email\n" + "".join(f"p{i}@x.example.com\n" for i in range(10_001))
    with pytest.raises(ImportRefused, match="more than 10,000 rows"):
        read_table(text)
    assert len(read_table(text.rsplit("p10000", 1)[0]).rows) == 10_000


# -- the REST endpoint: the per-row report ----------------------------------------------------
def upload(team: Team, seq: int, path: Path | bytes, **form: str) -> Any:
    content = path if isinstance(path, bytes) else path.read_bytes()
    return team.call(
        "POST",
        f"/sequences/{seq}/contacts/csv",
        files={"file": ("people.csv", content, "text/csv")},
        data=form,
    )


def test_csv_report_per_row_with_crelate_names_required(team: Team, crelate: Sim) -> None:
    connect(team)
    seq = make_sequence(team)
    r = upload(team, seq, DATA / "with_bad_rows.csv")
    assert r.status_code == 200, r.text
    report = r.json()
    assert (report["added"], report["skipped"]) == (2, 5)
    why = {row["line"]: row["note"] for row in report["rows"] if row["outcome"] == "skipped"}
    assert why[3] == "Crelate needs a first and last name (first name and last name are empty)"
    assert why[5].startswith("invalid email")
    assert why[6] == "no email address"
    assert why[7] == "repeats line 2 (same email)"
    assert why[9] == "last name: too long (at most 200 characters)"
    contacts = team.call("GET", f"/sequences/{seq}/contacts").json()
    assert sorted(c["contact"]["email"] for c in contacts) == [
        "alice.good@talent.example.com",
        "erin.good@talent.example.com",
    ]
    alice = next(c["contact"] for c in contacts if c["contact"]["email"].startswith("alice"))
    assert alice["company"] == "Initech, Inc."
    assert alice["custom_variables"] == {"team": "Platform"}


def test_without_an_ats_names_are_not_required(team: Team) -> None:
    seq = make_sequence(team)
    report = upload(team, seq, DATA / "with_bad_rows.csv").json()
    assert (report["added"], report["skipped"]) == (3, 4)


def test_a_stored_contacts_names_count(team: Team, crelate: Sim) -> None:
    """Someone Outbound already knows by name can be re-added by email alone."""
    first = make_sequence(team)
    upload(team, first, b"email,first name,last name\nbob@x.example.com,Bob,Known\n")
    connect(team)
    seq = make_sequence(team)
    report = upload(team, seq, b"email\nbob@x.example.com\nnew@x.example.com\n").json()
    outcomes = {row["email"]: (row["outcome"], row["note"]) for row in report["rows"]}
    assert outcomes["bob@x.example.com"] == ("merged", "nothing new to update")
    assert outcomes["new@x.example.com"][0] == "skipped"
    assert "Crelate needs a first and last name" in outcomes["new@x.example.com"][1]


def test_mapping_chosen_by_column_name(team: Team) -> None:
    seq = make_sequence(team)
    csv = b"Mail,Nick,Employer\nada@x.example.com,Ada,Engines\n"
    mapping = json.dumps({"Nick": "first_name", "Employer": None})
    report = upload(team, seq, csv, mapping=mapping).json()
    assert report["mapping"] == ["email", "first_name", ""]
    contact = team.call("GET", f"/sequences/{seq}/contacts").json()[0]["contact"]
    assert (contact["first_name"], contact["company"]) == ("Ada", None)


@pytest.mark.parametrize(
    ("form", "content", "field", "words"),
    [
        ({}, b"", "file", "no rows"),
        ({"mapping": "{not json"}, b"email\na@x.example.com\n", "mapping", "JSON"),
        ({"mapping": '{"Nope": "email"}'}, b"email\na@x.example.com\n", "mapping", "Nope"),
        ({"mapping": '{"email": "shoe_size"}'}, b"email\na@x.example.com\n", "mapping", "shoe"),
        ({}, b"first name\nAda\n", "mapping", "email"),
        ({}, b"email\x00\n", "file", "NUL"),
        ({}, b"PK\x03\x04 an .xlsx file", "file", "not a CSV file"),
        ({}, b"x" * (5 * 1024 * 1024 + 1), "file", "5 MB"),
    ],
)
def test_bad_files_and_mappings_are_422_naming_the_field(
    team: Team, form: dict[str, str], content: bytes, field: str, words: str
) -> None:
    seq = make_sequence(team)
    r = upload(team, seq, content, **form)
    assert r.status_code == 422, r.text
    assert r.json()["field"] == field
    assert words in r.json()["detail"]


def test_no_file_and_another_teams_sequence(team: Team, client: Any, db: Database) -> None:
    seq = make_sequence(team)
    r = team.call("POST", f"/sequences/{seq}/contacts/csv", data={"mapping": "{}"})
    assert r.status_code == 422 and r.json()["field"] == "file"
    other = Team(client, db, "Globex")
    r = upload(other, seq, b"email\na@x.example.com\n")
    assert r.status_code == 404


# -- re-adding someone updates them -----------------------------------------------------------
def test_re_adding_updates_non_empty_fields_and_merges_variables(team: Team, db: Database) -> None:
    seq, other = make_sequence(team), make_sequence(team)
    first = {
        "email": "Ada@X.example.com",
        "first_name": "Ada",
        "company": "Engines",
        "title": "Engineer",
        "custom_variables": {"team": "Core", "city": "London"},
    }
    enrollments.add_contacts_in_chunks(db, owner(team), seq, [first])
    again = {
        "email": "ada@x.example.com",
        "last_name": "Lovelace",
        "company": "Analytical Engines",
        "custom_variables": {"city": "Paris"},
    }
    result = enrollments.add_contacts_in_chunks(db, owner(team), other, [again])
    assert result.added == 1
    assert result.merged == {"ada@x.example.com": ("last_name", "company", "custom_variables")}
    contact = team.call("GET", "/contacts").json()[0]
    assert (contact["first_name"], contact["last_name"]) == ("Ada", "Lovelace")  # kept, added
    assert (contact["company"], contact["title"]) == ("Analytical Engines", "Engineer")
    assert contact["custom_variables"] == {"team": "Core", "city": "Paris"}
    # Into the same sequence again: already there, and still updated.
    third = enrollments.add_contacts_in_chunks(
        db, owner(team), seq, [{"email": "ada@x.example.com", "title": "CTO"}]
    )
    assert (third.added, third.already_present, third.present) == (0, 1, {"ada@x.example.com"})
    assert team.call("GET", "/contacts").json()[0]["title"] == "CTO"


def test_report_says_merged_and_already_in_the_sequence(team: Team) -> None:
    seq = make_sequence(team)
    upload(team, seq, b"email,company\nada@x.example.com,Engines\n")
    report = upload(
        team, seq, b"email,company\nada@x.example.com,Analytical\nbob@x.example.com,Hooli\n"
    ).json()
    rows = {row["email"]: row for row in report["rows"]}
    assert rows["ada@x.example.com"]["outcome"] == "already_in_sequence"
    assert rows["ada@x.example.com"]["note"] == "updated company"
    assert rows["bob@x.example.com"]["outcome"] == "added"
    assert (report["added"], report["already_in_sequence"]) == (1, 1)
    # The JSON add keeps its contract (and updates as well).
    r = team.call(
        "POST",
        f"/sequences/{seq}/contacts",
        json={"contacts": [{"email": "bob@x.example.com", "title": "Designer"}]},
    )
    assert r.status_code == 201
    assert r.json() == {"added": 0, "already_present": 1, "enrollment_ids": []}
    bob = next(c for c in team.call("GET", "/contacts").json() if c["email"].startswith("bob"))
    assert (bob["company"], bob["title"]) == ("Hooli", "Designer")


def test_a_file_of_ten_thousand_rows_goes_in_whole(team: Team) -> None:
    """The largest file allowed: added in chunks that commit as they go, every row reported."""
    seq = make_sequence(team)
    rows = "".join(f"p{i}@scale.example.com,P{i},Person\n" for i in range(10_000))
    report = upload(team, seq, ("email,first name,last name\n" + rows).encode()).json()
    assert (report["added"], report["skipped"], len(report["rows"])) == (10_000, 0, 10_000)
    assert report["rows"][-1] == {
        "line": 10_001,
        "email": "p9999@scale.example.com",
        "outcome": "added",
        "note": "",
    }


# -- the web forms: another team's sequence, and the page without htmx ------------------------
def test_web_forms_another_teams_sequence_is_not_found(team: Team, db: Database) -> None:
    from tests.test_web_cross_team import signed_in_owner
    from tests.test_web_sessions import csrf

    theirs = make_sequence(team)
    other = Team(team.client, db, name="Rival")
    mine = make_sequence(other)
    rival = signed_in_owner(other, db, "rival")
    token = csrf(rival, f"/sequences/{mine}")
    csv = {"file": ("people.csv", b"email\na@x.example.com\n", "text/csv")}
    for path, files in (
        (f"/sequences/{theirs}/contacts", None),
        (f"/sequences/{theirs}/contacts/csv/preview", csv),
        (f"/sequences/{theirs}/contacts/csv", csv),
    ):
        answer = rival.post(
            path,
            data={"contacts": "a@x.example.com", "csrf_token": token},
            files=files,
            headers={"HX-Request": "true"},
        )
        assert answer.status_code == 404, (path, answer.text)
    assert team.call("GET", f"/sequences/{theirs}/contacts").json() == []

    # Without htmx: the add box on a page of its own with every bad line; then the redirect.
    answer = rival.post(
        f"/sequences/{mine}/contacts",
        data={"contacts": "a@x.example.com\nnot-an-email", "csrf_token": token},
        follow_redirects=False,
    )
    assert answer.status_code == 422
    assert "Line 2" in answer.text and "invalid email" in answer.text
    answer = rival.post(
        f"/sequences/{mine}/contacts",
        data={"contacts": "a@x.example.com\nnot-an-email", "confirm": "1", "csrf_token": token},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert "Added+1" in answer.headers["location"]


# -- a big file: its progress record, and the same form sent twice ----------------------------
def _file(n: int, start: int = 0) -> bytes:
    rows = "".join(f"p{i}@scale.example.com,P{i},Person\n" for i in range(start, start + n))
    return ("email,first name,last name\n" + rows).encode()


def test_a_file_being_added_counts_its_rows_as_each_chunk_commits(team: Team, db: Database) -> None:
    from outbound.service import people_import

    seq = make_sequence(team)
    caller = owner(team)
    table = people_import.read(_file(1_200))
    columns = people_import.mapping(table, None)
    checked = people_import.check(db, caller, seq, table, columns, no_problem)
    run, new = people_import.begin_csv_run(db, caller, seq, "tok-" + "a" * 20)
    assert new and run.status == "pending"  # checking: nothing counted yet
    seen: list[tuple[str, int, int]] = []

    def look(_: int) -> None:  # what a poll sees after each chunk, from its own session
        now = people_import.csv_run(db, caller, seq, "tok-" + "a" * 20)
        assert now is not None
        seen.append((now.status, now.handled, now.total))

    report = people_import.add(db, caller, seq, checked, progress=look, run_id=run.id)
    assert seen == [("running", 500, 1_200), ("running", 1_000, 1_200), ("running", 1_200, 1_200)]
    final = people_import.csv_run(db, caller, seq, "tok-" + "a" * 20)
    assert final is not None and final.finished
    assert (final.status, final.added, final.already_present) == ("done", 1_200, 0)
    assert report.counts["added"] == 1_200
    # Another form's token, or a malformed one, finds nothing.
    assert people_import.csv_run(db, caller, seq, "tok-" + "b" * 20) is None
    assert people_import.csv_run(db, caller, seq, "../x") is None


def _browser(team: Team, db: Database, seq: int) -> tuple[Any, str]:
    from tests.test_web_cross_team import signed_in_owner
    from tests.test_web_sessions import csrf

    browser = signed_in_owner(team, db, "acme")
    return browser, csrf(browser, f"/sequences/{seq}")


def _preview(browser: Any, token: str, seq: int, content: bytes) -> tuple[Any, str]:
    """The mapping step for this file, and the run token its "Add" form carries."""
    preview = browser.post(
        f"/sequences/{seq}/contacts/csv/preview",
        data={"csrf_token": token},
        files={"file": ("people.csv", content, "text/csv")},
        headers={"HX-Request": "true"},
    )
    match = re.search(r'name="run" value="([^"]+)"', preview.text)
    assert match, preview.text
    return preview, match.group(1)


def _add(browser: Any, token: str, seq: int, content: bytes, run: str) -> Any:
    return browser.post(
        f"/sequences/{seq}/contacts/csv",
        data={"csrf_token": token, "run": run},
        files={"file": ("people.csv", content, "text/csv")},
        headers={"HX-Request": "true"},
    )


def test_the_same_form_sent_twice_adds_its_rows_once(team: Team, db: Database) -> None:
    seq = make_sequence(team)
    browser, token = _browser(team, db, seq)
    preview, run = _preview(browser, token, seq, _file(600))
    assert f"/contacts/csv/progress?run={run}" in preview.text  # what the page polls

    first = _add(browser, token, seq, _file(600), run)
    assert first.status_code == 200 and "Import finished" in first.text
    second = _add(browser, token, seq, _file(600), run)
    assert second.status_code == 200
    assert "This file is already being added" in second.text
    assert "600 added, 0 already in the sequence" in second.text
    assert len(team.call("GET", f"/sequences/{seq}/contacts?limit=1000").json()) == 600

    # The progress poll: the finished add, then no more polling.
    poll = browser.get(f"/sequences/{seq}/contacts/csv/progress?run={run}")
    assert "All 600 rows handled" in poll.text and "hx-trigger" not in poll.text
    # Before the add starts: "checking", and the poll goes on.
    early = browser.get(f"/sequences/{seq}/contacts/csv/progress?run={'c' * 22}")
    assert "Checking the rows" in early.text and 'hx-trigger="every 1s"' in early.text


def test_two_forms_sending_one_file_at_once_add_each_person_once(team: Team, db: Database) -> None:
    from concurrent.futures import ThreadPoolExecutor

    seq = make_sequence(team)
    browser, token = _browser(team, db, seq)
    content = _file(1_500)
    with ThreadPoolExecutor(2) as pool:
        answers = list(
            pool.map(lambda run: _add(browser, token, seq, content, run), ["r" * 22, "s" * 22])
        )
    assert [a.status_code for a in answers] == [200, 200]
    from sqlalchemy import select

    from outbound.store.models import Enrollment, ImportRun

    with db.read_session() as session:
        people = session.scalars(select(Enrollment.contact_id).where(Enrollment.sequence_id == seq))
        ids = list(people)
        assert len(ids) == len(set(ids)) == 1_500
        runs = session.scalars(select(ImportRun).where(ImportRun.sequence_id == seq)).all()
        assert sorted(r.status for r in runs) == ["done", "done"]
        # Between them, each person added once; the later one found the rest already there.
        assert sum(r.added for r in runs) == 1_500
        assert sum(r.added + r.already_present for r in runs) == 3_000


# -- an add whose process died: shown as interrupted, with what it added ----------------------
class ProcessDied(BaseException):
    """The process adding the file stops (SIGKILL, a deploy, the OOM killer): not an error the
    add could catch and record; nothing after it runs."""


def _stop_after_first_chunk(_: int) -> None:
    raise ProcessDied


def _moved_ago(db: Database, seconds: float) -> None:
    """The last time the run moved, set into the past (instead of waiting for it)."""
    from datetime import timedelta

    from sqlalchemy import update

    from outbound.store.models import ImportRun, utcnow

    with db.session() as session:
        session.execute(update(ImportRun).values(progress_at=utcnow() - timedelta(seconds=seconds)))


def _enrolled(db: Database, seq: int) -> list[int]:
    from sqlalchemy import select

    from outbound.store.models import Enrollment

    with db.read_session() as session:
        return list(
            session.scalars(select(Enrollment.contact_id).where(Enrollment.sequence_id == seq))
        )


def _died_half_way(team: Team, db: Database, seq: int, token: str) -> None:
    """A 1,200-row file's add that stopped with its process after the first chunk (500)."""
    from outbound.service import people_import

    caller = owner(team)
    table = people_import.read(_file(1_200))
    checked = people_import.check(
        db, caller, seq, table, people_import.mapping(table, None), no_problem
    )
    run, _ = people_import.begin_csv_run(db, caller, seq, token)
    with pytest.raises(ProcessDied):
        people_import.add(db, caller, seq, checked, progress=_stop_after_first_chunk, run_id=run.id)


def test_an_add_whose_process_died_says_so_with_what_it_added(team: Team, db: Database) -> None:
    from outbound.service import people_import

    seq = make_sequence(team)
    run = "d" * 22
    _died_half_way(team, db, seq, run)
    browser, token = _browser(team, db, seq)
    progress = f"/sequences/{seq}/contacts/csv/progress?run={run}"

    # Just stopped: nothing tells it from an add between two chunks yet; the page polls on.
    poll = browser.get(progress)
    assert "Adding: 500 of 1,200 rows added" in poll.text and 'hx-trigger="every 1s"' in poll.text

    # No progress for longer than the window: the add is over, and the page says what it did.
    _moved_ago(db, people_import.STALLED_AFTER.total_seconds() + 30)
    found = people_import.csv_run(db, owner(team), seq, run)
    assert found is not None and (found.status, found.finished) == ("interrupted", True)
    assert (found.handled, found.total) == (500, 1_200)
    poll = browser.get(progress)
    assert poll.status_code == 200
    assert (
        "This add stopped before it finished</strong> (Outbound was restarted): "
        "500 of 1,200 rows were added. Add the file again to add the rest: people already "
        "added are not added twice."
    ) in poll.text
    assert "hx-trigger" not in poll.text and "Adding:" not in poll.text  # polling stops
    assert "Read the file again" in poll.text

    # The same form sent again does not restart it: it says so, and adds nobody.
    again = _add(browser, token, seq, _file(1_200), run)
    assert again.status_code == 200
    assert "This form was sent before</strong>, and that add stopped" in again.text
    assert "500 of 1,200 rows were added" in again.text and "hx-trigger" not in again.text
    assert len(_enrolled(db, seq)) == 500

    # The file read again (a fresh token) adds the rest, nobody twice.
    _, fresh = _preview(browser, token, seq, _file(1_200))
    assert fresh != run
    rest = _add(browser, token, seq, _file(1_200), fresh)
    assert "Import finished" in rest.text
    assert "<strong>700</strong> added" in rest.text
    assert "<strong>500</strong> already in the sequence" in rest.text
    people = _enrolled(db, seq)
    assert len(people) == len(set(people)) == 1_200


def test_an_add_that_is_moving_is_not_interrupted(team: Team, db: Database) -> None:
    """What counts is the last progress, not the run's age; a finished run stays as it ended."""
    from datetime import timedelta

    from sqlalchemy import update

    from outbound.service import people_import
    from outbound.store.models import ImportRun, utcnow

    seq = make_sequence(team)
    caller = owner(team)
    run = "m" * 22
    _died_half_way(team, db, seq, run)
    window = people_import.STALLED_AFTER.total_seconds()
    with db.session() as session:  # made long ago, moved just now
        session.execute(update(ImportRun).values(created_at=utcnow() - timedelta(days=1)))
    _moved_ago(db, window - 30)
    found = people_import.csv_run(db, caller, seq, run)
    assert found is not None and (found.status, found.finished) == ("running", False)
    browser, _ = _browser(team, db, seq)
    poll = browser.get(f"/sequences/{seq}/contacts/csv/progress?run={run}")
    assert "Adding: 500 of 1,200 rows added" in poll.text and "stopped" not in poll.text
    assert 'hx-trigger="every 1s"' in poll.text

    # A progress update moves it again: a run shown interrupted by a slow chunk comes back.
    _moved_ago(db, window + 30)
    stopped = people_import.csv_run(db, caller, seq, run)
    assert stopped is not None and stopped.status == "interrupted"
    people_import._set(db, found.id, added=1_000)
    now = people_import.csv_run(db, caller, seq, run)
    assert now is not None and (now.status, now.handled) == ("running", 1_000)

    # Finished runs are never re-read as interrupted, however long ago they ended.
    people_import.fail_csv_run(db, found.id, "the file or its mapping could not be read")
    _moved_ago(db, 86_400)
    failed = people_import.csv_run(db, caller, seq, run)
    assert failed is not None and failed.status == "failed"


def test_an_add_that_died_while_checking_its_rows_added_none(team: Team, db: Database) -> None:
    from outbound.service import people_import

    seq = make_sequence(team)
    run = "p" * 22
    people_import.begin_csv_run(db, owner(team), seq, run)  # pending: its rows being checked
    _moved_ago(db, people_import.STALLED_AFTER.total_seconds() + 30)
    browser, _ = _browser(team, db, seq)
    poll = browser.get(f"/sequences/{seq}/contacts/csv/progress?run={run}")
    assert "it was still checking the rows, so none were added. Add the file again." in poll.text
    assert "hx-trigger" not in poll.text and "Checking the rows" not in poll.text


def test_on_postgresql_the_database_clock_decides_not_the_web_process(
    team: Team, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Web processes on machines whose clocks differ agree on when an add stopped moving: a
    process whose clock runs an hour ahead sees a moving add as moving."""
    from datetime import timedelta

    from outbound.service import people_import
    from outbound.store import clock
    from outbound.store.models import utcnow

    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite is embedded: its clock is this machine's")
    seq = make_sequence(team)
    run = "k" * 22
    _died_half_way(team, db, seq, run)  # its last progress: just now, by the database
    ahead = lambda: utcnow() + timedelta(hours=1)  # noqa: E731
    monkeypatch.setattr(people_import, "utcnow", ahead)
    monkeypatch.setattr(clock, "utcnow", ahead)  # where the clock helpers read this machine's
    found = people_import.csv_run(db, owner(team), seq, run)
    assert found is not None and found.status == "running"


def test_the_migration_dates_existing_runs_and_goes_back(tmp_path: Path) -> None:
    from sqlalchemy import inspect, text

    from outbound.store import models
    from outbound.store.migrate import downgrade, upgrade
    from tests.conftest import database_url
    from tests.pg import reset_schema

    url = database_url(tmp_path)
    reset_schema(url)
    upgrade(url, "0015")
    db = Database(url)
    try:
        with db.session() as session:
            t = models.Team(name="Acme")
            session.add(t)
            session.flush()
            u = models.User(team_id=t.id, email="o@acme.test", name="Owner", role="owner")
            session.add(u)
            session.flush()
            s = models.Sequence(team_id=t.id, owner_id=u.id, name="Engineers")
            session.add(s)
            session.flush()
            for list_id, status, finished in (
                ("csv:" + "f" * 22, "done", "2024-05-02 10:30:00"),
                ("csv:" + "r" * 22, "running", None),
            ):
                session.execute(
                    text(
                        "INSERT INTO import_runs (team_id, sequence_id, user_id, list_id,"
                        " status, total, added, skipped_no_email, already_present,"
                        " created_at, finished_at) VALUES (:t, :s, :u, :l, :st, 10, 5, 0, 0,"
                        " '2024-05-02 10:00:00', :f)"
                    ),
                    {"t": t.id, "s": s.id, "u": u.id, "l": list_id, "st": status, "f": finished},
                )
            team_id, user_id, seq_id = t.id, u.id, s.id
        upgrade(url)
        with db.read_session() as session:
            dated = dict(
                session.execute(
                    text("SELECT status, progress_at FROM import_runs ORDER BY status")
                ).all()
            )
        assert {k: str(v)[:19] for k, v in dated.items()} == {
            "done": "2024-05-02 10:30:00",  # when it finished
            "running": "2024-05-02 10:00:00",  # left running by the older release: when made
        }
        # That run, never finished, is shown as interrupted at once.
        from outbound.service import people_import
        from outbound.service.caller import Caller

        left = people_import.csv_run(db, Caller(user_id, team_id, "owner"), seq_id, "r" * 22)
        assert left is not None and (left.status, left.handled, left.total) == (
            "interrupted",
            5,
            10,
        )

        downgrade(url, "0015")
        with db.read_session() as session:
            columns = {c["name"] for c in inspect(session.get_bind()).get_columns("import_runs")}
            assert "progress_at" not in columns and "finished_at" in columns
            assert session.scalar(text("SELECT count(*) FROM import_runs")) == 2
        upgrade(url)
    finally:
        db.dispose()
