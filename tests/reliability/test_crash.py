"""Workers killed with SIGKILL at random points, then restarted: zero duplicates, zero lost."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from outbound.settings import Settings
from outbound.store.db import Database
from tests.conftest import Sim, Team
from tests.reliability.test_faults import SIZE, check_all_synced, enroll_everyone
from tests.test_sync_crelate import CRELATE_KEYS


def worker_env(settings: Settings) -> dict[str, str]:
    return {
        **os.environ,
        "OUTBOUND_DATA_DIR": str(settings.data_dir),  # same secret key as the API
        "OUTBOUND_DATABASE_URL": settings.resolved_database_url,
        "OUTBOUND_CRELATE_BASE_URL": settings.crelate_base_url,
        "OUTBOUND_CRELATE_RATE_PER_SECOND": "0",
        "OUTBOUND_LEASE_SECONDS": "2",
    }


def test_sigkilled_workers_lose_and_duplicate_nothing(
    team: Team, crelate: Sim, db: Database, settings: Settings, tmp_path: Path
) -> None:
    team.call(
        "PUT",
        "/connection",
        json={"provider": "crelate", "credentials": {"api_key": CRELATE_KEYS["alice"]}},
    )
    job_id = crelate.records("jobs")[0]["Id"]
    ids = enroll_everyone(team, job_id)
    team.seq_id = team.call("GET", "/sequences").json()[0]["id"]  # type: ignore[attr-defined]
    baseline = len(crelate.records("contacts"))
    crelate.faults(latency_ms=3, latency_jitter_ms=10, seed=3)  # kills land mid-request
    rng = random.Random(11)
    command = [sys.executable, "-m", "outbound.cli", "worker", "--until-idle"]
    kills = 0
    for _ in range(6):
        proc = subprocess.Popen(
            command, env=worker_env(settings), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        time.sleep(rng.uniform(1.0, 2.5))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait()
    assert kills >= 3
    final = subprocess.run(command, env=worker_env(settings), capture_output=True, timeout=600)
    assert final.returncode == 0, final.stderr.decode()[-2000:]
    assert b"Traceback" not in final.stderr

    check_all_synced(team, ids)
    assert crelate.duplicates() == 0
    assert len(crelate.records("contacts")) == baseline + SIZE
    acts = crelate.records("activities")
    assert len(acts) == SIZE + len(ids[::3])
    assert len({a["HTML"] for a in acts}) == len(acts)
    pipeline = crelate.records("pipeline")
    assert len(pipeline) == SIZE
