"""Never sent twice: the worker process is SIGKILLed after the SMTP server has the message and
before the send is recorded. A restarted worker does not send it again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from email.message import Message
from typing import Any

from sqlalchemy import select

from outbound.mail.worker import MailWorker
from outbound.settings import Settings
from outbound.store.db import Database
from outbound.store.models import OutboundEmail
from tests.conftest import Team
from tests.mail.conftest import ImapUser, SmtpSink, connect_mailbox, run_until
from tests.mail.test_sequence_e2e import ada, sequence
from tests.test_sync_crelate import add, enrollment

STEPS = [
    {"subject": "Hello {{first_name}}", "body": "Hi {{first_name}}"},
    {"subject": "", "body": "Following up.", "delay_days": 1},
]


def worker_env(settings: Settings) -> dict[str, str]:
    return {
        **os.environ,
        "OUTBOUND_DATA_DIR": str(settings.data_dir),  # the API's secret key
        "OUTBOUND_DATABASE_URL": settings.resolved_database_url,
        "OUTBOUND_PUBLIC_URL": "http://testserver",
        "OUTBOUND_MAIL_DAY_SECONDS": "0.2",
        "OUTBOUND_MAIL_POLL_SECONDS": "0.2",
        "OUTBOUND_MAIL_LEASE_SECONDS": "1",
    }


def start_worker(settings: Settings) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "outbound.cli", "worker"],
        env=worker_env(settings),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def wait_for(check: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError("timed out")


def kill_on_first_data(
    sink: SmtpSink, proc: list[subprocess.Popen[bytes]], also: Callable[[Message], None]
) -> None:
    def on_data(msg: Message) -> None:
        also(msg)
        if len(sink.messages) == 1:  # the server has it; the worker dies before hearing "250"
            proc[0].send_signal(signal.SIGKILL)
            proc[0].wait()

    sink.on_data = on_data


def crash_mid_send(
    team: Team, settings: Settings, sink: SmtpSink, save_to_sent: Callable[[Message], None]
) -> int:
    seq = sequence(team, STEPS)
    (eid,) = add(team, seq, ada(1))
    proc: list[subprocess.Popen[bytes]] = [start_worker(settings)]
    kill_on_first_data(sink, proc, save_to_sent)
    proc[0].wait(timeout=60)
    assert proc[0].returncode == -signal.SIGKILL
    sink.on_data = None
    return eid


def email_states(db: Database) -> list[tuple[int, str]]:
    with db.session() as session:
        return [
            (e.step_position, e.status)
            for e in session.scalars(select(OutboundEmail).order_by(OutboundEmail.id))
        ]


def test_killed_after_smtp_accepted_found_in_sent_folder_is_not_resent(
    team: Team,
    smtp_sink: SmtpSink,
    imap_user: ImapUser,
    db: Database,
    mail_settings: Settings,
) -> None:
    # Like Gmail or Exchange, the provider files what it accepted in the Sent folder.
    connect_mailbox(team, smtp_sink, imap_user, sent_folder="Sent")
    eid = crash_mid_send(
        team, mail_settings, smtp_sink, lambda m: imap_user.deliver(m.as_bytes(), "Sent")
    )
    assert email_states(db) == [(0, "sending")]  # the crash left it half-recorded

    restarted = start_worker(mail_settings)
    try:
        wait_for(lambda: len(smtp_sink.messages) == 2)
        wait_for(lambda: enrollment(team, eid)["status"] == "finished")
    finally:
        restarted.terminate()
        _, err = restarted.communicate(timeout=30)
    assert b"Traceback" not in err
    first, second = smtp_sink.messages
    assert first["Subject"] == "Hello Ada1" and second["Subject"] == "Re: Hello Ada1"
    assert second["In-Reply-To"] == first["Message-ID"]  # recovered step 1 is in the thread
    assert email_states(db) == [(0, "sent"), (1, "sent")]
    assert enrollment(team, eid)["error_code"] is None


def test_killed_mid_send_with_no_way_to_confirm_asks_a_person_and_sends_nothing(
    team: Team,
    smtp_sink: SmtpSink,
    imap_user: ImapUser,
    db: Database,
    mail_settings: Settings,
    mail_worker: MailWorker,
) -> None:
    connect_mailbox(team, smtp_sink, imap_user)  # no Sent folder to ask
    eid = crash_mid_send(team, mail_settings, smtp_sink, lambda m: None)

    restarted = start_worker(mail_settings)
    try:
        wait_for(lambda: enrollment(team, eid)["status"] == "needs_attention")
        time.sleep(1.5)  # several more worker rounds
    finally:
        restarted.terminate()
        restarted.communicate(timeout=30)
    got: dict[str, Any] = enrollment(team, eid)
    assert got["error_code"] == "send_uncertain"
    assert "may or may not have gone out" in got["error_message"]
    assert len(smtp_sink.messages) == 1
    assert email_states(db) == [(0, "uncertain")]

    # The recruiter finds it in their Sent folder and resumes: it counts as sent, and the
    # sequence goes on with step 2 in the same thread.
    r = team.call("POST", f"/enrollments/{eid}/resume", json={"resend": False})
    assert r.status_code == 200, r.text
    run_until(mail_worker, lambda: len(smtp_sink.messages) == 2)
    assert smtp_sink.messages[1]["In-Reply-To"] == smtp_sink.messages[0]["Message-ID"]
    assert email_states(db) == [(0, "sent"), (1, "sent")]
