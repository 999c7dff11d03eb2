"""Clockwork v3.0 shapes marked [C] in ../shared/ats/clockwork.md."""

from __future__ import annotations

import uuid

from tests.contract.conftest import Target


def test_bad_token_is_401(clockwork_api: Target) -> None:
    r = clockwork_api.http.get("/tags", headers=clockwork_api.bad_auth_headers)
    assert r.status_code == 401


def test_bad_firm_service_key_is_rejected(clockwork_api: Target) -> None:
    r = clockwork_api.http.get("/tags", headers={"X-API-Key": "wrong"})
    assert r.status_code in (401, 403)


def test_bearer_scheme_is_not_accepted(clockwork_api: Target) -> None:
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


def test_create_person_and_sub_resources(clockwork_api: Target) -> None:
    clockwork_api.require_writes()
    created = clockwork_api.http.post(
        "/people",
        json={"person": {"name": "Contract Test", "first_name": "Contract", "last_name": "Test"}},
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
    assert any(p["id"] == pid for p in hits["peopleSearch"])


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
