"""The database fails at the worst moment: right after an ATS write, before Outbound records it.
For each kind of write (create, the details a create needs after it such as Clockwork's email
sub-resource, attach to a job/project, a logged email) and both ATSs, the
worker rides the outage out and every effect is in the ATS exactly once (the effect ledger:
an intent committed before the call; a retry that finds one asks the ATS before writing)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from outbound.connectors.clockwork.connector import ClockworkConnector
from outbound.connectors.crelate.connector import CrelateConnector
from outbound.sync import state as st
from tests.conftest import Sim, Team
from tests.test_api_core import make_sequence
from tests.test_sync_clockwork import connect as connect_clockwork
from tests.test_sync_clockwork import people_with, project_named
from tests.test_sync_crelate import add, ats_contacts, enrollment, job_named, person
from tests.test_sync_crelate import connect as connect_crelate

EMAIL = "cand1@talent.example.com"


def lost_connection() -> OperationalError:
    return OperationalError("COMMIT", {}, Exception("server closed the connection unexpectedly"))


def fail_once(
    monkeypatch: pytest.MonkeyPatch, name: str, when: Callable[..., bool]
) -> dict[str, int]:
    """Make st.<name> fail once, the first time ``when(*args, **kwargs)`` holds, *before* it
    writes: the ATS call before it has happened, its record has not."""
    real = getattr(st, name)
    hits = {"n": 0}

    def flaky(*args: Any, **kwargs: Any) -> Any:
        if hits["n"] == 0 and when(*args, **kwargs):
            hits["n"] += 1
            raise lost_connection()
        return real(*args, **kwargs)

    monkeypatch.setattr(st, name, flaky)
    return hits


def finishing(effect: str) -> Callable[..., bool]:
    """When st.finish_effect is about to record a write of this kind as done."""
    return lambda db, key, *a, **k: key.effect.split(":")[0] == effect


WRITES: dict[str, tuple[str, Callable[..., bool]]] = {
    # the new record's id, just answered by the ATS
    "create": ("finish_effect", finishing("create")),
    # the email (Clockwork) and other details just added to the new record
    "details": ("finish_effect", finishing("details")),
    # the record just put on the job/project
    "attach": ("finish_effect", finishing("attach")),
    # the email just logged as an activity / note
    "activity": ("finish_effect", finishing("activity")),
    # the pipeline stage just moved (the reply)
    "stage": ("finish_effect", finishing("stage")),
}


def count_stage_moves(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """A spy on both connectors' stage moves (the real call still goes to the ATS)."""
    moves: list[str] = []
    for cls in (CrelateConnector, ClockworkConnector):
        real = cls.set_stage

        async def spy(
            self: Any, person_id: str, job_id: str, stage: Any, _real: Any = real
        ) -> None:
            moves.append(stage.id)
            await _real(self, person_id, job_id, stage)

        monkeypatch.setattr(cls, "set_stage", spy)
    return moves


def contact_with_emails(provider: str, team: Team, crelate: Sim, clockwork: Sim) -> tuple[int, str]:
    """A new person on a job/project, with an email sent and a reply: every kind of write."""
    if provider == "crelate":
        connect_crelate(team)
        job = job_named(crelate, "Senior Python Engineer")
    else:
        connect_clockwork(team)
        job = project_named(clockwork, "CFO Search - Northwind")
    (eid,) = add(team, make_sequence(team, job_id=job), person(1))
    for kind, subject in (("sent", "Hi"), ("replied", "Re: Hi")):
        r = team.call("POST", f"/enrollments/{eid}/events", json={"kind": kind, "subject": subject})
        assert r.status_code in (200, 201), r.text
    return eid, job


def assert_each_effect_once(
    provider: str, team: Team, eid: int, job: str, crelate: Sim, clockwork: Sim, moves: list[str]
) -> None:
    got = enrollment(team, eid)
    assert got["sync_state"] == "synced" and got["error_code"] is None, got
    record = got["ats_record_id"]
    if provider == "crelate":
        assert len(ats_contacts(crelate, EMAIL)) == 1
        pipeline = [p for p in crelate.records("pipeline") if p["ContactId"] == record]
        notes = [a for a in crelate.records("activities") if a["ParentId"]["Id"] == record]
        assert crelate.duplicates() == 0
    else:
        assert len(people_with(clockwork, EMAIL)) == 1
        pipeline = [c for c in clockwork.records("candidacies") if c["person_id"] == record]
        notes = [n for n in clockwork.records("notes") if n["personId"] == record]
        assert clockwork.duplicates() == 0
    assert len(pipeline) == 1  # on the job/project once
    assert len(notes) == 2  # the sent email and the reply, once each
    # The contact's timeline reads the ledger: each write once, every one confirmed.
    written = team.call("GET", f"/enrollments/{eid}/effects").json()
    stage_moves = [w for w in written if w["what"] == "Pipeline stage moved"]
    assert stage_moves and len(moves) == len(stage_moves)  # each move sent once, never again
    whats = sorted(w["what"] for w in written if w["what"] != "Pipeline stage moved")
    # Clockwork writes the email and the rest after the create; Crelate's create is whole.
    details = ["Record details completed"] if provider == "clockwork" else []
    assert whats == [
        "Email logged",
        "Email logged",
        f"Put on job/project {job}",
        "Record created",
        *details,
    ]
    assert all(w["confirmed"] and w["provider"] == provider for w in written)


def writes_of(kinds: dict[str, Any]) -> list[tuple[str, str]]:
    """(provider, write) for every write each ATS gets: a separate write of the new record's
    details is Clockwork's alone (Crelate's create carries the whole record)."""
    return [
        (provider, write)
        for provider in ("crelate", "clockwork")
        for write in sorted(kinds)
        if not (provider == "crelate" and write == "details")
    ]


@pytest.mark.parametrize(("provider", "write"), writes_of(WRITES))
def test_a_database_failure_right_after_an_ats_write_duplicates_nothing(
    provider: str,
    write: str,
    team: Team,
    crelate: Sim,
    clockwork: Sim,
    work: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    eid, job = contact_with_emails(provider, team, crelate, clockwork)
    target, when = WRITES[write]
    hits = fail_once(monkeypatch, target, when)
    moves = count_stage_moves(monkeypatch)

    work()

    assert hits["n"] == 1  # the failure did strike, after the ATS write
    assert_each_effect_once(provider, team, eid, job, crelate, clockwork, moves)


TERMINATE_AFTER = {
    "create": "UPDATE ats_effects",
    "details": "UPDATE ats_effects",
    "attach": "UPDATE ats_effects",
    "activity": "UPDATE ats_effects",
    "stage": "UPDATE ats_effects",
}


@pytest.mark.parametrize(("provider", "write"), writes_of(TERMINATE_AFTER))
def test_postgresql_terminating_the_connection_right_after_an_ats_write_duplicates_nothing(
    provider: str,
    write: str,
    team: Team,
    crelate: Sim,
    clockwork: Sim,
    work: Any,
    db: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Not an exception raised by the test: PostgreSQL itself ends the worker's connection
    (pg_terminate_backend) inside the transaction that records an ATS write, before COMMIT."""
    import psycopg
    from sqlalchemy import event

    if db.engine.dialect.name != "postgresql":
        pytest.skip("terminating a server connection is a PostgreSQL test")
    eid, job = contact_with_emails(provider, team, crelate, clockwork)
    moves = count_stage_moves(monkeypatch)
    hits = {"n": 0}
    wanted = write  # the kind of effect whose "done" is cut off
    admin_url = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)

    def terminate(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if hits["n"] or not statement.startswith(TERMINATE_AFTER[write]):
            return
        pid = conn.connection.dbapi_connection.info.backend_pid
        with psycopg.connect(admin_url, autocommit=True) as admin:
            # which effect this "done" is for: its intent row is committed
            ids = [v for v in _values(params) if isinstance(v, int)]
            effects = admin.execute(
                "SELECT effect FROM ats_effects WHERE id = ANY(%s)", (ids,)
            ).fetchall()
            if not any(str(e).split(":")[0] == wanted for (e,) in effects):
                return
            hits["n"] += 1
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))

    event.listen(db.engine, "after_cursor_execute", terminate)
    try:
        work()
    finally:
        event.remove(db.engine, "after_cursor_execute", terminate)
    assert hits["n"] == 1
    assert_each_effect_once(provider, team, eid, job, crelate, clockwork, moves)


def _values(params: Any) -> list[Any]:
    if isinstance(params, dict):
        return list(params.values())
    if isinstance(params, (list, tuple)):
        return [
            v for p in params for v in (_values(p) if isinstance(p, (dict, list, tuple)) else [p])
        ]
    return [params]
