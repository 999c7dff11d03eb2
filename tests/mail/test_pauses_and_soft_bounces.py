"""An out-of-office pause ends on its date and the sequence picks up where it stopped; soft
bounces count, and the third in a row is treated as a hard one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from outbound.mail.worker import MailWorker
from outbound.store.db import Database
from outbound.store.models import Enrollment
from tests.conftest import Team
from tests.mail.conftest import ImapUser, SmtpSink, connect_mailbox, run_until, tick
from tests.mail.test_inbound_corpus import fill
from tests.mail.test_sequence_e2e import ada, sequence
from tests.test_sync_crelate import add, enrollment

CORPUS = Path(__file__).parent / "corpus"
STEPS = [
    {"subject": "Hello", "body": "Hi {{first_name}}"},
    {"subject": "", "body": "Following up.", "delay_days": 1},
]


def test_out_of_office_pause_ends_on_its_date_and_the_next_step_follows(
    team: Team, smtp_sink: SmtpSink, imap_user: ImapUser, mail_worker: MailWorker, db: Database
) -> None:
    connect_mailbox(team, smtp_sink, imap_user)
    (eid,) = add(team, sequence(team, STEPS), ada(1))
    run_until(mail_worker, lambda: len(smtp_sink.messages) == 1)
    back = datetime.now(UTC) + timedelta(days=4)
    imap_user.deliver(
        fill(
            (CORPUS / "paused-exchange-oof.eml").read_text(),
            TO="ada1@talent.example.com",
            US=imap_user.user,
            MID=str(smtp_sink.messages[0]["Message-ID"]),
            RETURN_LONG=f"{back:%A, %B} {back.day}, {back.year}",
        )
    )
    run_until(mail_worker, lambda: enrollment(team, eid)["status"] == "paused")
    for _ in range(5):  # step 2 falls due during the pause: it waits
        tick(mail_worker)
    assert len(smtp_sink.messages) == 1

    with db.session() as session:  # four days pass
        row = session.get(Enrollment, eid)
        assert row is not None
        row.paused_until = datetime.now(UTC) - timedelta(seconds=1)
    run_until(mail_worker, lambda: len(smtp_sink.messages) == 2)
    assert smtp_sink.messages[1]["In-Reply-To"] == smtp_sink.messages[0]["Message-ID"]
    assert enrollment(team, eid)["status"] == "finished"


def test_third_soft_bounce_in_a_row_counts_as_hard(
    team: Team, smtp_sink: SmtpSink, imap_user: ImapUser, mail_worker: MailWorker
) -> None:
    connect_mailbox(team, smtp_sink, imap_user)
    # Step 2 is 50 "days" (10 s) later: not due while the bounces come in.
    steps = [STEPS[0], {**STEPS[1], "delay_days": 50}]
    (eid,) = add(team, sequence(team, steps), ada(1))
    run_until(mail_worker, lambda: len(smtp_sink.messages) == 1)
    template = (CORPUS / "bounce-soft-postfix-mailbox-full.eml").read_text()
    for n in range(3):
        raw = fill(
            template.replace("3F1A2B3C4D@mail", f"3F1A2B3C4D{n}@mail"),  # three distinct DSNs
            TO="ada1@talent.example.com",
            US=imap_user.user,
            MID=str(smtp_sink.messages[0]["Message-ID"]),
        )
        imap_user.deliver(raw)
        tick(mail_worker)
        expected = "bounced" if n == 2 else "messaged"
        assert enrollment(team, eid)["status"] == expected, n
    suppressed = {s["email"] for s in team.call("GET", "/suppressions").json()}
    assert "ada1@talent.example.com" in suppressed
