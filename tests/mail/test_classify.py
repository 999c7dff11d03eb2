"""Bounce and auto-reply classification on real-world messages (../shared/mail-corpus)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from outbound.mail.classify import classify, parse

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "mail-corpus"
pytestmark = pytest.mark.skipif(not CORPUS.exists(), reason="../shared/mail-corpus not beside")


def results(folder: str) -> dict[str, object]:
    return {
        f.name: classify(parse(f.read_bytes())) for f in sorted((CORPUS / folder).glob("*.eml"))
    }


def test_nearly_every_real_bounce_is_recognised() -> None:
    found = results("bounces")
    kinds = Counter(r.kind for r in found.values())  # type: ignore[attr-defined]
    # Measured: 396 of 404 (98%) on 2026-11-23; the floor guards against regressions.
    assert kinds["bounce"] / len(found) >= 0.97, kinds


def test_no_ordinary_message_is_taken_for_a_bounce() -> None:
    assert all(r.kind != "bounce" for r in results("not-bounces").values())  # type: ignore[attr-defined]


def test_rfc3834_auto_replies_are_auto_replies_not_replies() -> None:
    for name, r in results("auto-replies").items():
        assert r.kind == "auto_reply" and r.out_of_office, name  # type: ignore[attr-defined]


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
        ("rfc3464-07.eml", "not_failure", "4.4.0", "<000000000000000@list.example.jp>"),
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
