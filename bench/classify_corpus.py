"""Bounce and auto-reply classification on every labelled real-world message (issue 17).

    .venv/bin/python -m bench.classify_corpus [--json bench/results/classify.json] [--show-wrong]

The corpus: ``../shared/mail-corpus`` (sisimai's set-of-emails, labelled in
tests/mail/corpus/shared-labels.tsv) and the bounces of flufl.bounce's test data
(tests/mail/corpus/flufl/, labelled in its labels.tsv). Labels were read from each message (its
DSN Action/Status, its text), never from a classifier; the rules are in
tests/mail/corpus/LABELS.md. Outcomes: hard | soft | delayed | not_failure | auto_reply | reply.

Three classifiers:

- ``hand-written``: ``classify(msg, use_flufl=False)``, our rules alone;
- ``flufl.bounce``: ``all_failures(msg)`` alone (Mailman's detectors): a permanent failure is
  "hard", only temporary ones "delayed", nothing found "not a bounce" (right for a reply or an
  auto-reply: the library does not tell those apart, and does not claim to);
- ``combined``: ``classify(msg)``, what Outbound runs: DSN fields first, flufl.bounce's
  detectors as another witness that a message is a bounce, our rules for the type.

Counted per classifier: right / wrong (the exact outcome), bounces taken for replies (any
delivery report read as a person's reply), delayed taken for hard bounces, hard bounces where
there was none (an address suppressed for nothing), missed failures (a hard or soft bounce not
taken for a bounce), and ordinary messages taken for bounces. Run it with PYTHONPATH pointing
at an older checkout's ``src`` to get the figures from before (``use_flufl`` is then ignored).
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flufl.bounce import all_failures
from rich.console import Console
from rich.table import Table

from outbound.mail import classify as classify_module
from outbound.mail.classify import parse

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "mail" / "corpus"
SHARED = ROOT.parent / "shared" / "mail-corpus"
BOUNCES = ("hard", "soft", "delayed", "not_failure")
FAILURES = ("hard", "soft")
PEOPLE = ("reply", "auto_reply")


@dataclass(frozen=True)
class Labelled:
    name: str  # "shared:bounces/x.eml" or "flufl:dsn_08.txt"
    path: Path
    expected: str
    note: str


def read_labels(tsv: Path, base: Path, prefix: str) -> list[Labelled]:
    out = []
    for line in tsv.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name, expected, note = [*line.split("\t"), ""][:3]
        out.append(Labelled(f"{prefix}:{name}", base / name, expected, note))
    return out


def corpus() -> list[Labelled]:
    items = read_labels(CORPUS / "flufl" / "labels.tsv", CORPUS / "flufl", "flufl")
    if SHARED.exists():
        items = read_labels(CORPUS / "shared-labels.tsv", SHARED, "shared") + items
    return items


def outcome(verdict: Any) -> str:
    return str(verdict.bounce_type) if verdict.kind == "bounce" else str(verdict.kind)


def hand_written(raw: bytes) -> str:
    try:
        return outcome(classify_module.classify(parse(raw), use_flufl=False))
    except TypeError:  # an older checkout: no use_flufl, no flufl
        return outcome(classify_module.classify(parse(raw)))


def flufl_alone(raw: bytes) -> str:
    temporary, permanent = all_failures(parse(raw))
    if permanent:
        return "hard"
    return "delayed" if temporary else "none"


def combined(raw: bytes) -> str:
    return outcome(classify_module.classify(parse(raw)))


CLASSIFIERS: dict[str, Callable[[bytes], str]] = {
    "hand-written": hand_written,
    "flufl.bounce": flufl_alone,
    "combined": combined,
}


def is_right(expected: str, got: str) -> bool:
    return got == expected or (got == "none" and expected in PEOPLE)


def score(items: list[Labelled], run: Callable[[bytes], str]) -> dict[str, Any]:
    counts: Counter[str] = Counter()
    wrong: list[dict[str, str]] = []
    for item in items:
        try:
            got = run(item.path.read_bytes())
        except Exception as exc:  # a crash is a wrong answer, and worth seeing
            got = f"crash: {type(exc).__name__}: {exc}"[:120]
        if is_right(item.expected, got):
            counts["right"] += 1
        else:
            counts["wrong"] += 1
            wrong.append({"message": item.name, "expected": item.expected, "got": got})
        if item.expected in BOUNCES and got == "reply":
            counts["bounce_as_reply"] += 1
        if item.expected == "delayed" and got == "hard":
            counts["delayed_as_hard"] += 1
        if got == "hard" and item.expected != "hard":
            counts["hard_for_nothing"] += 1
        if item.expected in FAILURES and got not in BOUNCES:
            counts["missed_failure"] += 1
        if item.expected in PEOPLE and got in BOUNCES:
            counts["person_as_bounce"] += 1
        if got.startswith("crash"):
            counts["crash"] += 1
    total = len(items)
    return {
        "messages": total,
        "right": counts["right"],
        "wrong": counts["wrong"],
        "right_pct": round(100 * counts["right"] / total, 1) if total else 0.0,
        "bounce_as_reply": counts["bounce_as_reply"],
        "delayed_as_hard": counts["delayed_as_hard"],
        "hard_for_nothing": counts["hard_for_nothing"],
        "missed_failure": counts["missed_failure"],
        "person_as_bounce": counts["person_as_bounce"],
        "crash": counts["crash"],
        "wrong_messages": wrong,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", default=str(ROOT / "bench" / "results" / "classify.json"))
    parser.add_argument("--show-wrong", action="store_true", help="list each wrong answer")
    args = parser.parse_args()

    items = corpus()
    labels = Counter(i.expected for i in items)
    results = {name: score(items, run) for name, run in CLASSIFIERS.items()}

    console = Console(width=150)
    table = Table(
        title=f"Classification of {len(items)} labelled real-world messages "
        f"({', '.join(f'{n} {k}' for k, n in sorted(labels.items()))})"
    )
    for column in (
        "classifier",
        "right",
        "wrong",
        "bounce → reply",
        "delayed → hard",
        "hard for nothing",
        "missed failures",
        "person → bounce",
        "crashes",
    ):
        table.add_column(column, justify="left" if column == "classifier" else "right")
    for name, r in results.items():
        table.add_row(
            name,
            f"{r['right']} ({r['right_pct']}%)",
            str(r["wrong"]),
            str(r["bounce_as_reply"]),
            str(r["delayed_as_hard"]),
            str(r["hard_for_nothing"]),
            str(r["missed_failure"]),
            str(r["person_as_bounce"]),
            str(r["crash"]),
        )
    console.print(table)
    if args.show_wrong:
        for name, r in results.items():
            for w in r["wrong_messages"]:
                console.print(
                    f"{name:13} {w['message']:48} expected {w['expected']:11} got {w['got']}"
                )

    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "corpus": {"messages": len(items), "labels": dict(sorted(labels.items()))},
                "classifiers": results,
            },
            indent=2,
        )
        + "\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
