"""Crelate api3 shapes marked [C] in ../shared/ats/crelate.md."""

from __future__ import annotations

import re
import uuid

from tests.contract.conftest import Target

GUID = re.compile(r"^[0-9a-fA-F-]{36}$")
ENVELOPE_KEYS = {"Data", "Metadata", "Errors"}
METADATA_KEYS = {
    "CorrelationId",
    "TimeStamp",
    "Url",
    "Verb",
    "TotalRecords",
    "MoreRecords",
    "Links",
}


def test_bad_key_is_401_in_the_envelope(crelate_api: Target) -> None:
    r = crelate_api.http.get("/jobs", headers=crelate_api.bad_auth_headers)
    assert r.status_code == 401
    body = r.json()
    assert set(body) == ENVELOPE_KEYS and body["Data"] is None
    assert body["Errors"] and isinstance(body["Errors"][0]["Message"], str)


def test_key_in_query_string_works_and_is_echoed(crelate_api: Target) -> None:
    key = crelate_api.http.headers["X-Api-Key"]
    r = crelate_api.http.get(
        "/jobs", params={"api_key": key, "limit": 1}, headers={"X-Api-Key": ""}
    )
    assert r.status_code == 200
    assert "api_key=" in r.json()["Metadata"]["Url"]


def test_header_name_is_case_insensitive(crelate_api: Target) -> None:
    key = crelate_api.http.headers["X-Api-Key"]
    r = crelate_api.http.get(
        "/jobs", params={"limit": 1}, headers={"X-Api-Key": "", "X-API-KEY": key}
    )
    assert r.status_code == 200


def test_lists_page_with_limit_offset_and_metadata(crelate_api: Target) -> None:
    first = crelate_api.http.get("/jobs", params={"limit": 2, "offset": 0}).json()
    assert set(first) == ENVELOPE_KEYS and set(first["Metadata"]) == METADATA_KEYS
    assert isinstance(first["Data"], list) and len(first["Data"]) <= 2
    assert isinstance(first["Metadata"]["TotalRecords"], int)
    assert isinstance(first["Metadata"]["MoreRecords"], bool)
    if first["Metadata"]["MoreRecords"]:
        second = crelate_api.http.get("/jobs", params={"limit": 2, "offset": 2}).json()
        assert {j["Id"] for j in second["Data"]}.isdisjoint({j["Id"] for j in first["Data"]})
    for job in first["Data"]:
        assert GUID.match(job["Id"]) and "Name" in job


def test_workflow_statuses_for_recruiting(crelate_api: Target) -> None:
    r = crelate_api.http.get(
        "/workflowstatuses",
        params={"workflow_type_ids": "F6EF012F-998D-4132-B38B-A17A00B2B958", "limit": 100},
    )
    assert r.status_code == 200
    for status in r.json()["Data"]:
        assert {"Id", "Name", "SortOrder"} <= set(status)


def test_activity_types_have_names(crelate_api: Target) -> None:
    types = crelate_api.http.get("/activitytypes").json()["Data"]
    assert types and all({"Id", "Name"} <= set(t) for t in types)


def test_create_get_patch_contact(crelate_api: Target) -> None:
    crelate_api.require_writes()
    email = f"contract-{uuid.uuid4().hex[:8]}@example.com"
    entity = {
        "FirstName": "Contract",
        "LastName": "Test",
        "RecordType": 1,
        "EmailAddresses_Personal": {"Value": email, "IsPrimary": True},
    }
    created = crelate_api.http.post("/contacts", json={"entity": entity})
    assert created.status_code == 201
    cid = created.json()["Data"]
    assert GUID.match(cid)
    assert created.json()["Metadata"]["TotalRecords"] is None
    got = crelate_api.http.get(f"/contacts/{cid.upper()}").json()["Data"]  # ids case-insensitive
    assert got["FirstName"] == "Contract" and got["RecordType"] == 1
    assert set(got["CreatedById"]) >= {"Id", "Title"}
    found = crelate_api.http.get("/contacts", params={"emails": email}).json()["Data"]
    assert [c["Id"] for c in found] == [cid]
    crelate_api.http.patch(f"/contacts/{cid}", json={"entity": {"RecordType": 3}})
    assert crelate_api.http.get(f"/contacts/{cid}").json()["Data"]["RecordType"] == 3


def test_missing_required_fields_is_500_listing_them(crelate_api: Target) -> None:
    crelate_api.require_writes()
    r = crelate_api.http.post("/contacts", json={"entity": {"FirstName": "OnlyFirst"}})
    assert r.status_code == 500
    assert any("LastName" in e["Message"] for e in r.json()["Errors"])


def test_bulk_create_returns_ids_in_input_order(crelate_api: Target) -> None:
    crelate_api.require_writes()
    entities = [{"FirstName": f"Bulk{i}", "LastName": "Contract"} for i in range(3)]
    ids = crelate_api.http.post("/contacts/bulk", json={"entities": entities}).json()["Data"]
    assert len(ids) == 3
    names = [crelate_api.http.get(f"/contacts/{i}").json()["Data"]["FirstName"] for i in ids]
    assert names == ["Bulk0", "Bulk1", "Bulk2"]


def test_job_pipeline_and_history(crelate_api: Target) -> None:
    crelate_api.require_writes()
    job = crelate_api.http.get("/jobs", params={"limit": 1}).json()["Data"][0]["Id"]
    cid = crelate_api.http.post(
        "/contacts", json={"entity": {"FirstName": "Pipe", "LastName": "Line"}}
    ).json()["Data"]
    r = crelate_api.http.post(f"/jobs/{job}/contacts", params={"contact_ids": cid}, json={})
    assert r.status_code in (200, 201)
    history = crelate_api.http.get(
        f"/jobs/{job}/contacts/history", params={"contact_id": cid, "limit": 10}
    ).json()["Data"]
    assert history and {"Date", "Stage"} <= set(history[0])


def test_activity_logged_on_contact(crelate_api: Target) -> None:
    crelate_api.require_writes()
    cid = crelate_api.http.post(
        "/contacts", json={"entity": {"FirstName": "Act", "LastName": "Ivity"}}
    ).json()["Data"]
    verb = crelate_api.http.get("/activitytypes").json()["Data"][0]["Id"]
    r = crelate_api.http.post(
        "/activities",
        json={
            "entity": {
                "ParentId": {"Id": cid, "EntityName": "Contacts"},
                "VerbId": {"Id": verb},
                "Subject": "Email sent: hello",
                "Display": "hello",
                "HTML": "<p>hello</p>",
                "When": "2026-01-15T18:17:44Z",
                "Completed": True,
                "IsEngagement": True,
            }
        },
    )
    assert r.status_code in (200, 201) and GUID.match(r.json()["Data"])


def test_non_e164_phone_is_refused(crelate_api: Target) -> None:
    crelate_api.require_writes()
    r = crelate_api.http.post(
        "/contacts",
        json={
            "entity": {
                "FirstName": "Bad",
                "LastName": "Phone",
                "PhoneNumbers_Mobile": {"Value": "555-0100", "IsPrimary": True},
            }
        },
    )
    assert 400 <= r.status_code < 600 and r.json()["Errors"]


def test_unknown_id_is_404_in_the_envelope(crelate_api: Target) -> None:
    r = crelate_api.http.get(f"/contacts/{uuid.uuid4()}")
    assert r.status_code == 404 and set(r.json()) == ENVELOPE_KEYS


def test_seeded_organisation(crelate_api: Target) -> None:
    crelate_api.require_simulator()
    names = {s["Name"] for s in crelate_api.http.get("/workflowstatuses").json()["Data"]}
    assert {"Messaged", "Replied", "Interested", "Not Interested"} <= names
    lists = crelate_api.http.get("/lists").json()["Data"]
    assert any(item["Name"] == "Q4 Python Engineers" for item in lists)
