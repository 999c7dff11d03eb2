"""The import_list job: page an ATS list into a sequence, with progress on the ImportRun."""

from __future__ import annotations

import asyncio
from typing import Any

from outbound.service.caller import Caller
from outbound.service.enrollments import add_contacts
from outbound.store.db import Database
from outbound.store.models import ImportRun, User, utcnow
from outbound.sync.handlers import JobRun

BATCH = 500


def _start(db: Database, import_id: int) -> tuple[Caller, int, str] | None:
    with db.session() as session:
        run = session.get(ImportRun, import_id)
        if run is None:
            return None
        user = session.get(User, run.user_id)
        if user is None:
            return None
        # A retry starts the counts again; adding is idempotent (already present is counted).
        run.status, run.total, run.added = "running", 0, 0
        run.skipped_no_email, run.already_present, run.error = 0, 0, None
        return Caller(user.id, user.team_id, user.role), run.sequence_id, run.list_id


def _add_batch(
    db: Database,
    import_id: int,
    caller: Caller,
    sequence_id: int,
    batch: list[dict[str, Any]],
    skipped: int,
) -> None:
    with db.session() as session:
        result = add_contacts(session, caller, sequence_id, batch) if batch else None
        run = session.get(ImportRun, import_id)
        assert run is not None
        run.total += len(batch) + skipped
        run.skipped_no_email += skipped
        if result is not None:
            run.added += result.added
            run.already_present += result.already_present


def _finish(db: Database, import_id: int, error: str | None) -> None:
    with db.session() as session:
        run = session.get(ImportRun, import_id)
        if run is not None:
            run.status = "failed" if error else "done"
            run.error = error
            run.finished_at = utcnow()


async def import_list(run: JobRun) -> None:
    import_id = run.job.payload["import_id"]
    started = await asyncio.to_thread(_start, run.db, import_id)
    if started is None:
        return
    caller, sequence_id, list_id = started
    batch: list[dict[str, Any]] = []
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
        if len(batch) + skipped >= BATCH:
            await asyncio.to_thread(
                _add_batch, run.db, import_id, caller, sequence_id, batch, skipped
            )
            batch, skipped = [], 0
    await asyncio.to_thread(_add_batch, run.db, import_id, caller, sequence_id, batch, skipped)
    await asyncio.to_thread(_finish, run.db, import_id, None)


async def mark_failed(db: Database, import_id: int, error: str) -> None:
    await asyncio.to_thread(_finish, db, import_id, error)
