"""Issue 14, "Rules of the guides that slipped": each rule through the REST API, read back from
the ATS simulators' state."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.conftest import Sim, Team, sign_in_owner, web_csrf
from tests.test_api_core import make_sequence
from tests.test_sync_clockwork import connect as connect_clockwork
from tests.test_sync_clockwork import people_with, project_named
from tests.test_sync_crelate import add, ats_contacts, connect, enrollment, job_named, person

SEQUENCE = {
    "name": "Python engineers",
    "steps": [{"subject": "Hi {{first_name}}", "body": "Hello", "delay_days": 0}],
}


def event(team: Team, eid: int, kind: str, subject: str | None = None) -> None:
    r = team.call(
        "POST", f"/enrollments/{eid}/events", json={"kind": kind, "subject": subject, "body": "b"}
    )
    assert r.status_code in (200, 201), r.text


def activity_subjects(crelate: Sim, record_id: str) -> list[str]:
    return sorted(
        a["Subject"] for a in crelate.records("activities") if a["ParentId"]["Id"] == record_id
    )


# -- 1. Activity tracking applies from the moment it is turned on, to every contact ---------
def test_activity_tracking_turned_on_later_logs_from_then_on(
    team: Team, crelate: Sim, work: Any
) -> None:
    connect(team)
    assert team.call("PATCH", "/settings", json={"activity_tracking": False}).status_code == 200
    seq = make_sequence(team)
    (eid,) = add(team, seq, person(1))  # in the sequence before tracking is on
    event(team, eid, "sent", "Before")
    work()
    record = enrollment(team, eid)["ats_record_id"]
    assert record and activity_subjects(crelate, record) == []

    on = team.call("PATCH", "/settings", json={"activity_tracking": True}).json()
    assert on["activity_tracking"] is True and on["activity_tracking_since"] is not None
    event(team, eid, "sent", "After")
    event(team, eid, "replied", "Re: After")
    work()
    # The contact added before logs from now on; the email from before is never backfilled.
    assert activity_subjects(crelate, record) == ["Email reply: Re: After", "Email sent: After"]

    team.call("PATCH", "/settings", json={"activity_tracking": False})
    event(team, eid, "sent", "Off again")
    work()
    assert len(activity_subjects(crelate, record)) == 2


def test_activity_tracking_on_reply_logs_nothing_from_before_it_was_on(
    team: Team, crelate: Sim, work: Any
) -> None:
    connect(team)
    team.call("PATCH", "/settings", json={"sync_mode": "on_reply", "activity_tracking": False})
    seq = make_sequence(team)
    (eid,) = add(team, seq, person(1))
    event(team, eid, "sent", "While off")
    team.call("PATCH", "/settings", json={"activity_tracking": True})
    event(team, eid, "sent", "While on")
    event(team, eid, "replied", "Re: While on")
    work()
    e = enrollment(team, eid)
    assert e["sync_state"] == "synced"
    assert activity_subjects(crelate, e["ats_record_id"]) == [
        "Email reply: Re: While on",
        "Email sent: While on",
    ]


def test_activity_tracking_turned_on_later_in_clockwork(
    team: Team, clockwork: Sim, work: Any
) -> None:
    connect_clockwork(team)
    team.call("PATCH", "/settings", json={"activity_tracking": False})
    (eid,) = add(team, make_sequence(team), person(1))
    event(team, eid, "sent", "Before")
    work()
    assert clockwork.records("notes") == []
    team.call("PATCH", "/settings", json={"activity_tracking": True})
    event(team, eid, "replied", "Re: Before")
    work()
    notes = clockwork.records("notes")
    assert len(notes) == 1 and "Email reply: Re: Before" in notes[0]["content"]
    assert notes[0]["personId"] == enrollment(team, eid)["ats_record_id"]


# -- 2. Importing a Crelate list links each person to the record they came from -------------
def test_import_links_each_person_to_their_crelate_record(
    team: Team, crelate: Sim, work: Any
) -> None:
    connect(team)
    q4 = next(item for item in crelate.records("lists") if item["Name"] == "Q4 Python Engineers")
    members = {c["Id"]: c for c in crelate.records("contacts") if c["Id"] in q4["Members"]}
    contacts_before = len(crelate.records("contacts"))
    seq = make_sequence(team)
    started = team.call("POST", f"/sequences/{seq}/imports", json={"list_id": q4["Id"]})
    assert started.status_code == 202, started.text
    work()
    assert team.call("GET", f"/imports/{started.json()['id']}").json()["added"] == 13
    rows = team.call("GET", f"/sequences/{seq}/contacts", params={"limit": 100}).json()
    assert len(rows) == 13
    for row in rows:
        e = enrollment(team, row["id"])
        assert (e["sync_state"], e["error_code"], e["error_message"]) == ("synced", None, None)
        source = members[e["ats_record_id"]]  # the very record the person came from
        emails = {
            str(v.get("Value")).lower()
            for k, v in source.items()
            if k.startswith("EmailAddresses_") and isinstance(v, dict)
        }
        assert e["contact"]["email"] in emails
        # Linked as listed: not looked up by email, not created.
        calls = team.call("GET", f"/enrollments/{row['id']}/timeline").json()
        assert calls == []
    assert (
        team.call("GET", f"/sequences/{seq}/contacts", params={"needs_attention": True}).json()
        == []
    )
    assert len(crelate.records("contacts")) == contacts_before
    assert crelate.duplicates() == 0


def test_imported_people_go_on_the_sequence_job(team: Team, crelate: Sim, work: Any) -> None:
    connect(team)
    job = job_named(crelate, "Senior Python Engineer")
    q4 = next(item for item in crelate.records("lists") if item["Name"] == "Q4 Python Engineers")
    seq = make_sequence(team, job_id=job)
    team.call("POST", f"/sequences/{seq}/imports", json={"list_id": q4["Id"]})
    work()
    rows = team.call("GET", f"/sequences/{seq}/contacts", params={"limit": 100}).json()
    records = {enrollment(team, r["id"])["ats_record_id"] for r in rows}
    assert records <= set(q4["Members"]) and len(records) == 13
    on_job = {p["ContactId"] for p in crelate.records("pipeline") if p["JobId"] == job}
    assert on_job == records
    assert all(r["error_code"] is None for r in rows)


# -- 3. Resync with deduplication on behaves as adding does ---------------------------------
def test_resync_with_dedup_on_warns_exists_in_crelate(team: Team, crelate: Sim, work: Any) -> None:
    seq = make_sequence(team)
    dana, new = add(
        team,
        seq,
        {"email": "dana.existing@example.com", "first_name": "Dana", "last_name": "E"},
        person(1),
    )
    connect(team)  # added before the connection: resync is what syncs them
    resync = team.call("POST", f"/sequences/{seq}/resync", json={}).json()
    assert resync["queued"] == 2
    work()
    e = enrollment(team, dana)
    assert e["error_message"] == "Exists in Crelate" and e["error_code"] == "exists_in_ats"
    (record,) = ats_contacts(crelate, "dana.existing@example.com")
    assert e["ats_record_id"] == record["Id"] and e["sync_state"] == "synced"  # linked
    assert enrollment(team, new)["error_code"] is None  # Outbound's own record: no warning
    progress = team.call("GET", f"/sync-batches/{resync['batch_id']}").json()
    assert progress == {"total": 2, "done": 2, "failed": 0, "pending": 0}
    assert crelate.duplicates() == 0


def test_resync_with_dedup_on_warns_exists_in_clockwork(
    team: Team, clockwork: Sim, work: Any
) -> None:
    seq = make_sequence(team)
    (dana,) = add(
        team, seq, {"email": "dana.existing@example.com", "first_name": "Dana", "last_name": "E"}
    )
    connect_clockwork(team)
    team.call("POST", f"/sequences/{seq}/resync", json={})
    work()
    e = enrollment(team, dana)
    assert e["error_message"] == "Exists in Clockwork"
    (record,) = people_with(clockwork, "dana.existing@example.com")
    assert e["ats_record_id"] == record["id"]


def test_resync_with_dedup_off_links_silently(team: Team, crelate: Sim, work: Any) -> None:
    seq = make_sequence(team)
    (dana,) = add(
        team, seq, {"email": "dana.existing@example.com", "first_name": "Dana", "last_name": "E"}
    )
    connect(team)
    team.call("PATCH", "/settings", json={"dedup_enabled": False})
    team.call("POST", f"/sequences/{seq}/resync", json={})
    work()
    e = enrollment(team, dana)
    assert e["error_code"] is None and e["sync_state"] == "synced"


# -- 4. A sequence's job or project is checked against the ATS when it is saved -------------
def test_unknown_job_is_refused_when_the_sequence_is_saved(
    team: Team, crelate: Sim, work: Any
) -> None:
    connect(team)
    bogus = "00000000-0000-0000-0000-00000000beef"
    created = team.call("POST", "/sequences", json={**SEQUENCE, "sync": {"job_id": bogus}})
    assert created.status_code == 422, created.text
    assert created.json()["field"] == "sync.job_id" and "Crelate has no job" in created.text
    assert team.call("GET", "/sequences").json() == []  # nothing saved

    job = job_named(crelate, "Senior Python Engineer")
    seq = make_sequence(team, job_id=job.upper())  # saved as Crelate spells it
    assert team.call("GET", f"/sequences/{seq}").json()["job_id"] == job
    patched = team.call("PATCH", f"/sequences/{seq}", json={"sync": {"job_id": bogus}})
    assert patched.status_code == 422 and patched.json()["field"] == "sync.job_id"
    assert team.call("GET", f"/sequences/{seq}").json()["job_id"] == job  # unchanged

    # Nothing reaches the ATS for a job it does not have: no orphaned records.
    (eid,) = add(team, seq, person(1))
    work()
    e = enrollment(team, eid)
    assert (e["sync_state"], e["error_code"]) == ("synced", None)
    assert {p["ContactId"] for p in crelate.records("pipeline")} == {e["ats_record_id"]}


def test_unknown_project_is_refused_when_the_sequence_is_saved(team: Team, clockwork: Sim) -> None:
    connect_clockwork(team)
    r = team.call("POST", "/sequences", json={**SEQUENCE, "sync": {"job_id": "no-such-project"}})
    assert r.status_code == 422 and r.json()["field"] == "sync.job_id"
    assert "Clockwork has no project" in r.json()["detail"]
    project = project_named(clockwork, "CFO Search - Northwind")
    assert make_sequence(team, job_id=project)


def test_job_check_when_the_ats_cannot_say(team: Team, crelate: Sim) -> None:
    job = job_named(crelate, "Senior Python Engineer")
    # No ATS connected: nothing to check the job against.
    r = team.call("POST", "/sequences", json={**SEQUENCE, "sync": {"job_id": job}})
    assert r.status_code == 422 and r.json()["field"] == "sync.job_id"
    assert "no ATS connected" in r.json()["detail"]
    connect(team)
    seq = make_sequence(team)
    crelate.faults(error_rate=1.0)  # Crelate down
    r = team.call("PATCH", f"/sequences/{seq}", json={"sync": {"job_id": job}})
    assert 400 <= r.status_code < 500, r.text
    assert r.json()["field"] == "sync.job_id" and "could not be reached" in r.json()["detail"]
    crelate.faults(error_rate=0)
    assert team.call("GET", f"/sequences/{seq}").json()["job_id"] is None
    # Saving other settings of a sequence whose job is unchanged does not ask the ATS.
    assert team.call("PATCH", f"/sequences/{seq}", json={"sync": {"job_id": job}}).is_success
    crelate.faults(error_rate=1.0)
    same = team.call(
        "PATCH", f"/sequences/{seq}", json={"name": "Renamed", "sync": {"job_id": job}}
    )
    assert same.status_code == 200, same.text
    crelate.faults(error_rate=0)


def test_the_syncing_tab_checks_the_job_as_the_api_does(team: Team, crelate: Sim, db: Any) -> None:
    import html

    connect(team)
    seq = make_sequence(team)
    web = team.client
    sign_in_owner(team, db)
    form = {"csrf_token": web_csrf(team, f"/sequences/{seq}/syncing"), "sync_enabled": "on"}
    bogus = web.post(
        f"/sequences/{seq}/syncing", data={**form, "job_id": "nope"}, follow_redirects=False
    )
    assert bogus.status_code == 422
    assert 'Crelate has no job "nope"' in html.unescape(bogus.text)
    assert 'id="e-job_id"' in bogus.text  # shown on the job picker itself
    job = job_named(crelate, "VP of Sales")
    saved = web.post(
        f"/sequences/{seq}/syncing", data={**form, "job_id": job}, follow_redirects=False
    )
    assert saved.status_code == 303, saved.text
    assert team.call("GET", f"/sequences/{seq}").json()["job_id"] == job


def test_the_job_is_checked_with_no_transaction_open(
    team: Team, crelate: Sim, db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite: every open transaction holds the write lock")
    import sqlite3

    from outbound.service import sequences

    connect(team)
    real = sequences._list_jobs
    seen = []

    def list_jobs_while_another_writer_waits(*args: Any) -> Any:
        other = sqlite3.connect(db.engine.url.database, timeout=0.2, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")  # "database is locked" if a transaction is open
            other.execute("ROLLBACK")
        finally:
            other.close()
        seen.append(args[0])
        return real(*args)

    monkeypatch.setattr(sequences, "_list_jobs", list_jobs_while_another_writer_waits)
    job = job_named(crelate, "Senior Python Engineer")
    seq = make_sequence(team, job_id=job)
    other_job = job_named(crelate, "VP of Sales")
    patched = team.call("PATCH", f"/sequences/{seq}", json={"sync": {"job_id": other_job}})
    assert patched.status_code == 200, patched.text
    assert seen == ["crelate", "crelate"]


def test_job_deleted_in_the_ats_later_says_so_plainly(team: Team, crelate: Sim, work: Any) -> None:
    connect(team)
    job_id = job_named(crelate, "Senior Python Engineer")
    seq = make_sequence(team, job_id=job_id)
    crelate.reset()  # a fresh organisation: the job the sequence names is gone
    (eid,) = add(team, seq, person(1))
    work()
    e = enrollment(team, eid)
    assert e["sync_state"] == "failed" and e["error_code"] == "sync_error"
    assert (
        e["error_message"].startswith('The job "')
        and "was not found in Crelate" in (e["error_message"])
    )
    # The job id is a random UUID and may itself contain "404": only the words are checked.
    words = e["error_message"].replace(job_id, "<job>")
    assert not re.search(r"\b404\b", words) and "/api3" not in words
    (record,) = ats_contacts(crelate, "cand1@talent.example.com")
    assert e["ats_record_id"] == record["Id"]  # the record it made is shown, not orphaned
    assert crelate.records("pipeline") == []


def test_project_deleted_in_clockwork_later_says_so_plainly(
    team: Team, clockwork: Sim, work: Any
) -> None:
    connect_clockwork(team)
    seq = make_sequence(team, job_id=project_named(clockwork, "CFO Search - Northwind"))
    clockwork.reset()  # every project id is new: the sequence's project is gone
    (eid,) = add(team, seq, person(1))
    work()
    e = enrollment(team, eid)
    assert e["sync_state"] == "failed" and e["error_code"] == "sync_error"
    assert e["error_message"].startswith('The project "')
    assert "was not found in Clockwork" in e["error_message"]
    (record,) = people_with(clockwork, "cand1@talent.example.com")
    assert e["ats_record_id"] == record["id"]
    assert clockwork.records("candidacies") == []


# -- 5. A resync that queues nothing returns a batch that reports 0 of 0 --------------------
@pytest.mark.parametrize("target", [None, "one"])
def test_resync_that_queues_nothing_reports_zero_of_zero(
    team: Team, crelate: Sim, work: Any, target: str | None
) -> None:
    connect(team)
    seq = make_sequence(team)
    (eid,) = add(team, seq, person(1))
    work()
    body = {} if target is None else {"enrollment_ids": [eid]}
    r = team.call("POST", f"/sequences/{seq}/resync", json=body).json()
    assert r["queued"] == 0 and r["skipped_already_synced"] == 1
    progress = team.call("GET", f"/sync-batches/{r['batch_id']}")
    assert progress.status_code == 200, progress.text
    assert progress.json() == {"total": 0, "done": 0, "failed": 0, "pending": 0}
    assert team.call("GET", "/sync-batches/not-a-batch").status_code == 404


def test_switching_ats_never_writes_into_the_new_one_silently(
    team: Team, crelate: Sim, clockwork: Sim, work: Any
) -> None:
    from tests.test_sync_clockwork import connect as connect_clockwork
    from tests.test_sync_clockwork import people_with

    connect(team)
    assert team.call("PATCH", "/settings", json={"sync_mode": "on_reply"}).status_code == 200
    seq = make_sequence(team)
    (eid,) = add(team, seq, person(1))
    assert team.call("DELETE", "/connection").status_code == 200
    connect_clockwork(team)
    r = team.call("POST", f"/enrollments/{eid}/events", json={"kind": "replied", "subject": "Re"})
    assert r.status_code in (200, 201), r.text
    work()
    held = enrollment(team, eid)
    assert held["error_code"] == "ats_changed" and "resync" in held["error_message"]
    assert people_with(clockwork, "cand1@talent.example.com") == []  # nothing written there
    assert ats_contacts(crelate, "cand1@talent.example.com") == []  # nor into the old one
    # Resync with the current settings moves it explicitly: now it syncs to Clockwork.
    assert team.call("POST", f"/sequences/{seq}/resync", json={}).status_code == 202
    work()
    moved = enrollment(team, eid)
    (person_record,) = people_with(clockwork, "cand1@talent.example.com")
    assert moved["sync_state"] == "synced" and moved["ats_record_id"] == person_record["id"]


def test_the_syncing_tab_keeps_the_job_when_the_ats_cannot_list_jobs(
    team: Team, crelate: Sim, db: Any
) -> None:
    """Crelate down while the tab is opened: the sequence's job stays the selected option
    (named by its id), so that the page never shows "Account default" for a sequence that
    has a job, and nothing is cleared by looking at it."""
    connect(team)
    seq = make_sequence(team)
    job = job_named(crelate, "VP of Sales")
    patched = team.call("PATCH", f"/sequences/{seq}", json={"sync": {"job_id": job}})
    assert patched.status_code == 200, patched.text
    web = team.client
    sign_in_owner(team, db)
    crelate.faults(error_rate=1.0)
    page = web.get(f"/sequences/{seq}/syncing").text
    start = page.index('name="job_id"')
    picker = page[start : page.index("</select>", start)]
    selected = re.search(r'<option value="([^"]*)"\s*selected[^>]*>([^<]*)<', picker)
    assert selected and selected.group(1) == job, picker
    assert "could not be loaded" in selected.group(2)
