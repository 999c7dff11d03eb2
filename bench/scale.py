"""Size benchmark: time and peak memory with 1k, 100k and 1M stored contacts, and the latency
from an email event to its ATS activity under a steady trickle.

    .venv/bin/python -m bench.scale [--sizes 1000,100000,1000000] [--database-url …]

Each size runs in a fresh process (so peak RSS is that size's own) on a fresh SQLite database
(or the given PostgreSQL URL): bulk add through the service layer in 10,000-contact requests,
then "resync" selecting every contact of the sequence and enqueuing its sync (the work itself
is not run: that is bench.run's and bench.fleet's job). Writes bench/results/scale.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from rich.progress import Progress
from rich.table import Table
from sqlalchemy import select

from bench.databases import fresh_database, peak_rss_mb
from bench.run import KEY, Simulator, console
from outbound.connectors.base import AtsIdentity
from outbound.crypto import SecretBox
from outbound.service import accounts, connections, enrollments, sequences
from outbound.service.ats_calls import call_ats
from outbound.service.caller import Caller
from outbound.settings import Settings
from outbound.store.db import Database
from outbound.store.migrate import upgrade
from outbound.store.models import SyncJob
from outbound.sync.worker import Worker

CHUNK = 10_000


def one_size(size: int, url: str | None) -> dict[str, Any]:
    """Runs in its own process (see main)."""
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), database_url=fresh_database(url, tmp, "scale"))
        upgrade(settings.resolved_database_url)
        db = Database(settings.resolved_database_url)
        with db.session() as s:
            team = accounts.create_team(s, "Scale")
            user, _ = accounts.create_user(s, team.id, "scale@example.com", "Scale", "owner")
            caller = Caller(user.id, team.id, "owner")
            seq = sequences.create_sequence(s, caller, "Scale", [], {})
        rss_before = peak_rss_mb()
        start = time.perf_counter()
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task(f"bulk add {size:,}", total=size)
            for first in range(0, size, CHUNK):
                people = [
                    {"email": f"p{i}@scale.example.com", "first_name": f"P{i}", "last_name": "S"}
                    for i in range(first, min(size, first + CHUNK))
                ]
                with db.session() as s:
                    enrollments.add_contacts(s, caller, seq.id, people)
                progress.update(task, completed=first + len(people))
        add_seconds = time.perf_counter() - start
        # Connected afterwards (as a team would), so every contact is eligible for resync.
        identity = AtsIdentity("u1", "Scale", "https://ats.example.com")
        with db.session() as s:
            connections.save_connection(
                s, caller, "crelate", {"api_key": KEY}, identity, SecretBox(settings.fernet_key)
            )
        start = time.perf_counter()
        with db.session() as s:
            _, queued, _ = enrollments.resync(s, caller, seq.id, None)
        resync_seconds = time.perf_counter() - start
        db.dispose()
    return {
        "contacts": size,
        "bulk_add_seconds": round(add_seconds, 2),
        "bulk_add_contacts_per_second": round(size / add_seconds),
        "resync_selection_seconds": round(resync_seconds, 2),
        "resync_queued": queued,
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "rss_before_mb": round(rss_before, 1),
    }


def latency(seconds: float, per_second: float) -> dict[str, Any]:
    """Event-to-ATS latency: replies recorded at a steady rate while one worker runs; the time
    from each event to its activity being written in the ATS (the job finishing)."""
    sim = Simulator()
    try:
        sim.reset(rate=0)
        with tempfile.TemporaryDirectory() as tmp:
            settings = Settings(
                data_dir=Path(tmp), crelate_base_url=sim.url + "/api3", crelate_rate_per_second=0
            )
            upgrade(settings.resolved_database_url)
            db = Database(settings.resolved_database_url)

            identity = call_ats("crelate", {"api_key": KEY}, settings, lambda c: c.verify())
            n = int(seconds * per_second)
            with db.session() as s:
                team = accounts.create_team(s, "Latency")
                user, _ = accounts.create_user(s, team.id, "lat@example.com", "Lat", "owner")
                caller = Caller(user.id, team.id, "owner")
                connections.save_connection(
                    s,
                    caller,
                    "crelate",
                    {"api_key": KEY},
                    identity,
                    SecretBox(settings.fernet_key),
                )
                connections.update_settings(s, caller, {"dedup_enabled": False})
                seq = sequences.create_sequence(s, caller, "Lat", [], {})
                ids = enrollments.add_contacts(
                    s,
                    caller,
                    seq.id,
                    [
                        {"email": f"l{i}@lat.example.com", "first_name": "L", "last_name": str(i)}
                        for i in range(n)
                    ],
                ).enrollment_ids

            async def run() -> None:
                worker = Worker(db, settings)
                runner = asyncio.create_task(worker.run(poll_interval=0.05))
                await asyncio.to_thread(worker_idle, db)  # records first
                for eid in ids:
                    await asyncio.to_thread(record_reply, db, caller, eid)
                    await asyncio.sleep(1 / per_second)
                await asyncio.to_thread(worker_idle, db)
                worker.stop()
                await runner

            asyncio.run(run())
            with db.session() as s:
                rows = s.execute(
                    select(SyncJob.created_at, SyncJob.finished_at).where(
                        SyncJob.kind == "log_activity", SyncJob.status == "done"
                    )
                ).all()
            db.dispose()
    finally:
        sim.stop()
    waits = sorted((done - made) / timedelta(milliseconds=1) for made, done in rows)
    return {
        "events": len(waits),
        "events_per_second": per_second,
        "p50_ms": round(statistics.median(waits), 1),
        "p99_ms": round(waits[max(0, int(len(waits) * 0.99) - 1)], 1),
    }


def record_reply(db: Database, caller: Caller, eid: int) -> None:
    with db.session() as s:
        e = enrollments.get_enrollment(s, caller, eid)
        enrollments.record_event(s, e, "replied", subject="Re: hello", body="Sounds good")


def worker_idle(db: Database) -> None:
    from sqlalchemy import func

    while True:
        with db.session() as s:
            open_jobs = s.scalar(
                select(func.count(SyncJob.id)).where(SyncJob.status.in_(("pending", "running")))
            )
        if not open_jobs:
            return
        time.sleep(0.1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,100000,1000000")
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--latency-seconds", type=float, default=30)
    parser.add_argument("--latency-rate", type=float, default=5)
    parser.add_argument("--json", default="bench/results/scale.json")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # a child process' size
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one_size(args.one, args.database_url)))
        return
    rows = []
    for size in (int(s) for s in args.sizes.split(",")):
        cmd = [sys.executable, "-m", "bench.scale", "--one", str(size)]
        if args.database_url:
            cmd += ["--database-url", args.database_url]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        console.print(rows[-1])
    lat = latency(args.latency_seconds, args.latency_rate)
    console.print(lat)
    table = Table(title="Stored contacts: time and peak memory (fresh process per size)")
    for col in ("contacts", "bulk add s", "contacts/s", "resync selection s", "peak RSS MB"):
        table.add_column(col, justify="right")
    for r in rows:
        table.add_row(
            f"{r['contacts']:,}",
            str(r["bulk_add_seconds"]),
            str(r["bulk_add_contacts_per_second"]),
            str(r["resync_selection_seconds"]),
            str(r["peak_rss_mb"]),
        )
    console.print(table)
    console.print(
        f"Event-to-ATS latency ({lat['events']} replies at {lat['events_per_second']}/s): "
        f"p50 {lat['p50_ms']} ms, p99 {lat['p99_ms']} ms"
    )
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(
        json.dumps({"machine": machine, "sizes": rows, "latency": lat}, indent=2)
    )


if __name__ == "__main__":
    main()
