"""Work per round that does not grow with what is stored (issue 15): the /metrics job counts,
ended pauses resumed a batch at a time, a thread's Message-IDs looked up up to a cap."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from outbound.mail import inbound, planner
from outbound.store.db import Database
from outbound.store.job_counts import JobCounter
from outbound.store.models import Enrollment, utcnow
from tests.conftest import database_url
from tests.seeding import (
    Seat,
    add_jobs,
    add_seat,
    add_team,
    enrol_many,
    job_row,
    migrated_database,
)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = migrated_database(database_url(tmp_path))
    yield database
    database.dispose()


def _team(db: Database) -> Seat:
    """A team, its owner, the owner's connection and a sequence."""
    with db.session() as s:
        team_id = add_team(s, "Acme")
        return add_seat(s, team_id, "o@acme.test", "O", ats_user_id="o")


def _jobs(db: Database, seat: Seat, status: str, n: int = 1) -> None:
    with db.session() as s:
        add_jobs(s, [job_row(seat.team_id, seat.connection_id, status=status)] * n)


def test_finished_jobs_are_recounted_every_scrape_only_while_few(db: Database) -> None:
    seat = _team(db)
    clock = [0.0]
    counter = JobCounter(exact_below=3, refresh_seconds=30, clock=lambda: clock[0])

    def count() -> dict[str, int]:
        with db.session() as s:
            return counter.count(s)

    _jobs(db, seat, "done", 2)
    _jobs(db, seat, "pending")
    assert count() == {"pending": 1, "running": 0, "failed": 0, "done": 2, "cancelled": 0}
    _jobs(db, seat, "done")
    assert count()["done"] == 3  # 2 were few: recounted
    _jobs(db, seat, "done")
    _jobs(db, seat, "pending")
    _jobs(db, seat, "failed")
    counts = count()
    assert counts["done"] == 3  # 3 are many: the last count stands for 30 s
    assert (counts["pending"], counts["failed"]) == (2, 1)  # what waits is always exact
    clock[0] = 30.0
    assert count()["done"] == 4


def test_ended_pauses_resume_a_batch_per_round(db: Database) -> None:
    seat = _team(db)
    now = utcnow()
    with db.session() as s:
        enrol_many(
            s,
            seat,
            [f"p{i}@x.test" for i in range(6)],
            state="paused",
            # The last one is back tomorrow: not resumed.
            each=lambda i: {"paused_until": now + timedelta(days=1 if i == 5 else -i)},
        )
    resumed = []
    for _ in range(4):
        with db.session() as s:
            resumed.append(planner.resume_paused(s, now, limit=2))
    assert resumed == [2, 2, 1, 0]
    with db.session() as s:
        states = s.execute(select(Enrollment.state, Enrollment.next_send_at)).all()
    assert sorted(state for state, _ in states) == ["active"] * 5 + ["paused"]
    assert all(at == now for state, at in states if state == "active")


def test_a_thread_looks_up_at_most_a_fixed_number_of_message_ids() -> None:
    references = " ".join(f"<r{i}@x.test>" for i in range(500))
    ids = inbound.thread_ids("<reply-to@x.test> <r499@x.test>", references)
    assert len(ids) == inbound.MAX_THREAD_IDS
    # The message it answers first, then the newest of the thread, each once.
    assert ids[:3] == ["<reply-to@x.test>", "<r499@x.test>", "<r498@x.test>"]
    assert len(set(ids)) == len(ids)
