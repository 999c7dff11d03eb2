"""Clockwork v3.0 shapes confirmed by ../shared/ats/evidence-audit.md (Clockwork table)."""

from __future__ import annotations

import re
import uuid
from typing import Any

from tests.contract.conftest import Target

# v3 dates: "YYYY-MM-DD HH:MM:SS", no T, no zone (audit #21).
V3_STAMP = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")


def assert_v3_person(person: dict[str, Any]) -> None:
    """The v3 person shape of the recorded people_search sample (audit #9, #10, #21)."""
    assert {"id", "name", "firstName", "lastName", "doNotContact"} <= set(person)
    assert "emailAddresses" not in person  # the v1 shape
    assert isinstance(person["emails"], list)
    for email in person["emails"]:
        assert {"id", "address", "locationTypeId", "createdAt", "updatedAt"} <= set(email)
        assert V3_STAMP.match(email["createdAt"]) and V3_STAMP.match(email["updatedAt"])
    addresses = [e["address"] for e in person["emails"]]
    assert person["preferredEmailAddress"] == (addresses[0] if addresses else None)
    assert V3_STAMP.match(person["createdAt"]) and V3_STAMP.match(person["updatedAt"])


def test_bad_token_is_401(clockwork_api: Target) -> None:
    r = clockwork_api.http.get("/tags", headers=clockwork_api.bad_auth_headers)
    assert r.status_code == 401


def test_bad_firm_service_key_is_rejected(clockwork_api: Target) -> None:
    r = clockwork_api.http.get("/tags", headers={"X-API-Key": "wrong"})
    assert r.status_code in (401, 403)


def test_bearer_scheme_is_not_accepted(clockwork_api: Target) -> None:
    # Simulator-only: real Clockwork accepts Bearer too (BH sends it; audit #3). The simulator
    # is stricter there on purpose, which is harmless.
    clockwork_api.require_simulator()
    token = clockwork_api.http.headers["Authorization"].split(" ", 1)[1]
    r = clockwork_api.http.get("/tags", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401


def test_lookups_have_camelcase_root_keys(clockwork_api: Target) -> None:
    for path in ("tags", "companies", "regions"):
        body = clockwork_api.http.get(f"/{path}", params={"limit": 5, "offset": 0}).json()
        assert set(body) == {path}
        assert all({"id", "name"} <= set(item) for item in body[path])


def test_people_list_pages_with_limit_offset(clockwork_api: Target) -> None:
    first = clockwork_api.http.get("/people", params={"limit": 2, "offset": 0}).json()["people"]
    second = clockwork_api.http.get("/people", params={"limit": 2, "offset": 2}).json()["people"]
    assert len(first) <= 2
    assert {p["id"] for p in first}.isdisjoint({p["id"] for p in second})
    assert all({"id", "name"} <= set(p) for p in first + second)
    for person in first + second:
        assert_v3_person(person)


def test_people_search_needs_no_q(clockwork_api: Target) -> None:
    # BH validates credentials with people_search?limit=1 (audit #7).
    r = clockwork_api.http.get("/people_search", params={"limit": 1})
    assert r.status_code == 200 and isinstance(r.json()["peopleSearch"], list)
    assert len(r.json()["peopleSearch"]) <= 1


def test_create_person_and_sub_resources(clockwork_api: Target) -> None:
    clockwork_api.require_writes()
    created = clockwork_api.http.post(
        "/people",
        json={"person": {"name": "Contract Test", "firstName": "Contract", "lastName": "Test"}},
    )
    assert created.status_code in (200, 201)
    pid = created.json()["id"]
    email = f"contract-{uuid.uuid4().hex[:8]}@example.com"
    for path, body, key in [
        (
            "email_addresses",
            {"email": {"address": email, "location": "work"}},
            "personEmailAddress",
        ),
        (
            "phone_numbers",
            {"phone_number": {"digits": "+14155550100", "location": "work"}},
            "personPhoneNumber",
        ),
        (
            "linkedin_urls",
            {"linkedin_url": {"url": "https://linkedin.com/in/ct"}},
            "personLinkedinUrl",
        ),
        ("positions", {"position": {"title": "CFO", "companyName": "Initech"}}, "position"),
    ]:
        r = clockwork_api.http.post(f"/people/{pid}/{path}", json=body)
        assert r.status_code in (200, 201) and "id" in r.json()[key], (path, r.text)
    positions = clockwork_api.http.get(f"/people/{pid}/positions").json()["personPositions"]
    assert positions[0]["title"] == "CFO" and positions[0]["company"]["name"] == "Initech"
    hits = clockwork_api.http.get("/people_search", params={"q": "Contract Test", "page": 1}).json()
    hit = next(p for p in hits["peopleSearch"] if p["id"] == pid)
    assert_v3_person(hit)
    assert [e["address"] for e in hit["emails"]] == [email]


def test_snake_case_person_fields_are_refused(clockwork_api: Target) -> None:
    # The real API's reaction to snake_case is unknown (audit #14, #15: it would drop or refuse
    # them); the simulator refuses, so a connector that sends them fails loudly.
    clockwork_api.require_simulator()
    for body in ({"name": "Snake Case", "nick_name": "Snake"}, {"name": "X", "first_name": "X"}):
        r = clockwork_api.http.post("/people", json={"person": body})
        bad = next(k for k in body if k != "name")
        assert r.status_code == 400 and r.json() == {"message": f"Unknown field '{bad}'"}
    people = clockwork_api.http.get("/people", params={"limit": 1}).json()["people"]
    r = clockwork_api.http.patch(f"/people/{people[0]['id']}", json={"person": {"skype_name": "s"}})
    assert r.status_code == 400 and r.json() == {"message": "Unknown field 'skype_name'"}


def test_person_notes_list(clockwork_api: Target) -> None:
    people = clockwork_api.http.get("/people", params={"limit": 1}).json()["people"]
    if not people:
        return
    notes = clockwork_api.http.get(f"/people/{people[0]['id']}/notes", params={"limit": 50})
    assert notes.status_code == 200 and isinstance(notes.json()["notes"], list)


def test_webhooks_create_and_delete(clockwork_api: Target) -> None:
    clockwork_api.require_writes()
    created = clockwork_api.http.post("/webhooks", json={"hook_url": "https://example.com/hook"})
    assert created.status_code in (200, 201)
    hook_id = created.json()["id"]
    assert clockwork_api.http.delete(f"/webhooks/{hook_id}").status_code in (200, 204)


def test_seeded_firm(clockwork_api: Target) -> None:
    clockwork_api.require_simulator()
    names = {s["name"] for s in clockwork_api.http.get("/statuses").json()["statuses"]}
    assert {"Messaged", "Replied", "Interested", "Not Interested"} <= names
    assert clockwork_api.http.get("/projects").json()["projects"]
