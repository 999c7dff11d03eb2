"""Retention (issue 15): finished sync jobs, ATS call logs and email events older than
``settings.retention_days`` are deleted, a small chunk per transaction, so SQLite's write lock is
never held for long. ``prune_once`` does a bounded amount of that work; a worker calls it every
few minutes, sooner while ``PruneReport.more`` says a sweep is unfinished.

What is never deleted here: the effect ledger (``ats_effects``: it proves each ATS write happened
once), contacts, enrollments, their emails, and, among old rows, what something still needs:

- an email event an open sync job still refers to (a pending ``log_activity`` carries its id; the
  job would otherwise find nothing and log nothing in the ATS);
- the first "sent" event of a contact that may still be emailed (active, paused, or a send
  problem to resume): ``record_event`` moves the ATS stage to "messaged" only when it finds no
  earlier send, so losing that row would move the stage again on the next step;
- a failed job whose contact still shows its error (the job is the record of how that error came
  about; once cleared or replaced, the job goes), and finished jobs of a resync batch that still
  has work queued (its progress counts them).

Each table is swept in (age, id) order through an age index, from a cursor kept in
``retention_cursors``: rows still needed are passed over once per sweep, not re-read by every
chunk, and a sweep that reaches the end starts again from the oldest row. The age cut-off is taken
from the database's clock. What is deleted from a contact's timeline is added, in the same
transaction, to its ``timeline_summaries`` (what the timeline shows instead).

A re-fetched tracking pixel of an email older than the window records a new "opened" event (the
earlier one is gone): opens are not logged in the ATS, so nothing else follows from it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    delete,
    func,
    literal,
    or_,
    select,
    tuple_,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import InstrumentedAttribute, Session

from outbound import metrics
from outbound.service.outreach import RESUMABLE
from outbound.settings import Settings
from outbound.store.clock import database_now
from outbound.store.db import Database
from outbound.store.models import (
    ActivityEvent,
    Enrollment,
    RetentionCursor,
    SyncCall,
    SyncJob,
    TimelineSummary,
)

BATCH_SIZE = 1_000
# Chunks per table per call: a call's work is bounded, each chunk its own transaction.
MAX_CHUNKS = 10
# How often a worker calls prune_once: every INTERVAL_SECONDS, and after BUSY_INTERVAL_SECONDS
# while a sweep is unfinished (other transactions get the lock in between).
INTERVAL_SECONDS = 300.0
BUSY_INTERVAL_SECONDS = 2.0

FINISHED = ("done", "failed", "cancelled")
OPEN = ("pending", "running")
# Enrollments that may still be emailed (see the module's docstring).
SENDING_STATES = ("active", "paused")

# Swept in this order; the report counts per table.
TABLES = ("sync_jobs", "sync_calls", "activity_events")

Cursor = tuple[datetime, int]


@dataclass
class PruneReport:
    """What one call did (or, in a dry run, would do), per table."""

    days: int
    pruned: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TABLES, 0))
    # Old rows passed over because something still needs them.
    kept: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TABLES, 0))
    # Timeline summaries created (a contact's calls, an enrollment's events); later chunks
    # add to them.
    summaries: int = 0
    chunks: int = 0
    # Tables whose sweep stopped at the call's bound: call again soon.
    unfinished: list[str] = field(default_factory=list)

    @property
    def more(self) -> bool:
        return bool(self.unfinished)

    @property
    def total(self) -> int:
        return sum(self.pruned.values())

    @property
    def next_run_in(self) -> float:
        """Seconds until a worker should call ``prune_once`` again."""
        return BUSY_INTERVAL_SECONDS if self.more else INTERVAL_SECONDS

    def add(self, other: PruneReport) -> None:
        for table in TABLES:
            self.pruned[table] += other.pruned[table]
            self.kept[table] += other.kept[table]
        self.summaries += other.summaries
        self.chunks += other.chunks
        self.unfinished = list(other.unfinished)


@dataclass(frozen=True)
class _Chunk:
    pruned: int
    kept: int
    summaries: int
    # Where the sweep goes on from; None: it reached the end.
    next: Cursor | None


@dataclass(frozen=True)
class _Sweep:
    table: str
    model: Any
    age: InstrumentedAttribute[Any]
    # The candidate columns besides id and age.
    columns: tuple[InstrumentedAttribute[Any], ...]
    # What else a candidate must be (a job: finished).
    condition: ColumnElement[bool] | None
    still_needed: Callable[[Session, Sequence[Any]], set[int]]
    # The deleted rows' columns handed to ``summarise`` (none: nothing to summarise).
    returning: tuple[InstrumentedAttribute[Any], ...]
    summarise: Callable[[Sequence[Any]], dict[tuple[int, int | None], _Tally]] | None


@dataclass
class _Tally:
    counts: Counter[str]
    first_at: datetime
    last_at: datetime

    def see(self, at: datetime) -> None:
        self.first_at = min(self.first_at, at)
        self.last_at = max(self.last_at, at)


# -- what is still needed ----------------------------------------------------------------
def _jobs_needed(session: Session, rows: Sequence[Any]) -> set[int]:
    keep: set[int] = set()
    failed = {r.enrollment_id for r in rows if r.status == "failed" and r.enrollment_id}
    if failed:
        shown = dict(
            session.execute(
                select(Enrollment.id, Enrollment.error_message).where(
                    Enrollment.id.in_(failed), Enrollment.error_code.is_not(None)
                )
            ).all()
        )
        keep |= {
            r.id
            for r in rows
            if r.status == "failed"
            and r.enrollment_id in shown
            and shown[r.enrollment_id] == r.last_error
        }
    batches = {r.batch_id for r in rows if r.batch_id}
    if batches:
        busy = set(
            session.scalars(
                select(SyncJob.batch_id)
                .where(SyncJob.batch_id.in_(batches), SyncJob.status.in_(OPEN))
                .distinct()
            )
        )
        keep |= {r.id for r in rows if r.batch_id in busy}
    return keep


def _events_needed(session: Session, rows: Sequence[Any]) -> set[int]:
    enrollment_ids = sorted({r.enrollment_id for r in rows})
    if session.get_bind().dialect.name == "postgresql":
        # Resync and a reply's sync trigger update the enrollment, then read its events to
        # queue their logging: holding the enrollments (in id order) until this chunk commits
        # means either they see the events gone, or this check sees their jobs.
        session.execute(
            select(Enrollment.id)
            .where(Enrollment.id.in_(enrollment_ids))
            .order_by(Enrollment.id)
            .with_for_update(read=True)
        )
    keep: set[int] = set()
    for payload in session.scalars(
        select(SyncJob.payload).where(
            SyncJob.enrollment_id.in_(enrollment_ids), SyncJob.status.in_(OPEN)
        )
    ):
        event_id = payload.get("event_id") if isinstance(payload, dict) else None
        if isinstance(event_id, int):
            keep.add(event_id)
    sent = {r.enrollment_id for r in rows if r.kind == "sent"}
    if sent:
        may_send = select(Enrollment.id).where(
            Enrollment.id.in_(sent),
            or_(Enrollment.state.in_(SENDING_STATES), Enrollment.error_code.in_(RESUMABLE)),
        )
        keep.update(
            session.scalars(
                select(func.min(ActivityEvent.id))
                .where(ActivityEvent.enrollment_id.in_(may_send), ActivityEvent.kind == "sent")
                .group_by(ActivityEvent.enrollment_id)
            )
        )
    return keep & {r.id for r in rows}


def _nothing_needed(_session: Session, _rows: Sequence[Any]) -> set[int]:
    return set()


# -- what the timeline keeps ---------------------------------------------------------------
def _tally(
    found: dict[tuple[int, int | None], _Tally], key: tuple[int, int | None], at: datetime
) -> Counter[str]:
    tally = found.get(key)
    if tally is None:
        tally = found[key] = _Tally(Counter(), at, at)
    tally.see(at)
    return tally.counts


def _summarise_calls(rows: Sequence[Any]) -> dict[tuple[int, int | None], _Tally]:
    found: dict[tuple[int, int | None], _Tally] = {}
    for contact_id, status_code, at in rows:
        counts = _tally(found, (contact_id, None), at)
        counts["calls"] += 1
        if status_code is None or status_code >= 400:
            counts["failed"] += 1
    return found


def _summarise_events(rows: Sequence[Any]) -> dict[tuple[int, int | None], _Tally]:
    found: dict[tuple[int, int | None], _Tally] = {}
    for contact_id, enrollment_id, kind, at in rows:
        _tally(found, (contact_id, enrollment_id), at)[kind] += 1
    return found


def _keep_in_summaries(
    session: Session, found: dict[tuple[int, int | None], _Tally], days: int, now: datetime
) -> int:
    existing: dict[tuple[int, int | None], TimelineSummary] = {}
    for summary in session.scalars(
        select(TimelineSummary).where(TimelineSummary.contact_id.in_({c for c, _ in found}))
    ):
        existing.setdefault((summary.contact_id, summary.enrollment_id), summary)
    created = 0
    for (contact_id, enrollment_id), tally in found.items():
        row = existing.get((contact_id, enrollment_id))
        if row is None:
            created += 1
            session.add(
                TimelineSummary(
                    contact_id=contact_id,
                    enrollment_id=enrollment_id,
                    counts=dict(tally.counts),
                    first_at=tally.first_at,
                    last_at=tally.last_at,
                    retention_days=days,
                    pruned_at=now,
                )
            )
            continue
        # A new dict: the JSON column is saved when it is assigned, not when mutated.
        row.counts = dict(Counter(row.counts) + tally.counts)
        row.first_at = min(row.first_at, tally.first_at)
        row.last_at = max(row.last_at, tally.last_at)
        row.retention_days = days
        row.pruned_at = now
    return created


SWEEPS = (
    _Sweep(
        table="sync_jobs",
        model=SyncJob,
        age=SyncJob.finished_at,
        columns=(SyncJob.status, SyncJob.enrollment_id, SyncJob.last_error, SyncJob.batch_id),
        condition=SyncJob.status.in_(FINISHED),
        still_needed=_jobs_needed,
        returning=(),
        summarise=None,
    ),
    _Sweep(
        table="sync_calls",
        model=SyncCall,
        age=SyncCall.at,
        columns=(),
        condition=None,
        still_needed=_nothing_needed,
        returning=(SyncCall.contact_id, SyncCall.status_code, SyncCall.at),
        summarise=_summarise_calls,
    ),
    _Sweep(
        table="activity_events",
        model=ActivityEvent,
        age=ActivityEvent.occurred_at,
        columns=(ActivityEvent.enrollment_id, ActivityEvent.kind),
        condition=None,
        still_needed=_events_needed,
        returning=(
            ActivityEvent.contact_id,
            ActivityEvent.enrollment_id,
            ActivityEvent.kind,
            ActivityEvent.occurred_at,
        ),
        summarise=_summarise_events,
    ),
)
assert tuple(s.table for s in SWEEPS) == TABLES


def candidates_statement(
    sweep: _Sweep, cutoff: datetime, after: Cursor | None, limit: int
) -> Select[Any]:
    """The next chunk of old rows of one table, oldest first, read through its age index."""
    q = select(sweep.model.id, sweep.age.label("age"), *sweep.columns).where(sweep.age < cutoff)
    if sweep.condition is not None:
        q = q.where(sweep.condition)
    if after is not None:
        at, row_id = after
        q = q.where(
            tuple_(sweep.age, sweep.model.id)
            > tuple_(literal(at, sweep.age.type), literal(row_id, sweep.model.id.type))
        )
    return q.order_by(sweep.age, sweep.model.id).limit(limit)


def _chunk(
    session: Session, sweep: _Sweep, days: int, limit: int, after: Cursor | None, dry_run: bool
) -> _Chunk:
    now = database_now(session)
    rows = session.execute(candidates_statement(sweep, now - timedelta(days=days), after, limit))
    candidates = rows.all()
    keep = sweep.still_needed(session, candidates) if candidates else set()
    doomed = [r.id for r in candidates if r.id not in keep]
    pruned, summaries = len(doomed), 0
    if doomed and not dry_run:
        deleted = session.execute(
            delete(sweep.model)
            .where(sweep.model.id.in_(doomed))
            .returning(sweep.model.id, *sweep.returning)
            .execution_options(synchronize_session=False)
        ).all()
        # Counted from what this transaction deleted: a concurrent pruner's rows are its own.
        pruned = len(deleted)
        if sweep.summarise is not None and deleted:
            found = sweep.summarise([tuple(r)[1:] for r in deleted])
            summaries = _keep_in_summaries(session, found, days, now)
    last = candidates[-1] if len(candidates) == limit else None
    return _Chunk(pruned, len(keep), summaries, (last.age, last.id) if last else None)


def _cursor(session: Session, name: str) -> RetentionCursor:
    """This table's sweep position, locked for the chunk (PostgreSQL): two workers pruning at
    once take turns instead of reading the same chunk."""
    row = session.get(RetentionCursor, name, with_for_update=True)
    if row is None:
        dialect = session.get_bind().dialect.name
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        session.execute(insert(RetentionCursor).values(name=name).on_conflict_do_nothing())
        row = session.get(RetentionCursor, name, with_for_update=True)
        assert row is not None
    return row


def prune_once(
    db: Database,
    settings: Settings,
    batch_size: int = BATCH_SIZE,
    max_chunks: int = MAX_CHUNKS,
    tables: Sequence[str] = TABLES,
) -> PruneReport:
    """Prune up to ``max_chunks`` chunks of ``batch_size`` rows per table, each chunk its own
    transaction, going on from where the last call stopped. Nothing when retention is off
    (``retention_days`` 0). Call again after ``report.next_run_in`` seconds (``tables``: only
    ``report.unfinished``, to finish those sweeps without starting the others again)."""
    report = PruneReport(days=settings.retention_days)
    if settings.retention_days <= 0:
        return report
    for sweep in SWEEPS:
        if sweep.table not in tables:
            continue
        for _ in range(max_chunks):
            with db.session() as session:
                cursor = _cursor(session, sweep.table)
                after = (
                    (cursor.after_at, cursor.after_id)
                    if cursor.after_at is not None and cursor.after_id is not None
                    else None
                )
                chunk = _chunk(session, sweep, report.days, batch_size, after, dry_run=False)
                cursor.after_at, cursor.after_id = chunk.next or (None, None)
            _count(report, sweep.table, chunk)
            metrics.RETENTION_PRUNED.labels(sweep.table).inc(chunk.pruned)
            if chunk.next is None:
                break
        else:
            report.unfinished.append(sweep.table)
    return report


def count_prunable(
    db: Database,
    days: int,
    batch_size: int = BATCH_SIZE,
    progress: Callable[[PruneReport], None] | None = None,
) -> PruneReport:
    """A dry run: what a whole sweep would delete now, read a chunk per transaction; nothing is
    deleted and the sweep positions are left as they are."""
    report = PruneReport(days=days)
    for sweep in SWEEPS:
        after: Cursor | None = None
        while True:
            with db.session() as session:
                chunk = _chunk(session, sweep, days, batch_size, after, dry_run=True)
            _count(report, sweep.table, chunk)
            if progress is not None:
                progress(report)
            if chunk.next is None:
                break
            after = chunk.next
    return report


def _count(report: PruneReport, table: str, chunk: _Chunk) -> None:
    report.pruned[table] += chunk.pruned
    report.kept[table] += chunk.kept
    report.summaries += chunk.summaries
    report.chunks += 1
