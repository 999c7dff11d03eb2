"""Database errors inside a job are told apart: an outage is retried without counting (see
test_sync_crelate and test_pg_restart); a refused write is a bug in the job, counted, and shown
on the contact in plain words instead of being retried for ever."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from outbound.settings import Settings
from outbound.store.db import Database
from tests.conftest import Sim, Team, run_worker
from tests.test_api_core import make_sequence
from tests.test_sync_crelate import add, ats_contacts, connect, enrollment, person


def refuse_marking_synced(db: Database) -> None:
    """A real constraint-style refusal from the database itself, on both engines."""
    with db.engine.begin() as conn:
        if db.engine.dialect.name == "sqlite":
            conn.execute(
                text(
                    "CREATE TRIGGER refuse_synced BEFORE UPDATE OF sync_state ON enrollments "
                    "WHEN NEW.sync_state = 'synced' BEGIN SELECT RAISE(ABORT, 'refused'); END"
                )
            )
            return
        conn.execute(
            text(
                "CREATE FUNCTION refuse_synced() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                "IF NEW.sync_state = 'synced' THEN RAISE check_violation USING MESSAGE = "
                "'refused'; END IF; RETURN NEW; END $$"
            )
        )
        conn.execute(
            text(
                "CREATE TRIGGER refuse_synced BEFORE UPDATE ON enrollments "
                "FOR EACH ROW EXECUTE FUNCTION refuse_synced()"
            )
        )


def test_a_refused_write_is_counted_and_shown_not_retried_for_ever(
    team: Team, crelate: Sim, db: Database, settings: Settings
) -> None:
    connect(team)
    (eid,) = add(team, make_sequence(team), person(1))
    refuse_marking_synced(db)
    settings.max_attempts = 3
    run_worker(db, settings, timeout=30)  # used to retry every 2 s for ever: a timeout here
    got: dict[str, Any] = enrollment(team, eid)
    assert got["sync_state"] == "failed" and got["error_code"] == "sync_error"
    assert "database refused a write" in got["error_message"]
    with db.engine.connect() as conn:
        attempts = conn.execute(
            text("SELECT attempts, status FROM sync_jobs WHERE kind = 'check_and_sync'")
        ).one()
    assert tuple(attempts) == (3, "failed")
    # The ATS write happened once, whatever the retries: the record is linked, not duplicated.
    assert len(ats_contacts(crelate, "cand1@talent.example.com")) == 1
