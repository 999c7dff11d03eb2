"""Honest state (issue 16): what work stands where, counted in contacts, in a recruiter's words,
with each stuck cause found and where it is fixed."""

from __future__ import annotations

from datetime import timedelta

import pytest

from outbound.service import work_state
from outbound.service.caller import Caller
from outbound.service.errors import NotFound
from outbound.store.db import Database
from outbound.store.models import AtsConnection, SyncJob, utcnow
from tests.seeding import Seat, add_jobs_for, add_mailbox, add_seat, add_team, add_user, enrol_many

STEP = [("Hi {{first_name}}", "Hello")]


def seat(db: Database, steps: list[tuple[str, str]] = STEP, mailbox: bool = True) -> Seat:
    with db.session() as s:
        team_id = add_team(s, "Acme")
        made = add_seat(
            s, team_id, "olivia@acme.test", "Olivia Owner", ats_user_id="o", steps=steps
        )
        if mailbox:
            add_mailbox(s, team_id, made.user_id, "olivia@acme.test")
        return made


def caller(seat: Seat) -> Caller:
    return Caller(seat.user_id, seat.team_id, "owner")


def enrol(db: Database, at: Seat, n: int, jobs: bool = True, **columns: object) -> list[int]:
    """n contacts in the seat's sequence, each with a duplicate check and a sync job open (two
    jobs per contact: counts must still be of contacts)."""
    with db.session() as s:
        enrolled = enrol_many(
            s, at, [f"p{i}-{utcnow().timestamp()}@x.test" for i in range(n)], **columns
        )
        if jobs:
            add_jobs_for(s, at, enrolled)
        return [eid for _, eid in enrolled]


def kinds(warnings: list[work_state.Warning]) -> dict[str, work_state.Warning]:
    return {w.kind: w for w in warnings}


def test_waiting_contacts_are_counted_as_contacts_not_jobs(db: Database) -> None:
    at = seat(db)
    enrol(db, at, 4, sync_state="pending")
    with db.read_session() as s:
        work = work_state.team_work(s, caller(at))
        (card,) = work.connections
        found = kinds(work_state.sequence_warnings(s, caller(at), at.sequence_id))
    assert card.waiting == 4 and card.retrying == 0 and card.stuck == 0
    assert card.status_words == "Connected"
    assert found["waiting"].text == "4 contacts waiting to sync to Crelate."
    assert found["waiting"].level == "info"


def test_retrying_work_says_why_and_when_the_next_try_is(db: Database) -> None:
    at = seat(db)
    ids = enrol(db, at, 3, sync_state="pending")
    enrol(db, at, 2, sync_state="pending")  # still waiting, never tried
    next_try = utcnow() + timedelta(minutes=2, seconds=10)
    with db.session() as s:
        for job in s.query(SyncJob).filter(SyncJob.enrollment_id.in_(ids)):
            job.attempts = 2
            job.run_after = next_try
            job.last_error = "POST /api3/contacts: 503 Service unavailable (injected)"
        s.get(AtsConnection, at.connection_id).failing_since = utcnow()  # type: ignore[union-attr]
    with db.read_session() as s:
        work = work_state.team_work(s, caller(at))
    (card,) = work.connections
    assert (card.retrying, card.waiting) == (3, 2)
    # One status, never "Connected" beside "failing".
    assert card.status == "not_answering" and "Connected" not in card.status_words
    retrying = kinds(work.warnings)["retrying"]
    assert retrying.contacts == 3 and retrying.level == "warning"
    assert "Crelate is having trouble (it answered 503)" in retrying.text
    assert "in about 2 minutes" in retrying.text
    assert "/api3" not in retrying.text  # no HTTP log in a recruiter's words
    assert retrying.next_try_at is not None


def test_a_disconnected_ats_with_contacts_pending_is_stuck_with_its_cause(db: Database) -> None:
    at = seat(db)
    enrol(db, at, 5, sync_state="pending")
    with db.session() as s:
        conn = s.get(AtsConnection, at.connection_id)
        assert conn is not None
        conn.disconnected_at, conn.status = utcnow(), "disconnected"
    with db.read_session() as s:
        work = work_state.team_work(s, caller(at))
        on_page = kinds(work_state.sequence_warnings(s, caller(at), at.sequence_id))
    assert work.connections == []  # no card for a disconnected ATS, but its work shows
    stuck = kinds(work.warnings)["ats_missing"]
    assert stuck.contacts == 5 and stuck.level == "error"
    assert (
        stuck.text == "5 contacts can't sync: Crelate was disconnected — reconnect on Integrations."
    )
    assert stuck.fix_href == "/integrations"
    assert "waiting" not in on_page  # not also "waiting": they are stuck
    assert on_page["ats_missing"].contacts == 5


def test_a_paused_connection_is_stuck_work_and_its_status_says_reconnect(db: Database) -> None:
    at = seat(db)
    enrol(db, at, 2, sync_state="pending")
    with db.session() as s:
        conn = s.get(AtsConnection, at.connection_id)
        assert conn is not None
        conn.status = "reconnect_needed"
        conn.status_reason = "Crelate rejected the saved credentials (401); reconnect"
    with db.read_session() as s:
        work = work_state.team_work(s, caller(at))
    (card,) = work.connections
    assert card.status == "reconnect_needed" and card.level == "error"
    assert card.stuck == 2 and card.waiting == 0
    stuck = kinds(work.warnings)["ats_paused"]
    assert "2 contacts can't sync: Crelate rejected the saved API key" in stuck.text


def test_no_mailbox_for_the_owner_of_contacts_to_email_is_stuck(db: Database) -> None:
    at = seat(db, mailbox=False)
    enrol(db, at, 3, jobs=False, sync_state="synced", next_send_at=utcnow())
    enrol(db, at, 1, jobs=False, state="finished")  # nothing left to send: not stuck
    with db.read_session() as s:
        mine = kinds(work_state.sequence_warnings(s, caller(at), at.sequence_id))
    assert mine["no_mailbox"].contacts == 3
    assert mine["no_mailbox"].text == (
        "3 contacts can't be emailed: you have no mailbox connected — connect a mailbox."
    )
    assert (mine["no_mailbox"].fix_label, mine["no_mailbox"].fix_href) == (
        "Connect a mailbox",
        "/mailbox",
    )
    # A teammate sees whom to ask (they cannot connect someone else's mailbox).
    with db.session() as s:
        mate = add_user(s, at.team_id, "max@acme.test", "Max Manager", "manager")
    with db.read_session() as s:
        theirs = kinds(
            work_state.sequence_warnings(s, Caller(mate, at.team_id, "manager"), at.sequence_id)
        )
    assert "Olivia Owner has no mailbox connected" in theirs["no_mailbox"].text
    assert theirs["no_mailbox"].fix_href is None
    # Once a mailbox is connected, nothing is stuck.
    with db.session() as s:
        add_mailbox(s, at.team_id, at.user_id, "olivia@acme.test")
    with db.read_session() as s:
        assert "no_mailbox" not in kinds(
            work_state.sequence_warnings(s, caller(at), at.sequence_id)
        )


def test_a_sequence_with_no_steps_and_contacts_is_stuck(db: Database) -> None:
    at = seat(db, steps=[])
    enrol(db, at, 2, jobs=False, sync_state="synced")
    with db.read_session() as s:
        found = kinds(work_state.sequence_warnings(s, caller(at), at.sequence_id))
    assert found["no_steps"].contacts == 2
    assert found["no_steps"].fix_href == f"/sequences/{at.sequence_id}/steps"
    assert "no steps" in found["no_steps"].text


def test_failed_contacts_are_counted_with_the_reason_in_words(db: Database) -> None:
    at = seat(db)
    enrol(db, at, 2, jobs=False, sync_state="failed", error_code="sync_error")
    with db.read_session() as s:
        work = work_state.team_work(s, caller(at))
    failed = kinds(work.warnings)["failed"]
    assert failed.contacts == 2 and failed.level == "error"
    assert "2 contacts failed to sync: Crelate refused what Outbound sent" in failed.text
    assert work.connections[0].failed == 2


def test_another_teams_sequence_is_not_found(db: Database) -> None:
    at = seat(db)
    with db.session() as s:
        other = add_team(s, "Other")
    with db.read_session() as s, pytest.raises(NotFound):
        work_state.sequence_warnings(s, Caller(at.user_id, other, "owner"), at.sequence_id)


@pytest.mark.parametrize(
    ("error", "words"),
    [
        ("GET /api3/contacts: 429 Too many requests", "Crelate asked Outbound to slow down"),
        ("POST /api3/contacts/abc/jobs: timed out", "Crelate did not answer in time"),
        ("POST /api3/contacts: 502 Bad gateway", "Crelate is having trouble (it answered 502)"),
        ("database unavailable (OperationalError)", "Outbound's database was busy"),
    ],
)
def test_job_errors_are_said_in_words(error: str, words: str) -> None:
    assert work_state.error_words(error, "Crelate") == words
