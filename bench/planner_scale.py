"""Planner benchmark: one mail-planner round at volume (issue 15: a 10,000-contact add stalled
everyone behind the planner's query, inside the SQLite write lock).

    .venv/bin/python -m bench.planner_scale [--enrollments 5000] [--mailboxes 1] [--database-url …]

Seeds, straight into the tables, a team whose mailboxes each own a one-step sequence with
their share of the enrollments, all due now, and two pending sync jobs per enrollment (the
duplicate check and the record sync: 10,000 jobs for 5,000 contacts). Then times, in a
transaction that is rolled back each time (so every repeat sees the same data):

- "find next due": the query that picks the next contact to email;
- "planner round": ``resume_paused`` + ``plan`` for every mailbox, as the mail worker runs it;

in two states: "blocked" (every duplicate check still pending: nothing may be sent, the worst
case for the query) and "clear" (the checks are done: a full batch is planned). Prints a table
and writes bench/results/planner_scale.json. Run it from an older checkout's ``src`` (PYTHONPATH)
to get the figures from before.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy import insert, select, text, update
from sqlalchemy.orm import Session

from bench.databases import fresh_database
from outbound.mail import planner
from outbound.store.db import Database
from outbound.store.migrate import upgrade
from outbound.store.models import (
    AtsConnection,
    Contact,
    Enrollment,
    Mailbox,
    Sequence,
    SequenceStep,
    SyncJob,
    Team,
    User,
    utcnow,
)

console = Console()
RESULTS = Path(__file__).parent / "results" / "planner_scale.json"


def seed(db: Database, enrollments: int, mailboxes: int) -> None:
    now = utcnow()
    due = now - timedelta(minutes=5)
    with db.session() as s:
        team = Team(name="Planner")
        s.add(team)
        s.flush()
        for m in range(mailboxes):
            user = User(team_id=team.id, email=f"u{m}@planner.test", name=f"U{m}", role="owner")
            s.add(user)
            s.flush()
            conn = AtsConnection(
                user_id=user.id,
                team_id=team.id,
                provider="crelate",
                credentials_encrypted=b"sealed",
                ats_org="org",
                ats_user_id=f"u{m}",
                ats_user_name=f"U{m}",
            )
            seq = Sequence(team_id=team.id, owner_id=user.id, name=f"S{m}")
            seq.steps = [SequenceStep(position=0, subject="Hi {{first_name|there}}", body="Hello")]
            s.add_all([conn, seq])
            s.add(
                Mailbox(
                    user_id=user.id,
                    team_id=team.id,
                    email=f"u{m}@planner.test",
                    smtp_host="localhost",
                    smtp_port=25,
                    smtp_security="none",
                    smtp_username="u",
                    secrets_encrypted=b"sealed",
                    window_start="00:00",
                    window_end="00:00",
                    send_days=[0, 1, 2, 3, 4, 5, 6],
                    daily_limit=100_000,
                    last_polled_at=now,
                )
            )
            s.flush()
            share = range(m, enrollments, mailboxes)
            first = s.scalar(select(Contact.id).order_by(Contact.id.desc()).limit(1)) or 0
            s.execute(
                insert(Contact),
                [
                    {"team_id": team.id, "email": f"p{i}@planner.test", "first_name": "P"}
                    for i in share
                ],
            )
            contact_ids = list(
                s.scalars(select(Contact.id).where(Contact.id > first).order_by(Contact.id))
            )
            s.execute(
                insert(Enrollment),
                [
                    {
                        "team_id": team.id,
                        "sequence_id": seq.id,
                        "contact_id": cid,
                        "added_by_id": user.id,
                        "state": "active",
                        "next_step": 0,
                        "next_send_at": due,
                    }
                    for cid in contact_ids
                ],
            )
            rows = s.execute(
                select(Enrollment.id, Enrollment.contact_id).where(Enrollment.sequence_id == seq.id)
            ).all()
            jobs = [
                {
                    "team_id": team.id,
                    "connection_id": conn.id,
                    "contact_id": cid,
                    "enrollment_id": eid,
                    "kind": kind,
                    "payload": {},
                    "status": "pending",
                    "run_after": now,
                    "created_at": now,
                }
                for eid, cid in rows
                for kind in ("check_duplicate", "sync_contact")
            ]
            for start in range(0, len(jobs), 2000):
                s.execute(insert(SyncJob), jobs[start : start + 2000])
    with db.engine.begin() as conn:
        conn.execute(text("ANALYZE"))


def timed(db: Database, fn: Callable[[Session], Any], repeats: int) -> tuple[float, Any]:
    """Median milliseconds of ``fn`` in a transaction that is rolled back."""
    times, result = [], None
    for _ in range(repeats):
        with db.sessions() as s:
            s.begin()
            start = time.perf_counter()
            result = fn(s)
            times.append((time.perf_counter() - start) * 1000)
            s.rollback()
    return statistics.median(times), result


def find_next_due(s: Session) -> int:
    now = utcnow()
    found = 0
    for mb in s.scalars(select(Mailbox)):
        if hasattr(planner, "next_due_statement"):
            found += len(s.scalars(planner.next_due_statement(mb, now, 1)).all())
        else:  # the code from before issue 15
            found += planner._next_due(s, mb, now) is not None
    return found


def planner_round(s: Session) -> int:
    now = utcnow()
    planner.resume_paused(s, now)
    planned = planner.plan(s, now, day_seconds=1.0)
    s.flush()  # the writes the worker's commit would make
    return planned


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--enrollments", type=int, default=5000)
    parser.add_argument("--mailboxes", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--database-url")
    parser.add_argument("--json", type=Path, default=RESULTS)
    args = parser.parse_args()
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        url = fresh_database(args.database_url, tmp, "planner")
        upgrade(url)
        db = Database(url)
        seed(db, args.enrollments, args.mailboxes)
        for state in ("blocked", "clear"):
            if state == "clear":
                with db.session() as s:
                    s.execute(
                        update(SyncJob)
                        .where(SyncJob.kind == "check_duplicate")
                        .values(status="done", finished_at=utcnow())
                    )
            for what, fn in (("find next due", find_next_due), ("planner round", planner_round)):
                ms, result = timed(db, fn, args.repeats)
                rows.append({"state": state, "what": what, "ms": round(ms, 2), "result": result})
        engine = db.engine.dialect.name
        db.dispose()
    table = Table(
        title=f"Planner at {args.enrollments:,} enrollments, {2 * args.enrollments:,} pending "
        f"jobs, {args.mailboxes} mailbox(es), {engine}"
    )
    for column in ("dup. checks", "step", "median ms", "found / planned"):
        table.add_column(column)
    for r in rows:
        table.add_row(r["state"], r["what"], f"{r['ms']:.2f}", str(r["result"]))
    console.print(table)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps(
            {
                "machine": platform.platform(),
                "engine": engine,
                "enrollments": args.enrollments,
                "mailboxes": args.mailboxes,
                "rows": rows,
            },
            indent=2,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
