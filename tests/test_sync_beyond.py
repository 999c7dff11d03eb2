"""Issue 5, beyond the guides: read-back, opt-in backfill and re-sync, dry run, bulk progress."""

from __future__ import annotations

from typing import Any

from tests.conftest import Sim, Team
from tests.test_api_core import make_sequence
from tests.test_sync_clockwork import connect as connect_clockwork
from tests.test_sync_crelate import add as add_contacts
from tests.test_sync_crelate import ats_contacts, connect, enrollment, person


def test_clockwork_do_not_contact_is_read_back(team: Team, clockwork: Sim, work: Any) -> None:
    connect_clockwork(team)
    team.call("PATCH", "/settings", json={"dedup_enabled": False})  # read-back still applies
    seq = make_sequence(team)
    hank, other = add_contacts(
        team,
        seq,
        {"email": "hank.offlimits@example.com", "first_name": "Hank", "last_name": "O"},
        person(1),
    )
    work()
    e = enrollment(team, hank)
    assert e["state"] == "do_not_contact" and e["error_code"] == "do_not_contact"
    assert "do-not-contact in Clockwork" in e["error_message"]
    # A reply cannot resurrect the contact into the sequence.
    team.call("POST", f"/enrollments/{hank}/events", json={"kind": "replied"})
    assert enrollment(team, hank)["state"] == "do_not_contact"
    assert enrollment(team, other)["state"] == "active"


def test_crelate_do_not_contact_tag_from_settings(team: Team, crelate: Sim, work: Any) -> None:
    connect(team)
    seq = make_sequence(team)
    (before,) = add_contacts(
        team, seq, {"email": "ivy.offlimits@example.com", "first_name": "Ivy", "last_name": "O"}
    )
    work()
    assert enrollment(team, before)["error_message"] == "Exists in Crelate"  # no tag chosen yet
    team.call("PATCH", "/settings", json={"do_not_contact_tag": "Do Not Contact"})
    other = make_sequence(team)
    (after,) = add_contacts(
        team, other, {"email": "ivy.offlimits@example.com", "first_name": "Ivy", "last_name": "O"}
    )
    work()
    e = enrollment(team, after)
    assert e["state"] == "do_not_contact" and '"Do Not Contact"' in e["error_message"]


def test_backfill_activity_is_opt_in(team: Team, crelate: Sim, work: Any) -> None:
    seq = make_sequence(team)
    a, b = add_contacts(team, seq, person("a"), person("b"))
    for eid in (a, b):
        team.call("POST", f"/enrollments/{eid}/events", json={"kind": "sent", "subject": "Old"})
    connect(team)
    plain = team.call("POST", f"/sequences/{seq}/resync", json={"enrollment_ids": [a]}).json()
    opted = team.call(
        "POST", f"/sequences/{seq}/resync", json={"enrollment_ids": [b], "backfill_activity": True}
    ).json()
    assert plain["queued"] == opted["queued"] == 1
    work()
    parents = [x["ParentId"]["Id"] for x in crelate.records("activities")]
    assert parents == [enrollment(team, b)["ats_record_id"]]
    # Asking again never logs the same email twice.
    team.call(
        "POST",
        f"/sequences/{seq}/resync",
        json={"enrollment_ids": [b], "backfill_activity": True, "apply_current_settings": True},
    )
    work()
    assert len(crelate.records("activities")) == 1


def test_resync_after_mapping_change_updates_the_same_record(
    team: Team, crelate: Sim, work: Any
) -> None:
    connect(team)
    seq = make_sequence(team)
    (eid,) = add_contacts(team, seq, person(1, title="CTO"))
    work()
    record = enrollment(team, eid)["ats_record_id"]
    team.call(
        "PATCH", "/settings", json={"field_mapping": [{"source": "title", "target": "Description"}]}
    )
    default = team.call("POST", f"/sequences/{seq}/resync", json={}).json()
    assert default["queued"] == 0  # the guides' behaviour: synced contacts are not touched
    opted = team.call(
        "POST", f"/sequences/{seq}/resync", json={"apply_current_settings": True}
    ).json()
    assert opted["queued"] == 1
    work()
    (c,) = ats_contacts(crelate, "cand1@talent.example.com")
    assert c["Id"] == record and c["Description"] == "CTO"
    assert enrollment(team, eid)["sync_state"] == "synced"


def test_dry_run_writes_nothing(team: Team, crelate: Sim, work: Any) -> None:
    connect(team)
    job = crelate.records("jobs")[0]["Id"]
    seq = make_sequence(team, job_id=job)
    team.call("PATCH", "/settings", json={"sync_mode": "on_reply"})
    new, existing = add_contacts(
        team,
        seq,
        person(1, title="CTO"),
        {"email": "dana.existing@example.com", "first_name": "Dana", "last_name": "E"},
    )
    work()
    before = len(crelate.records("contacts"))
    crelate.http.post("/_admin/stats/reset")
    plan = team.call("GET", f"/enrollments/{new}/dry-run").json()
    assert plan["action"] == "create record"
    entity = plan["writes"]["POST /contacts"]["entity"]
    assert entity["EmailAddresses_Work"]["Value"] == "cand1@talent.example.com"
    assert entity["CurrentPosition"]["JobTitle"] == "CTO"
    assert plan["writes"]["attach to job/project"] == job
    link = team.call("GET", f"/enrollments/{existing}/dry-run").json()
    assert link["action"] == "link existing record"
    assert len(crelate.records("contacts")) == before
    assert set(crelate.stats()["by_endpoint"]) == {"GET /api3/contacts"}  # reads only


def test_bulk_resync_of_10000_shows_progress(
    team: Team, crelate: Sim, db: Any, settings: Any
) -> None:
    import asyncio

    from outbound.sync.worker import Worker

    seq = make_sequence(team)
    people = [
        {"email": f"r{i}@resync.example.com", "first_name": "R", "last_name": f"{i}"}
        for i in range(10_000)
    ]
    team.call("POST", f"/sequences/{seq}/contacts", json={"contacts": people})
    connect(team)
    batch = team.call("POST", f"/sequences/{seq}/resync", json={}).json()
    assert batch["queued"] == 10_000
    url = f"/sync-batches/{batch['batch_id']}"
    assert team.call("GET", url).json() == {
        "total": 10_000,
        "done": 0,
        "failed": 0,
        "pending": 10_000,
    }

    async def some_work() -> None:  # run the worker until a few hundred are through
        worker = Worker(db, settings)
        task = asyncio.create_task(worker.run(poll_interval=0.05))
        while team.call("GET", url).json()["done"] < 200:
            await asyncio.sleep(0.2)
        worker.stop()
        await task

    asyncio.run(some_work())
    progress = team.call("GET", url).json()
    assert 200 <= progress["done"] < 10_000
    assert progress["done"] + progress["pending"] + progress["failed"] == 10_000
    assert progress["failed"] == 0
