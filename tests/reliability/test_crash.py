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
from tests.reliability.test_faults import assert_exactly_once, enroll_on_crelate


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
    ids, baseline = enroll_on_crelate(team, crelate)
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

    assert_exactly_once(team, crelate, ids, baseline)
