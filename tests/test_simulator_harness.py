"""Issue 4: rate limiting, commit-then-fail, fault replay and exact inspection counts."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import CRELATE_KEYS, Sim

KEY = {"X-Api-Key": CRELATE_KEYS["alice"]}


def api(sim: Sim) -> httpx.Client:
    return httpx.Client(base_url=sim.server.url + "/api3", headers=KEY, timeout=5)


def test_burst_gets_429_with_retry_after_per_key(crelate: Sim) -> None:
    crelate.rate_limit(5)
    with api(crelate) as c:
        codes = [c.get("/jobs").status_code for _ in range(12)]
        limited = c.get("/jobs")
        other_key = c.get("/jobs", headers={"X-Api-Key": CRELATE_KEYS["bob"]})
    assert codes[:5] == [200] * 5 and 429 in codes
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
    assert limited.json()["Errors"][0]["Message"]
    assert other_key.status_code == 200  # the bucket is per key
    stats = crelate.stats()
    assert stats["rate_limited"] == codes.count(429) + 1
    assert stats["requests"] == 14


def test_commit_then_fail_stores_the_write_but_the_client_sees_failure(crelate: Sim) -> None:
    # Six identical creates: Crelate's duplicate check would refuse five of them (409).
    crelate.profiles("duplicate_check_off")
    crelate.faults(commit_then_fail_rate=1.0, hang_seconds=0.1)
    body = {
        "entity": {
            "FirstName": "Ghost",
            "LastName": "Write",
            "EmailAddresses_Work": {"Value": "ghost@example.com"},
        }
    }
    outcomes = []
    with api(crelate) as c:
        for _ in range(6):
            try:
                outcomes.append(c.post("/contacts", json=body).status_code)
            except httpx.TransportError:
                outcomes.append("dropped")
    assert 201 not in outcomes and set(outcomes) <= {500, "dropped"}
    ghosts = [x for x in crelate.records("contacts") if x["FirstName"] == "Ghost"]
    assert len(ghosts) == 6  # every write was stored
    assert crelate.stats()["commit_then_fail"] == 6
    assert crelate.duplicates() == 1  # and the inspection route counts them by email


def test_faults_replay_from_the_seed(crelate: Sim) -> None:
    def run() -> list[object]:
        crelate.faults(seed=1234, error_rate=0.3, drop_rate=0.2)
        out: list[object] = []
        with api(crelate) as c:
            for _ in range(30):
                try:
                    out.append(c.get("/jobs").status_code)
                except httpx.TransportError:
                    out.append("dropped")
        return out

    first, second = run(), run()
    assert first == second
    assert {200, 503, "dropped"} <= set(first)


def test_inspection_counts_requests_per_endpoint(clockwork: Sim) -> None:
    headers = {
        "Authorization": "Token Y3ctYWxpY2Uta2V5OmN3LWFsaWNlLXNlY3JldA==",
        "X-API-Key": "acme-firm-service-key-0001",
    }
    with httpx.Client(base_url=clockwork.server.url + "/v3.0/acme", headers=headers) as c:
        for _ in range(3):
            c.get("/projects")
        person = c.post("/people", json={"person": {"name": "Ann Counted"}}).json()["id"]
        c.post(f"/people/{person}/email_addresses", json={"email": {"address": "a@b.com"}})
    by_endpoint = clockwork.stats()["by_endpoint"]
    assert by_endpoint == {
        "GET /v3.0/acme/projects": 3,
        "POST /v3.0/acme/people": 1,
        "POST /v3.0/acme/people/{id}/email_addresses": 1,
    }
    clockwork.reset()
    assert clockwork.stats()["requests"] == 0


@pytest.mark.parametrize("kind", ["contacts", "jobs", "statuses", "lists", "pipeline"])
def test_every_record_kind_is_listable(crelate: Sim, kind: str) -> None:
    assert isinstance(crelate.records(kind), list)


def test_profiles_are_named_validated_and_reset(crelate: Sim) -> None:
    listed = crelate.http.get("/_admin/profiles").json()
    assert listed["active"] == ["stage_post"] and "no_users_me" in listed["available"]
    assert crelate.profiles("stage_put", "no_lists") == ["no_lists", "stage_put"]
    unknown = crelate.http.put("/_admin/profiles", json={"active": ["no_such_profile"]})
    assert unknown.status_code == 422 and "no_such_profile" in unknown.json()["detail"]
    rivals = crelate.http.put("/_admin/profiles", json={"active": ["stage_post", "stage_put"]})
    assert rivals.status_code == 422 and "exclude each other" in rivals.json()["detail"]
    assert crelate.http.get("/_admin/profiles").json()["active"] == ["no_lists", "stage_put"]
    crelate.reset()
    assert crelate.http.get("/_admin/profiles").json()["active"] == ["stage_post"]


def test_simulate_refuses_an_unknown_profile() -> None:
    from typer.testing import CliRunner

    from outbound.cli import app

    result = CliRunner().invoke(app, ["simulate", "crelate", "--profile", "nope"])
    assert result.exit_code == 2 and "unknown profile 'nope'" in result.output
