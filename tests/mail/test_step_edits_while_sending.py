"""A step is not moved or deleted while one of its emails is being handed to the mail server
(or waits for a look, unsure whether it went): the send would move its contact on by one after
the positions shifted, and a step could go out twice (issue 16)."""

from __future__ import annotations

from sqlalchemy import update

from outbound.mail.worker import MailWorker
from outbound.store.db import Database
from outbound.store.models import OutboundEmail
from tests.conftest import Team
from tests.mail.conftest import ImapUser, SmtpSink, connect_mailbox, run_until
from tests.mail.test_sequence_e2e import ada, sequence
from tests.test_sync_crelate import add

STEPS = [
    {"subject": "Hello {{first_name}}", "body": "A role?"},
    {"subject": "Second", "body": "Following up.", "delay_days": 10},
    {"subject": "Third", "body": "Last note.", "delay_days": 10},
]


def _first_email(db: Database, status: str) -> None:
    with db.session() as s:
        s.execute(update(OutboundEmail).values(status=status))


def test_steps_wait_for_an_email_in_flight(
    team: Team, smtp_sink: SmtpSink, imap_user: ImapUser, mail_worker: MailWorker, db: Database
) -> None:
    connect_mailbox(team, smtp_sink, imap_user)
    seq = sequence(team, STEPS)
    add(team, seq, ada(1))
    run_until(mail_worker, lambda: len(smtp_sink.messages) == 1)  # step 1 sent

    for status in ("sending", "uncertain"):
        _first_email(db, status)
        moved = team.call("POST", f"/sequences/{seq}/steps/0/move", json={"direction": "down"})
        deleted = team.call("DELETE", f"/sequences/{seq}/steps/0")
        assert (moved.status_code, deleted.status_code) == (409, 409), status
        assert "being sent" in moved.json()["detail"]
        subjects = [s["subject"] for s in team.call("GET", f"/sequences/{seq}").json()["steps"]]
        assert subjects == ["Hello {{first_name}}", "Second", "Third"]  # nothing changed

    _first_email(db, "sent")  # settled: the edit goes through
    moved = team.call("POST", f"/sequences/{seq}/steps/1/move", json={"direction": "down"})
    assert moved.status_code == 200, moved.text
    assert [s["subject"] for s in moved.json()["steps"]] == [
        "Hello {{first_name}}",
        "Third",
        "Second",
    ]
