"""Issue 5 rules, end to end against the Crelate simulator over real HTTP."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import CRELATE_KEYS, Sim, Team
from tests.test_api_core import make_sequence


def connect(team: Team, role: str = "owner", who: str = "alice") -> dict[str, Any]:
    r = team.call(
        "PUT",
        "/connection",
        role,
        json={"provider": "crelate", "credentials": {"api_key": CRELATE_KEYS[who]}},
    )
    assert r.status_code == 200, r.text
    return dict(r.json())


def add(team: Team, seq_id: int, *people: dict[str, Any], role: str = "owner") -> list[int]:
    r = team.call("POST", f"/sequences/{seq_id}/contacts", role, json={"contacts": list(people)})
    assert r.status_code == 201, r.text
    return list(r.json()["enrollment_ids"])


def person(i: int | str, **extra: Any) -> dict[str, Any]:
    return {
        "email": f"cand{i}@talent.example.com",
        "first_name": f"Cand{i}",
        "last_name": "Doe",
        **extra,
    }


def enrollment(team: Team, eid: int) -> dict[str, Any]:
    return dict(team.call("GET", f"/enrollments/{eid}").json())


def ats_contacts(sim: Sim, email: str) -> list[dict[str, Any]]:
    return [
        c
        for c in sim.records("contacts")
        if any(
            isinstance(v, dict) and str(v.get("Value", "")).lower() == email
            for k, v in c.items()
            if k.startswith("EmailAddresses_")
        )
    ]


def job_named(sim: Sim, name: str) -> str:
    return next(j["Id"] for j in sim.records("jobs") if j["Name"] == name)


def test_connect_checks_credentials_first(team: Team, crelate: Sim) -> None:
    bad = team.call(
        "PUT", "/connection", json={"provider": "crelate", "credentials": {"api_key": "wrong"}}
    )
    assert bad.status_code == 400
    assert bad.json()["field"] == "credentials" and "rejected" in bad.json()["detail"]
    assert team.call("GET", "/connection").status_code == 404  # nothing saved
    conn = connect(team)
    assert conn["provider"] == "crelate" and conn["ats_user_name"] == "Alice Recruiter"


def test_sync_on_add_creates_candidate_as_connected_user(
    team: Team, crelate: Sim, work: Any
) -> None:
    connect(team)
    seq = make_sequence(team)
    (eid,) = add(
        team,
        seq,
        person(
            1, title="Engineer", phone="+14155550101", linkedin_url="https://linkedin.com/in/cand1"
        ),
    )
    work()
    e = enrollment(team, eid)
    assert e["sync_state"] == "synced" and e["error_code"] is None
    (c,) = ats_contacts(crelate, "cand1@talent.example.com")
    assert c["Id"] == e["ats_record_id"]
    assert c["CreatedById"]["Title"] == "Alice Recruiter"
    assert c["RecordType"] == 1  # Candidate
    assert c["CurrentPosition"]["JobTitle"] == "Engineer"
    assert c["Websites_LinkedIn"]["Value"] == "https://linkedin.com/in/cand1"


def test_reconnecting_as_someone_else_keeps_earlier_attribution(
    team: Team, crelate: Sim, work: Any
) -> None:
    connect(team, who="alice")
    seq = make_sequence(team)
    add(team, seq, person(1))
    work()
    assert team.call("DELETE", "/connection").json()["disconnected_at"] is not None
    assert connect(team, who="bob")["ats_user_name"] == "Bob Manager"
    add(team, seq, person(2))
    work()
    creators = {c["FirstName"]: c["CreatedById"]["Title"] for c in crelate.records("contacts")}
    assert creators["Cand1"] == "Alice Recruiter"
    assert creators["Cand2"] == "Bob Manager"


@pytest.mark.parametrize(
    ("mode", "synced_on_add", "synced_on_reply"),
    [("off", False, False), ("on_add", True, True), ("on_reply", False, True)],
)
def test_sync_modes(
    team: Team, crelate: Sim, work: Any, mode: str, synced_on_add: bool, synced_on_reply: bool
) -> None:
    connect(team)
    assert team.call("PATCH", "/settings", json={"sync_mode": mode}).status_code == 200
    seq = make_sequence(team)
    (eid,) = add(team, seq, person(1))
    work()
    assert bool(ats_contacts(crelate, "cand1@talent.example.com")) is synced_on_add
    team.call(
        "POST",
        f"/enrollments/{eid}/events",
        json={"kind": "replied", "subject": "Re: Hi", "body": "Sounds great"},
    )
    work()
    assert bool(ats_contacts(crelate, "cand1@talent.example.com")) is synced_on_reply
    assert enrollment(team, eid)["sync_state"] == ("synced" if synced_on_reply else "not_synced")


def test_sync_only_on_interest_is_opt_in(team: Team, crelate: Sim, work: Any) -> None:
    connect(team)
    team.call("PATCH", "/settings", json={"sync_mode": "on_interested"})
    seq = make_sequence(team)
    (eid,) = add(team, seq, person(1))
    team.call("POST", f"/enrollments/{eid}/events", json={"kind": "replied"})
    work()
    assert ats_contacts(crelate, "cand1@talent.example.com") == []
    team.call("POST", f"/enrollments/{eid}/sentiment", json={"sentiment": "interested"})
    work()
    assert len(ats_contacts(crelate, "cand1@talent.example.com")) == 1


@pytest.mark.parametrize(
    ("record_type", "bit"),
    [("candidate", 1), ("client_contact", 2), ("lead_contact", 4), ("employee", 8)],
)
def test_record_type_account_default_and_sequence_override(
    team: Team, crelate: Sim, work: Any, record_type: str, bit: int
) -> None:
    connect(team)
    team.call("PATCH", "/settings", json={"record_type": record_type})
    default_seq = make_sequence(team)
    override_seq = make_sequence(team, record_type="lead_contact")
    add(team, default_seq, person("a"))
    add(team, override_seq, person("b"))
    work()
    (a,) = ats_contacts(crelate, "canda@talent.example.com")
    (b,) = ats_contacts(crelate, "candb@talent.example.com")
    assert a["RecordType"] == bit
    assert b["RecordType"] == 4


def test_sequence_sync_toggle_off(team: Team, crelate: Sim, work: Any) -> None:
    connect(team)
    seq = make_sequence(team, sync_enabled=False)
    (eid,) = add(team, seq, person(1))
    team.call("POST", f"/enrollments/{eid}/events", json={"kind": "sent", "subject": "Hi"})
    team.call("POST", f"/enrollments/{eid}/events", json={"kind": "replied"})
    work()
    assert ats_contacts(crelate, "cand1@talent.example.com") == []
    assert crelate.records("activities") == []


def test_settings_apply_as_they_were_when_added(team: Team, crelate: Sim, work: Any) -> None:
    connect(team)
    python_job = job_named(crelate, "Senior Python Engineer")
    sales_job = job_named(crelate, "VP of Sales")
    seq = make_sequence(team, job_id=python_job)
    (first,) = add(team, seq, person(1))
    team.call("PATCH", f"/sequences/{seq}", json={"sync": {"job_id": sales_job}})
    (second,) = add(team, seq, person(2))
    work()
    on_job = {(p["JobId"], p["ContactId"]) for p in crelate.records("pipeline")}
    assert (python_job, enrollment(team, first)["ats_record_id"]) in on_job
    assert (sales_job, enrollment(team, second)["ats_record_id"]) in on_job
    assert len(on_job) == 2


def test_default_job_per_user_and_sequence_override(team: Team, crelate: Sim, work: Any) -> None:
    connect(team)
    default_job = job_named(crelate, "Staff Data Scientist")
    override_job = job_named(crelate, "Head of Talent")
    team.call("PATCH", "/settings", json={"default_job_id": default_job})
    plain, overridden = make_sequence(team), make_sequence(team, job_id=override_job)
    (a,) = add(team, plain, person("a"))
    (b,) = add(team, overridden, person("b"))
    work()
    on_job = {(p["JobId"], p["ContactId"]) for p in crelate.records("pipeline")}
    assert on_job == {
        (default_job, enrollment(team, a)["ats_record_id"]),
        (override_job, enrollment(team, b)["ats_record_id"]),
    }


def test_unknown_job_is_a_permanent_error_on_the_contact(
    team: Team, crelate: Sim, work: Any
) -> None:
    connect(team)
    # An unknown job is refused when the sequence is saved (tests/test_guide_rules.py); here
    # the job goes away in Crelate afterwards (a fresh organisation: every job id is new).
    seq = make_sequence(team, job_id=job_named(crelate, "Senior Python Engineer"))
    crelate.reset()
    (eid,) = add(team, seq, person(1))
    work()
    e = enrollment(team, eid)
    assert e["sync_state"] == "failed" and e["error_code"] == "sync_error"
    assert "not found" in e["error_message"]
    needs = team.call("GET", f"/sequences/{seq}/contacts", params={"needs_attention": True}).json()
    assert [n["id"] for n in needs] == [eid]
    cleared = team.call("POST", f"/enrollments/{eid}/clear-error").json()
    assert cleared["error_code"] is None
    assert (
        team.call("GET", f"/sequences/{seq}/contacts", params={"needs_attention": True}).json()
        == []
    )


def test_dedup_on_warns_and_links_existing(team: Team, crelate: Sim, work: Any) -> None:
    connect(team)
    seq = make_sequence(team)
    before = len(crelate.records("contacts"))
    existing, new = add(
        team,
        seq,
        {"email": "Dana.Existing@example.com", "first_name": "Dana", "last_name": "E"},
        person(1),
    )
    work()
    e = enrollment(team, existing)
    assert e["error_message"] == "Exists in Crelate"
    (dana,) = ats_contacts(crelate, "dana.existing@example.com")
    assert e["ats_record_id"] == dana["Id"] and e["sync_state"] == "synced"  # linked, not created
    assert enrollment(team, new)["error_code"] is None
    assert len(crelate.records("contacts")) == before + 1
    assert crelate.duplicates() == 0


def test_with_dedup_on_a_new_contact_costs_one_lookup(team: Team, crelate: Sim, work: Any) -> None:
    """Issue 15: the duplicate check and the look-up before creating are one question: with
    deduplication on (the default) a new contact costs a search and a create, not two
    searches and a create; an existing one is still flagged (the test above)."""
    connect(team)
    seq = make_sequence(team)
    searches_before = crelate.stats()["by_endpoint"].get("GET /api3/contacts", 0)
    add(team, seq, *(person(i) for i in range(1, 6)))
    work()
    by_endpoint = crelate.stats()["by_endpoint"]
    assert by_endpoint.get("GET /api3/contacts", 0) - searches_before == 5
    assert len([c for c in crelate.records("contacts") if "talent.example.com" in str(c)]) == 5


def test_dedup_off_no_warning_but_still_no_duplicate(team: Team, crelate: Sim, work: Any) -> None:
    connect(team)
    team.call("PATCH", "/settings", json={"dedup_enabled": False})
    seq = make_sequence(team)
    (eid,) = add(
        team, seq, {"email": "evan.known@example.com", "first_name": "Evan", "last_name": "K"}
    )
    work()
    e = enrollment(team, eid)
    assert e["error_code"] is None and e["sync_state"] == "synced"
    assert len(ats_contacts(crelate, "evan.known@example.com")) == 1


def test_own_records_are_never_reported_as_existing(team: Team, crelate: Sim, work: Any) -> None:
    connect(team)
    first, second = make_sequence(team), make_sequence(team)
    (a,) = add(team, first, person(1))
    work()
    (b,) = add(team, second, person(1))  # same person, second sequence: Outbound made the record
    work()
    assert enrollment(team, a)["error_code"] is None
    assert enrollment(team, b)["error_code"] is None
    assert len(ats_contacts(crelate, "cand1@talent.example.com")) == 1


def test_activity_tracking_logs_sends_and_replies_once(team: Team, crelate: Sim, work: Any) -> None:
    connect(team)
    seq = make_sequence(team)
    (eid,) = add(team, seq, person(1))
    for kind, subject in (
        ("sent", "Hi Cand1"),
        ("opened", None),
        ("sent", "Re: Hi Cand1"),
        ("replied", "Re: Hi Cand1"),
    ):
        team.call(
            "POST",
            f"/enrollments/{eid}/events",
            json={"kind": kind, "subject": subject, "body": "text"},
        )
    work()
    record = enrollment(team, eid)["ats_record_id"]
    acts = [a for a in crelate.records("activities") if a["ParentId"]["Id"] == record]
    assert sorted(a["Subject"] for a in acts) == [
        "Email reply: Re: Hi Cand1",
        "Email sent: Hi Cand1",
        "Email sent: Re: Hi Cand1",
    ]
    email_type = next(t["Id"] for t in crelate.records("activity_types") if t["Name"] == "Email")
    assert {a["VerbId"]["Id"] for a in acts} == {email_type}


def test_activity_tracking_off_logs_nothing(team: Team, crelate: Sim, work: Any) -> None:
    connect(team)
    team.call("PATCH", "/settings", json={"activity_tracking": False})
    seq = make_sequence(team)
    (eid,) = add(team, seq, person(1))
    team.call("POST", f"/enrollments/{eid}/events", json={"kind": "sent", "subject": "Hi"})
    work()
    assert len(ats_contacts(crelate, "cand1@talent.example.com")) == 1
    assert crelate.records("activities") == []


def test_resync_backfills_only_unsynced_contacts_without_old_activity(
    team: Team, crelate: Sim, work: Any
) -> None:
    seq = make_sequence(team)
    early = add(team, seq, *[person(i) for i in range(5)])
    team.call("POST", f"/enrollments/{early[0]}/events", json={"kind": "sent", "subject": "old"})
    work()
    assert ats_contacts(crelate, "cand0@talent.example.com") == []
    connect(team)
    (later,) = add(team, seq, person(9))
    work()
    created_before = len(crelate.records("contacts"))
    one = team.call("POST", f"/sequences/{seq}/resync", json={"enrollment_ids": [early[0]]}).json()
    assert one["queued"] == 1
    bulk = team.call("POST", f"/sequences/{seq}/resync", json={}).json()
    assert bulk["queued"] == 4 and bulk["skipped_already_synced"] == 2
    work()
    progress = team.call("GET", f"/sync-batches/{bulk['batch_id']}").json()
    assert progress == {"total": 4, "done": 4, "failed": 0, "pending": 0}
    assert len(crelate.records("contacts")) == created_before + 5
    assert all(enrollment(team, e)["sync_state"] == "synced" for e in [*early, later])
    assert crelate.records("activities") == []  # activity before the connection: not backfilled
    again = team.call("POST", f"/sequences/{seq}/resync", json={}).json()
    assert again["queued"] == 0 and again["skipped_already_synced"] == 6


def test_custom_field_mapping_applies_to_later_contacts(
    team: Team, crelate: Sim, work: Any
) -> None:
    connect(team)
    fields = team.call("GET", "/connection/fields").json()
    assert {"name": "CustomField2", "label": "Visa Status", "custom": True} in fields
    seq = make_sequence(team)
    add(team, seq, person(1, custom_variables={"visa": "H1B"}))
    work()
    team.call(
        "PATCH",
        "/settings",
        json={
            "field_mapping": [
                {"source": "custom.visa", "target": "CustomField2"},
                {"source": "company", "target": "CustomField3"},
            ]
        },
    )
    add(team, seq, person(2, company="Initech", custom_variables={"visa": "Citizen"}))
    work()
    (one,) = ats_contacts(crelate, "cand1@talent.example.com")
    (two,) = ats_contacts(crelate, "cand2@talent.example.com")
    assert "CustomField2" not in one
    assert two["CustomField2"] == "Citizen" and two["CustomField3"] == "Initech"


def test_mapping_the_ats_rejects_shows_on_the_contact(team: Team, crelate: Sim, work: Any) -> None:
    connect(team)
    team.call(
        "PATCH",
        "/settings",
        json={"field_mapping": [{"source": "phone", "target": "PhoneNumbers_Mobile"}]},
    )
    seq = make_sequence(team)
    (eid,) = add(team, seq, person(1, phone="555-0100"))
    work()
    e = enrollment(team, eid)
    assert e["sync_state"] == "failed" and "not a valid phone number" in e["error_message"]


def test_fill_blank_policy_keeps_existing_values(team: Team, crelate: Sim, work: Any) -> None:
    connect(team)
    team.call(
        "PATCH",
        "/settings",
        json={
            "field_mapping": [
                {"source": "first_name", "target": "FirstName", "policy": "fill_blank"},
                {"source": "title", "target": "Description", "policy": "always"},
            ]
        },
    )
    seq = make_sequence(team)
    add(
        team,
        seq,
        {
            "email": "dana.existing@example.com",
            "first_name": "Danielle",
            "last_name": "E",
            "title": "CTO",
        },
    )
    work()
    (dana,) = ats_contacts(crelate, "dana.existing@example.com")
    assert dana["FirstName"] == "Dana" and dana["Description"] == "CTO"


def test_statuses_advance_on_the_job(team: Team, crelate: Sim, work: Any) -> None:
    connect(team)
    job = job_named(crelate, "Senior Python Engineer")
    seq = make_sequence(team, job_id=job)
    (eid,) = add(team, seq, person(1))
    stages = {s["Id"]: s["Name"] for s in crelate.records("statuses")}

    def stage_now() -> str:
        record = enrollment(team, eid)["ats_record_id"]
        (entry,) = [p for p in crelate.records("pipeline") if p["ContactId"] == record]
        return stages[entry["StatusId"]]

    work()
    assert stage_now() == "Maybe"
    team.call("POST", f"/enrollments/{eid}/events", json={"kind": "sent", "subject": "Hi"})
    work()
    assert stage_now() == "Messaged"
    team.call("POST", f"/enrollments/{eid}/events", json={"kind": "sent", "subject": "Re: Hi"})
    team.call("POST", f"/enrollments/{eid}/events", json={"kind": "replied"})
    work()
    assert stage_now() == "Replied"
    team.call("POST", f"/enrollments/{eid}/sentiment", json={"sentiment": "not_interested"})
    work()
    assert stage_now() == "Not Interested"
    team.call("POST", f"/enrollments/{eid}/sentiment", json={"sentiment": "interested"})
    work()
    assert stage_now() == "Interested"


def test_missing_stage_changes_nothing_and_says_why(team: Team, crelate: Sim, work: Any) -> None:
    crelate.reset("bare")
    connect(team)
    job = job_named(crelate, "Senior Python Engineer")
    seq = make_sequence(team, job_id=job)
    (eid,) = add(team, seq, person(1))
    team.call("POST", f"/enrollments/{eid}/events", json={"kind": "sent", "subject": "Hi"})
    work()
    (entry,) = crelate.records("pipeline")
    assert len(entry["History"]) == 1  # attached at the first stage, never moved
    e = enrollment(team, eid)
    assert e["error_code"] == "stage_missing" and '"Messaged"' in e["error_message"]


def test_import_from_a_crelate_list(team: Team, crelate: Sim, work: Any) -> None:
    connect(team)
    lists = team.call("GET", "/connection/lists").json()
    q4 = next(item for item in lists if item["name"] == "Q4 Python Engineers")
    seq = make_sequence(team)
    add(team, seq, {"email": "listed0@prospects.example.com", "first_name": "L", "last_name": "P"})
    started = team.call("POST", f"/sequences/{seq}/imports", json={"list_id": q4["id"]})
    assert started.status_code == 202 and started.json()["status"] == "pending"
    work()
    result = team.call("GET", f"/imports/{started.json()['id']}").json()
    assert result["status"] == "done"
    assert result["total"] == 16
    assert result["skipped_no_email"] == 3
    assert result["already_present"] == 1
    assert result["added"] == 12
    members = team.call("GET", f"/sequences/{seq}/contacts", params={"limit": 100}).json()
    assert len(members) == 13


def test_timeline_lists_every_ats_call(team: Team, crelate: Sim, work: Any) -> None:
    connect(team)
    seq = make_sequence(team)
    (eid,) = add(team, seq, person(1))
    work()
    calls = team.call("GET", f"/enrollments/{eid}/timeline").json()
    # One look-up (the duplicate check and the look-up before creating are one), one create.
    assert [(c["method"], c["path"]) for c in calls] == [
        ("GET", "/api3/contacts"),
        ("POST", "/api3/contacts"),
    ]
    assert all(CRELATE_KEYS["alice"] not in str(c) for c in calls)


def test_auth_failure_pauses_connection_and_asks_for_reconnect(
    team: Team, crelate: Sim, work: Any, db: Any
) -> None:
    connect(team)
    seq = make_sequence(team)
    # The key is revoked in Crelate after connecting.
    crelate.reset()
    from outbound.crypto import SecretBox
    from outbound.service.connections import get_connection

    with db.session() as session:
        conn = get_connection(session, team.user_ids["owner"])
        box = SecretBox(team.client.app.state.settings.fernet_key)
        conn.credentials_encrypted = box.seal({"api_key": "revokedkey"})
    (eid,) = add(team, seq, person(1))
    work()
    c = team.call("GET", "/connection").json()
    assert c["status"] == "reconnect_needed" and "reconnect" in c["status_reason"]
    calls_while_paused = crelate.stats()["requests"]
    work()
    assert crelate.stats()["requests"] == calls_while_paused  # not hammering the ATS
    connect(team)  # reconnect: the parked work resumes
    work()
    assert enrollment(team, eid)["sync_state"] == "synced"


def test_failing_connection_is_flagged_once_until_it_recovers(
    team: Team, crelate: Sim, db: Any, settings: Any
) -> None:
    from tests.conftest import run_worker

    connect(team)
    seq = make_sequence(team)
    ids = add(team, seq, *[person(i) for i in range(3)])
    crelate.faults(error_rate=1.0)
    run_worker(db, settings.model_copy(update={"max_attempts": 2}))
    flagged = team.call("GET", "/connection").json()["failing_since"]
    assert flagged is not None
    for eid in ids:
        e = enrollment(team, eid)
        assert e["sync_state"] == "failed" and e["error_code"] == "ats_unreachable"
    crelate.faults(error_rate=0)
    resync = team.call("POST", f"/sequences/{seq}/resync", json={}).json()
    assert resync["queued"] == 3  # failed contacts can be retried with Resync
    run_worker(db, settings)
    assert team.call("GET", "/connection").json()["failing_since"] is None
    assert all(enrollment(team, eid)["sync_state"] == "synced" for eid in ids)


def test_worker_survives_credentials_it_cannot_decrypt(
    team: Team, crelate: Sim, db: Any, settings: Any, tmp_path: Any
) -> None:
    import asyncio

    from cryptography.fernet import Fernet

    from outbound.sync.worker import Worker

    connect(team)
    seq = make_sequence(team)
    (eid,) = add(team, seq, person(1))
    from outbound.settings import Settings

    # A fresh Settings: model_copy would carry over the cached (right) key.
    wrong_key = Settings(**{**settings.model_dump(), "secret_key": Fernet.generate_key().decode()})

    async def run_briefly() -> None:
        worker = Worker(db, wrong_key)
        worker.error_pause = 0.05
        task = asyncio.create_task(worker.run(poll_interval=0.05))
        await asyncio.sleep(0.5)
        assert not task.done()  # still running despite the errors
        worker.stop()
        await task

    asyncio.run(run_briefly())
    assert enrollment(team, eid)["sync_state"] == "pending"  # nothing lost, nothing half-done
    from tests.conftest import run_worker

    run_worker(db, settings)  # with the right key the same work completes
    assert enrollment(team, eid)["sync_state"] == "synced"


def test_database_outage_inside_a_job_is_retried_not_shown_on_the_contact(
    team: Team, crelate: Sim, work: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy.exc import OperationalError

    from outbound.sync import handlers

    connect(team)
    (eid,) = add(team, make_sequence(team), person(1))
    real = handlers.HANDLERS["check_and_sync"]
    calls = {"n": 0}

    async def database_drops_once(run: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 1:  # as when PostgreSQL restarts under the worker
            raise OperationalError(
                "UPDATE ats_links", {}, Exception("server closed the connection")
            )
        await real(run)

    monkeypatch.setitem(handlers.HANDLERS, "check_and_sync", database_drops_once)
    work()
    got = enrollment(team, eid)
    assert (got["sync_state"], got["error_code"], calls["n"]) == ("synced", None, 2)
    assert len(ats_contacts(crelate, "cand1@talent.example.com")) == 1
