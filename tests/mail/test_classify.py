"""Bounce and auto-reply classification on real-world messages: ../shared/mail-corpus and the
bounces of flufl.bounce's test data (tests/mail/corpus/flufl/), each labelled from the message
itself (tests/mail/corpus/LABELS.md)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from outbound.mail.classify import Classification, classify, parse

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "mail-corpus"
LABELS = Path(__file__).parent / "corpus"
needs_shared = pytest.mark.skipif(not CORPUS.exists(), reason="../shared/mail-corpus not beside")
BOUNCES = ("hard", "soft", "delayed", "not_failure")

# Labelled messages the classifier still gets wrong, each a judgement call on the cause (none a
# bounce taken for a reply, a delay taken for a hard bounce, or a person taken for a bounce:
# those are asserted for every message below). bench/classify_corpus.py --show-wrong lists them.
KNOWN_WRONG = {
    "shared:bounces/lhost-exim-53.eml": "a failed delivery pipe (local error) read as hard",
    "shared:bounces/lhost-googleworkspace-01.eml": "the sender's relay config, read as hard",
    "shared:bounces/lhost-outlook-03.eml": "554 'domain not reachable' read as soft",
    "shared:bounces/rhost-outlook-03.eml": "554 'domain not reachable' read as soft",
    "shared:bounces/lhost-postfix-75.eml": "a postmaster's 451 transcript read as soft",
    "shared:bounces/lhost-qmail-04.eml": "501 5.0.0 plus 'in the queue too long' read as soft",
    "shared:bounces/lhost-qmail-25.eml": "mailbox full beside 'unknown' read as hard",
    "flufl:postfix_02.txt": "'Host not found, try again' read as hard",
    "flufl:postfix_03.txt": "a crashed delivery command read as hard",
    "flufl:simple_02.txt": "'error while being processed' read as hard",
}


def labelled() -> list[tuple[str, Path, str]]:
    out = []
    for tsv, base, prefix in (
        (LABELS / "shared-labels.tsv", CORPUS, "shared"),
        (LABELS / "flufl" / "labels.tsv", LABELS / "flufl", "flufl"),
    ):
        if prefix == "shared" and not CORPUS.exists():
            continue
        for line in tsv.read_text(encoding="utf-8").splitlines():
            if line.strip() and not line.startswith("#"):
                name, expected = line.split("\t")[:2]
                out.append((f"{prefix}:{name}", base / name, expected))
    return out


def outcome(r: Classification) -> str:
    return str(r.bounce_type) if r.kind == "bounce" else r.kind


@pytest.mark.parametrize(
    ("name", "path", "expected"),
    [
        pytest.param(
            n,
            p,
            e,
            id=n,
            marks=[pytest.mark.xfail(strict=True, reason=KNOWN_WRONG[n])]
            if n in KNOWN_WRONG
            else [],
        )
        for n, p, e in labelled()
    ],
)
def test_each_labelled_message_has_its_outcome(name: str, path: Path, expected: str) -> None:
    assert outcome(classify(parse(path.read_bytes()))) == expected


def test_no_report_is_a_reply_no_delay_is_hard_and_no_person_is_a_bounce() -> None:
    """The invariants of issue 17, over every labelled message (wrong types allowed)."""
    problems = []
    for name, path, expected in labelled():
        got = outcome(classify(parse(path.read_bytes())))
        if expected in BOUNCES and got in ("reply", "auto_reply"):
            problems.append((name, expected, got))
        if expected == "delayed" and got == "hard":
            problems.append((name, expected, got))
        if expected in ("not_failure", "soft") and got == "hard" and name not in KNOWN_WRONG:
            problems.append((name, expected, got))
        if expected in ("reply", "auto_reply") and got in BOUNCES:
            problems.append((name, expected, got))
    assert problems == []


def results(folder: str) -> dict[str, object]:
    return {
        f.name: classify(parse(f.read_bytes())) for f in sorted((CORPUS / folder).glob("*.eml"))
    }


@needs_shared
def test_nearly_every_real_bounce_is_recognised() -> None:
    found = results("bounces")
    kinds = Counter(r.kind for r in found.values())  # type: ignore[attr-defined]
    # Every one since issue 17 (396 of 404 before): a delivery report is never a reply.
    assert kinds["bounce"] == len(found), kinds


@needs_shared
def test_no_ordinary_message_is_taken_for_a_bounce() -> None:
    assert all(r.kind != "bounce" for r in results("not-bounces").values())  # type: ignore[attr-defined]


@needs_shared
def test_rfc3834_auto_replies_are_auto_replies_not_replies() -> None:
    for name, r in results("auto-replies").items():
        assert r.kind == "auto_reply" and r.out_of_office, name  # type: ignore[attr-defined]


@needs_shared
@pytest.mark.parametrize(
    ("name", "bounce_type", "status", "original"),
    [
        (
            "lhost-postfix-04.eml",
            "hard",
            "5.1.1",
            "<A8F82EDD-E518-4F5C-8C70-BC4EFF24AB9F@example.ne.jp>",
        ),
        ("lhost-postfix-45.eml", "soft", "4.3.0", "<11DA6AA80A5481396A07708AE233289E@nekonyaan>"),
        # "Action: delayed": the MTA is still trying, a delay (was "not_failure" before issue 17)
        ("rfc3464-07.eml", "delayed", "4.4.0", "<000000000000000@list.example.jp>"),
    ],
)
def test_dsn_fields_are_read(name: str, bounce_type: str, status: str, original: str) -> None:
    r = classify(parse((CORPUS / "bounces" / name).read_bytes()))
    assert (r.kind, r.bounce_type, r.status, r.original_message_id) == (
        "bounce",
        bounce_type,
        status,
        original,
    )


@needs_shared
def test_exim_bounces_marked_auto_submitted_are_still_bounces() -> None:
    exim = {n: r for n, r in results("bounces").items() if n.startswith("lhost-exim")}
    assert sum(r.kind == "bounce" for r in exim.values()) >= len(exim) - 1  # type: ignore[attr-defined]


def test_headers_alone_mark_auto_replies() -> None:
    for header in (
        "X-Autoreply: yes",
        "X-Autorespond: yes",
        "Precedence: auto_reply",
        "Auto-Submitted: auto-generated",
        "X-Auto-Response-Suppress: All",
    ):
        raw = f"From: a@example.com\nSubject: Re: hello\n{header}\n\nThanks!\n".encode()
        assert classify(parse(raw)).kind == "auto_reply", header
    plain = b"From: a@example.com\nSubject: Re: hello\nAuto-Submitted: no\n\nSounds good\n"
    assert classify(parse(plain)).kind == "reply"


# The two cases issue 17 names, as their MTAs wrote them (tests/mail/corpus/flufl/) and reduced.
DELAYED_DSN = b"""\
From: MAILER-DAEMON@mx.example.net (Mail Delivery System)
To: recruiter@example.com
Subject: Delayed Mail (still being retried)
Message-ID: <delay-1@mx.example.net>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="B"

--B
Content-Type: text/plain

Your message could not be delivered for more than 4 hours. It will be retried.

--B
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net

Final-Recipient: rfc822; ada@talent.example.com
Action: delayed
Status: 4.0.0
Diagnostic-Code: X-Postfix; temporary failure. Command output: unable to connect

--B
Content-Type: text/rfc822-headers

Message-ID: <step-1@outbound.example.com>
Subject: Hello

--B--
"""


@pytest.mark.parametrize("report_type", ["", "; report-type=delivery-status"])
def test_action_delayed_status_4_0_0_is_a_delay_not_a_hard_bounce(report_type: str) -> None:
    raw = DELAYED_DSN
    if report_type:
        raw = raw.replace(b"multipart/mixed;", b"multipart/report" + report_type.encode() + b";")
    r = classify(parse(raw))
    assert (r.kind, r.bounce_type, r.status, r.original_message_id) == (
        "bounce",
        "delayed",
        "4.0.0",
        "<step-1@outbound.example.com>",
    )
    real = classify(parse((LABELS / "flufl" / "dsn_08.txt").read_bytes()))
    assert (real.kind, real.bounce_type, real.status) == ("bounce", "delayed", "4.0.0")


def test_a_bounce_answering_in_thread_with_a_re_subject_is_not_a_reply() -> None:
    """A gateway's non-delivery notice that reads like a reply: "RE: <our subject>", threaded
    to our message, no DSN, no status code, no MAILER-DAEMON (flufl simple_20, reduced)."""
    raw = b"""\
From: Dsicspiibs.spi-internet@socgen.example.com
To: recruiter@example.com
Subject: RE: Hello : non remis (delivery failed)
In-Reply-To: <step-1@outbound.example.com>
Message-ID: <4u3ji0$p54bh@realmail20.example.com>
Content-Type: text/plain; charset=US-ASCII

Votre message n'a pas pu etre delivre a
ada@talent.example.com

Your message could not be delivered to
ada@talent.example.com
"""
    r = classify(parse(raw))
    assert (r.kind, r.bounce_type) == ("bounce", "hard")
    real = classify(parse((LABELS / "flufl" / "simple_20.txt").read_bytes()))
    assert real.kind == "bounce"


@pytest.mark.parametrize(
    ("headers", "body", "bounce_type"),
    [
        # a warning with no DSN part: still trying (flufl simple_40, exim)
        (
            "From: Mail Delivery System <mailer-daemon@example.net>\n"
            "Subject: Warning: message delayed 2 days\n",
            "Delivery attempts will continue for some time.",
            "delayed",
        ),
        # a mailbox-full notice from a no-reply sender, no subject or code (kddi)
        ("From: no-reply@mail.example.jp\nSubject: Mail\n", "As their mailbox is full.", "soft"),
        # Amazon SES says a message was delivered: a report, not a failure and not a reply
        (
            "From: SES <no-reply@sns.amazonaws.com>\nSubject: AWS Notification Message\n",
            '{"notificationType":"Delivery","mail":{}}',
            "not_failure",
        ),
    ],
)
def test_reports_without_a_dsn_are_never_replies(headers: str, body: str, bounce_type: str) -> None:
    r = classify(parse(f"{headers}To: recruiter@example.com\n\n{body}\n".encode()))
    assert (r.kind, r.bounce_type) == ("bounce", bounce_type)


def test_a_charset_python_does_not_know_is_read_not_raised() -> None:
    r = classify(parse((LABELS / "flufl" / "qmail_08.txt").read_bytes()))  # ansi_x3.110-1983
    assert r.kind == "auto_reply"


def test_a_reply_to_a_step_whose_subject_sounds_like_a_bounce_is_a_reply() -> None:
    raw = (
        b"From: Ada <ada@talent.example.com>\nTo: recruiter@example.com\n"
        b"Subject: Re: Not delivered yet? Your application\nIn-Reply-To: <step-1@x>\n\n"
        b"Thanks, yes I got it. Happy to talk on Tuesday.\n"
    )
    assert classify(parse(raw)).kind == "reply"
