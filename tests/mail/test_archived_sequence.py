"""An archived sequence sends nothing more, not even a follow-up already due, and takes no new
people; unarchived, it goes on where it stopped (issue 16)."""

from __future__ import annotations

import time

from outbound.mail.worker import MailWorker
from tests.conftest import Team
from tests.mail.conftest import ImapUser, SmtpSink, connect_mailbox, run_until, tick
from tests.mail.test_sequence_e2e import ada, sequence
from tests.test_sync_crelate import add

TWO_STEPS = [
    {"subject": "Hello {{first_name}}", "body": "A role?"},
    {"subject": "", "body": "Following up.", "delay_days": 1},
]


def test_archived_sequence_holds_its_follow_ups_and_refuses_new_people(
    team: Team, smtp_sink: SmtpSink, imap_user: ImapUser, mail_worker: MailWorker
) -> None:
    connect_mailbox(team, smtp_sink, imap_user)
    seq = sequence(team, TWO_STEPS)
    add(team, seq, ada(1))
    run_until(mail_worker, lambda: len(smtp_sink.messages) == 1)

    archived = team.call("PATCH", f"/sequences/{seq}", json={"archived": True})
    assert archived.status_code == 200, archived.text
    deadline = time.monotonic() + 1.0  # five sequence "days": the follow-up is long due
    while time.monotonic() < deadline:
        tick(mail_worker)
    assert len(smtp_sink.messages) == 1

    refused = team.call("POST", f"/sequences/{seq}/contacts", json={"contacts": [ada(2)]})
    assert refused.status_code == 422
    assert "archived" in refused.json()["detail"]

    assert team.call("PATCH", f"/sequences/{seq}", json={"archived": False}).status_code == 200
    run_until(mail_worker, lambda: len(smtp_sink.messages) == 2)
    assert smtp_sink.messages[1]["Subject"] == "Re: Hello Ada1"
