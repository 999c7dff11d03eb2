"""Import from an ATS list into a sequence: a background job with progress and a result."""

from __future__ import annotations

from sqlalchemy.orm import Session

from outbound.connectors.registry import spec_of
from outbound.service.caller import Caller
from outbound.service.connections import require_connection
from outbound.service.errors import Invalid, NotFound
from outbound.service.sequences import get_sequence
from outbound.store.jobs import enqueue, job_row
from outbound.store.models import ImportRun


def start_import(session: Session, caller: Caller, sequence_id: int, list_id: str) -> ImportRun:
    seq = get_sequence(session, caller, sequence_id)
    conn = require_connection(session, caller)
    spec = spec_of(conn.provider)
    if not spec.list_import:
        raise Invalid(f"{spec.title} has no lists to import from", "list_id")
    run = ImportRun(
        team_id=caller.team_id, sequence_id=seq.id, user_id=caller.user_id, list_id=list_id
    )
    session.add(run)
    session.flush()
    enqueue(
        session,
        [job_row(caller.team_id, conn.id, None, None, "import_list", {"import_id": run.id})],
    )
    return run


def get_import(session: Session, caller: Caller, import_id: int) -> ImportRun:
    run = session.get(ImportRun, import_id)
    if run is None or run.team_id != caller.team_id:
        raise NotFound(f"import {import_id} not found", "import_id")
    return run
