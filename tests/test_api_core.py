"""Issue 3: auth, team scoping, roles, validation, secrets, bulk add."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from sqlalchemy import func, inspect, select

from outbound.store.db import Database
from outbound.store.models import Contact, Enrollment, Sequence, SyncJob
from tests.conftest import CRELATE_KEYS, Team


def make_sequence(team: Team, role: str = "owner", **sync: Any) -> int:
    r = team.call(
        "POST",
        "/sequences",
        role,
        json={
            "name": "Python engineers",
            "steps": [
                {"subject": "Hi {{first_name}}", "body": "Hello", "delay_days": 0},
                {"subject": "Re: Hi", "body": "Following up", "delay_days": 3},
            ],
            "sync": sync,
        },
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def test_migrations_create_every_table_from_empty(db: Database) -> None:
    tables = set(inspect(db.engine).get_table_names())
    assert {
        "teams",
        "users",
        "api_tokens",
        "ats_connections",
        "integration_settings",
        "sequences",
        "sequence_steps",
        "contacts",
        "enrollments",
        "activity_events",
        "ats_links",
        "sync_jobs",
        "sync_calls",
        "import_runs",
        "alembic_version",
    } <= tables


def test_sqlite_runs_in_wal_mode(db: Database) -> None:
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite only")
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic abc"}]
)
def test_missing_or_invalid_token_is_401(team: Team, headers: dict[str, str]) -> None:
    r = team.client.get("/api/v1/sequences", headers=headers)
    assert r.status_code == 401
    assert "token" in r.json()["detail"]


def test_another_teams_data_is_404(team: Team, client: Any, db: Database) -> None:
    other = Team(client, db, "Globex")
    seq_id = make_sequence(team)
    r = team.call("POST", "/contacts", json={"email": "pat@example.com"})
    contact_id = r.json()["id"]
    for method, path, body in [
        ("GET", f"/sequences/{seq_id}", None),
        ("PATCH", f"/sequences/{seq_id}", {"name": "stolen"}),
        ("DELETE", f"/sequences/{seq_id}", None),
        ("POST", f"/sequences/{seq_id}/contacts", {"contacts": [{"email": "x@y.com"}]}),
        ("GET", f"/contacts/{contact_id}", None),
        ("PATCH", f"/contacts/{contact_id}", {"first_name": "Mallory"}),
        ("DELETE", f"/contacts/{contact_id}", None),
        ("PATCH", f"/users/{team.user_ids['recruiter']}", {"role": "owner"}),
    ]:
        r = other.call(method, path, json=body)
        assert r.status_code == 404, (method, path, r.text)
    assert other.call("GET", "/sequences").json() == []
    assert other.call("GET", "/contacts").json() == []
    # Nothing was changed by the attempts.
    assert team.call("GET", f"/sequences/{seq_id}").json()["name"] == "Python engineers"
    assert team.call("GET", f"/contacts/{contact_id}").json()["first_name"] is None


def test_only_owners_and_managers_manage_teammates(team: Team) -> None:
    body = {"email": "new@acme.example.com", "name": "New", "role": "recruiter"}
    assert team.call("POST", "/users", "recruiter", json=body).status_code == 403
    r = team.call("POST", "/users", "manager", json=body)
    assert r.status_code == 201 and r.json()["api_token"].startswith("obt_")
    # A manager cannot mint an owner; an owner can.
    owner_body = {"email": "boss@acme.example.com", "name": "Boss", "role": "owner"}
    assert team.call("POST", "/users", "manager", json=owner_body).status_code == 403
    assert team.call("POST", "/users", "owner", json=owner_body).status_code == 201
    rid = team.user_ids["recruiter"]
    assert (
        team.call("PATCH", f"/users/{rid}", "recruiter", json={"role": "owner"}).status_code == 403
    )
    assert (
        team.call("PATCH", f"/users/{rid}", "manager", json={"group_name": "East"}).json()[
            "group_name"
        ]
        == "East"
    )
    assert team.call("DELETE", f"/users/{rid}", "recruiter").status_code == 403
    # The new teammate's token works.
    token = r.json()["api_token"]
    me = team.client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["email"] == "new@acme.example.com"


def test_recruiters_edit_only_their_own_sequences(team: Team) -> None:
    seq_id = make_sequence(team, "owner")
    r = team.call("PATCH", f"/sequences/{seq_id}", "recruiter", json={"name": "mine"})
    assert r.status_code == 403
    own = make_sequence(team, "recruiter")
    assert (
        team.call("PATCH", f"/sequences/{own}", "recruiter", json={"name": "mine"}).json()["name"]
        == "mine"
    )


BAD_WRITES = [
    ("POST", "/sequences", {"name": ""}, "name"),
    (
        "POST",
        "/sequences",
        {"name": "x", "steps": [{"subject": "s", "body": "b", "delay_days": -1}]},
        "steps[0].delay_days",
    ),
    ("POST", "/sequences", {"name": "x", "sync": {"record_type": "alien"}}, "sync.record_type"),
    ("POST", "/contacts", {"email": "not-an-email"}, "email"),
    (
        "POST",
        "/contacts",
        {"email": "a@b.com", "linkedin_url": "linkedin.com/in/x"},
        "linkedin_url",
    ),
    ("POST", "/contacts", {"email": "a@b.com", "favourite_colour": "red"}, "favourite_colour"),
    ("POST", "/users", {"email": "u@acme.example.com", "name": "U", "role": "emperor"}, "role"),
    ("PATCH", "/settings", {"sync_mode": "sometimes"}, "sync_mode"),
    (
        "PATCH",
        "/settings",
        {"field_mapping": [{"source": "shoe_size", "target": "CustomField1"}]},
        "field_mapping[0].source",
    ),
    ("PATCH", "/settings", {"dedup_enabled": None}, "dedup_enabled"),
    ("PUT", "/connection", {"provider": "crelate", "credentials": {}}, "credentials.api_key"),
    ("PUT", "/connection", {"provider": "bullhorn", "credentials": {"api_key": "x"}}, "provider"),
    (
        "PUT",
        "/connection",
        {"provider": "clockwork", "credentials": {"api_key": "x"}},
        "credentials.firm",
    ),
    ("POST", "/settings/clone", {"user_ids": "everyone"}, "user_ids"),
]


@pytest.mark.parametrize(("method", "path", "body", "field"), BAD_WRITES)
def test_bad_input_is_4xx_naming_the_field(
    team: Team, db: Database, method: str, path: str, body: dict[str, Any], field: str
) -> None:
    r = team.call(method, path, json=body)
    assert 400 <= r.status_code < 500, r.text
    payload = r.json()
    named = [payload.get("field")] + [e["field"] for e in payload.get("errors", [])]
    assert any(n and n.startswith(field) for n in named), payload
    with db.session() as session:
        assert session.scalar(select(func.count(Sequence.id))) == 0
        assert session.scalar(select(func.count(Contact.id))) == 0


def test_bad_input_in_bulk_add_names_the_row_and_stores_nothing(team: Team, db: Database) -> None:
    seq_id = make_sequence(team)
    contacts = [{"email": f"p{i}@example.com"} for i in range(5)]
    contacts[3]["email"] = "broken"
    r = team.call("POST", f"/sequences/{seq_id}/contacts", json={"contacts": contacts})
    assert r.status_code == 422
    assert r.json()["field"] == "contacts[3].email"
    with db.session() as session:
        assert session.scalar(select(func.count(Enrollment.id))) == 0


def test_malformed_json_is_422_not_500(team: Team) -> None:
    r = team.client.post(
        "/api/v1/sequences",
        content=b"{not json",
        headers={**team.headers(), "Content-Type": "application/json"},
    )
    assert r.status_code == 422


def test_duplicate_contact_email_is_409(team: Team) -> None:
    assert team.call("POST", "/contacts", json={"email": "Pat@Example.com"}).status_code == 201
    r = team.call("POST", "/contacts", json={"email": "pat@example.com"})
    assert r.status_code == 409 and r.json()["field"] == "email"


def test_credentials_never_in_responses_or_logs(
    team: Team, crelate: Any, db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    key = CRELATE_KEYS["alice"]
    responses = [
        team.call(
            "PUT", "/connection", json={"provider": "crelate", "credentials": {"api_key": key}}
        )
    ]
    assert responses[0].status_code == 200, responses[0].text
    assert responses[0].json()["ats_user_name"] == "Alice Recruiter"
    responses += [team.call("GET", p) for p in ("/connection", "/settings", "/me", "/users")]
    for r in responses:
        assert key not in r.text
    assert key not in caplog.text
    with db.session() as session:
        raw = session.execute(select(SyncJob)).all()  # noqa: F841 - jobs hold no secrets either
        stored = session.execute(
            select(
                __import__(
                    "outbound.store.models", fromlist=["AtsConnection"]
                ).AtsConnection.credentials_encrypted
            )
        ).scalar_one()
    assert key.encode() not in stored  # encrypted at rest


def test_bulk_add_of_10000_contacts_in_one_request(team: Team, db: Database) -> None:
    seq_id = make_sequence(team)
    contacts = [
        {"email": f"person{i}@bulk.example.com", "first_name": f"P{i}", "last_name": "Bulk"}
        for i in range(10_000)
    ]
    r = team.call("POST", f"/sequences/{seq_id}/contacts", json={"contacts": contacts})
    assert r.status_code == 201, r.text[:300]
    assert r.json()["added"] == 10_000
    # Adding the same people again adds nobody and reports them as already present.
    again = team.call("POST", f"/sequences/{seq_id}/contacts", json={"contacts": contacts[:500]})
    assert again.json() == {"added": 0, "already_present": 500, "enrollment_ids": []}
    with db.session() as session:
        assert session.scalar(select(func.count(Contact.id))) == 10_000
        assert session.scalar(select(func.count(Enrollment.id))) == 10_000
    too_many = team.call(
        "POST",
        f"/sequences/{seq_id}/contacts",
        json={"contacts": [*contacts, {"email": "one@more.com"}]},
    )
    assert too_many.status_code == 422 and too_many.json()["field"] == "contacts"


def test_openapi_is_served(team: Team) -> None:
    assert team.client.get("/docs").status_code == 200
    assert (
        "/api/v1/sequences/{sequence_id}/contacts"
        in team.client.get("/openapi.json").json()["paths"]
    )


def test_bad_input_on_every_other_write_endpoint(team: Team, db: Database) -> None:
    seq_id = make_sequence(team)
    r = team.call(
        "POST",
        f"/sequences/{seq_id}/contacts",
        json={"contacts": [{"email": "pat@example.com", "first_name": "Pat"}]},
    )
    (eid,) = r.json()["enrollment_ids"]
    cid = team.call("GET", "/contacts").json()[0]["id"]
    rid = team.user_ids["recruiter"]
    cases = [
        ("PATCH", f"/sequences/{seq_id}", {"name": ""}, "name"),
        (
            "PATCH",
            f"/sequences/{seq_id}",
            {"steps": [{"subject": "", "body": "b"}]},
            "steps[0].subject",
        ),
        ("PATCH", f"/contacts/{cid}", {"email": "nope"}, "email"),
        ("PATCH", f"/contacts/{cid}", {"custom_variables": {"bad key!": "x"}}, "custom_variables"),
        ("PATCH", f"/users/{rid}", {"role": "king"}, "role"),
        ("POST", f"/enrollments/{eid}/sentiment", {"sentiment": "meh"}, "sentiment"),
        ("POST", f"/enrollments/{eid}/events", {"kind": "teleported"}, "kind"),
        (
            "POST",
            f"/enrollments/{eid}/events",
            {"kind": "sent", "occurred_at": "yesterday"},
            "occurred_at",
        ),
        ("POST", f"/sequences/{seq_id}/resync", {"enrollment_ids": "all"}, "enrollment_ids"),
        ("POST", f"/sequences/{seq_id}/resync", {}, "connection"),
        ("POST", f"/sequences/{seq_id}/imports", {"list_id": ""}, "list_id"),
        ("POST", f"/sequences/{seq_id}/imports", {"list_id": "x"}, "connection"),
    ]
    for method, path, body, field in cases:
        r = team.call(method, path, json=body)
        assert 400 <= r.status_code < 500, (path, r.text)
        payload = r.json()
        named = [payload.get("field")] + [e["field"] for e in payload.get("errors", [])]
        assert any(n and n.startswith(field) for n in named), (path, payload)
    # Nothing already stored was harmed.
    seq = team.call("GET", f"/sequences/{seq_id}").json()
    assert seq["name"] == "Python engineers" and len(seq["steps"]) == 2
    contact = team.call("GET", f"/contacts/{cid}").json()
    assert contact["email"] == "pat@example.com" and contact["first_name"] == "Pat"
    e = team.call("GET", f"/enrollments/{eid}").json()
    assert e["sentiment"] is None and e["state"] == "active"
    assert team.call("GET", "/users").json()[2]["role"] == "recruiter"
    with db.session() as session:
        from outbound.store.models import ActivityEvent

        assert session.scalar(select(func.count(ActivityEvent.id))) == 0
