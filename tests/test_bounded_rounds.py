"""Work per round that does not grow with what is stored (issue 15): the /metrics job counts,
ended pauses resumed a batch at a time, a thread's Message-IDs looked up up to a cap."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert, select

from outbound.mail import inbound, planner
from outbound.store.db import Database
from outbound.store.job_counts import JobCounter
from outbound.store.migrate import upgrade
from outbound.store.models import (
    AtsConnection,
    Contact,
    Enrollment,
    Sequence,
    SyncJob,
    Team,
    User,
    utcnow,
)
from tests.conftest import database_url
from tests.pg import reset_schema


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    url = database_url(tmp_path)
    reset_schema(url)
    upgrade(url)
    database = Database(url)
    yield database
    database.dispose()


def _team(db: Database) -> tuple[int, int, int, int]:
    """A team, its owner, the owner's connection and a sequence."""
    with db.session() as s:
        team = Team(name="Acme")
        s.add(team)
        s.flush()
        user = User(team_id=team.id, email="o@acme.test", name="O", role="owner")
        s.add(user)
        s.flush()
        conn = AtsConnection(
            user_id=user.id,
            team_id=team.id,
            provider="crelate",
            credentials_encrypted=b"sealed",
            ats_org="org",
            ats_user_id="o",
            ats_user_name="O",
        )
        seq = Sequence(team_id=team.id, owner_id=user.id, name="S")
        s.add_all([conn, seq])
        s.flush()
        return team.id, user.id, conn.id, seq.id


def _jobs(db: Database, team_id: int, conn_id: int, status: str, n: int = 1) -> None:
    now = utcnow()
    row = {
        "team_id": team_id,
        "connection_id": conn_id,
        "kind": "sync_contact",
        "payload": {},
        "status": status,
        "run_after": now,
        "created_at": now,
    }
    with db.session() as s:
        s.execute(insert(SyncJob), [row] * n)


def test_finished_jobs_are_recounted_every_scrape_only_while_few(db: Database) -> None:
    team_id, _, conn_id, _ = _team(db)
    clock = [0.0]
    counter = JobCounter(exact_below=3, refresh_seconds=30, clock=lambda: clock[0])

    def count() -> dict[str, int]:
        with db.session() as s:
            return counter.count(s)

    _jobs(db, team_id, conn_id, "done", 2)
    _jobs(db, team_id, conn_id, "pending")
    assert count() == {"pending": 1, "running": 0, "failed": 0, "done": 2, "cancelled": 0}
    _jobs(db, team_id, conn_id, "done")
    assert count()["done"] == 3  # 2 were few: recounted
    _jobs(db, team_id, conn_id, "done")
    _jobs(db, team_id, conn_id, "pending")
    _jobs(db, team_id, conn_id, "failed")
    counts = count()
    assert counts["done"] == 3  # 3 are many: the last count stands for 30 s
    assert (counts["pending"], counts["failed"]) == (2, 1)  # what waits is always exact
    clock[0] = 30.0
    assert count()["done"] == 4


def test_ended_pauses_resume_a_batch_per_round(db: Database) -> None:
    team_id, user_id, _, seq_id = _team(db)
    now = utcnow()
    with db.session() as s:
        for i in range(6):
            contact = Contact(team_id=team_id, email=f"p{i}@x.test")
            s.add(contact)
            s.flush()
            s.add(
                Enrollment(
                    team_id=team_id,
                    sequence_id=seq_id,
                    contact_id=contact.id,
                    added_by_id=user_id,
                    state="paused",
                    # The last one is back tomorrow: not resumed.
                    paused_until=now + timedelta(days=1 if i == 5 else -i),
                )
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
