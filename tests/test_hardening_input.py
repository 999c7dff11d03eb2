"""Issue 17 (hardening, input): control characters refused with a 422 naming the field on both
engines (REST API, web forms, CLI), strict types and stated limits, PATCH's null, a request
size limit answered 413 before the body is read, and security headers on every answer."""

from __future__ import annotations

import asyncio
import json
import re
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from outbound.api.app import create_app
from outbound.api.guards import BodyLimit
from outbound.api.schemas import MAX_VARIABLE_VALUE, MAX_VARIABLES
from outbound.cli import app as cli_app
from outbound.settings import Settings
from outbound.simulators.server import ServerThread
from outbound.store.db import Database
from outbound.store.models import Contact, Enrollment, Sequence, User
from outbound.web.forms import FormInvalid, form_text
from outbound.web.session import hash_password
from tests.conftest import Team

NUL = "a\x00b"


def make_sequence(team: Team) -> int:
    r = team.call(
        "POST",
        "/sequences",
        json={
            "name": "Python engineers",
            "steps": [{"subject": "Hi {{first_name}}", "body": "Hello\n\nThere"}],
        },
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def named(response: Any) -> list[str]:
    body = response.json()
    return [body.get("field")] + [e["field"] for e in body.get("errors") or []]


def stored(db: Database) -> dict[str, Any]:
    """What the database holds, to show a refused request harmed nothing."""
    with db.session() as session:
        return {
            "sequences": session.execute(select(Sequence.id, Sequence.name)).all(),
            "contacts": session.execute(select(Contact.email, Contact.company)).all(),
            "enrollments": session.scalar(select(func.count(Enrollment.id))),
            "groups": session.execute(select(User.id, User.group_name)).all(),
        }


# -- control characters in the REST API ----------------------------------------------------
def _nul_cases(seq_id: int, rid: int) -> list[tuple[str, str, dict[str, Any], str]]:
    return [
        ("POST", "/sequences", {"name": NUL}, "name"),
        ("PATCH", f"/sequences/{seq_id}", {"name": NUL}, "name"),
        ("POST", "/contacts", {"email": "pat@example.com", "company": NUL}, "company"),
        (
            "POST",
            "/sequences",
            {"name": "x", "steps": [{"subject": "s", "body": NUL}]},
            "steps[0].body",
        ),
        (
            "PATCH",
            f"/sequences/{seq_id}",
            {"steps": [{"subject": NUL, "body": "b"}]},
            "steps[0].subject",
        ),
        ("POST", f"/sequences/{seq_id}/imports", {"list_id": NUL}, "list_id"),
        (
            "POST",
            "/users",
            {"email": "u@acme.example.com", "name": "U", "group_name": NUL},
            "group_name",
        ),
        ("PATCH", f"/users/{rid}", {"group_name": NUL}, "group_name"),
        (
            "POST",
            f"/sequences/{seq_id}/contacts",
            {"contacts": [{"email": "p@example.com", "custom_variables": {"visa": NUL}}]},
            "contacts[0].custom_variables.visa",
        ),
        ("PATCH", "/settings", {"default_job_id": NUL}, "default_job_id"),
        ("POST", "/suppressions", {"email": "p\x00@example.com"}, "email"),
    ]


def test_nul_in_any_text_field_is_422_naming_it_and_nothing_is_stored(
    team: Team, db: Database
) -> None:
    seq_id = make_sequence(team)
    before = stored(db)
    listed = team.call("GET", "/sequences").json()
    for method, path, body, field in _nul_cases(seq_id, team.user_ids["recruiter"]):
        r = team.call(method, path, json=body)
        assert r.status_code == 422, (path, body, r.text)
        assert field in named(r), (path, r.json())
        assert "control characters" in r.json()["detail"] and "U+0000" in r.json()["detail"]
    assert stored(db) == before
    assert team.call("GET", "/sequences").json() == listed


@pytest.mark.parametrize("char", ["\x01", "\x1b", "\x7f", "\x9f", "\ud800"])
def test_other_control_characters_are_refused_too(team: Team, char: str) -> None:
    # As JSON escapes: a lone surrogate (half of an emoji) is valid JSON, but no text.
    body = json.dumps({"email": "pat@example.com", "title": f"a{char}b"})
    headers = {**team.headers(), "Content-Type": "application/json"}
    r = team.client.post("/api/v1/contacts", content=body, headers=headers)
    assert r.status_code == 422 and named(r)[0] == "title", r.text
    assert team.call("GET", "/contacts").json() == []


def test_line_breaks_only_where_text_is_multi_line(team: Team) -> None:
    r = team.call("POST", "/sequences", json={"name": "two\nlines"})
    assert r.status_code == 422 and named(r)[0] == "name"
    # A step's subject is one line (a line break there is a header injection)...
    step = {"subject": "Hi\r\nBcc: everyone@example.com", "body": "x"}
    r = team.call("POST", "/sequences", json={"name": "x", "steps": [step]})
    assert r.status_code == 422 and named(r)[0] == "steps[0].subject"
    # ...its body is many, with tabs.
    step = {"subject": "Hi", "body": "Hello,\r\n\n\tindented\nBye"}
    r = team.call("POST", "/sequences", json={"name": "x", "steps": [step]})
    assert r.status_code == 201, r.text
    assert r.json()["steps"][0]["body"] == step["body"]


def test_control_characters_in_query_and_path(team: Team) -> None:
    r = team.client.get("/api/v1/contacts", params={"email": NUL}, headers=team.headers())
    assert r.status_code == 422 and named(r)[0] == "email"
    # A path with a control character names nothing (and never reaches the database).
    r = team.client.get("/api/v1/sync-batches/a%00b", headers=team.headers())
    assert r.status_code == 404 and r.json()["field"] is None
    assert team.client.get("/t/o/a%00b.gif").status_code == 404
    assert team.client.get("/u/a%01b").status_code == 404


def test_the_schema_states_the_text_rule(team: Team) -> None:
    schemas = team.client.get("/openapi.json").json()["components"]["schemas"]
    name = schemas["SequenceIn"]["properties"]["name"]
    assert r"\u0000-\u001F" in name["pattern"] and name["maxLength"] == 200
    body = schemas["StepIn"]["properties"]["body"]
    assert r"\u000E-\u001F" in body["pattern"]  # tab, LF and CR allowed
    assert re.fullmatch(body["pattern"], "Hello,\n\tthere") and not re.search(body["pattern"], NUL)


# -- strict types, stated limits ------------------------------------------------------------
def test_loose_types_are_refused(team: Team) -> None:
    seq_id = make_sequence(team)
    r = team.call("POST", f"/sequences/{seq_id}/contacts", json={"contacts": [{"email": "p@x.io"}]})
    (eid,) = r.json()["enrollment_ids"]
    cases = [
        ("POST", "/sequences", {"name": "x", "sync": {"unsubscribe_link": 0}}, "sync."),
        ("POST", "/sequences", {"name": "x", "sync": {"tracking_enabled": "true"}}, "sync."),
        ("POST", "/sequences", {"name": "x", "owner_id": "1"}, "owner_id"),
        (
            "POST",
            "/sequences",
            {"name": "x", "steps": [{"subject": "s", "body": "b", "delay_days": "2"}]},
            "steps[0].delay_days",
        ),
        ("POST", "/contacts", {"email": "p@example.com", "company": 42}, "company"),
        ("POST", f"/enrollments/{eid}/events", {"kind": "sent", "occurred_at": 0}, "occurred_at"),
        (
            "POST",
            f"/enrollments/{eid}/events",
            {"kind": "sent", "occurred_at": "2024-05-01T09:30:00"},  # no zone
            "occurred_at",
        ),
        (
            "POST",
            f"/enrollments/{eid}/events",
            {"kind": "sent", "occurred_at": "1970-01-01T00:00:00Z"},
            "occurred_at",
        ),
        ("POST", f"/sequences/{seq_id}/resync", {"enrollment_ids": [True]}, "enrollment_ids"),
        ("POST", "/settings/clone", {"user_ids": ["1"]}, "user_ids"),
        ("PATCH", "/settings", {"dedup_enabled": 1}, "dedup_enabled"),
    ]
    for method, path, body, field in cases:
        r = team.call(method, path, json=body)
        assert r.status_code == 422, (path, body, r.text)
        assert any(n and n.startswith(field) for n in named(r)), (path, r.json())
    assert [s["id"] for s in team.call("GET", "/sequences").json()] == [seq_id]
    assert len(team.call("GET", "/contacts").json()) == 1
    # What the schema calls valid stays valid: 3.0 is an integer, a zone is a zone.
    r = team.call(
        "POST",
        f"/enrollments/{eid}/events",
        json={"kind": "opened", "occurred_at": "2024-05-01T11:30:00+02:00"},
    )
    assert r.status_code == 201, r.text
    at = datetime.fromisoformat(r.json()["occurred_at"])
    assert at == datetime(2024, 5, 1, 9, 30, tzinfo=UTC)
    r = team.call("PATCH", f"/users/{team.user_ids['recruiter']}", json={"group_name": "East"})
    assert r.status_code == 200


def test_variables_are_bounded_and_the_schema_says_so(team: Team) -> None:
    many = {f"v{i}": "x" for i in range(MAX_VARIABLES + 1)}
    long = {"note": "x" * (MAX_VARIABLE_VALUE + 1)}
    for variables, field in (
        (many, "custom_variables"),
        (long, "custom_variables.note"),
        ({"1st": "x"}, "custom_variables"),
        ({"first name": "x"}, "custom_variables"),
    ):
        r = team.call(
            "POST", "/contacts", json={"email": "p@example.com", **{"custom_variables": variables}}
        )
        assert r.status_code == 422 and named(r)[0].startswith(field), r.text
    ok = {f"v{i}": "x" * 100 for i in range(MAX_VARIABLES)}
    ok["note"] = "Line one\nLine two"
    ok.pop("v0")
    r = team.call("POST", "/contacts", json={"email": "p@example.com", "custom_variables": ok})
    assert r.status_code == 201, r.text
    spec = team.client.get("/openapi.json").json()["components"]["schemas"]["ContactIn"]
    variables = spec["properties"]["custom_variables"]
    assert variables["maxProperties"] == MAX_VARIABLES
    assert variables["additionalProperties"]["maxLength"] == MAX_VARIABLE_VALUE
    assert variables["propertyNames"]["pattern"] == "^[A-Za-z_][A-Za-z0-9_]*$"


def test_rules_the_code_enforces_are_in_the_schema(team: Team) -> None:
    schemas = team.client.get("/openapi.json").json()["components"]["schemas"]
    steps = schemas["SequenceIn"]["properties"]["steps"]
    # The first step needs a subject: stated on the first item.
    first = steps["prefixItems"][0]["allOf"][1]
    assert first["required"] == ["subject"] and first["properties"]["subject"]["minLength"] == 1
    assert schemas["ContactIn"]["properties"]["linkedin_url"]["anyOf"][0]["pattern"].startswith(
        "^https?://"
    )
    mailbox = schemas["MailboxIn"]["properties"]
    assert mailbox["send_days"]["items"] == {"type": "integer", "maximum": 6, "minimum": 0}
    assert schemas["MappingEntry"]["properties"]["source"]["pattern"].startswith("^(?:email|")
    # A 64-bit id's bound survives FastAPI's OpenAPI model (it made it 2**63, a float).
    ids = schemas["ResyncIn"]["properties"]["enrollment_ids"]["anyOf"][0]["items"]
    assert ids["maximum"] == 2**63 - 1 and isinstance(ids["minimum"], int)
    occurred = schemas["EventIn"]["properties"]["occurred_at"]["anyOf"][0]
    assert occurred["format"] == "date-time" and occurred["pattern"] == "^20[0-9]{2}-"
    # An empty first subject is refused, as stated.
    r = team.call("POST", "/sequences", json={"name": "x", "steps": [{"body": "b"}]})
    assert r.status_code == 422 and named(r)[0] == "steps[0].subject"


# -- PATCH and null ---------------------------------------------------------------------------
def test_patch_null_clears_what_can_be_empty_and_is_422_elsewhere(team: Team) -> None:
    seq_id = make_sequence(team)
    contact = team.call(
        "POST",
        "/contacts",
        json={"email": "pat@example.com", "company": "Initech", "custom_variables": {"a": "b"}},
    ).json()
    rid = team.user_ids["recruiter"]
    assert team.call("PATCH", f"/users/{rid}", json={"group_name": "East"}).status_code == 200
    refused = [
        (f"/sequences/{seq_id}", {"name": None}, "name"),
        (f"/sequences/{seq_id}", {"steps": None}, "steps"),
        (f"/sequences/{seq_id}", {"sync": None}, "sync"),
        (f"/sequences/{seq_id}", {"sync": {"sync_enabled": None}}, "sync.sync_enabled"),
        (f"/sequences/{seq_id}", {"sync": {"unsubscribe_link": None}}, "sync.unsubscribe_link"),
        (f"/contacts/{contact['id']}", {"email": None}, "email"),
        (f"/contacts/{contact['id']}", {"custom_variables": None}, "custom_variables"),
        (f"/users/{rid}", {"role": None}, "role"),
        ("/settings", {"sync_mode": None}, "sync_mode"),
        ("/settings", {"field_mapping": None}, "field_mapping"),
    ]
    for path, body, field in refused:
        r = team.call("PATCH", path, json=body)
        assert r.status_code == 422, (path, body, r.text)
        assert r.json()["field"] == field
        assert (
            r.json()["detail"] == f"{field}: cannot be null: leave the field out to keep its value"
        )
    seq = team.call("GET", f"/sequences/{seq_id}").json()
    assert seq["name"] == "Python engineers" and len(seq["steps"]) == 1

    # null clears what the answer can show as null.
    r = team.call("PATCH", f"/contacts/{contact['id']}", json={"company": None})
    assert r.status_code == 200 and r.json()["company"] is None
    assert r.json()["custom_variables"] == {"a": "b"}  # left out: kept
    r = team.call("PATCH", f"/contacts/{contact['id']}", json={"custom_variables": {}})
    assert r.json()["custom_variables"] == {}
    r = team.call("PATCH", f"/users/{rid}", json={"group_name": None})
    assert r.status_code == 200 and r.json()["group_name"] is None
    r = team.call("PATCH", f"/sequences/{seq_id}", json={"sync": {"record_type": None}})
    assert r.status_code == 200 and r.json()["record_type"] is None
    r = team.call("PATCH", "/settings", json={"default_job_id": None, "do_not_contact_tag": None})
    assert r.status_code == 200 and r.json()["default_job_id"] is None
    # The rule is in the schema, on every PATCH body.
    schemas = team.client.get("/openapi.json").json()["components"]["schemas"]
    for model in ("SequenceLifecyclePatch", "ContactPatch", "UserPatch", "SettingsPatch"):
        assert "`null` clears a field that can be empty" in schemas[model]["description"]
    assert "anyOf" not in schemas["SequenceLifecyclePatch"]["properties"]["name"]  # not nullable
    assert {"type": "null"} in schemas["ContactPatch"]["properties"]["company"]["anyOf"]


# -- the request size limit -------------------------------------------------------------------
def _scope(path: str, headers: dict[str, str], method: str = "POST") -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "server": ("testserver", 80),
        "client": ("127.0.0.1", 1234),
    }


def _call(app: Any, scope: dict[str, Any], chunks: Any) -> tuple[int, bytes, int, int]:
    """Run one request through the app: (status, body, receive() calls, body bytes read)."""
    calls = 0
    read = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal calls, read
        calls += 1
        chunk = next(chunks, None)
        if chunk is None:
            return {"type": "http.request", "body": b"", "more_body": False}
        read += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], body, calls, read


LIMIT = 256 * 1024


@pytest.fixture
def small_limit_app(settings: Settings, db: Database) -> Any:
    return create_app(settings.model_copy(update={"max_request_bytes": LIMIT}), db)


def test_a_declared_oversized_body_is_413_before_anything_is_read(
    small_limit_app: Any, team: Team
) -> None:
    # 200 MB declared, a few bytes sent: refused on the header, the app never runs.
    headers = {"content-length": str(200 * 1024 * 1024), "content-type": "application/json"}
    headers |= team.headers()
    status, body, calls, _ = _call(
        small_limit_app, _scope("/api/v1/sequences", headers), iter([b'{"name": "x"}'])
    )
    assert status == 413 and calls == 0
    assert b"larger than the limit of 262,144 bytes" in body
    # No token either: still the 413 (the old order read 100 MB, then answered 401).
    headers = {"content-length": str(200 * 1024 * 1024)}
    status, _, calls, _ = _call(small_limit_app, _scope("/login", headers), iter([b"x"]))
    assert status == 413 and calls == 0
    assert team.call("GET", "/sequences").json() == []


@pytest.mark.parametrize("path", ["/api/v1/sequences", "/login", "/sequences/new"])
def test_a_streamed_body_is_cut_off_at_the_limit(small_limit_app: Any, path: str) -> None:
    chunk = b"x" * 16 * 1024

    def endless() -> Any:
        while True:
            yield chunk

    kind = "application/json" if path.startswith("/api/") else "application/x-www-form-urlencoded"
    headers = {"content-type": kind, "transfer-encoding": "chunked"}
    status, body, _, read = _call(small_limit_app, _scope(path, headers), endless())
    assert status == 413, body
    assert LIMIT < read <= LIMIT + len(chunk)  # one chunk past the limit, not one more


def test_the_limit_is_exact() -> None:
    async def echo(scope: Any, receive: Any, send: Any) -> None:
        size = 0
        while True:
            message = await receive()
            size += len(message.get("body", b""))
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": str(size).encode()})

    guarded = BodyLimit(echo, max_bytes=1000)
    for size, declared, expected in ((1000, True, 200), (1001, True, 413), (1001, False, 413)):
        headers = {"content-length": str(size)} if declared else {}
        status, body, _, _ = _call(guarded, _scope("/x", headers), iter([b"y" * size]))
        assert status == expected, (size, declared, body)


def test_the_default_limit_is_far_above_a_10000_contact_add() -> None:
    full = {
        "email": "firstname.lastname12345@some-company-name.example.com",
        "first_name": "Alexandra",
        "last_name": "Montgomery-Smith",
        "title": "Senior Software Engineer, Platform",
        "company": "Initech Global Solutions Ltd",
        "phone": "+1 (555) 123-4567",
        "linkedin_url": "https://www.linkedin.com/in/alexandra-montgomery-smith-12345",
        "location": "San Francisco Bay Area, CA",
        "custom_variables": {"visa": "H1B", "skill": "Python", "referrer": "Jordan Lee"},
    }
    add = len(json.dumps({"contacts": [full] * 10_000}).encode())
    limit = Settings.model_fields["max_request_bytes"].default
    assert 2 * add < limit < 100 * 1000 * 1000 / 4


def test_a_real_server_answers_413_without_reading_the_body(
    settings: Settings, db: Database
) -> None:
    app = create_app(settings.model_copy(update={"max_request_bytes": LIMIT}), db)
    server = ServerThread(app).start()
    try:
        with socket.create_connection((server.host, server.port), timeout=10) as sock:
            sock.sendall(
                b"POST /api/v1/sequences HTTP/1.1\r\nHost: x\r\n"
                b"Content-Type: application/json\r\nContent-Length: 209715200\r\n\r\n{}"
            )
            answer = sock.recv(65536)
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
        assert b"connection: close" in answer.lower()
        # (A chunked body cut off at the limit: test_a_streamed_body_is_cut_off_at_the_limit.)
    finally:
        server.stop()


# -- security headers -------------------------------------------------------------------------
def _has_security_headers(response: Any) -> None:
    h = response.headers
    assert h["x-frame-options"] == "DENY"
    assert h["x-content-type-options"] == "nosniff"
    assert h["referrer-policy"] == "no-referrer"
    policy = h["content-security-policy"]
    assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy


def test_every_answer_carries_the_security_headers(
    team: Team, settings: Settings, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    answers = [
        team.call("GET", "/me"),
        team.call("GET", "/sequences/999"),  # 404
        team.call("POST", "/sequences", json={"name": NUL}),  # 422
        team.client.get("/api/v1/me"),  # 401
        team.client.get("/login"),  # a page
        team.client.get("/static/htmx.min.js"),
        team.client.get("/healthz"),
        team.client.get("/t/o/unknown.gif"),
        team.client.get("/u/unknown"),
        team.client.get("/openapi.json"),
    ]
    for r in answers:
        _has_security_headers(r)
    assert "script-src 'self';" in answers[4].headers["content-security-policy"]
    docs = team.client.get("/docs")
    _has_security_headers(docs)
    # Swagger UI is this package's own copy: the docs page may load from nowhere else.
    assert "https:" not in docs.headers["content-security-policy"]
    assert "script-src 'self' 'unsafe-inline';" in docs.headers["content-security-policy"]
    # A 413, and the 500 answered outside the middlewares.
    app = create_app(settings.model_copy(update={"max_request_bytes": LIMIT}), db)
    with TestClient(app, raise_server_exceptions=False) as client:
        r = client.post("/api/v1/sequences", content=b"x" * (LIMIT + 1), headers=team.headers())
        assert r.status_code == 413
        _has_security_headers(r)

        def broken(*_: Any) -> Any:
            raise RuntimeError("boom")

        monkeypatch.setattr("outbound.service.accounts.get_user", broken)
        r = client.get("/api/v1/me", headers=team.headers())
        assert r.status_code == 500
        _has_security_headers(r)


# -- web forms --------------------------------------------------------------------------------
def _signed_in(client: TestClient, db: Database) -> str:
    with db.session() as session:
        user = session.scalar(select(User).where(User.role == "owner"))
        assert user is not None
        user.password_hash = hash_password("pw-owner-123")
        email = user.email
    token = _csrf(client.get("/login").text)
    r = client.post(
        "/login",
        data={"email": email, "password": "pw-owner-123", "csrf_token": token},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    return _csrf(client.get("/sequences/new").text)


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, page[:500]
    return found.group(1)


def test_web_forms_refuse_control_characters_beside_the_field(team: Team, db: Database) -> None:
    seq_id = make_sequence(team)
    client = team.client
    csrf = _signed_in(client, db)
    before = stored(db)
    r = client.post(
        f"/sequences/{seq_id}/contacts",
        data={"contacts": "pat@example.com, Pat, Lee, Ini\x00tech", "csrf_token": csrf},
    )
    assert r.status_code == 422
    assert "Line 1: must not contain control characters" in r.text
    r = client.post(
        f"/sequences/{seq_id}/steps",
        data={
            "subject_0": "Hi",
            "body_0": "Hello\x00",
            "delay_0": "0",
            "step_count": "1",  # the steps the page showed
            "csrf_token": csrf,
        },
    )
    assert r.status_code == 422 and "must not contain control characters" in r.text
    r = client.post(
        "/mailbox",
        data={
            "email": "owner@acme.example.com",
            "from_name": "Olivia\x1b[2J",
            "smtp_host": "smtp.example.com",
            "smtp_password": "secret",
            "imap_host": "imap.example.com",
            "csrf_token": csrf,
        },
    )
    assert r.status_code == 422 and "must not contain control characters" in r.text
    assert stored(db) == before


def test_web_forms_no_model_checks_refuse_control_characters(team: Team, db: Database) -> None:
    seq_id = make_sequence(team)
    csrf = _signed_in(team.client, db)
    before = stored(db)
    r = team.client.post("/sequences/new", data={"name": NUL, "csrf_token": csrf})
    assert r.status_code == 422 and "must not contain control characters" in r.text.lower()
    r = team.client.post(f"/sequences/{seq_id}/import", data={"list_id": NUL, "csrf_token": csrf})
    assert r.status_code == 422 and "must not contain control characters" in r.text.lower()
    assert stored(db) == before


def test_form_text_is_a_form_error_on_its_field() -> None:
    assert form_text({"name": "  Acme  "}, "name") == "Acme"
    assert form_text({"body": "a\nb"}, "body", multiline=True) == "a\nb"
    for value, kw in (("a\x00b", {}), ("a\nb", {}), ("x" * 201, {"max_length": 200})):
        with pytest.raises(FormInvalid) as caught:
            form_text({"name": value}, "name", **kw)
        assert list(caught.value.errors) == ["name"]


# -- the command line -------------------------------------------------------------------------
@pytest.mark.parametrize(
    "args",
    [
        ["team", "create", NUL],
        ["team", "create", "Acme\x1b[2J"],
        ["user", "create", "--team", "1", "--email", "a@b.co", "--name", "Pat\nLee"],
        ["user", "create", "--team", "1", "--email", "a\x00@b.co"],
    ],
)
def test_the_cli_refuses_control_characters(tmp_path: Path, args: list[str]) -> None:
    env = {"OUTBOUND_DATA_DIR": str(tmp_path), "OUTBOUND_DATABASE_URL": ""}
    result = CliRunner().invoke(cli_app, args, env=env)
    assert result.exit_code == 2
    assert "must not contain control characters" in result.output.replace("\n", " ")
    assert not (tmp_path / "outbound.db").exists()  # refused before the database is opened


# -- the pages satisfy their Content-Security-Policy (Chromium) -------------------------------
def test_the_pages_satisfy_their_content_security_policy(
    settings: Settings, db: Database, team: Team
) -> None:
    from playwright.sync_api import expect, sync_playwright

    from tests.web.conftest import CHROMIUM, CHROMIUM_ARGS

    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is not installed: scripts/test installs Debian's chromium")
    seq_id = make_sequence(team)
    added = team.call(
        "POST", f"/sequences/{seq_id}/contacts", json={"contacts": [{"email": "p@x.io"}]}
    )
    (eid,) = added.json()["enrollment_ids"]
    # Sentiment is offered once someone replied.
    team.call("POST", f"/enrollments/{eid}/events", json={"kind": "replied", "body": "Sure"})
    with db.session() as session:
        owner = session.scalar(select(User).where(User.role == "owner"))
        assert owner is not None
        owner.password_hash = hash_password("pw-owner-123")
        email = owner.email
    server = ServerThread(create_app(settings, db)).start()
    refused: list[str] = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page()
            page.on(
                "console",
                lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None,
            )
            page.goto(server.url + "/login")
            page.get_by_label("Email").fill(email)
            page.get_by_label("Password").fill("pw-owner-123")
            page.get_by_role("button", name="Sign in").click()
            expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
            for path in ("/sequences", "/sequences/new", f"/sequences/{seq_id}/steps"):
                page.goto(server.url + path)
                assert page.evaluate("typeof htmx") == "object"  # the local script ran
            for path in (f"/sequences/{seq_id}/syncing", "/integrations", "/mailbox"):
                page.goto(server.url + path)
            # An htmx swap: the X-CSRF-Token header from hx-headers, the row replaced.
            page.goto(server.url + f"/sequences/{seq_id}")
            page.get_by_role("button", name="Mark p@x.io interested").click()
            interested = page.get_by_role("button", name="Mark p@x.io interested")
            expect(interested).to_have_attribute("aria-pressed", "true")
            page.get_by_role("button", name="Timeline of p@x.io").click()
            page.wait_for_load_state("networkidle")
            while_used = list(refused)
            framed = page.evaluate(
                """async (url) => { const f = document.createElement('iframe');
                   f.src = url; document.body.append(f);
                   await new Promise(r => setTimeout(r, 500));
                   try { return f.contentDocument && f.contentDocument.title; }
                   catch (e) { return 'blocked'; } }""",
                server.url + "/login",
            )
            browser.close()
    finally:
        server.stop()
    assert while_used == []
    # frame-ancestors 'none': not even a page of its own origin may frame one.
    assert framed != "Sign in · Outbound"
    assert any("frame-ancestors 'none'" in text for text in refused[len(while_used) :])
