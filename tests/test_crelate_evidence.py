"""Crelate as the evidence says it answers (../shared/ats/evidence-audit.md), end to end: the
three contradicted behaviours (403, 500 validation, 409 duplicate) and the unknowns that gate
whole features, each under every simulator profile that stands for one of its variants."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from outbound.connectors.base import Connector, DuplicateRecord, PermanentError, PersonInput
from outbound.connectors.registry import make_connector
from outbound.settings import Settings
from outbound.sync.handlers import find_stage
from tests.conftest import CRELATE_KEYS, Sim, Team
from tests.test_api_core import make_sequence
from tests.test_sync_crelate import add, ats_contacts, connect, enrollment, job_named, person


def on_connector(settings: Settings, action: Callable[[Connector], Awaitable[Any]]) -> Any:
    async def go() -> Any:
        connector = make_connector("crelate", {"api_key": CRELATE_KEYS["alice"]}, settings)
        try:
            return await action(connector)
        finally:
            await connector.aclose()

    return asyncio.run(go())


def deny(crelate: Sim, *calls: str) -> None:
    crelate.http.put("/_admin/permissions", json={"deny": list(calls)}).raise_for_status()


def event(team: Team, eid: int, kind: str, **extra: Any) -> None:
    r = team.call("POST", f"/enrollments/{eid}/events", json={"kind": kind, **extra})
    assert r.status_code in (200, 201), r.text


# -- contradicted behaviours -------------------------------------------------------------------


def test_a_403_on_one_call_names_the_permission_and_keeps_the_connection(
    team: Team, crelate: Sim, work: Any
) -> None:
    connect(team)
    deny(crelate, "POST /activities")  # a role that may not write activities
    seq = make_sequence(team)
    (eid,) = add(team, seq, person(1))
    event(team, eid, "sent", subject="Hi Cand1", body="Hello")
    work()
    conn = team.call("GET", "/connection").json()
    assert conn["status"] == "active"  # no reconnect asked: it could not help
    e = enrollment(team, eid)
    assert e["sync_state"] == "synced"  # the rest of the sync went on
    assert ats_contacts(crelate, "cand1@talent.example.com")
    assert e["error_code"] == "ats_permission"
    assert "POST /activities" in e["error_message"] and "administrator" in e["error_message"]
    assert crelate.records("activities") == []


def test_a_validation_500_is_permanent_and_names_the_missing_field(
    settings: Settings, crelate: Sim
) -> None:
    async def post_without_last_name(c: Connector) -> None:
        await c.request("POST", "/contacts", json={"entity": {"FirstName": "Only"}})  # type: ignore[attr-defined]

    with pytest.raises(PermanentError) as refused:
        on_connector(settings, post_without_last_name)
    assert refused.value.retryable is False
    assert refused.value.field == "LastName" and "LastName is required" in refused.value.message


def test_crelates_duplicate_check_links_to_the_named_record(
    team: Team, crelate: Sim, work: Any
) -> None:
    connect(team)
    seq = make_sequence(team)
    (dana,) = [c for c in crelate.records("contacts") if c["FirstName"] == "Dana"]
    before = len(crelate.records("contacts"))
    # Same name, another email: Crelate refuses the create with 409 and names Dana's record.
    (eid,) = add(
        team,
        seq,
        {"email": "dana@new-employer.example", "first_name": "Dana", "last_name": "Existing"},
    )
    work()
    e = enrollment(team, eid)
    assert e["sync_state"] == "synced" and e["ats_record_id"] == dana["Id"]
    assert e["error_message"] == "Exists in Crelate"  # deduplication is on by default
    assert len(crelate.records("contacts")) == before  # no second record
    assert crelate.stats()["by_endpoint"].get("POST /api3/contacts") == 1  # and no loop


def test_duplicate_check_with_dedup_off_links_quietly(team: Team, crelate: Sim, work: Any) -> None:
    connect(team)
    team.call("PATCH", "/settings", json={"dedup_enabled": False})
    seq = make_sequence(team)
    (eid,) = add(
        team,
        seq,
        {"email": "evan@new-employer.example", "first_name": "Evan", "last_name": "Known"},
    )
    work()
    e = enrollment(team, eid)
    (evan,) = [c for c in crelate.records("contacts") if c["FirstName"] == "Evan"]
    assert e["ats_record_id"] == evan["Id"] and e["error_code"] is None


def test_duplicate_check_off_profile_creates_the_second_record(
    team: Team, crelate: Sim, work: Any
) -> None:
    crelate.profiles("duplicate_check_off")
    connect(team)
    team.call("PATCH", "/settings", json={"dedup_enabled": False})
    seq = make_sequence(team)
    (eid,) = add(
        team,
        seq,
        {"email": "evan@new-employer.example", "first_name": "Evan", "last_name": "Known"},
    )
    work()
    evans = [c for c in crelate.records("contacts") if c["FirstName"] == "Evan"]
    assert len(evans) == 2 and enrollment(team, eid)["ats_record_id"] in {c["Id"] for c in evans}


# -- unknowns that gate features -----------------------------------------------------------------


def test_connecting_needs_no_users_me_and_learns_the_owner(
    team: Team, crelate: Sim, work: Any
) -> None:
    crelate.profiles("no_users_me")
    conn = connect(team)
    assert conn["status"] == "active" and conn["ats_user_id"] == ""
    seq = make_sequence(team)
    add(team, seq, person(1))
    work()
    learned = team.call("GET", "/connection").json()
    (alice,) = [u for u in crelate.records("users") if u["Name"] == "Alice Recruiter"]
    assert learned["ats_user_id"] == alice["Id"]
    assert learned["ats_user_name"] == "Alice Recruiter"


@pytest.mark.parametrize("profile", ["stage_post", "history_empty_list"])
def test_an_existing_record_is_put_on_the_job(
    team: Team, crelate: Sim, work: Any, profile: str
) -> None:
    crelate.profiles(profile)  # default: history of a contact not on the job answers 404
    connect(team)
    job = job_named(crelate, "Senior Python Engineer")
    seq = make_sequence(team, job_id=job)
    (eid,) = add(
        team, seq, {"email": "evan.known@example.com", "first_name": "Evan", "last_name": "Known"}
    )
    work()
    e = enrollment(team, eid)
    assert e["sync_state"] == "synced", e
    assert (job, e["ats_record_id"]) in {
        (p["JobId"], p["ContactId"]) for p in crelate.records("pipeline")
    }


@pytest.mark.parametrize("profile", ["stage_post", "stage_put"])
def test_stages_advance_however_crelate_changes_them(
    team: Team, crelate: Sim, work: Any, profile: str
) -> None:
    crelate.profiles(profile)
    connect(team)
    job = job_named(crelate, "Senior Python Engineer")
    seq = make_sequence(team, job_id=job)
    (eid,) = add(team, seq, person(1))
    names = {s["Id"]: s["Name"] for s in crelate.records("statuses")}
    event(team, eid, "sent", subject="Hi")
    event(team, eid, "replied", subject="Re: Hi")
    work()
    (entry,) = crelate.records("pipeline")
    assert [h["Stage"]["Title"] for h in entry["History"]] == ["Maybe", "Messaged", "Replied"]
    assert names[entry["StatusId"]] == "Replied"
    assert enrollment(team, eid)["error_code"] is None


def test_no_email_activity_type_says_what_to_do(team: Team, crelate: Sim, work: Any) -> None:
    crelate.profiles("no_email_activity_type")
    connect(team)
    seq = make_sequence(team)
    (eid,) = add(team, seq, person(1))
    event(team, eid, "sent", subject="Hi")
    work()
    e = enrollment(team, eid)
    assert e["sync_state"] == "synced"
    assert 'no activity type named "Email"' in e["error_message"]
    assert "Integrations page" in e["error_message"]
    assert crelate.records("activities") == []
    # The user picks what logged emails are filed as; the next email is logged as that.
    call = next(t["Id"] for t in crelate.records("activity_types") if t["Name"] == "Call")
    assert team.call("PATCH", "/settings", json={"activity_type_id": call}).status_code == 200
    event(team, eid, "replied", subject="Re: Hi")
    work()
    (logged,) = crelate.records("activities")
    assert logged["VerbId"]["Id"] == call and logged["Subject"] == "Email reply: Re: Hi"


def test_forbidden_activity_types_name_the_permission(team: Team, crelate: Sim, work: Any) -> None:
    crelate.profiles("activitytypes_forbidden")
    connect(team)
    seq = make_sequence(team)
    (eid,) = add(team, seq, person(1))
    event(team, eid, "sent", subject="Hi")
    work()
    e = enrollment(team, eid)
    assert e["error_code"] == "ats_permission" and "GET /activitytypes" in e["error_message"]
    assert team.call("GET", "/connection").json()["status"] == "active"


def test_a_stage_created_after_the_miss_is_found(settings: Settings, crelate: Sim) -> None:
    crelate.reset("bare")
    statuses = crelate.server.app.state["store"].statuses  # the simulated organisation

    async def flow(c: Connector) -> tuple[Any, Any]:
        job = (await c.list_jobs())[0].id
        missing = await find_stage(c, job, "Messaged")
        first = statuses[0]
        statuses.append({**first, "Id": "5e1f0000-0000-0000-0000-000000000001", "Name": "Messaged"})
        return missing, await find_stage(c, job, "Messaged")

    missing, found = on_connector(settings, flow)
    assert missing is None and found is not None and found.name == "Messaged"


def test_prospect_text_is_escaped_in_crelates_html(team: Team, crelate: Sim, work: Any) -> None:
    connect(team)
    seq = make_sequence(team)
    (eid,) = add(team, seq, person(1))
    event(team, eid, "replied", subject="Re: Hi", body='<img src=x onerror="alert(1)"> & thanks')
    work()
    (activity,) = crelate.records("activities")
    assert "<img" not in activity["HTML"]
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt; &amp; thanks" in activity["HTML"]


def test_a_create_answered_without_an_id_is_an_error(settings: Settings) -> None:
    import httpx

    from outbound.connectors.crelate.connector import CrelateConnector
    from outbound.http import build_client

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(201, json={"Data": None, "Metadata": {}, "Errors": []})

    async def go() -> None:
        client = build_client(transport=httpx.MockTransport(answer))
        connector = CrelateConnector("https://crelate.test/api3", "k", client=client)
        try:
            await connector.create_person(PersonInput("a@b.example", "A", "B"))
        finally:
            await client.aclose()

    with pytest.raises(PermanentError) as refused:
        asyncio.run(go())
    assert (
        "no record id" in refused.value.message
        and "None" not in refused.value.message.split("(")[0]
    )


def test_duplicate_error_carries_the_record_id(settings: Settings, crelate: Sim) -> None:
    async def create_dana(c: Connector) -> None:
        await c.create_person(PersonInput("other@example.org", "Dana", "Existing"))

    with pytest.raises(DuplicateRecord) as refused:
        on_connector(settings, create_dana)
    (dana,) = [c for c in crelate.records("contacts") if c["FirstName"] == "Dana"]
    assert refused.value.existing_id == dana["Id"]
