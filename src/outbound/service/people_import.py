"""Adding people read from a CSV file or pasted lines: every row checked first (the ATS's own
rules included), the good ones added chunk by chunk, and a report that says, per row, what
became of it.

A row without a name the sequence's ATS requires is reported and not added. The guides make
adding and syncing one event ("contacts sync … whenever they are added to a sequence") and
"Resync" never revisits a synced contact, so someone added without a name would be emailed
while the ATS refuses their record: the recruiter's record of the outreach would be missing
with nothing to show for it but a sync error. Fixing the row and adding it again costs less.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import and_, select, update
from sqlalchemy.orm import Session

from outbound.connectors.registry import ATS
from outbound.domain import people_import as rules
from outbound.domain.people_import import Checked, ContactCheck, ImportRefused, Table
from outbound.domain.sync_rules import sync_allowed
from outbound.service import enrollments
from outbound.service.caller import Caller
from outbound.service.contacts import normalise_email
from outbound.service.errors import Invalid
from outbound.service.sequences import get_sequence
from outbound.store.clock import database_now_in_sql
from outbound.store.db import Database
from outbound.store.models import Contact, ImportRun, utcnow

# Stored contacts read per query when checking names (bounded IN lists).
LOOKUP_CHUNK = 500

OUTCOMES = ("added", "merged", "already_in_sequence", "skipped")


@dataclass(frozen=True)
class RowReport:
    line: int
    email: str
    outcome: str  # one of OUTCOMES
    note: str = ""  # skipped: why; merged / already in the sequence: what was updated


@dataclass
class ImportReport:
    rows: list[RowReport] = field(default_factory=list)

    def count(self, outcome: str) -> int:
        return sum(1 for r in self.rows if r.outcome == outcome)

    @property
    def counts(self) -> dict[str, int]:
        return {outcome: self.count(outcome) for outcome in OUTCOMES}

    @property
    def skipped(self) -> list[RowReport]:
        return [r for r in self.rows if r.outcome == "skipped"]


def read(data: bytes | str, field: str = "file") -> Table:
    """A file's bytes or pasted text (``field`` "contacts") as rows; a 422 on ``field`` when
    it cannot be read."""
    try:
        text = rules.decode(data) if isinstance(data, bytes) else data
        return rules.read_table(text, field)
    except ImportRefused as exc:
        raise Invalid(exc.message, exc.field) from exc


def mapping(table: Table, chosen: dict[str, str | None] | Sequence[str] | None) -> list[str]:
    """The columns' targets: guessed, or as chosen (a list per column, or by column name)."""
    try:
        if chosen is None:
            result = rules.guess_mapping(table)
        elif isinstance(chosen, dict):
            result = rules.mapping_from_names(table, chosen)
        else:
            result = [str(t or "") for t in chosen][: table.width]
            result += [rules.SKIP] * (table.width - len(result))
        rules.check_mapping(result)
        return result
    except ImportRefused as exc:
        raise Invalid(exc.message, exc.field) from exc


@dataclass(frozen=True)
class AtsRule:
    """What the ATS this sequence syncs to requires of each person, if anything."""

    title: str
    fields: tuple[str, ...]

    def sentence(self) -> str:
        return rules.required_reason(self.title, [], self.fields).split(" (")[0]


def ats_rule(db: Database, caller: Caller, sequence_id: int) -> AtsRule | None:
    with db.read_session() as session:
        seq = get_sequence(session, caller, sequence_id)
        snapshot = enrollments.current_snapshot(session, seq)
    if not sync_allowed(snapshot) or snapshot is None:
        return None
    spec = ATS.get(snapshot["provider"])
    if spec is None or not spec.required_person_fields:
        return None
    return AtsRule(spec.title, spec.required_person_fields)


def check(
    db: Database,
    caller: Caller,
    sequence_id: int,
    table: Table,
    columns: Sequence[str],
    contact_check: ContactCheck,
) -> Checked:
    """Every row's outcome before anything is added: the file's own problems, then the names
    the ATS requires (a stored contact's names count: re-adding them by email is enough)."""
    try:
        checked = rules.check_rows(table, columns, contact_check)
    except ImportRefused as exc:
        raise Invalid(exc.message, exc.field) from exc
    rule = ats_rule(db, caller, sequence_id)
    if rule is None:
        return checked
    lacking = [r for r in checked.good if rules.missing_required(r.data, None, rule.fields)]
    for start in range(0, len(lacking), LOOKUP_CHUNK):
        chunk = lacking[start : start + LOOKUP_CHUNK]
        stored = _stored(db, caller, [normalise_email(r.email) for r in chunk], rule.fields)
        for row in chunk:
            missing = rules.missing_required(
                row.data, stored.get(normalise_email(row.email)), rule.fields
            )
            if missing:
                row.reason = rules.required_reason(rule.title, missing, rule.fields)
    return checked


def _stored(
    db: Database, caller: Caller, emails: list[str], names: tuple[str, ...]
) -> dict[str, dict[str, Any]]:
    columns = [getattr(Contact, n) for n in names]
    with db.read_session() as session:
        rows = session.execute(
            select(Contact.email, *columns).where(
                Contact.team_id == caller.team_id, Contact.email.in_(emails)
            )
        ).all()
    return {row.email: dict(zip(names, row[1:], strict=True)) for row in rows}


# -- a file being added, as a progress record --------------------------------------------------
# A CSV file being added is an ImportRun whose list_id is "csv:<token>": the token is made when
# the mapping step is shown and sent with "Add", so the page can ask how far the add has got
# (and a second submit of the same form finds the first instead of adding again). Its status:
# pending (rows being checked), running (being added: ``added`` counts rows handled so far),
# done (``added`` newly in the sequence, ``already_present`` were already in it) or failed.
# No sync job drives it: nothing but these functions reads or writes it.
#
# The add runs in the web process that took the form, so it dies with that process (a crash, a
# deploy, the OOM killer) and nothing is left to finish the row: it would say "running" forever.
# So the row says when it last moved (``progress_at``: made, each chunk counted, each change of
# status), and a run pending or running that has not moved for STALLED_AFTER is shown as
# interrupted, with what was added before it stopped. The rows stay as they are: should the add
# be alive after all (a chunk stuck that long), it still finishes the row. An add's chunks (500
# rows) commit every fraction of a second, so the window is generous. The time is written and
# compared with the database's clock (store/clock.py), as leases are (sync/claims.py): PostgreSQL
# may serve web processes on machines whose clocks differ, and the process that polls is rarely
# the one adding.
CSV_RUN = "csv:"
RUN_TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
STALLED_AFTER = timedelta(minutes=2)


@dataclass(frozen=True)
class CsvRun:
    id: int
    # pending (checking) | running (adding) | done | failed | interrupted (pending or running,
    # but its process stopped: no progress for STALLED_AFTER)
    status: str
    total: int  # rows to add (0 while checking)
    handled: int  # rows added or found already there, so far (interrupted: before it stopped)
    added: int  # done: newly in the sequence (new or merged)
    already_present: int  # done: already in the sequence
    error: str | None

    @property
    def finished(self) -> bool:
        return self.status in ("done", "failed", "interrupted")


def begin_csv_run(
    db: Database, caller: Caller, sequence_id: int, token: str
) -> tuple[CsvRun, bool]:
    """The run of this form's token, made now (True) or found from an earlier submit (False)."""
    if not RUN_TOKEN.match(token):
        raise Invalid("the form is out of date: read the file again", "file")
    with db.session() as session:
        get_sequence(session, caller, sequence_id)
        found = _run_row(session, caller, sequence_id, token)
        if found is not None:  # interrupted, it stays so: a fresh read of the file is a new run
            return _view(*found), False
        run = ImportRun(
            team_id=caller.team_id,
            sequence_id=sequence_id,
            user_id=caller.user_id,
            list_id=CSV_RUN + token,
            progress_at=database_now_in_sql(session),
        )
        session.add(run)
        session.flush()
        return _view(run, False), True


def csv_run(db: Database, caller: Caller, sequence_id: int, token: str) -> CsvRun | None:
    """How far this form's add has got; None before it starts (or for a malformed token)."""
    with db.read_session() as session:
        get_sequence(session, caller, sequence_id)  # another team's sequence: 404 first
        if not RUN_TOKEN.match(token):
            return None
        found = _run_row(session, caller, sequence_id, token)
        return _view(*found) if found is not None else None


def fail_csv_run(db: Database, run_id: int, error: str) -> None:
    _set(db, run_id, status="failed", error=error[:500], finished_at=utcnow())


def _run_row(
    session: Session, caller: Caller, sequence_id: int, token: str
) -> tuple[ImportRun, bool] | None:
    """The run of this token, and whether it stopped moving (decided by the database)."""
    stalled = and_(
        ImportRun.status.in_(("pending", "running")),
        ImportRun.progress_at < database_now_in_sql(session) - STALLED_AFTER,
    )
    row = session.execute(
        select(ImportRun, stalled.label("stalled")).where(
            ImportRun.team_id == caller.team_id,
            ImportRun.sequence_id == sequence_id,
            ImportRun.list_id == CSV_RUN + token,
        )
    ).first()
    return (row[0], bool(row[1])) if row is not None else None


def _view(run: ImportRun, stalled: bool) -> CsvRun:
    done = run.status == "done"
    return CsvRun(
        run.id,
        "interrupted" if stalled else run.status,
        run.total,
        run.added + run.already_present if done else run.added,
        run.added if done else 0,
        run.already_present,
        run.error,
    )


def _set(db: Database, run_id: int, **values: Any) -> None:
    # A transaction of its own, a row's few columns: the add's chunks commit apart from it.
    # Every write is progress: the run moved (see STALLED_AFTER).
    with db.session() as session:
        session.execute(
            update(ImportRun)
            .where(ImportRun.id == run_id)
            .values(**values, progress_at=database_now_in_sql(session))
        )


def add(
    db: Database,
    caller: Caller,
    sequence_id: int,
    checked: Checked,
    progress: enrollments.Progress | None = None,
    run_id: int | None = None,
) -> ImportReport:
    """Add the good rows (chunks that commit as they go) and say what became of every row;
    with ``run_id``, the run's record counts the rows handled after each chunk."""
    good = checked.good
    result = enrollments.AddResult(0, 0, [])
    if run_id is not None:
        _set(db, run_id, status="running", total=len(good))
        progress = _counting(db, run_id, progress)
    try:
        if good:
            result = enrollments.add_contacts_in_chunks(
                db, caller, sequence_id, [r.data for r in good], progress=progress
            )
    except Exception as exc:
        if run_id is not None:
            fail_csv_run(db, run_id, getattr(exc, "message", None) or "the add stopped")
        raise
    report = ImportReport()
    for row in checked.rows:
        if row.reason is not None:
            report.rows.append(RowReport(row.line, row.email, "skipped", row.reason))
            continue
        key = normalise_email(row.email)
        updated = _updated_words(result.merged.get(key, ()))
        if key in result.present:
            report.rows.append(RowReport(row.line, row.email, "already_in_sequence", updated))
        elif key in result.merged:
            report.rows.append(
                RowReport(row.line, row.email, "merged", updated or "nothing new to update")
            )
        else:
            report.rows.append(RowReport(row.line, row.email, "added"))
    if run_id is not None:
        c = report.counts
        _set(
            db,
            run_id,
            status="done",
            added=c["added"] + c["merged"],
            already_present=c["already_in_sequence"],
            finished_at=utcnow(),
        )
    return report


def _counting(db: Database, run_id: int, then: enrollments.Progress | None) -> enrollments.Progress:
    def progress(handled: int) -> None:
        _set(db, run_id, added=handled)
        if then is not None:
            then(handled)

    return progress


def _updated_words(fields: Sequence[str]) -> str:
    if not fields:
        return ""
    labels = {**rules.FIELD_LABELS, "custom_variables": "custom variables"}
    return "updated " + ", ".join(labels.get(f, f).lower() for f in fields)
