"""A real lock timeout at the worst moment: right after an ATS write, another transaction holds
the lock Outbound needs to record it (SQLite's write lock; a PostgreSQL table lock), longer than
the database's lock timeout. No error is raised by the test: the database refuses the worker
("database is locked", SQLSTATE 55P03). The worker treats it as an outage (retry, uncounted)
and, once the lock is gone, every effect is in the ATS exactly once."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from outbound.settings import Settings
from outbound.store.db import Database
from outbound.sync import state as st
from tests.conftest import Sim, Team, run_worker
from tests.reliability.test_worst_moment import EMAIL, WRITES, writes_of
from tests.test_api_core import make_sequence
from tests.test_sync_clockwork import connect as connect_clockwork
from tests.test_sync_clockwork import people_with, project_named
from tests.test_sync_crelate import add, ats_contacts, enrollment, job_named, person
from tests.test_sync_crelate import connect as connect_crelate

LOCK_TIMEOUT = 0.3  # seconds the worker's statements wait for a lock
HELD_FOR = 1.0  # seconds the other transaction holds it: longer, so the wait times out


@contextmanager
def lock_held_elsewhere(db: Database) -> Iterator[threading.Event]:
    """Another connection takes the lock recording a write needs and keeps it for HELD_FOR
    seconds; yields once it holds it."""
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        if db.engine.dialect.name == "sqlite":
            conn = sqlite3.connect(str(db.engine.url.database), isolation_level=None)
            conn.execute("BEGIN IMMEDIATE")  # SQLite's one write lock
        else:
            import psycopg

            url = db.engine.url.set(drivername="postgresql")
            conn = psycopg.connect(url.render_as_string(hide_password=False))  # type: ignore[assignment]
            conn.execute("LOCK TABLE ats_effects IN ACCESS EXCLUSIVE MODE")
        held.set()
        release.wait(HELD_FOR)
        conn.rollback()
        conn.close()

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    held.wait(10)
    try:
        yield held
    finally:
        thread.join(HELD_FOR + 5)


def lock_before(monkeypatch: pytest.MonkeyPatch, db: Database, effect: str) -> dict[str, Any]:
    """The first time the worker is about to record an ``effect`` write as done, the lock is
    already held elsewhere: the real statement waits, times out and fails."""
    real = st.finish_effect
    seen: dict[str, Any] = {"n": 0, "errors": []}

    def recording(*args: Any, **kwargs: Any) -> Any:
        key = args[1]
        if seen["n"] == 0 and key.effect.split(":")[0] == effect:
            seen["n"] += 1
            with lock_held_elsewhere(db):
                try:
                    return real(*args, **kwargs)
                except Exception as exc:
                    seen["errors"].append(str(exc))
                    raise
        return real(*args, **kwargs)

    monkeypatch.setattr(st, "finish_effect", recording)
    return seen


@pytest.mark.parametrize(("provider", "effect"), writes_of(WRITES))
def test_a_lock_timeout_right_after_an_ats_write_duplicates_nothing(
    provider: str,
    effect: str,
    team: Team,
    crelate: Sim,
    clockwork: Sim,
    db: Database,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if provider == "crelate":
        connect_crelate(team)
        job = job_named(crelate, "Senior Python Engineer")
    else:
        connect_clockwork(team)
        job = project_named(clockwork, "CFO Search - Northwind")
    (eid,) = add(team, make_sequence(team, job_id=job), person(1))
    for kind in ("sent", "replied"):
        r = team.call("POST", f"/enrollments/{eid}/events", json={"kind": kind, "subject": "Hi"})
        assert r.status_code in (200, 201), r.text
    seen = lock_before(monkeypatch, db, effect)
    impatient = Database(db.url, lock_timeout=LOCK_TIMEOUT)
    try:
        run_worker(impatient, settings, 60)
    finally:
        impatient.dispose()

    assert seen["n"] == 1 and len(seen["errors"]) == 1, seen  # the lock timeout did strike
    words = seen["errors"][0].lower()
    assert "database is locked" in words or "lock timeout" in words, words
    got = enrollment(team, eid)
    assert got["sync_state"] == "synced" and got["error_code"] is None, got
    record = got["ats_record_id"]
    if provider == "crelate":
        assert len(ats_contacts(crelate, EMAIL)) == 1
        assert len([p for p in crelate.records("pipeline") if p["ContactId"] == record]) == 1
        notes = [a for a in crelate.records("activities") if a["ParentId"]["Id"] == record]
        assert crelate.duplicates() == 0
    else:
        assert len(people_with(clockwork, EMAIL)) == 1
        assert len([c for c in clockwork.records("candidacies") if c["person_id"] == record]) == 1
        notes = [n for n in clockwork.records("notes") if n["personId"] == record]
        assert clockwork.duplicates() == 0
    assert len(notes) == 2
    written = team.call("GET", f"/enrollments/{eid}/effects").json()
    assert all(w["confirmed"] for w in written)
