"""Exactly-once under injected faults: every contact synced once, every activity logged once.

CI size by default; OUTBOUND_RELIABILITY_SIZE=10000 for the full run the issue names.
"""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

import pytest

from outbound.settings import Settings
from outbound.store.db import Database
from tests.conftest import Sim, Team, clockwork_credentials, run_worker
from tests.test_api_core import make_sequence
from tests.test_sync_crelate import CRELATE_KEYS

SIZE = int(os.environ.get("OUTBOUND_RELIABILITY_SIZE", "150"))
# The simulator's per-key limit during the run (the worker runs unpaced, so 429s happen).
RATE = float(os.environ.get("OUTBOUND_RELIABILITY_RATE", "60"))
FAULTS = {
    "rate_limited_rate": 0.02,
    "seed": 7,
    "error_rate": 0.08,
    "drop_rate": 0.04,
    "commit_then_fail_rate": 0.08,
    "hang_seconds": 1.5,
    "latency_jitter_ms": 5,
}


def enroll_everyone(team: Team, job_id: str) -> list[int]:
    seq = make_sequence(team, job_id=job_id)
    people = [
        {"email": f"f{i}@faults.example.com", "first_name": f"F{i}", "last_name": "Fault"}
        for i in range(SIZE)
    ]
    ids: list[int] = team.call(
        "POST", f"/sequences/{seq}/contacts", json={"contacts": people}
    ).json()["enrollment_ids"]
    for eid in ids:  # each contact is messaged and a third of them reply
        team.call("POST", f"/enrollments/{eid}/events", json={"kind": "sent", "subject": "Hi"})
    for eid in ids[::3]:
        team.call("POST", f"/enrollments/{eid}/events", json={"kind": "replied", "subject": "Re"})
    return ids


def check_all_synced(team: Team, ids: list[int]) -> None:
    states = Counter()
    for start in range(0, len(ids), 1000):
        rows = team.call(
            "GET",
            f"/sequences/{team.seq_id}/contacts",  # type: ignore[attr-defined]
            params={"limit": 1000, "offset": start},
        ).json()
        states.update((r["sync_state"], r["error_code"]) for r in rows)
    assert states == Counter({("synced", None): len(ids)})


def faulty_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"max_attempts": 60, "worker_concurrency": 48})


@pytest.mark.parametrize("provider", ["crelate", "clockwork"])
def test_exactly_once_under_faults(
    provider: str, team: Team, crelate: Sim, clockwork: Sim, db: Database, settings: Settings
) -> None:
    sim = crelate if provider == "crelate" else clockwork
    credentials: dict[str, Any] = (
        {"api_key": CRELATE_KEYS["alice"]} if provider == "crelate" else clockwork_credentials()
    )
    assert (
        team.call(
            "PUT", "/connection", json={"provider": provider, "credentials": credentials}
        ).status_code
        == 200
    )
    jobs = sim.records("jobs" if provider == "crelate" else "projects")
    job_id = jobs[0]["Id" if provider == "crelate" else "id"]
    ids = enroll_everyone(team, job_id)
    team.seq_id = team.call("GET", "/sequences").json()[0]["id"]  # type: ignore[attr-defined]
    baseline = len(sim.records("contacts" if provider == "crelate" else "people"))

    sim.faults(**FAULTS)
    # A real per-key bucket too; the injected 429s above make sure some happen on any machine.
    sim.rate_limit(RATE)
    run_worker(db, faulty_settings(settings), timeout=max(600, SIZE * 0.5), request_timeout=1.0)
    stats = sim.stats()
    sim.faults(error_rate=0, drop_rate=0, commit_then_fail_rate=0)
    sim.rate_limit(0)

    check_all_synced(team, ids)
    assert sim.duplicates() == 0
    people = sim.records("contacts" if provider == "crelate" else "people")
    assert len(people) == baseline + SIZE
    expected_logs = SIZE + len(ids[::3])
    if provider == "crelate":
        acts = sim.records("activities")
        markers = Counter(a["HTML"].split("-->")[0] for a in acts)
        pipeline = sim.records("pipeline")
        assert len({(p["JobId"], p["ContactId"]) for p in pipeline}) == len(pipeline) == SIZE
    else:
        acts = sim.records("notes")
        markers = Counter(a["content"].split("-->")[0] for a in acts)
        cands = sim.records("candidacies")
        assert len({(c["project_id"], c["person_id"]) for c in cands}) == len(cands) == SIZE
    assert len(acts) == expected_logs
    assert max(markers.values()) == 1  # no activity logged twice
    # And the faults really happened, of every kind (checked last, so that an exactly-once
    # failure is never hidden behind it).
    assert stats["injected_errors"] > 0 and stats["dropped"] > 0
    assert stats["commit_then_fail"] > 0 and stats["rate_limited"] > 0


def enroll_on_crelate(team: Team, crelate: Sim) -> tuple[list[int], int]:
    """The reliability runs' starting point: Crelate connected, SIZE contacts enrolled on a job
    with their emails; returns the enrollment ids and the ATS's contact count before the run."""
    team.call(
        "PUT",
        "/connection",
        json={"provider": "crelate", "credentials": {"api_key": CRELATE_KEYS["alice"]}},
    )
    ids = enroll_everyone(team, crelate.records("jobs")[0]["Id"])
    team.seq_id = team.call("GET", "/sequences").json()[0]["id"]  # type: ignore[attr-defined]
    return ids, len(crelate.records("contacts"))


def assert_exactly_once(team: Team, crelate: Sim, ids: list[int], baseline: int) -> None:
    """Every contact synced once: no duplicate, none missing, each activity and job
    attachment written once."""
    check_all_synced(team, ids)
    assert crelate.duplicates() == 0
    assert len(crelate.records("contacts")) == baseline + SIZE
    acts = crelate.records("activities")
    assert len(acts) == SIZE + len(ids[::3])
    assert len({a["HTML"] for a in acts}) == len(acts)
    assert len(crelate.records("pipeline")) == SIZE  # each on the job once
