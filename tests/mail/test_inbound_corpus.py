"""Replies, auto-replies and bounces as real mail systems write them, delivered over IMAP to a
mailbox whose steps went out over SMTP: each lands on the right contact with the right effect."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from outbound.mail.worker import MailWorker
from tests.conftest import Team
from tests.mail.conftest import ImapUser, SmtpSink, connect_mailbox, run_until, tick
from tests.mail.test_sequence_e2e import sequence
from tests.test_sync_crelate import add, enrollment

CORPUS = Path(__file__).parent / "corpus"


def fill(raw: str, **values: str) -> bytes:
    for key, value in values.items():
        raw = raw.replace(f"{{{{{key}}}}}", value)
    return raw.replace("\n", "\r\n").encode()


def test_every_corpus_message_has_its_effect_on_its_contact(
    team: Team, smtp_sink: SmtpSink, imap_user: ImapUser, mail_worker: MailWorker
) -> None:
    connect_mailbox(team, smtp_sink, imap_user)
    files = sorted(CORPUS.glob("*.eml"))
    steps = [
        {"subject": "Hello", "body": "Hi {{first_name}}, a role at Analytical Engines?"},
        {"subject": "", "body": "Following up.", "delay_days": 50},  # 10 s: after the checks
    ]
    seq = sequence(team, steps)
    people = [
        {"email": f"{f.stem}@talent.example.com", "first_name": "Ada", "last_name": "L"}
        for f in files
    ]
    ids = dict(zip((f.stem for f in files), add(team, seq, *people), strict=True))
    run_until(mail_worker, lambda: len(smtp_sink.messages) == len(files))

    back = datetime.now(UTC) + timedelta(days=10)
    for f in files:
        (sent,) = smtp_sink.to(f"{f.stem}@talent.example.com")
        imap_user.deliver(
            fill(
                f.read_text(),
                TO=f"{f.stem}@talent.example.com",
                US=imap_user.user,
                MID=str(sent["Message-ID"]),
                RETURN_LONG=f"{back:%A, %B} {back.day}, {back.year}",
                RETURN_ISO=f"{back:%Y-%m-%d}",
            )
        )
    tick(mail_worker)
    seen: dict[str, dict[str, Any]] = {stem: enrollment(team, eid) for stem, eid in ids.items()}
    for stem, got in seen.items():
        expected = stem.split("-")[0]
        if expected == "reply":
            assert got["status"] == "replied", stem
        elif expected == "bounce" and "-hard-" in stem:
            assert got["status"] == "bounced", stem
        elif expected == "bounce":  # soft: counted, the sequence goes on
            assert got["status"] == "messaged", stem
        elif expected == "paused":
            assert got["status"] == "paused", stem
        else:  # an auto-acknowledgement or a delay is recorded, but changes nothing
            assert got["status"] == "messaged", stem

    def paused_until(stem: str) -> str:
        return str(seen[stem]["paused_until"])[:10]

    assert paused_until("paused-exchange-oof") == f"{back:%Y-%m-%d}"
    assert paused_until("paused-gmail-vacation") == f"{back:%Y-%m-%d}"
    week = datetime.now(UTC) + timedelta(days=7)
    assert paused_until("paused-zimbra-vacation-no-date") == f"{week:%Y-%m-%d}"

    suppressed = {s["email"] for s in team.call("GET", "/suppressions").json()}
    assert suppressed == {
        "bounce-hard-exchange-ndr@talent.example.com",
        "bounce-hard-gateway-re-subject@talent.example.com",  # a bounce, not a reply (issue 17)
        "bounce-hard-gmail@talent.example.com",
    }
    # A hard-bounced address is never emailed again, by anyone on the team.
    other = sequence(team, steps[:1])
    add(team, other, {"email": "bounce-hard-gmail@talent.example.com"}, role="owner")
    for _ in range(3):
        tick(mail_worker)
    assert len(smtp_sink.to("bounce-hard-gmail@talent.example.com")) == 1
