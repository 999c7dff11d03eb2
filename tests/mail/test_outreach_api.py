"""The outreach side through the REST API: mailbox verification and secrets, templates that
block instead of sending "Hi ,", sending windows and daily limits, SMTP refusals, tracking and
unsubscribe (RFC 8058), and the team-wide suppression list."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from outbound.mail.worker import MailWorker
from outbound.store.db import Database
from outbound.store.models import Mailbox
from tests.conftest import Team
from tests.mail.conftest import (
    IMAP_PASSWORD,
    SMTP_PASSWORD,
    ImapUser,
    SmtpSink,
    connect_mailbox,
    mailbox_body,
    run_until,
    tick,
)
from tests.mail.test_sequence_e2e import ada, sequence
from tests.test_sync_crelate import add, enrollment


def test_mailbox_is_verified_before_saving_and_never_shows_its_passwords(
    team: Team, smtp_sink: SmtpSink, imap_user: ImapUser, db: Database
) -> None:
    bad_smtp = team.call(
        "PUT", "/mailbox", json=mailbox_body(smtp_sink, imap_user, smtp_password="wrong")
    )
    assert bad_smtp.status_code == 400
    assert bad_smtp.json()["field"] == "smtp_password"
    bad_imap = team.call(
        "PUT", "/mailbox", json=mailbox_body(smtp_sink, imap_user, imap_password="wrong")
    )
    assert bad_imap.json()["field"] == "imap_password"
    no_server = team.call("PUT", "/mailbox", json=mailbox_body(smtp_sink, imap_user, imap_port=1))
    assert no_server.json()["field"] == "imap_host"
    bad_zone = team.call(
        "PUT", "/mailbox", json=mailbox_body(smtp_sink, imap_user, time_zone="Mars/Olympus")
    )
    assert (bad_zone.status_code, bad_zone.json()["field"]) == (422, "time_zone")
    bad_hours = team.call(
        "PUT", "/mailbox", json=mailbox_body(smtp_sink, imap_user, window_start="25:00")
    )
    assert (bad_hours.status_code, bad_hours.json()["field"]) == (422, "window_start")
    assert team.call("GET", "/mailbox").status_code == 404  # nothing was stored

    saved = connect_mailbox(team, smtp_sink, imap_user)
    assert saved["status"] == "active"
    shown = team.call("GET", "/mailbox").text
    assert SMTP_PASSWORD not in shown and IMAP_PASSWORD not in shown
    # No field for a password either (auth_kind says "password": how it logs in, not what).
    assert not [key for key in team.call("GET", "/mailbox").json() if "password" in key]
    assert team.call("GET", "/mailbox").json()["auth_kind"] == "password"
    with db.session() as session:
        stored = session.scalar(select(Mailbox.secrets_encrypted))
    assert stored is not None
    assert SMTP_PASSWORD.encode() not in stored and IMAP_PASSWORD.encode() not in stored

    # Changing a setting keeps the saved passwords (and still verifies against the servers).
    body = mailbox_body(smtp_sink, imap_user, daily_limit=50)
    del body["smtp_password"], body["imap_password"]
    r = team.call("PUT", "/mailbox", json=body)
    assert (r.status_code, r.json()["daily_limit"]) == (200, 50)


def test_missing_variable_blocks_the_contact_instead_of_sending_hi_comma(
    team: Team, smtp_sink: SmtpSink, imap_user: ImapUser, mail_worker: MailWorker
) -> None:
    connect_mailbox(team, smtp_sink, imap_user)
    steps = [{"subject": "Hi {{first_name}}", "body": "How is {{company}}? {{pet|your day}}"}]
    seq = sequence(team, steps)
    blocked, fine = add(
        team,
        seq,
        {"email": "nofirst@talent.example.com", "company": "Hooli"},
        ada(2),
    )
    run_until(mail_worker, lambda: len(smtp_sink.messages) == 1)
    tick(mail_worker)
    assert [str(m["To"]) for m in smtp_sink.messages] == ["ada2@talent.example.com"]
    assert "How is Analytical Engines? your day" in smtp_sink.messages[0].get_body().get_content()
    got = enrollment(team, blocked)
    assert got["status"] == "needs_attention"
    assert got["error_code"] == "missing_variable"
    assert "{{first_name}}" in got["error_message"]
    assert enrollment(team, fine)["status"] == "finished"

    # Fix the contact, resume: it goes out with the value.
    contact_id = got["contact"]["id"]
    assert (
        team.call("PATCH", f"/contacts/{contact_id}", json={"first_name": "Nia"}).status_code == 200
    )
    assert team.call("POST", f"/enrollments/{blocked}/resume", json={}).status_code == 200
    run_until(mail_worker, lambda: len(smtp_sink.messages) == 2)
    assert smtp_sink.messages[1]["Subject"] == "Hi Nia"


def test_bad_template_syntax_is_refused_naming_the_step(team: Team) -> None:
    r = team.call(
        "POST",
        "/sequences",
        json={"name": "x", "steps": [{"subject": "Hi", "body": "Hi {{first_name}"}]},
    )
    assert (r.status_code, r.json()["field"]) == (422, "steps[0].body")
    r = team.call(
        "POST", "/sequences", json={"name": "x", "steps": [{"subject": "", "body": "Hi"}]}
    )
    assert (r.status_code, r.json()["field"]) == (422, "steps[0].subject")


def test_closed_window_sends_nothing_and_daily_limit_caps_the_day(
    team: Team, smtp_sink: SmtpSink, imap_user: ImapUser, mail_worker: MailWorker, db: Database
) -> None:
    zone = "Pacific/Auckland"
    local = datetime.now(UTC).astimezone(ZoneInfo(zone))
    # A one-hour window that is certainly not now, on every day.
    start = (local + timedelta(hours=3)).strftime("%H:00")
    end = (local + timedelta(hours=4)).strftime("%H:00")
    connect_mailbox(team, smtp_sink, imap_user, time_zone=zone, window_start=start, window_end=end)
    seq = sequence(team, [{"subject": "Hi", "body": "Hi"}])
    add(team, seq, *(ada(i) for i in range(3)))
    for _ in range(3):
        tick(mail_worker)
    assert smtp_sink.messages == []
    with db.session() as session:
        slot = session.scalar(select(Mailbox.next_slot_at))
    assert slot is not None
    assert slot.astimezone(ZoneInfo(zone)).strftime("%H:%M") == start  # waits for the window

    body = mailbox_body(smtp_sink, imap_user, daily_limit=2)
    assert team.call("PUT", "/mailbox", json=body).status_code == 200
    with db.session() as session:
        session.execute(Mailbox.__table__.update().values(next_slot_at=None))
    run_until(mail_worker, lambda: len(smtp_sink.messages) == 2)
    for _ in range(5):
        tick(mail_worker)
    assert len(smtp_sink.messages) == 2  # the third waits for tomorrow


def test_sends_are_spread_over_the_window_not_bursted(
    team: Team, smtp_sink: SmtpSink, imap_user: ImapUser, db: Database, mail_settings: Any
) -> None:
    # Real time: a 24 h window over 2,000 a day is one send every 43 s (±30%).
    worker = MailWorker(db, mail_settings.model_copy(update={"mail_day_seconds": 86_400.0}))
    connect_mailbox(team, smtp_sink, imap_user, daily_limit=2000)
    seq = sequence(team, [{"subject": "Hi", "body": "Hi"}])
    eids = add(team, seq, *(ada(i) for i in range(4)))
    for _ in range(5):
        tick(worker)
    assert len(smtp_sink.messages) == 1  # the other three wait for their own slots
    (first,) = [e for eid in eids for e in team.call("GET", f"/enrollments/{eid}/emails").json()]
    with db.session() as session:
        slot = session.scalar(select(Mailbox.next_slot_at))
    assert slot is not None
    gap = (slot - datetime.fromisoformat(first["created_at"]).replace(tzinfo=UTC)).total_seconds()
    assert 0.7 * 43.2 - 1 <= gap <= 1.3 * 43.2 + 1


def test_smtp_refusals_bounce_the_contact_or_retry(
    team: Team, smtp_sink: SmtpSink, imap_user: ImapUser, mail_worker: MailWorker
) -> None:
    connect_mailbox(team, smtp_sink, imap_user)
    smtp_sink.refuse["ada1@talent.example.com"] = (550, "5.1.1 User unknown")
    smtp_sink.refuse["ada2@talent.example.com"] = (451, "4.3.0 Try again later")
    seq = sequence(team, [{"subject": "Hi", "body": "Hi"}])
    gone, later = add(team, seq, ada(1), ada(2))
    run_until(mail_worker, lambda: enrollment(team, gone)["status"] == "bounced")
    assert "ada1@talent.example.com" in {
        s["email"] for s in team.call("GET", "/suppressions").json()
    }

    def refused_once() -> bool:
        emails = team.call("GET", f"/enrollments/{later}/emails").json()
        return bool(emails) and "451" in (emails[0]["last_error"] or "")

    run_until(mail_worker, refused_once)
    assert team.call("GET", f"/enrollments/{later}/emails").json()[0]["status"] == "queued"
    assert enrollment(team, later)["status"] == "scheduled"  # not an error: it will retry
    del smtp_sink.refuse["ada2@talent.example.com"]
    with_retry_now(mail_worker)
    run_until(mail_worker, lambda: len(smtp_sink.messages) == 1)
    assert str(smtp_sink.messages[0]["To"]) == "ada2@talent.example.com"


def with_retry_now(worker: MailWorker) -> None:
    from outbound.store.models import OutboundEmail

    with worker.db.session() as session:
        session.execute(
            OutboundEmail.__table__.update()
            .where(OutboundEmail.status == "queued")
            .values(run_after=datetime.now(UTC))
        )


def test_tracking_and_one_click_unsubscribe(
    team: Team, smtp_sink: SmtpSink, imap_user: ImapUser, mail_worker: MailWorker
) -> None:
    connect_mailbox(team, smtp_sink, imap_user)
    steps = [
        {"subject": "Hi", "body": "See https://jobs.example.com/staff-eng for the role."},
        {"subject": "", "body": "Still keen?", "delay_days": 1},
    ]
    seq = sequence(team, steps, tracking_enabled=True)
    (eid,) = add(team, seq, ada(1))
    run_until(mail_worker, lambda: len(smtp_sink.messages) == 1)
    msg = smtp_sink.messages[0]
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    one_click = str(msg["List-Unsubscribe"]).split(",")[0].strip("<> ")
    html = msg.get_body(("html",)).get_content()
    pixel = html.split('<img src="')[1].split('"')[0]
    click = html.split('<a href="')[1].split('"')[0]
    client = team.client
    assert "jobs.example.com" not in click  # the link goes through the redirect

    for _ in range(3):  # mail clients refetch images: one "opened" is enough
        assert client.get(pixel.removeprefix("http://testserver")).status_code == 200
    assert enrollment(team, eid)["status"] == "opened"
    r = client.get(click.removeprefix("http://testserver"), follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (302, "https://jobs.example.com/staff-eng")
    assert enrollment(team, eid)["status"] == "clicked"
    assert client.get(click.removeprefix("http://testserver")[:-1] + "7").status_code == 404

    path = one_click.removeprefix("http://testserver")
    assert client.get(path).status_code == 200  # a link scanner's GET changes nothing
    assert enrollment(team, eid)["status"] == "clicked"
    r = client.post(path, data={"List-Unsubscribe": "One-Click"})
    assert r.status_code == 200
    assert enrollment(team, eid)["status"] == "unsubscribed"
    for _ in range(10):  # step 2 would be due by now
        tick(mail_worker)
    assert len(smtp_sink.messages) == 1

    # Nobody on the team emails that address again.
    other = sequence(team, steps[:1], "manager")
    add(team, other, ada(1), role="manager")
    connect_mailbox(team, smtp_sink, imap_user, role="manager")
    for _ in range(3):
        tick(mail_worker)
    assert len(smtp_sink.messages) == 1
    rows: list[dict[str, Any]] = team.call("GET", f"/sequences/{other}/contacts").json()
    assert rows[0]["status"] == "unsubscribed"


def test_tracking_is_off_by_default(
    team: Team, smtp_sink: SmtpSink, imap_user: ImapUser, mail_worker: MailWorker
) -> None:
    connect_mailbox(team, smtp_sink, imap_user)
    seq = sequence(team, [{"subject": "Hi", "body": "See https://jobs.example.com/x"}])
    add(team, seq, ada(1))
    run_until(mail_worker, lambda: len(smtp_sink.messages) == 1)
    msg = smtp_sink.messages[0]
    assert msg.get_body(("html",)) is None  # plain text: no pixel, no rewritten links
    assert "https://jobs.example.com/x" in msg.get_body().get_content()
    assert msg["List-Unsubscribe"]  # the unsubscribe headers are always there
