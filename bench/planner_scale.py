"""Planner benchmark: one mail-planner round at volume (issue 15: a 10,000-contact add stalled
everyone behind the planner's query, inside the SQLite write lock).

    .venv/bin/python -m bench.planner_scale [--enrollments 5000] [--mailboxes 1] [--database-url …]

Seeds, straight into the tables (with tests/seeding.py), a team whose mailboxes each own a
one-step sequence with their share of the enrollments, all due now, and two pending sync jobs
per enrollment (the duplicate check and the record sync: 10,000 jobs for 5,000 contacts). Then
times, in a transaction that is rolled back each time (so every repeat sees the same data):

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
from sqlalchemy import select, text, update
from sqlalchemy.orm import Session
from tests.seeding import add_jobs_for, add_mailbox, add_seat, add_team, enrol_many

from bench.databases import fresh_database
from outbound.mail import planner
from outbound.store.db import Database
from outbound.store.migrate import upgrade
from outbound.store.models import Mailbox, SyncJob, utcnow

console = Console()
RESULTS = Path(__file__).parent / "results" / "planner_scale.json"


def seed(db: Database, enrollments: int, mailboxes: int) -> None:
    due = utcnow() - timedelta(minutes=5)
    with db.session() as s:
        team_id = add_team(s, "Planner")
        for m in range(mailboxes):
            seat = add_seat(
                s,
                team_id,
                f"u{m}@planner.test",
                f"U{m}",
                ats_user_id=f"u{m}",
                sequence=f"S{m}",
                steps=[("Hi {{first_name|there}}", "Hello")],
            )
            add_mailbox(
                s,
                team_id,
                seat.user_id,
                f"u{m}@planner.test",
                window_start="00:00",
                window_end="00:00",
                send_days=[0, 1, 2, 3, 4, 5, 6],
                daily_limit=100_000,
            )
            emails = [f"p{i}@planner.test" for i in range(m, enrollments, mailboxes)]
            enrolled = enrol_many(
                s, seat, emails, {"first_name": "P"}, state="active", next_step=0, next_send_at=due
            )
            add_jobs_for(s, seat, enrolled)  # each one's duplicate check and record sync
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
