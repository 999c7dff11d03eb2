"""PostgreSQL restarts in the middle of a sync run: the worker rides it out (its connections die
under it), and afterwards every contact is synced exactly once — nothing lost, nothing twice."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from outbound.settings import Settings
from outbound.store.db import Database
from outbound.store.models import SyncJob
from tests.conftest import Sim, Team
from tests.reliability.test_crash import worker_env
from tests.reliability.test_faults import assert_exactly_once, enroll_on_crelate

PG_DIR = os.environ.get("OUTBOUND_TEST_PG_DIR")
PG_TEMP = Path(__file__).resolve().parents[2] / "scripts" / "pg-temp"


def open_jobs(db: Database) -> int:
    with db.session() as s:
        return int(
            s.scalar(
                select(func.count())
                .select_from(SyncJob)
                .where(SyncJob.status.in_(("pending", "running")))
            )
            or 0
        )


@pytest.mark.skipif(not PG_DIR, reason="needs the throw-away PostgreSQL of scripts/test")
def test_worker_survives_a_postgresql_restart_mid_run(
    team: Team, crelate: Sim, settings: Settings, db: Database
) -> None:
    assert PG_DIR is not None
    ids, baseline = enroll_on_crelate(team, crelate)
    crelate.faults(latency_ms=5, latency_jitter_ms=10, seed=5)
    # Paced, so that the run is long enough to be hit, however fast the engine gets.
    env = {**worker_env(settings), "OUTBOUND_LOG_FORMAT": "text"}
    env["OUTBOUND_CRELATE_RATE_PER_SECOND"] = "40"

    worker = subprocess.Popen(
        [sys.executable, "-m", "outbound.cli", "worker", "--until-idle", "--no-mail"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    time.sleep(2.0)
    assert worker.poll() is None, "the run ended before the restart"
    assert open_jobs(db) > 0, "the work was done before the restart"
    subprocess.run([str(PG_TEMP), "restart", PG_DIR], check=True, timeout=60)
    _, err = worker.communicate(timeout=600)
    assert worker.returncode == 0, err.decode()[-3000:]
    # The restart really hit the worker: it lost its database connections and carried on.
    seen = (b"retrying", b"OperationalError", b"database unavailable")
    assert any(word in err for word in seen), err.decode()[-3000:]

    assert_exactly_once(team, crelate, ids, baseline)
