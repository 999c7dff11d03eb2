"""Issue 6 end to end: a three-step sequence really sent over SMTP, a reply read over IMAP,
the steps stop, and the sync engine logs the reply in the ATS (Crelate simulator)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from outbound.mail.worker import MailWorker
from outbound.store.models import ActivityEvent, InboundMessage, Mailbox
from tests.conftest import Sim, Team
from tests.mail.conftest import (
    ImapUser,
    SmtpSink,
    connect_mailbox,
    reply_to,
    run_until,
    tick,
)
from tests.test_sync_crelate import add, connect, enrollment

THREE_STEPS = [
    {"subject": "Hello {{first_name}}", "body": "Hi {{first_name}}, a role at {{company}}?"},
    {"subject": "", "body": "Following up, {{first_name}}.", "delay_days": 1},
    # Two "days" of 0.2 s: the reply in the test arrives well before this step is due.
    {"subject": "", "body": "Last note from me.", "delay_days": 10},
]


def sequence(
    team: Team, steps: list[dict[str, Any]] | None = None, role: str = "owner", **sync: Any
) -> int:
    r = team.call(
        "POST",
        "/sequences",
        role,
        json={"name": "Staff engineers", "steps": steps or THREE_STEPS, "sync": sync},
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def ada(n: int = 1, **extra: Any) -> dict[str, Any]:
    return {
        "email": f"ada{n}@talent.example.com",
        "first_name": f"Ada{n}",
        "last_name": "Lovelace",
        "company": "Analytical Engines",
        **extra,
    }


def test_three_steps_in_one_thread_reply_stops_them_and_is_logged_in_crelate(
    team: Team,
    crelate: Sim,
    smtp_sink: SmtpSink,
    imap_user: ImapUser,
    mail_worker: MailWorker,
    work: Any,
) -> None:
    connect(team)
    connect_mailbox(team, smtp_sink, imap_user)
    seq = sequence(team)
    replier, other = add(team, seq, ada(1), ada(2))
    work()  # sync on add: both records created in Crelate

    run_until(mail_worker, lambda: len(smtp_sink.messages) == 4)  # step 2 out to both
    first, second = smtp_sink.to("ada1@talent.example.com")
    assert first["Subject"] == "Hello Ada1"
    assert "a role at Analytical Engines?" in first.get_body().get_content()
    # The follow-up is in the same thread.
    assert second["Subject"] == "Re: Hello Ada1"
    assert second["In-Reply-To"] == first["Message-ID"]
    assert second["References"] == first["Message-ID"]
    assert enrollment(team, replier)["status"] == "messaged"

    imap_user.deliver(reply_to(second, "Sounds interesting, let's talk Tuesday."))
    run_until(mail_worker, lambda: enrollment(team, replier)["status"] == "replied")
    run_until(mail_worker, lambda: len(smtp_sink.to("ada2@talent.example.com")) == 3)
    third = smtp_sink.to("ada2@talent.example.com")[2]
    assert third["References"].split() == [
        m["Message-ID"] for m in smtp_sink.to("ada2@talent.example.com")[:2]
    ]
    for _ in range(5):
        tick(mail_worker)
    # The reply stopped the steps: Ada1 never got the third one.
    assert len(smtp_sink.to("ada1@talent.example.com")) == 2
    assert enrollment(team, other)["status"] == "finished"

    work()
    record = enrollment(team, replier)["ats_record_id"]
    subjects = sorted(
        a["Subject"] for a in crelate.records("activities") if a["ParentId"]["Id"] == record
    )
    assert subjects == [
        "Email reply: Re: Hello Ada1",
        "Email sent: Hello Ada1",
        "Email sent: Re: Hello Ada1",
    ]
    reply = next(a for a in crelate.records("activities") if a["Subject"].startswith("Email reply"))
    assert "let's talk Tuesday" in str(reply)
    assert "earlier text" not in str(reply)  # the quoted original is not the reply


def test_replies_are_read_once_across_restarts(
    team: Team,
    smtp_sink: SmtpSink,
    imap_user: ImapUser,
    mail_worker: MailWorker,
    db: Any,
    mail_settings: Any,
) -> None:
    connect_mailbox(team, smtp_sink, imap_user)
    seq = sequence(team)
    (eid,) = add(team, seq, ada(1))
    run_until(mail_worker, lambda: len(smtp_sink.messages) == 2)
    # A copy of our own follow-up in the inbox (BCC to self) names step 1 in In-Reply-To,
    # but it is not the contact's reply.
    imap_user.deliver(smtp_sink.messages[1].as_bytes())
    tick(mail_worker)
    assert enrollment(team, eid)["status"] == "messaged"
    imap_user.deliver(reply_to(smtp_sink.messages[1], "Yes please"))
    run_until(mail_worker, lambda: enrollment(team, eid)["status"] == "replied")
    # A new worker (a restart) reads on from the stored UID: nothing is handled twice.
    restarted = MailWorker(db, mail_settings)
    tick(restarted)
    with db.session() as session:
        replies = session.scalar(
            select(func.count(ActivityEvent.id)).where(ActivityEvent.kind == "replied")
        )
        inbound = session.scalar(select(func.count(InboundMessage.id)))
        last_uid = session.scalar(select(Mailbox.imap_last_uid))
    assert (replies, inbound, last_uid) == (1, 2, 2)


def test_two_workers_never_read_one_mailbox_at_once(
    team: Team,
    smtp_sink: SmtpSink,
    imap_user: ImapUser,
    mail_worker: MailWorker,
    db: Any,
    mail_settings: Any,
) -> None:
    import asyncio

    connect_mailbox(team, smtp_sink, imap_user)
    (eid,) = add(team, sequence(team), ada(1))
    run_until(mail_worker, lambda: len(smtp_sink.messages) == 1)
    imap_user.deliver(reply_to(smtp_sink.messages[0], "Happy to talk"))
    other = MailWorker(db, mail_settings)
    with db.session() as session:
        mailbox_id = session.scalar(select(Mailbox.id))

    async def both() -> list[int]:
        return list(await asyncio.gather(mail_worker.poll(mailbox_id), other.poll(mailbox_id)))

    read = asyncio.run(both())
    assert sorted(read) == [0, 1]  # one read it, the other stood back
    assert enrollment(team, eid)["status"] == "replied"
    tick(other)  # and the lease is given back after the read
    with db.session() as session:
        assert session.scalar(select(Mailbox.poll_lease_until)) is None
