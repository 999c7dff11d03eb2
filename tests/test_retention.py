"""Issue 15: retention prunes finished jobs, ATS call logs and email events older than the window,
in chunks that commit as they go, keeps what is still needed, and leaves a summary on the
contact's timeline. On the engine under test (SQLite or PostgreSQL)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from outbound.metrics import REGISTRY
from outbound.service import retention
from outbound.service.retention import count_prunable, prune_once
from outbound.settings import Settings
from outbound.store.db import Database
from outbound.store.models import (
    ActivityEvent,
    AtsConnection,
    AtsEffect,
    Contact,
    Enrollment,
    SyncCall,
    SyncJob,
    TimelineSummary,
    utcnow,
)
from tests.conftest import Team, database_url
from tests.seeding import add_connection, add_jobs, insert_rows, job_row, planned_session
from tests.test_api_core import make_sequence
from tests.test_query_plans import Explain, assert_reads, plan_of

OLD = timedelta(days=100)  # past the default 90-day window


@dataclass(frozen=True)
class Person:
    enrollment_id: int
    contact_id: int
    connection_id: int


def enrol(team: Team, db: Database, email: str = "ann@talent.example.com") -> Person:
    """A contact in a sequence, and a connection its sync jobs can belong to."""
    seq = make_sequence(team)
    r = team.call("POST", f"/sequences/{seq}/contacts", json={"contacts": [{"email": email}]})
    assert r.status_code == 201, r.text
    (eid,) = r.json()["enrollment_ids"]
    with db.session() as s:
        e = s.get(Enrollment, eid)
        assert e is not None
        conn_id = s.scalar(select(AtsConnection.id).where(AtsConnection.team_id == team.team_id))
        if conn_id is None:
            conn_id = add_connection(s, team.team_id, team.user_ids["owner"], "u1", "Owner")
        return Person(eid, e.contact_id, conn_id)


def add_calls(db: Database, p: Person, n: int, at: datetime, status: int | None = 200) -> None:
    with db.session() as s:
        insert_rows(
            s,
            SyncCall,
            [
                {
                    "contact_id": p.contact_id,
                    "method": "GET",
                    "path": f"/api3/contacts/{i}",
                    "status_code": status,
                    "outcome": "found",
                    "attempt": 1,
                    "at": at + timedelta(seconds=i),
                }
                for i in range(n)
            ],
        )


def add_events(db: Database, p: Person, kind: str, n: int, at: datetime) -> list[int]:
    with db.session() as s:
        team_id = _team_of(s, p)
        return insert_rows(
            s,
            ActivityEvent,
            [
                {
                    "team_id": team_id,
                    "enrollment_id": p.enrollment_id,
                    "contact_id": p.contact_id,
                    "kind": kind,
                    "subject": "Hi",
                    "occurred_at": at + timedelta(seconds=i),
                }
                for i in range(n)
            ],
        )


def add_job(
    db: Database,
    p: Person,
    status: str,
    finished_at: datetime | None,
    kind: str = "sync_contact",
    payload: dict[str, Any] | None = None,
    last_error: str | None = None,
) -> int:
    with db.session() as s:
        row = job_row(
            _team_of(s, p),
            p.connection_id,
            kind,
            status,
            contact_id=p.contact_id,
            enrollment_id=p.enrollment_id,
            at=(finished_at or utcnow()) - timedelta(minutes=1),
            payload=payload or {},
            finished_at=finished_at,
            last_error=last_error,
        )
        (job_id,) = add_jobs(s, [row])
        return job_id


def _team_of(s: Session, p: Person) -> int:
    team_id = s.scalar(select(Enrollment.team_id).where(Enrollment.id == p.enrollment_id))
    assert team_id is not None
    return team_id


def count(db: Database, model: Any, *where: Any) -> int:
    with db.session() as s:
        return int(s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def prune_all(db: Database, settings: Settings, batch_size: int) -> list[retention.PruneReport]:
    """One chunk per call until every sweep is done: the rounds a worker would make."""
    rounds = []
    while True:
        rounds.append(prune_once(db, settings, batch_size=batch_size, max_chunks=1))
        if not rounds[-1].more:
            return rounds
        assert len(rounds) < 100, "the sweep does not end"


def set_enrollment(db: Database, p: Person, **values: Any) -> None:
    with db.session() as s:
        e = s.get(Enrollment, p.enrollment_id)
        assert e is not None
        for k, v in values.items():
            setattr(e, k, v)


# -- what goes, what stays, in how many rounds ---------------------------------------------
def test_prunes_only_old_rows_in_chunks_that_commit_as_they_go(
    team: Team, db: Database, settings: Settings
) -> None:
    p = enrol(team, db)
    now = utcnow()
    add_calls(db, p, 25, now - OLD)
    add_calls(db, p, 3, now - timedelta(days=10))
    set_enrollment(db, p, state="finished")
    add_events(db, p, "sent", 12, now - OLD)
    add_events(db, p, "replied", 2, now - timedelta(days=5))
    done_old = [add_job(db, p, status, now - OLD) for status in ("done", "cancelled") * 6]
    kept_jobs = [
        add_job(db, p, "done", now - timedelta(days=1)),
        add_job(db, p, "pending", None),
        add_job(db, p, "failed", now - OLD, last_error="refused"),  # the contact shows no error
    ]
    with db.session() as s:
        s.add(AtsEffect(provider="crelate", ats_org="org", contact_id=p.contact_id, effect="x"))
        s.add(AtsEffect(provider="crelate", ats_org="org", contact_id=p.contact_id, effect="y"))
    before = REGISTRY.get_sample_value("outbound_retention_pruned_total", {"table": "sync_calls"})

    rounds = prune_all(db, settings, batch_size=10)

    # Chunks of 10: the 25 old calls took three rounds, each deleting at most one chunk.
    assert [r.pruned["sync_calls"] for r in rounds[:3]] == [10, 10, 5]
    assert all(max(r.pruned.values()) <= 10 for r in rounds)
    total = {t: sum(r.pruned[t] for r in rounds) for t in retention.TABLES}
    assert total == {"sync_jobs": 13, "sync_calls": 25, "activity_events": 12}
    assert count(db, SyncCall) == 3
    assert count(db, SyncCall, SyncCall.at < now - timedelta(days=90)) == 0
    assert count(db, ActivityEvent) == 2
    with db.session() as s:
        left = set(s.scalars(select(SyncJob.id)))
    assert left == set(kept_jobs[:2]) and not left & set(done_old)
    # Never pruned: the effect ledger, the contact and its enrollment.
    assert count(db, AtsEffect) == 2
    assert count(db, Contact, Contact.id == p.contact_id) == 1
    assert count(db, Enrollment, Enrollment.id == p.enrollment_id) == 1
    after = REGISTRY.get_sample_value("outbound_retention_pruned_total", {"table": "sync_calls"})
    assert (after or 0) - (before or 0) == 25

    # A later call finds nothing more to do.
    again = prune_once(db, settings, batch_size=10)
    assert again.total == 0 and not again.more


def test_one_call_is_bounded_and_says_when_there_is_more(
    team: Team, db: Database, settings: Settings
) -> None:
    p = enrol(team, db)
    add_calls(db, p, 35, utcnow() - OLD)
    first = prune_once(db, settings, batch_size=10, max_chunks=2)
    assert first.pruned["sync_calls"] == 20 and first.more
    assert first.unfinished == ["sync_calls"]
    assert first.next_run_in == retention.BUSY_INTERVAL_SECONDS
    second = prune_once(db, settings, batch_size=10, max_chunks=2, tables=first.unfinished)
    assert second.pruned["sync_calls"] == 15 and not second.more
    assert second.next_run_in == retention.INTERVAL_SECONDS
    assert count(db, SyncCall) == 0


def test_retention_off_prunes_nothing(team: Team, db: Database, settings: Settings) -> None:
    p = enrol(team, db)
    add_calls(db, p, 5, utcnow() - OLD)
    report = prune_once(db, settings.model_copy(update={"retention_days": 0}))
    assert report.total == 0 and report.chunks == 0
    assert count(db, SyncCall) == 5


# -- what is still needed ----------------------------------------------------------------
def test_an_event_a_pending_log_activity_job_refers_to_survives(
    team: Team, db: Database, settings: Settings
) -> None:
    p = enrol(team, db)
    set_enrollment(db, p, state="finished")
    old = utcnow() - OLD
    # More needed rows than one chunk holds, older than the rest: the sweep passes over them.
    needed = add_events(db, p, "replied", 15, old - timedelta(hours=1))
    jobs = [add_job(db, p, "pending", None, "log_activity", {"event_id": e}) for e in needed]
    running = add_events(db, p, "replied", 1, old)[0]
    add_job(db, p, "running", None, "log_activity", {"event_id": running})
    doomed = add_events(db, p, "opened", 12, old + timedelta(hours=1))

    rounds = prune_all(db, settings, batch_size=10)
    assert sum(r.pruned["activity_events"] for r in rounds) == len(doomed)
    assert sum(r.kept["activity_events"] for r in rounds) == len(needed) + 1
    with db.session() as s:
        assert set(s.scalars(select(ActivityEvent.id))) == {*needed, running}

    # Once logged, they go on the next sweep.
    with db.session() as s:
        s.execute(
            SyncJob.__table__.update()
            .where(SyncJob.id.in_(jobs))
            .values(status="done", finished_at=utcnow())
        )
    prune_all(db, settings, batch_size=10)
    with db.session() as s:
        assert set(s.scalars(select(ActivityEvent.id))) == {running}


def test_the_first_send_stays_while_the_contact_may_be_emailed_again(
    team: Team, db: Database, settings: Settings
) -> None:
    """record_event moves the ATS stage on the first send only: the row it counts must stay."""
    p = enrol(team, db)
    first, *_later = add_events(db, p, "sent", 3, utcnow() - OLD)
    set_enrollment(db, p, state="active")
    prune_once(db, settings)
    with db.session() as s:
        assert list(s.scalars(select(ActivityEvent.id))) == [first]
    set_enrollment(db, p, state="finished")
    prune_once(db, settings)
    assert count(db, ActivityEvent) == 0


def test_a_failed_job_stays_while_its_contact_shows_its_error(
    team: Team, db: Database, settings: Settings
) -> None:
    p = enrol(team, db)
    job = add_job(db, p, "failed", utcnow() - OLD, last_error="Crelate refused the phone field")
    set_enrollment(db, p, error_code="sync_error", error_message="Crelate refused the phone field")
    report = prune_once(db, settings)
    assert report.kept["sync_jobs"] == 1 and count(db, SyncJob, SyncJob.id == job) == 1
    assert team.call("POST", f"/enrollments/{p.enrollment_id}/clear-error").status_code == 200
    prune_once(db, settings)
    assert count(db, SyncJob, SyncJob.id == job) == 0


def test_finished_jobs_of_a_batch_still_running_stay(
    team: Team, db: Database, settings: Settings
) -> None:
    p = enrol(team, db)
    done = add_job(db, p, "done", utcnow() - OLD)
    waiting = add_job(db, p, "pending", None)
    with db.session() as s:
        s.execute(
            SyncJob.__table__.update().where(SyncJob.id.in_([done, waiting])).values(batch_id="b1")
        )
    prune_once(db, settings)
    assert count(db, SyncJob, SyncJob.id == done) == 1
    with db.session() as s:
        s.execute(SyncJob.__table__.update().where(SyncJob.id == waiting).values(status="done"))
    prune_once(db, settings)
    assert count(db, SyncJob, SyncJob.id == done) == 0


# -- the summary -------------------------------------------------------------------------
def test_the_timeline_keeps_a_summary_of_what_was_removed(
    team: Team, db: Database, settings: Settings
) -> None:
    p = enrol(team, db)
    set_enrollment(db, p, state="replied")
    jan = datetime(2025, 1, 10, 9, 0, tzinfo=UTC)
    add_calls(db, p, 8, jan)
    add_calls(db, p, 2, jan + timedelta(days=60), status=None)  # no answer: failed
    add_events(db, p, "sent", 42, jan)
    add_events(db, p, "replied", 3, jan + timedelta(days=59))
    add_calls(db, p, 1, utcnow())  # recent: stays on the timeline itself

    prune_all(db, settings, batch_size=7)  # the summary grows chunk by chunk
    entries = team.call("GET", f"/enrollments/{p.enrollment_id}/timeline").json()
    summaries = [e for e in entries if e["kind"] == "summary"]
    assert [e["kind"] for e in entries] == ["summary", "summary", "call"]
    emails, calls = summaries
    assert emails["summary"]["scope"] == "emails"
    assert emails["summary"]["counts"] == {"sent": 42, "replied": 3}
    assert emails["outcome"] == (
        "42 emails sent and 3 replies in Jan\N{EN DASH}Mar 2025 (details removed after 90 days)"
    )
    assert calls["summary"]["counts"] == {"calls": 10, "failed": 2}
    assert calls["outcome"].startswith("10 ATS calls (2 failed) in Jan\N{EN DASH}Mar 2025")
    assert calls["id"] is None and calls["method"] == ""
    assert calls["summary"]["retention_days"] == 90
    # One row per key however many chunks it took.
    assert count(db, TimelineSummary) == 2
    # Another contact's timeline shows none of it.
    other = enrol(team, db, "bo@talent.example.com")
    assert team.call("GET", f"/enrollments/{other.enrollment_id}/timeline").json() == []


# -- dry run, settings, plans, CLI -------------------------------------------------------
def test_a_dry_run_counts_what_a_prune_removes_and_removes_nothing(
    team: Team, db: Database, settings: Settings
) -> None:
    p = enrol(team, db)
    set_enrollment(db, p, state="finished")
    add_calls(db, p, 23, utcnow() - OLD)
    needed = add_events(db, p, "sent", 2, utcnow() - OLD)
    add_job(db, p, "pending", None, "log_activity", {"event_id": needed[0]})
    seen: list[int] = []
    dry = count_prunable(db, 90, batch_size=10, progress=lambda r: seen.append(r.chunks))
    assert dry.pruned == {"sync_jobs": 0, "sync_calls": 23, "activity_events": 1}
    assert dry.kept["activity_events"] == 1 and len(seen) >= 3
    assert count(db, SyncCall) == 23 and count(db, ActivityEvent) == 2
    real = prune_once(db, settings, batch_size=10)
    assert real.pruned == dry.pruned


def test_the_window_setting_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().retention_days == 90
    monkeypatch.setenv("OUTBOUND_RETENTION_DAYS", "0")
    assert Settings().retention_days == 0
    monkeypatch.setenv("OUTBOUND_RETENTION_DAYS", "7")
    with pytest.raises(ValidationError, match="retention_days"):
        Settings()


@pytest.fixture
def seeded(tmp_path: Path) -> Iterator[Session]:
    with planned_session(database_url(tmp_path)) as s:
        yield s


@pytest.mark.parametrize("resume", [False, True])
def test_each_chunk_reads_its_table_through_the_age_index(seeded: Session, resume: bool) -> None:
    indexes = {
        "sync_jobs": "ix_sync_jobs_age",
        "sync_calls": "ix_sync_calls_age",
        "activity_events": "ix_activity_events_age",
    }
    cutoff = utcnow() - timedelta(days=90)
    for sweep in retention.SWEEPS:
        after = (cutoff - timedelta(days=30), 5) if resume else None
        statement = retention.candidates_statement(sweep, cutoff, after, 1000)
        # Only the id selected: EXPLAIN's rows must not go through the datetime column's type.
        ids = statement.with_only_columns(sweep.model.id)
        assert_reads(plan_of(seeded, ids), sweep.table, indexes[sweep.table])
        # Read in index order: a chunk stops after its rows instead of sorting every old row.
        raw = str(seeded.execute(Explain(ids)).all())
        assert "TEMP B-TREE" not in raw and "'Sort'" not in raw, raw


def _cli(tmp_path: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OUTBOUND_DATA_DIR": str(tmp_path / "cli"), "OUTBOUND_DATABASE_URL": url}
    return subprocess.run(
        [sys.executable, "-m", "outbound.cli", "prune", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_prune_command_prints_counts(
    team: Team, db: Database, settings: Settings, tmp_path: Path
) -> None:
    p = enrol(team, db)
    set_enrollment(db, p, state="finished")
    add_calls(db, p, 1_234, utcnow() - OLD)
    add_events(db, p, "sent", 3, utcnow() - OLD)
    url = settings.resolved_database_url

    dry = _cli(tmp_path, url, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "would prune" in dry.stdout and "1,234" in dry.stdout
    assert count(db, SyncCall) == 1_234

    done = _cli(tmp_path, url, "--days", "60")
    assert done.returncode == 0, done.stderr
    assert "ATS call logs" in done.stdout and "1,234" in done.stdout
    assert "timeline summaries created: 2" in done.stdout
    assert count(db, SyncCall) == 0 and count(db, ActivityEvent) == 0


@pytest.mark.parametrize("days", ["5", "0", "-3", "99999999"])
def test_a_bad_days_is_a_clear_message_and_nonzero_exit(
    db: Database, settings: Settings, tmp_path: Path, days: str
) -> None:
    result = _cli(tmp_path, settings.resolved_database_url, "--days", days)
    assert result.returncode != 0
    assert "--days must be between 30 and 36500" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_non_number_days_is_refused(settings: Settings, tmp_path: Path) -> None:
    result = _cli(tmp_path, settings.resolved_database_url, "--days", "ninety")
    assert result.returncode != 0 and "--days" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_sync_worker_prunes_in_the_background(
    team: Team, db: Database, settings: Settings, work: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nobody runs `outbound prune`: the sync worker's loop does a bounded round of it."""
    from outbound.sync import worker

    monkeypatch.setattr(worker, "PRUNE_FIRST_AFTER", 0.0)
    p = enrol(team, db)
    now = utcnow()
    add_calls(db, p, 5, now - OLD)
    add_calls(db, p, 2, now - timedelta(days=1))
    work()
    assert count(db, SyncCall, SyncCall.contact_id == p.contact_id) == 2
