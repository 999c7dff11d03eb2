"""Issue 16, the contact panel: a contact's problems all at once (each source), the ATS
history as sentences, editing a contact and resuming it (sent once the value is there, a clear
error naming the variable when not), and the reply text kept for the thread."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select

from outbound.mail.worker import MailWorker
from outbound.service import contact_problems, contacts, outreach
from outbound.service import timeline as timelines
from outbound.service.caller import Caller
from outbound.settings import Settings
from outbound.store.db import Database
from outbound.store.models import (
    ActivityEvent,
    AtsConnection,
    AtsEffect,
    Enrollment,
    SyncJob,
    User,
    utcnow,
)
from outbound.web.session import hash_password
from tests.conftest import Team
from tests.mail import conftest as mail_fixtures
from tests.mail.conftest import (
    ImapUser,
    SmtpSink,
    connect_mailbox,
    reply_to,
    run_until,
    tick,
)
from tests.test_sync_crelate import add, enrollment

# The mail tests' fixtures (real SMTP and IMAP servers), used here by name.
smtp_sink = mail_fixtures.smtp_sink
imap_server = mail_fixtures.imap_server
imap_user = mail_fixtures.imap_user
mail_settings = mail_fixtures.mail_settings
mail_worker = mail_fixtures.mail_worker

COMPANY_STEP = [{"subject": "A role at {{company}}", "body": "Hi {{first_name}}, {{company}}?"}]
NO_COMPANY = {"email": "nia@talent.example.com", "first_name": "Nia", "last_name": "Okafor"}


def _sequence(team: Team, steps: list[dict[str, Any]] | None = None) -> int:
    r = team.call("POST", "/sequences", json={"name": "Panel", "steps": steps or COMPANY_STEP})
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def _owner(team: Team) -> Caller:
    return Caller(team.user_ids["owner"], team.team_id, "owner")


def _signed_in(team: Team, db: Database, eid: int) -> tuple[httpx.Client, str]:
    """Signed in as the owner, with the CSRF token the contact's page carries."""
    with db.session() as session:
        user = session.get(User, team.user_ids["owner"])
        assert user is not None
        user.password_hash = hash_password("pw-owner-123")
        email = user.email
    web: httpx.Client = team.client
    token = re.search(r'name="csrf_token" value="([^"]+)"', web.get("/login").text)
    assert token
    form = {"email": email, "password": "pw-owner-123", "csrf_token": token.group(1)}
    assert web.post("/login", data=form, follow_redirects=False).status_code == 303
    page = web.get(f"/enrollments/{eid}")
    csrf = re.search(r'"X-CSRF-Token": "([^"]+)"', page.text)
    assert csrf
    return web, csrf.group(1)


# -- fix a missing variable, then resume ----------------------------------------------------
def test_resume_without_the_value_keeps_a_clear_error_and_sends_nothing(
    team: Team, smtp_sink: SmtpSink, imap_user: ImapUser, mail_worker: MailWorker, db: Database
) -> None:
    connect_mailbox(team, smtp_sink, imap_user)
    (eid,) = add(team, _sequence(team), NO_COMPANY)
    run_until(mail_worker, lambda: enrollment(team, eid)["error_code"] == "missing_variable")

    with db.session() as session:
        e = outreach.resume(session, _owner(team), eid, resend=False)
        assert e.error_code == "missing_variable"
        assert "{{company}}" in (e.error_message or "")
    tick(mail_worker)
    assert smtp_sink.messages == []
    got = enrollment(team, eid)
    assert got["status"] == "needs_attention" and "{{company}}" in got["error_message"]


def test_fill_company_in_the_panel_save_and_resume_sends_the_mail(
    team: Team, smtp_sink: SmtpSink, imap_user: ImapUser, mail_worker: MailWorker, db: Database
) -> None:
    connect_mailbox(team, smtp_sink, imap_user)
    (eid,) = add(team, _sequence(team), NO_COMPANY)
    run_until(mail_worker, lambda: enrollment(team, eid)["error_code"] == "missing_variable")
    web, csrf = _signed_in(team, db, eid)
    form = {"email": NO_COMPANY["email"], "first_name": "Nia", "last_name": "Okafor"}

    panel = web.get(f"/enrollments/{eid}")
    assert panel.status_code == 200
    assert "{{company}}" in panel.text and "Save and resume" in panel.text

    # A bad email is refused beside the field; nothing is saved.
    bad = web.post(
        f"/enrollments/{eid}/contact",
        data={**form, "email": "not-an-email", "action": "save"},
        headers={"X-CSRF-Token": csrf, "HX-Request": "true"},
    )
    assert bad.status_code == 422
    assert 'id="e-cp-email"' in bad.text and "not an email address" in bad.text

    # Resume without the value: told which variable, still not sent.
    still = web.post(
        f"/enrollments/{eid}/contact",
        data={**form, "action": "resume"},
        headers={"X-CSRF-Token": csrf, "HX-Request": "true"},
    )
    assert still.status_code == 200
    assert "Not resumed" in still.text and "{{company}}" in still.text

    done = web.post(
        f"/enrollments/{eid}/contact",
        data={**form, "company": "Hooli", "action": "resume"},
        headers={"X-CSRF-Token": csrf, "HX-Request": "true"},
    )
    assert done.status_code == 200 and "Resumed" in done.text
    run_until(mail_worker, lambda: len(smtp_sink.messages) == 1)
    assert smtp_sink.messages[0]["Subject"] == "A role at Hooli"
    assert enrollment(team, eid)["error_code"] is None


# -- the thread keeps the reply's text ------------------------------------------------------
def test_reply_text_is_kept_and_shown_in_the_thread(
    team: Team, smtp_sink: SmtpSink, imap_user: ImapUser, mail_worker: MailWorker, db: Database
) -> None:
    connect_mailbox(team, smtp_sink, imap_user)
    (eid,) = add(team, _sequence(team), {**NO_COMPANY, "company": "Hooli"})
    run_until(mail_worker, lambda: len(smtp_sink.messages) == 1)
    imap_user.deliver(reply_to(smtp_sink.messages[0], "Tuesday works, call me."))
    run_until(mail_worker, lambda: enrollment(team, eid)["status"] == "replied")

    with db.read_session() as session:
        e = session.get(Enrollment, eid)
        assert e is not None
        thread = timelines.thread_of(session, e)
    assert [(m.kind, m.outgoing) for m in thread] == [("sent", True), ("replied", False)]
    assert thread[0].body == "Hi Nia, Hooli?"
    assert thread[1].body == "Tuesday works, call me."  # the quoted original left out
    assert thread[1].label == "Reply"
    web, _ = _signed_in(team, db, eid)
    assert "Tuesday works, call me." in web.get(f"/enrollments/{eid}").text


# -- every open problem at once -------------------------------------------------------------
def _synced_enrollment(team: Team, db: Database, **changes: Any) -> tuple[int, int]:
    """A contact linked to a Crelate record through a connection of the owner's."""
    (eid,) = add(team, _sequence(team, [{"subject": "Hi", "body": "Hello"}]), NO_COMPANY)
    with db.session() as session:
        conn = AtsConnection(
            user_id=team.user_ids["owner"],
            team_id=team.team_id,
            provider="crelate",
            credentials_encrypted=b"x",
            ats_org="https://crelate.test",
            ats_user_id="u1",
            ats_user_name="Olivia",
        )
        session.add(conn)
        session.flush()
        e = session.get(Enrollment, eid)
        assert e is not None
        e.sync_snapshot = {
            "connection_id": conn.id,
            "provider": "crelate",
            "ats_org": conn.ats_org,
            "sync_enabled": True,
            "field_mapping": [{"source": "title", "target": "JobTitle", "policy": "always"}],
        }
        e.sync_state = "synced"
        e.ats_record_id = "rec-42"
        for key, value in changes.items():
            setattr(e, key, value)
        return eid, conn.id


def _problems(db: Database, eid: int) -> dict[str, Any]:
    with db.read_session() as session:
        e = session.get(Enrollment, eid)
        assert e is not None
        return {p.kind: p for p in contact_problems.problems_of(session, e)}


def test_every_open_problem_shows_at_once_with_its_fix(team: Team, db: Database) -> None:
    eid, conn_id = _synced_enrollment(
        team, db, error_code="send_failed", error_message="550 mailbox full"
    )
    next_try = utcnow() + timedelta(minutes=5)
    with db.session() as session:
        e = session.get(Enrollment, eid)
        assert e is not None
        session.add(
            SyncJob(
                team_id=team.team_id,
                connection_id=conn_id,
                contact_id=e.contact_id,
                enrollment_id=eid,
                kind="log_activity",
                status="pending",
                attempts=3,
                run_after=next_try,
                last_error="Crelate answered 503",
            )
        )
    found = _problems(db, eid)
    # The mail error and the sync trouble side by side, neither hiding the other.
    assert found["contact_error"].detail == "550 mailbox full"
    retry = found["sync_retrying"]
    assert "Crelate answered 503 (3 tries so far)" in retry.detail
    assert f"Trying again at {next_try:%Y-%m-%d %H:%M}" in retry.detail
    assert found["mailbox"].fix.startswith("Connect a mailbox to send")

    with db.session() as session:
        conn = session.get(AtsConnection, conn_id)
        assert conn is not None
        conn.status, conn.status_reason = "reconnect_needed", "Crelate rejected the key (401)"
    assert found_title(db, eid, "ats_connection") == "Syncing to Crelate is paused"
    with db.session() as session:
        conn = session.get(AtsConnection, conn_id)
        assert conn is not None
        conn.status, conn.disconnected_at = "disconnected", utcnow()
    assert found_title(db, eid, "ats_connection") == "Crelate is disconnected"


def found_title(db: Database, eid: int, kind: str) -> str:
    return str(_problems(db, eid)[kind].title)


def test_an_out_of_office_pause_says_why_and_until_when(team: Team, db: Database) -> None:
    until = utcnow() + timedelta(days=9)
    eid, _ = _synced_enrollment(team, db, state="paused", paused_until=until)
    with db.session() as session:
        e = session.get(Enrollment, eid)
        assert e is not None
        session.add(
            ActivityEvent(
                team_id=e.team_id,
                enrollment_id=eid,
                contact_id=e.contact_id,
                kind="auto_reply",
                subject="Out of office until the 3rd",
                body="I am away",
            )
        )
    paused = _problems(db, eid)["paused"]
    assert paused.title == f"Paused until {until:%Y-%m-%d}: out of office"
    assert "Out of office until the 3rd" in paused.detail


def test_a_failed_sync_shows_its_error_and_tries(team: Team, db: Database) -> None:
    eid, conn_id = _synced_enrollment(team, db, sync_state="failed")
    with db.session() as session:
        e = session.get(Enrollment, eid)
        assert e is not None
        session.add(
            SyncJob(
                team_id=team.team_id,
                connection_id=conn_id,
                contact_id=e.contact_id,
                enrollment_id=eid,
                kind="sync_contact",
                status="failed",
                attempts=8,
                last_error="Crelate refused the field JobTitle",
                finished_at=utcnow(),
            )
        )
    failed = _problems(db, eid)["sync_failed"]
    assert failed.title == "Not synced to Crelate"
    assert "Crelate refused the field JobTitle after 8 tries" in failed.detail


# -- the ATS history as sentences -----------------------------------------------------------
def test_the_ats_history_reads_as_sentences(team: Team, db: Database) -> None:
    eid, conn_id = _synced_enrollment(team, db)
    later = utcnow() + timedelta(minutes=10)
    with db.session() as session:
        e = session.get(Enrollment, eid)
        assert e is not None
        cid = e.contact_id
        stage_job = SyncJob(
            team_id=team.team_id,
            connection_id=conn_id,
            contact_id=cid,
            enrollment_id=eid,
            kind="set_stage",
            payload={"stage": "Replied"},
            status="done",
        )
        event = ActivityEvent(
            team_id=team.team_id, enrollment_id=eid, contact_id=cid, kind="sent", subject="Intro"
        )
        session.add_all([stage_job, event])
        session.flush()
        done = {"provider": "crelate", "ats_org": "o", "contact_id": cid, "state": "done"}
        for effect in ("create", "attach:job-7", f"activity:{event.id}", f"stage:{stage_job.id}"):
            session.add(AtsEffect(effect=effect, done_at=utcnow(), **done))
        session.add(
            SyncJob(
                team_id=team.team_id,
                connection_id=conn_id,
                contact_id=cid,
                enrollment_id=eid,
                kind="log_activity",
                status="pending",
                attempts=2,
                run_after=later,
                last_error="Crelate did not answer",
            )
        )
    with db.read_session() as session:
        e = session.get(Enrollment, eid)
        assert e is not None
        titles = {"job-7": "Platform Engineer"}
        lines = [(h.text, h.state) for h in timelines.ats_history(session, e, titles)]
        record = timelines.ats_record(e, Settings())
    assert lines[:4] == [
        ("Created in Crelate as Nia Okafor", "done"),
        ('Added to job "Platform Engineer"', "done"),
        ("Logged email 'Intro' as activity", "done"),
        ("Moved to Replied", "done"),
    ]
    assert lines[4] == (
        f"Failed to reach Crelate: Crelate did not answer (trying again at "
        f"{later:%Y-%m-%d %H:%M} UTC)",
        "retrying",
    )
    assert record is not None and (record.title, record.record_id) == ("Crelate", "rec-42")


# -- an edit the ATS holds is queued to sync; the rest stays in Outbound ----------------------
def test_an_edited_mapped_field_is_queued_for_the_ats_record(team: Team, db: Database) -> None:
    eid, _ = _synced_enrollment(team, db)
    with db.session() as session:
        e = session.get(Enrollment, eid)
        assert e is not None
        edit = contacts.edit_contact(session, _owner(team), e, {"title": "CTO", "company": "Hooli"})
        assert edit.queued_to_ats == ["title"] and edit.outbound_only == ["company"]
        assert e.sync_state == "pending"
    with db.read_session() as session:
        jobs = session.scalars(select(SyncJob).where(SyncJob.enrollment_id == eid)).all()
    assert [(j.kind, j.payload) for j in jobs] == [("sync_contact", {"refresh": True})]


def test_an_edit_not_mapped_changes_outbound_only(team: Team, db: Database) -> None:
    eid, _ = _synced_enrollment(team, db)
    web, csrf = _signed_in(team, db, eid)
    r = web.post(
        f"/enrollments/{eid}/contact",
        data={**NO_COMPANY, "company": "Hooli", "action": "save"},
        headers={"X-CSRF-Token": csrf, "HX-Request": "true"},
    )
    assert r.status_code == 200
    assert "Changed in Outbound only: company." in r.text
    with db.read_session() as session:
        assert session.scalar(select(SyncJob.id).where(SyncJob.enrollment_id == eid)) is None
