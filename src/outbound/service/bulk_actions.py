"""One action on many contacts of a sequence: pause, resume, remove, resync, or move to another
sequence of the team; on the contacts picked (ids) or on all those in a tab and search.

Chunk by chunk, each chunk in its own transaction (the database is never held for long, and a
stop half-way leaves whole chunks done). Contacts an action does not apply to are skipped and
counted with the reason, in the words a recruiter reads ("already finished")."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from outbound.service import enrollments, outreach
from outbound.service.caller import Caller
from outbound.service.contact_list import ContactFilter, matching_ids, tab_condition
from outbound.service.errors import Invalid, NotFound
from outbound.service.sequences import get_sequence
from outbound.store.db import Database
from outbound.store.models import Contact, Enrollment

ACTIONS = ("pause", "resume", "remove", "resync", "move")
CHUNK = enrollments.CHUNK
MAX_IDS = enrollments.MAX_BULK

# Where a contact stands when an action does not apply, as a reason.
STATE_WORDS = {
    "finished": "already finished",
    "replied": "replied",
    "bounced": "bounced",
    "unsubscribed": "unsubscribed",
    "do_not_contact": "marked do not contact",
    "paused": "already paused",
}
# Never emailed again by anyone: not moved into another sequence either.
NOT_EMAILED = ("bounced", "unsubscribed", "do_not_contact")


@dataclass(frozen=True)
class Selection:
    """The contacts picked (``ids``), or every contact in ``flt``'s tab and search."""

    ids: list[int] | None = None
    flt: ContactFilter = field(default_factory=ContactFilter)


@dataclass
class BulkResult:
    action: str
    done: int = 0
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> contacts
    batch_ids: list[str] = field(default_factory=list)  # resync: the sync batches queued
    target_name: str | None = None  # move: where they went

    def skip(self, reason: str, n: int = 1) -> None:
        if n:
            self.skipped[reason] = self.skipped.get(reason, 0) + n


@dataclass(frozen=True)
class _Job:
    caller: Caller
    sequence_id: int
    target_id: int | None
    day_seconds: float


def run(
    db: Database,
    caller: Caller,
    sequence_id: int,
    action: str,
    selection: Selection,
    *,
    target_sequence_id: int | None = None,
    day_seconds: float = 0,
    chunk_size: int = CHUNK,
) -> BulkResult:
    """Apply ``action`` to the selection, a committed chunk at a time; what was done and what
    was skipped, and why."""
    if action not in ACTIONS:
        raise Invalid(f"action must be one of {', '.join(ACTIONS)}", "action")
    if selection.ids is not None and len(selection.ids) > MAX_IDS:
        raise Invalid(f"at most {MAX_IDS} contacts per request", "ids")
    result = BulkResult(action)
    with db.read_session() as session:
        get_sequence(session, caller, sequence_id)
        tab_condition(selection.flt.tab)  # an unknown tab is a 422 before anything is done
        result.target_name = _check_target(session, caller, sequence_id, action, target_sequence_id)
    job = _Job(caller, sequence_id, target_sequence_id, day_seconds)
    if action == "resync":
        _resync(db, job, selection, chunk_size, result)
        return result
    for ids in _chunks(db, caller, sequence_id, selection, chunk_size):
        with db.session() as session:
            rows = _enrollments(session, job, ids, result)
            ACTS[action](session, job, rows, result)
    return result


def _check_target(
    session: Session, caller: Caller, sequence_id: int, action: str, target_id: int | None
) -> str | None:
    if action != "move":
        return None
    if target_id is None:
        raise Invalid("choose the sequence to move the contacts to", "target_sequence_id")
    try:
        return get_sequence(session, caller, target_id).name
    except NotFound:
        raise NotFound(f"sequence {target_id} not found", "target_sequence_id") from None


def _chunks(
    db: Database, caller: Caller, sequence_id: int, selection: Selection, size: int
) -> Iterator[list[int]]:
    if selection.ids is not None:
        ids = sorted(set(selection.ids))
        for start in range(0, len(ids), size):
            yield ids[start : start + size]
        return
    after = 0
    while True:  # keyset by id: an action that moves contacts out of the tab loses none
        with db.read_session() as session:
            ids = matching_ids(session, caller, sequence_id, selection.flt, after, size)
        if not ids:
            return
        yield ids
        after = ids[-1]


def _enrollments(session: Session, job: _Job, ids: list[int], result: BulkResult) -> list[Any]:
    rows = list(
        session.scalars(
            select(Enrollment)
            .where(
                Enrollment.id.in_(ids),
                Enrollment.sequence_id == job.sequence_id,
                Enrollment.team_id == job.caller.team_id,
            )
            .order_by(Enrollment.id)
        )
    )
    result.skip("not in this sequence", len(ids) - len(rows))
    return rows


# -- the actions, one chunk each ------------------------------------------------------------
def _pause(session: Session, job: _Job, rows: list[Enrollment], result: BulkResult) -> None:
    """Hold the contact's mail until resumed by hand (no date: the planner never ends it)."""
    for e in rows:
        if e.state != "active":
            result.skip(STATE_WORDS.get(e.state, e.state))
            continue
        resume_from = enrollments.stop_sending(session, e)
        if resume_from is not None:
            e.next_step = resume_from
        e.state = "paused"
        e.paused_until = None
        result.done += 1


def _resume(session: Session, job: _Job, rows: list[Enrollment], result: BulkResult) -> None:
    for e in rows:
        if e.error_code == "send_uncertain":
            # Whether the last email went out needs a person's look: resume it on its own.
            result.skip("unsure whether an email went out")
        elif e.state == "paused" or e.error_code in outreach.RESUMABLE:
            outreach.resume(session, job.caller, e.id, resend=False, day_seconds=job.day_seconds)
            result.done += 1
        elif e.state == "active":
            result.skip("not paused")
        else:
            result.skip(STATE_WORDS.get(e.state, e.state))


def _remove(session: Session, job: _Job, rows: list[Enrollment], result: BulkResult) -> None:
    for e in rows:
        enrollments.remove_enrollment(session, job.caller, e.id)
        result.done += 1


def _move(session: Session, job: _Job, rows: list[Enrollment], result: BulkResult) -> None:
    """Added to the target (from its first step, under its sync settings), then removed here."""
    assert job.target_id is not None
    there = set(
        session.scalars(
            select(Enrollment.contact_id).where(
                Enrollment.sequence_id == job.target_id,
                Enrollment.contact_id.in_([e.contact_id for e in rows]),
            )
        )
    )
    movers = []
    for e in rows:
        if e.state in NOT_EMAILED:
            result.skip(STATE_WORDS[e.state])
        elif e.contact_id in there:
            result.skip("already in that sequence")
        else:
            movers.append(e)
    if not movers:
        return
    emails = dict(
        session.execute(
            select(Contact.id, Contact.email).where(Contact.id.in_([e.contact_id for e in movers]))
        ).all()
    )
    enrollments.add_contacts(
        session, job.caller, job.target_id, [{"email": emails[e.contact_id]} for e in movers]
    )
    for e in movers:
        enrollments.remove_enrollment(session, job.caller, e.id)
    result.done += len(movers)


ACTS = {"pause": _pause, "resume": _resume, "remove": _remove, "move": _move}


def _resync(db: Database, job: _Job, selection: Selection, size: int, result: BulkResult) -> None:
    """Through the resync of service.enrollments (its own chunks and batch): the whole
    sequence in one batch; a selection in as few batches as it allows (up to MAX_IDS
    contacts each, still committed ``size`` at a time), so that one live progress follows
    them all."""
    whole = selection.ids is None and selection.flt == ContactFilter()
    parts: Iterator[list[int] | None] = (
        iter([None]) if whole else _chunks(db, job.caller, job.sequence_id, selection, MAX_IDS)
    )
    for ids in parts:
        if ids is not None:
            with db.read_session() as session:
                present = len(_enrollments(session, job, ids, result))
            if present == 0:
                continue
        batch, queued, skipped = enrollments.resync_in_chunks(
            db, job.caller, job.sequence_id, ids, chunk_size=size
        )
        result.batch_ids.append(batch)
        result.done += queued
        result.skip("already synced or syncing", skipped)
