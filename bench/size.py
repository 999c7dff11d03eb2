"""Size benchmark for bulk work: with 1k / 100k (/ 1M) contacts stored, a 10,000-contact add and
a resync of every stored contact, each in chunks that commit as they go; peak memory.

    .venv/bin/python -m bench.size [--million] [--sizes 1000,100000] [--database-url …]

Each size runs in a fresh process (so its peak RSS is its own) on a fresh SQLite database (or the
given PostgreSQL URL). The stored contacts go in by bulk insert (INSERT … SELECT for their
enrollments), not timed; then, timed: the add (through ``add_contacts_in_chunks``, into a second
sequence) and the resync (``resync_in_chunks``: enqueues each contact's sync; the sync itself is
bench.run's and bench.fleet's job). For each, its transactions' p50 and longest (BEGIN to
COMMIT): on SQLite, what another writer may wait for. Writes bench/results/size.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.table import Table
from sqlalchemy import Engine, event, func, insert, literal, select, text

from bench.databases import fresh_database, peak_rss_mb
from bench.run import KEY, console
from outbound.connectors.base import AtsIdentity
from outbound.crypto import SecretBox
from outbound.service import accounts, connections, enrollments, sequences
from outbound.service.caller import Caller
from outbound.settings import Settings
from outbound.store.db import Database
from outbound.store.migrate import upgrade
from outbound.store.models import Contact, Enrollment, SyncJob, utcnow

ADD = 10_000  # one request's worth
STORE_BATCH = 10_000


def store_contacts(db: Database, team_id: int, user_id: int, seq_id: int, size: int) -> None:
    """``size`` contacts enrolled in ``seq_id`` before any ATS was connected (not synced):
    generated a batch at a time, so storing them does not itself raise the peak."""
    now = utcnow()
    for first in range(0, size, STORE_BATCH):
        rows = [
            {
                "team_id": team_id,
                "email": f"s{i}@stored.example.com",
                "first_name": f"S{i}",
                "last_name": "Stored",
                "custom_variables": {},
                "created_at": now,
            }
            for i in range(first, min(size, first + STORE_BATCH))
        ]
        with db.session() as s:
            s.execute(insert(Contact), rows)
    with db.session() as s:
        columns = ("team_id", "sequence_id", "contact_id", "added_by_id", "state")
        columns += ("sync_state", "added_at", "next_step", "soft_bounces")
        s.execute(
            insert(Enrollment).from_select(
                columns,
                select(
                    Contact.team_id,
                    literal(seq_id),
                    Contact.id,
                    literal(user_id),
                    literal("active"),
                    literal("not_synced"),
                    literal(now),
                    literal(0),
                    literal(0),
                ).where(Contact.team_id == team_id),
            )
        )
    # The statistics a database that size has (autovacuum's job), not those of an empty one:
    # PostgreSQL would otherwise plan the add's lookups by email as if the team had 3 contacts.
    with db.engine.connect() as conn:
        conn.execute(text("ANALYZE"))
        conn.commit()


class Transactions:
    """How long each transaction on this engine lasts (BEGIN to COMMIT): what another writer
    may have to wait for (every SQLite transaction holds the write lock)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.lengths: list[float] = []
        event.listen(engine, "begin", self._begin)
        event.listen(engine, "commit", self._commit)

    def _begin(self, conn: Any) -> None:
        conn.info["began"] = time.perf_counter()

    def _commit(self, conn: Any) -> None:
        began = conn.info.pop("began", None)
        if began is not None:
            self.lengths.append(time.perf_counter() - began)

    def close(self) -> dict[str, float]:
        event.remove(self.engine, "begin", self._begin)
        event.remove(self.engine, "commit", self._commit)
        ms = sorted(x * 1000 for x in self.lengths)
        return {"count": len(ms), "p50_ms": round(ms[len(ms) // 2], 1), "max_ms": round(ms[-1], 1)}


def one_size(size: int, url: str | None) -> dict[str, Any]:
    """Runs in its own process (see main)."""
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), database_url=fresh_database(url, tmp, "size"))
        upgrade(settings.resolved_database_url)
        db = Database(settings.resolved_database_url)
        with db.session() as s:
            team = accounts.create_team(s, "Size")
            user, _ = accounts.create_user(s, team.id, "size@example.com", "Size", "owner")
            caller = Caller(user.id, team.id, "owner")
            stored = sequences.create_sequence(s, caller, "Stored", [], {}).id
            target = sequences.create_sequence(s, caller, "Added", [], {}).id
        start = time.perf_counter()
        store_contacts(db, team.id, user.id, stored, size)
        store_seconds = time.perf_counter() - start
        identity = AtsIdentity("u1", "Size", "https://ats.example.com")
        with db.session() as s:
            connections.save_connection(
                s, caller, "crelate", {"api_key": KEY}, identity, SecretBox(settings.fernet_key)
            )
        rss_before = peak_rss_mb()

        # Half already stored, half new: the add merges, as a re-pasted list does.
        people = [
            {"email": f"s{i}@stored.example.com" if i % 2 and i < size else f"n{i}@new.example"}
            for i in range(ADD)
        ]
        add_tx = Transactions(db.engine)
        start = time.perf_counter()
        added = enrollments.add_contacts_in_chunks(db, caller, target, people)
        add_seconds = time.perf_counter() - start
        add_transactions = add_tx.close()
        del people
        rss_after_add = peak_rss_mb()

        resync_tx = Transactions(db.engine)
        start = time.perf_counter()
        _, queued, _ = enrollments.resync_in_chunks(db, caller, stored, None)
        resync_seconds = time.perf_counter() - start
        resync_transactions = resync_tx.close()
        with db.session() as s:
            jobs = s.scalar(select(func.count(SyncJob.id)))
        db.dispose()
    return {
        "contacts": size,
        "store_seconds": round(store_seconds, 1),
        "add": added.added + added.already_present,
        "add_seconds": round(add_seconds, 2),
        "add_transactions": add_transactions["count"],
        "add_transaction_p50_ms": add_transactions["p50_ms"],
        "add_transaction_max_ms": add_transactions["max_ms"],
        "resync_queued": queued,
        "resync_seconds": round(resync_seconds, 2),
        "resync_per_second": round(queued / resync_seconds) if resync_seconds else 0,
        "resync_transactions": resync_transactions["count"],
        "resync_transaction_p50_ms": resync_transactions["p50_ms"],
        "resync_transaction_max_ms": resync_transactions["max_ms"],
        "jobs_queued": jobs,
        "rss_before_mb": round(rss_before, 1),
        "peak_rss_after_add_mb": round(rss_after_add, 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", default="1000,100000")
    parser.add_argument("--million", action="store_true", help="also 1,000,000 stored contacts")
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--json", default="bench/results/size.json")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # a child process' size
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one_size(args.one, args.database_url)))
        return
    sizes = [int(s) for s in args.sizes.split(",")] + ([1_000_000] if args.million else [])
    rows = []
    for size in sizes:
        cmd = [sys.executable, "-m", "bench.size", "--one", str(size)]
        if args.database_url:
            cmd += ["--database-url", args.database_url]
        with console.status(f"{size:,} stored contacts"):
            out = subprocess.run(cmd, capture_output=True, text=True, check=True)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        console.print(rows[-1])
    engine = "PostgreSQL" if args.database_url else "SQLite"
    table = Table(
        title=f"Bulk work by stored contacts ({engine}, fresh process per size)",
        caption="tx ms: its transactions' p50 / longest, BEGIN to COMMIT",
    )
    columns = ("stored", "add 10k s", "add tx ms", "resync s", "resync/s", "resync tx ms")
    for col in (*columns, "peak RSS MB"):
        table.add_column(col, justify="right")
    for r in rows:
        table.add_row(
            f"{r['contacts']:,}",
            str(r["add_seconds"]),
            f"{r['add_transaction_p50_ms']:.0f} / {r['add_transaction_max_ms']:.0f}",
            str(r["resync_seconds"]),
            f"{r['resync_per_second']:,}",
            f"{r['resync_transaction_p50_ms']:.0f} / {r['resync_transaction_max_ms']:.0f}",
            str(r["peak_rss_mb"]),
        )
    console.print(table)
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(
        json.dumps({"machine": machine, "engine": engine, "sizes": rows}, indent=2)
    )


if __name__ == "__main__":
    main()
