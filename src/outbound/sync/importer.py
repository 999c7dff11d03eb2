"""The import_list job: page an ATS list into a sequence, with progress on the ImportRun.

Each imported person is linked to the ATS record they came from, in the transaction that adds
them: no lookup by email, no "Exists in …" warning, no second record.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from outbound.connectors.base import AtsPerson
from outbound.service.caller import Caller
from outbound.service.contacts import normalise_email
from outbound.service.enrollments import CHUNK, ImportSource, ListedRecord, add_contacts
from outbound.store.db import Database
from outbound.store.models import AtsConnection, ImportRun, User, utcnow
from outbound.sync.handlers import JobRun, tag_titles

BATCH = CHUNK  # one page of the list per transaction, with its progress


def _start(
    db: Database, import_id: int, connection_id: int
) -> tuple[Caller, int, str, tuple[str, str]] | None:
    with db.session() as session:
        run = session.get(ImportRun, import_id)
        if run is None:
            return None
        user = session.get(User, run.user_id)
        conn = session.get(AtsConnection, connection_id)
        if user is None or conn is None:
            return None
        # A retry starts the counts again; adding is idempotent (already present is counted).
        run.status, run.total, run.added = "running", 0, 0
        run.skipped_no_email, run.already_present, run.error = 0, 0, None
        caller = Caller(user.id, user.team_id, user.role)
        return caller, run.sequence_id, run.list_id, (conn.provider, conn.ats_org)


def _add_batch(
    db: Database,
    import_id: int,
    caller: Caller,
    sequence_id: int,
    batch: list[dict[str, Any]],
    skipped: int,
    source: ImportSource,
) -> None:
    with db.session() as session:
        result = add_contacts(session, caller, sequence_id, batch, source=source) if batch else None
        run = session.get(ImportRun, import_id)
        assert run is not None
        run.total += len(batch) + skipped
        run.skipped_no_email += skipped
        if result is not None:
            run.added += result.added
            run.already_present += result.already_present


def _finish(db: Database, import_id: int, error: str | None) -> None:
    with db.session() as session:
        finish_run(session, import_id, error)


def finish_run(session: Session, import_id: int, error: str | None) -> None:
    run = session.get(ImportRun, import_id)
    if run is not None:
        run.status = "failed" if error else "done"
        run.error = error
        run.finished_at = utcnow()


def listed_record(person: AtsPerson) -> ListedRecord:
    return ListedRecord(person.id, person.do_not_contact, tuple(tag_titles(person.fields)))


async def import_list(run: JobRun) -> None:
    import_id = run.job.payload["import_id"]
    started = await run.db.in_thread(_start, run.db, import_id, run.job.connection_id)
    if started is None:
        return
    caller, sequence_id, list_id, (provider, org) = started

    def source(records: dict[str, ListedRecord]) -> ImportSource:
        return ImportSource(run.job.connection_id, provider, org, records)

    batch: list[dict[str, Any]] = []
    records: dict[str, ListedRecord] = {}
    skipped = 0
    async for person in run.connector.list_members(list_id):
        if not person.email:
            skipped += 1  # guides: members need an email address to be added
        else:
            batch.append(
                {
                    "email": person.email,
                    "first_name": person.first_name,
                    "last_name": person.last_name,
                }
            )
            # A list naming one email twice: the first record is the one linked.
            records.setdefault(normalise_email(person.email), listed_record(person))
        if len(batch) + skipped >= BATCH:
            await run.db.in_thread(
                _add_batch, run.db, import_id, caller, sequence_id, batch, skipped, source(records)
            )
            batch, records, skipped = [], {}, 0
    await run.db.in_thread(
        _add_batch, run.db, import_id, caller, sequence_id, batch, skipped, source(records)
    )
    await run.db.in_thread(_finish, run.db, import_id, None)
