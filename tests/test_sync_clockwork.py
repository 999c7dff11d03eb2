"""Issue 5 rules, end to end against the Clockwork simulator over real HTTP."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Sim, Team, clockwork_credentials
from tests.test_api_core import make_sequence
from tests.test_sync_crelate import add, enrollment, person


def connect(team: Team, role: str = "owner", who: str = "alice") -> dict[str, Any]:
    r = team.call(
        "PUT",
        "/connection",
        role,
        json={"provider": "clockwork", "credentials": clockwork_credentials(who)},
    )
    assert r.status_code == 200, r.text
    return dict(r.json())


def people_with(sim: Sim, email: str) -> list[dict[str, Any]]:
    return [
        p for p in sim.records("people") if email in [e["address"].lower() for e in p["emails"]]
    ]


def project_named(sim: Sim, name: str) -> str:
    return next(p["id"] for p in sim.records("projects") if p["name"] == name)


@pytest.mark.parametrize(
    "bad",
    [
        {"api_secret": "wrong"},  # Token rejected → 401
        {"firm_service_key": "wrong"},  # firm service key rejected → 403
        {"firm": "globex"},  # unknown firm → 404
    ],
)
def test_connect_rejects_each_bad_credential(
    team: Team, clockwork: Sim, bad: dict[str, str]
) -> None:
    r = team.call(
        "PUT",
        "/connection",
        json={"provider": "clockwork", "credentials": {**clockwork_credentials(), **bad}},
    )
    assert 400 <= r.status_code < 500 and r.json()["field"] == "credentials", r.text
    assert team.call("GET", "/connection").status_code == 404


def test_person_created_once_with_details_as_the_key_user(
    team: Team, clockwork: Sim, work: Any
) -> None:
    connect(team)
    seq = make_sequence(team)
    (eid,) = add(
        team,
        seq,
        person(
            1,
            title="CFO",
            company="Initech",
            phone="+14155550100",
            linkedin_url="https://linkedin.com/in/c1",
        ),
    )
    work()
    (p,) = people_with(clockwork, "cand1@talent.example.com")
    alice = next(u for u in clockwork.records("users") if u["name"] == "Alice Recruiter")
    assert p["createdUserId"] == alice["id"]
    assert [e["address"] for e in p["emails"]] == ["cand1@talent.example.com"]
    assert p["preferredEmailAddress"] == "cand1@talent.example.com"
    assert p["name"] == "Cand1 Doe" and p["positions"][0]["title"] == "CFO"
    assert p["phoneNumbers"][0]["digits"] == "+14155550100"
    assert p["linkedinUrls"][0]["url"] == "https://linkedin.com/in/c1"
    assert enrollment(team, eid)["ats_record_id"] == p["id"]


def test_dedup_marks_exists_in_clockwork_and_links(team: Team, clockwork: Sim, work: Any) -> None:
    connect(team)
    seq = make_sequence(team)
    before = len(clockwork.records("people"))
    (eid,) = add(
        team,
        seq,
        {"email": "dana.existing@example.com", "first_name": "Dana", "last_name": "Existing"},
    )
    work()
    e = enrollment(team, eid)
    assert e["error_message"] == "Exists in Clockwork" and e["sync_state"] == "synced"
    assert len(clockwork.records("people")) == before
    assert clockwork.duplicates() == 0


def test_saved_snake_case_mapping_targets_still_write(
    team: Team, clockwork: Sim, work: Any
) -> None:
    """Mappings saved when Outbound offered snake_case targets reach Clockwork as camelCase,
    and fill_blank still sees the value an existing person holds."""
    connect(team)
    team.call(
        "PATCH",
        "/settings",
        json={
            "field_mapping": [
                {"source": "first_name", "target": "first_name", "policy": "fill_blank"},
                {"source": "title", "target": "nick_name", "policy": "always"},
                {"source": "company", "target": "assistantName", "policy": "always"},
            ]
        },
    )
    seq = make_sequence(team)
    add(
        team,
        seq,
        person(1, title="Ace", company="Initech"),
        {
            "email": "dana.existing@example.com",
            "first_name": "Danielle",
            "last_name": "Existing",
            "title": "Dee",
        },
    )
    work()
    (new,) = people_with(clockwork, "cand1@talent.example.com")
    assert (new["firstName"], new["nickName"], new["assistantName"]) == ("Cand1", "Ace", "Initech")
    (dana,) = people_with(clockwork, "dana.existing@example.com")
    assert (dana["firstName"], dana["nickName"]) == ("Dana", "Dee")


def test_projects_statuses_and_notes(team: Team, clockwork: Sim, work: Any) -> None:
    connect(team)
    default_project = project_named(clockwork, "CFO Search - Northwind")
    override = project_named(clockwork, "CTO Search - Contoso")
    team.call("PATCH", "/settings", json={"default_job_id": default_project})
    plain, special = make_sequence(team), make_sequence(team, job_id=override)
    (a,) = add(team, plain, person("a"))
    (b,) = add(team, special, person("b"))
    for eid in (a, b):
        team.call("POST", f"/enrollments/{eid}/events", json={"kind": "sent", "subject": "Hello"})
    team.call("POST", f"/enrollments/{b}/events", json={"kind": "replied", "subject": "Re: Hello"})
    team.call("POST", f"/enrollments/{b}/sentiment", json={"sentiment": "interested"})
    work()
    statuses = {s["id"]: s["name"] for s in clockwork.records("statuses")}
    cands = {
        (c["project_id"], c["person_id"]): statuses[c["status_id"]]
        for c in clockwork.records("candidacies")
    }
    ra, rb = enrollment(team, a)["ats_record_id"], enrollment(team, b)["ats_record_id"]
    assert cands == {(default_project, ra): "Messaged", (override, rb): "Interested"}
    notes = clockwork.records("notes")
    assert sorted((n["personId"] == rb, n["type"]) for n in notes) == [
        (False, "Email"),
        (True, "Email"),
        (True, "Email"),
    ]
    assert any("Email reply: Re: Hello" in n["content"] for n in notes)


def test_missing_status_in_bare_firm(team: Team, clockwork: Sim, work: Any) -> None:
    clockwork.reset("bare")
    connect(team)
    seq = make_sequence(team, job_id=project_named(clockwork, "CFO Search - Northwind"))
    (eid,) = add(team, seq, person(1))
    team.call("POST", f"/enrollments/{eid}/events", json={"kind": "replied"})
    work()
    e = enrollment(team, eid)
    assert e["error_code"] == "stage_missing"
    assert 'no stage named exactly "Replied"' in e["error_message"]
    (c,) = clockwork.records("candidacies")
    assert c["status_id"] == clockwork.records("statuses")[0]["id"]


def test_clockwork_has_no_list_import(team: Team, clockwork: Sim) -> None:
    connect(team)
    seq = make_sequence(team)
    r = team.call("POST", f"/sequences/{seq}/imports", json={"list_id": "anything"})
    assert r.status_code == 422 and r.json()["field"] == "list_id"


def test_clone_settings_to_teammates_on_the_same_ats(
    team: Team, crelate: Sim, clockwork: Sim, client: Any, db: Any
) -> None:
    from tests.test_sync_crelate import connect as connect_crelate

    connect_crelate(team, "owner", "carol")
    connect_crelate(team, "manager", "bob")
    connect(team, "recruiter", "alice")  # on Clockwork: refused with a reason
    lonely = team.call(
        "POST", "/users", json={"email": "new@acme.example.com", "name": "New", "role": "recruiter"}
    ).json()
    mapping = [{"source": "title", "target": "CustomField1", "policy": "fill_blank"}]
    team.call(
        "PATCH",
        "/settings",
        json={
            "sync_mode": "on_reply",
            "record_type": "lead_contact",
            "dedup_enabled": False,
            "field_mapping": mapping,
        },
    )
    candidates = {c["user_id"]: c for c in team.call("GET", "/settings/clone-candidates").json()}
    assert candidates[team.user_ids["manager"]]["eligible"] is True
    assert "Clockwork" in candidates[team.user_ids["recruiter"]]["reason"]
    assert "no ATS" in candidates[lonely["id"]]["reason"]
    r = team.call("POST", "/settings/clone", json={}).json()
    assert r["cloned"] == [team.user_ids["manager"]]
    assert {x["user_id"] for x in r["refused"]} == {team.user_ids["recruiter"], lonely["id"]}
    manager = team.call("GET", "/settings", "manager").json()
    assert (
        manager["sync_mode"],
        manager["record_type"],
        manager["dedup_enabled"],
        manager["field_mapping"],
    ) == ("on_reply", "lead_contact", False, mapping)
    assert team.call("GET", "/settings", "recruiter").json()["sync_mode"] == "on_add"
    assert team.call("POST", "/settings/clone", "recruiter", json={}).status_code == 403


def test_prospect_text_is_escaped_in_clockwork_notes(team: Team, clockwork: Sim, work: Any) -> None:
    connect(team)
    seq = make_sequence(team)
    (eid,) = add(team, seq, person(1))
    team.call(
        "POST",
        f"/enrollments/{eid}/events",
        json={"kind": "replied", "subject": "Re: <b>Hi</b>", "body": "<script>x()</script>\nok"},
    )
    work()
    (note,) = clockwork.records("notes")
    assert "<script>" not in note["content"] and "<b>Hi</b>" not in note["content"]
    assert "&lt;script&gt;x()&lt;/script&gt;<br>ok" in note["content"]
    assert "Re: &lt;b&gt;Hi&lt;/b&gt;" in note["content"]
