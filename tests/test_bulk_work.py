"""Issue 15: bulk work (add, resync, import) in chunks that commit as they go, with a fixed
number of statements per chunk; adds that overlap merge, on SQLite and on PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select

from outbound.service import enrollments
from outbound.service.caller import Caller
from outbound.service.enrollments import AddResult, ImportSource, ListedRecord
from outbound.store.db import Database
from outbound.store.models import AtsConnection, AtsLink, Contact, Enrollment, SyncJob
from tests.conftest import Sim, Team
from tests.statements import statements_sent
from tests.test_api_core import make_sequence
from tests.test_sync_crelate import connect

# A contact's sync job: alone, or also its duplicate check (deduplication on, the default).
SYNC_KINDS = ("sync_contact", "check_and_sync")


def people(first: int, last: int) -> list[dict[str, Any]]:
    return [
        {"email": f"Bulk{i}@Scale.example.com", "first_name": f"B{i}", "last_name": "Bulk"}
        for i in range(first, last)
    ]


def owner(team: Team) -> Caller:
    return Caller(team.user_ids["owner"], team.team_id, "owner")


def enrolled_once_with_jobs_once(db: Database, seq: int, expected: int) -> None:
    """Each contact enrolled once, each enrollment with exactly one sync queued, which is also
    its duplicate check (Crelate with deduplication on, syncing on add: one look-up)."""
    with db.session() as s:
        assert s.scalar(select(func.count(Contact.id))) == expected
        enrolled = s.scalar(select(func.count(Enrollment.id)).where(Enrollment.sequence_id == seq))
        assert enrolled == expected
        per_enrollment = s.execute(
            select(SyncJob.kind, func.count(SyncJob.id))
            .group_by(SyncJob.enrollment_id, SyncJob.kind)
            .having(func.count(SyncJob.id) > 1)
        ).all()
        assert per_enrollment == []
        kinds = dict(
            s.execute(select(SyncJob.kind, func.count(SyncJob.id)).group_by(SyncJob.kind)).all()
        )
        assert kinds == {"check_and_sync": expected}


# -- chunked commits ------------------------------------------------------------------------
def test_a_big_add_commits_chunk_by_chunk_and_others_write_in_between(
    team: Team, crelate: Sim, db: Database
) -> None:
    connect(team)
    seq = make_sequence(team)
    seen: list[tuple[int, int, int]] = []

    def between_chunks(done: int) -> None:
        # Another session, while the add is still running: what is done is committed (with
        # its sync jobs), and the database takes a write (on SQLite: the lock is free).
        with db.session() as s:
            enrolled = s.scalar(
                select(func.count(Enrollment.id)).where(Enrollment.sequence_id == seq)
            )
            jobs = s.scalar(select(func.count(SyncJob.id)).where(SyncJob.kind.in_(SYNC_KINDS)))
            s.add(Contact(team_id=team.team_id, email=f"walk-in{done}@other.example.com"))
        seen.append((done, enrolled or 0, jobs or 0))

    result = enrollments.add_contacts_in_chunks(
        db, owner(team), seq, people(0, 1_200), chunk_size=500, progress=between_chunks
    )
    assert (result.added, result.already_present) == (1_200, 0)
    assert seen == [(500, 500, 500), (1_000, 1_000, 1_000), (1_200, 1_200, 1_200)]
    # The ids come back in the order the contacts were asked for.
    with db.session() as s:
        order = s.scalars(
            select(Contact.email)
            .join(Enrollment, Enrollment.contact_id == Contact.id)
            .where(Enrollment.id.in_(result.enrollment_ids))
            .order_by(Enrollment.id)
        ).all()
    assert order == [p["email"].lower() for p in people(0, 1_200)]


def test_an_add_stopped_half_way_is_repeated_and_merges(
    team: Team, crelate: Sim, db: Database
) -> None:
    connect(team)
    seq = make_sequence(team)
    asked = people(0, 1_000)

    def crash(done: int) -> None:
        if done == 400:
            raise RuntimeError("the process died here")

    with pytest.raises(RuntimeError):
        enrollments.add_contacts_in_chunks(
            db, owner(team), seq, asked, chunk_size=200, progress=crash
        )
    # The first two chunks are stored whole (contact, enrollment and its jobs), the rest not.
    enrolled_once_with_jobs_once(db, seq, 400)
    again = enrollments.add_contacts_in_chunks(db, owner(team), seq, asked, chunk_size=200)
    assert (again.added, again.already_present) == (600, 400)
    enrolled_once_with_jobs_once(db, seq, 1_000)


def test_a_resync_commits_chunk_by_chunk_with_its_progress(
    team: Team, crelate: Sim, db: Database
) -> None:
    seq = make_sequence(team)
    enrollments.add_contacts_in_chunks(db, owner(team), seq, people(0, 250))
    connect(team)  # added before the connection: resync is what syncs them
    progress: list[dict[str, int]] = []
    batch_ids: list[str] = []

    def between_chunks(done: int) -> None:
        with db.session() as s:
            batches = s.scalars(
                select(SyncJob.batch_id).where(SyncJob.batch_id.is_not(None)).distinct()
            ).all()
            batch_ids.extend(batches)
            progress.extend(enrollments.batch_progress(s, owner(team), b) for b in batches)

    batch_id, queued, skipped = enrollments.resync_in_chunks(
        db, owner(team), seq, None, chunk_size=100, progress=between_chunks
    )
    assert (queued, skipped) == (250, 0)
    assert set(batch_ids) == {batch_id}
    assert [p["total"] for p in progress] == [100, 200, 250]
    # Repeated (a retry, a second click): everything is pending, nothing queued twice.
    _, queued, skipped = enrollments.resync_in_chunks(db, owner(team), seq, None, chunk_size=100)
    assert (queued, skipped) == (0, 250)
    enrolled_once_with_jobs_once(db, seq, 250)


# -- concurrent adds merge ------------------------------------------------------------------
def _in_two_threads(calls: list[Callable[[], AddResult]]) -> list[AddResult]:
    start = threading.Barrier(len(calls))
    results: list[AddResult | BaseException] = [RuntimeError("not run")] * len(calls)

    def run(n: int) -> None:
        start.wait()
        try:
            results[n] = calls[n]()
        except BaseException as exc:
            results[n] = exc

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    for r in results:
        if isinstance(r, BaseException):
            raise r
    return [r for r in results if isinstance(r, AddResult)]


@pytest.mark.parametrize("chunked", [True, False], ids=["in-chunks", "one-transaction"])
def test_overlapping_adds_both_succeed_and_merge(
    team: Team, crelate: Sim, db: Database, chunked: bool
) -> None:
    connect(team)
    seq = make_sequence(team)
    first = people(0, 1_500)
    second = people(500, 2_000)[::-1]  # overlapping, in the other order

    def add(asked: list[dict[str, Any]]) -> Callable[[], AddResult]:
        if chunked:
            return lambda: enrollments.add_contacts_in_chunks(
                db, owner(team), seq, asked, chunk_size=100
            )

        def in_one_transaction() -> AddResult:
            with db.session() as s:
                return enrollments.add_contacts(s, owner(team), seq, asked)

        return in_one_transaction

    a, b = _in_two_threads([add(first), add(second)])
    assert a.added + a.already_present == 1_500 and b.added + b.already_present == 1_500
    assert a.added + b.added == 2_000
    assert len(set(a.enrollment_ids) | set(b.enrollment_ids)) == 2_000
    enrolled_once_with_jobs_once(db, seq, 2_000)


def test_overlapping_adds_through_the_api_both_answer_201(
    team: Team, crelate: Sim, db: Database
) -> None:
    connect(team)
    seq = make_sequence(team)
    lists = [people(0, 1_500), people(500, 2_000)[::-1]]
    start = threading.Barrier(2)
    answers: list[Any] = [None, None]

    def post(n: int) -> None:
        start.wait()
        answers[n] = team.call("POST", f"/sequences/{seq}/contacts", json={"contacts": lists[n]})

    threads = [threading.Thread(target=post, args=(n,)) for n in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert [a.status_code for a in answers] == [201, 201], [a.text[:200] for a in answers]
    bodies = [a.json() for a in answers]
    assert sum(b["added"] for b in bodies) == 2_000
    assert all(b["added"] + b["already_present"] == 1_500 for b in bodies)
    enrolled_once_with_jobs_once(db, seq, 2_000)


# -- statements grow with chunks, not with rows ---------------------------------------------
def test_resync_statements_grow_with_chunks_not_rows(
    team: Team, crelate: Sim, db: Database
) -> None:
    sizes = {"N": 60, "4N": 240, "4N again": 240}
    seqs = {name: make_sequence(team) for name in sizes}
    for name, size in sizes.items():
        enrollments.add_contacts_in_chunks(db, owner(team), seqs[name], people(0, size))
    connect(team)

    def resync(name: str, chunk: int) -> int:
        with statements_sent(db) as seen:
            _, queued, _ = enrollments.resync_in_chunks(
                db, owner(team), seqs[name], None, backfill_activity=True, chunk_size=chunk
            )
        assert queued == sizes[name]
        return len(seen)

    three_chunks_of_20 = resync("N", 20)
    three_chunks_of_80 = resync("4N", 80)
    twelve_chunks_of_20 = resync("4N again", 20)
    # Four times the rows in as many chunks: not one statement more.
    assert three_chunks_of_80 == three_chunks_of_20
    # Four times the chunks: a fixed number of statements per chunk (read the page, update,
    # earlier emails, insert jobs, BEGIN), far fewer than one per contact.
    per_chunk, rest = divmod(twelve_chunks_of_20 - three_chunks_of_20, 12 - 3)
    assert rest == 0 and per_chunk <= 6
    assert twelve_chunks_of_20 < 240 / 2


def test_add_and_import_statements_do_not_grow_with_rows(
    team: Team, crelate: Sim, db: Database
) -> None:
    connect(team)
    small, big = make_sequence(team), make_sequence(team)
    with db.session() as s:
        conn = s.scalars(select(AtsConnection)).one()
        conn_id, provider, org = conn.id, conn.provider, conn.ats_org

    def imported(first: int, last: int, seq: int) -> int:
        asked = people(first, last)
        source = ImportSource(
            conn_id,
            provider,
            org,
            {p["email"].lower(): ListedRecord(f"remote-{p['email']}") for p in asked},
        )
        with statements_sent(db) as seen, db.session() as s:
            result = enrollments.add_contacts(s, owner(team), seq, asked, source=source)
        assert result.added == last - first
        return len(seen)

    assert imported(0, 100, small) == imported(100, 500, big)
    with db.session() as s:
        linked = s.scalar(select(func.count(AtsLink.id)).where(AtsLink.state == "linked"))
        imported_jobs = s.scalar(select(func.count(SyncJob.id)))
    assert linked == 500
    assert imported_jobs == 500  # linked to their record: a sync each, no duplicate check

    def added(first: int, last: int, seq: int) -> int:
        with statements_sent(db) as seen:
            enrollments.add_contacts_in_chunks(
                db, owner(team), seq, people(first, last), chunk_size=500
            )
        return len(seen)

    other_small, other_big = make_sequence(team), make_sequence(team)
    assert added(1_000, 1_100, other_small) == added(2_000, 2_400, other_big)
