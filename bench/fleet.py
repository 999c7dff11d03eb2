"""Scale-out benchmark: 1, 2 and 4 `outbound worker` processes on PostgreSQL, syncing contacts
across many ATS connections, each connection rate-limited by the simulator.

    .venv/bin/python -m bench.fleet [--contacts 20000] [--connections 50] [--workers 1,2,4]
        [--database-url postgresql://…]   # default: a throw-away cluster from scripts/pg-temp

For each fleet size it prints and records (bench/results/fleet.json): wall time, contacts/s,
ATS requests/s, 429s the simulator had to send (must be 0: one worker per connection), and
duplicate records in the ATS (must be 0).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.progress import Progress
from rich.table import Table
from sqlalchemy import func, select, text

from bench.run import Simulator, console
from outbound.connectors.registry import make_connector
from outbound.crypto import SecretBox
from outbound.service import accounts, connections, enrollments, sequences
from outbound.service.caller import Caller
from outbound.settings import Settings
from outbound.store.db import Database, make_engine
from outbound.store.migrate import upgrade
from outbound.store.models import Enrollment

ATS_LIMIT = 10.0  # requests/s per API key, enforced by the simulator
PACE = 8.0  # what each connection's worker allows itself


def reset_database(url: str) -> None:
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    upgrade(url)


def prepare(sim: Simulator, settings: Settings, contacts: int, n_connections: int) -> None:
    sim.reset(rate=0)
    keys = [u["ApiKey"] for u in sim.admin("POST", "/users", json={"count": n_connections})]
    # The ATS allows ATS_LIMIT/s per key with up to one second of burst.
    sim.admin("PUT", "/rate-limit", json={"requests_per_second": ATS_LIMIT, "burst": ATS_LIMIT})
    db = Database(settings.resolved_database_url)
    box = SecretBox(settings.fernet_key)

    async def verify(key: str) -> Any:
        connector = make_connector("crelate", {"api_key": key}, settings)
        try:
            return await connector.verify()
        finally:
            await connector.aclose()

    per = contacts // n_connections
    with db.session() as s:
        team = accounts.create_team(s, "Fleet bench")
    for n, key in enumerate(keys):
        identity = asyncio.run(verify(key))
        with db.session() as s:
            user, _ = accounts.create_user(s, team.id, f"r{n}@fleet.example.com", f"R{n}", "owner")
            caller = Caller(user.id, team.id, "owner")
            connections.save_connection(s, caller, "crelate", {"api_key": key}, identity, box)
            connections.update_settings(s, caller, {"dedup_enabled": False})
            seq = sequences.create_sequence(s, caller, "Fleet", [], {})
            people = [
                {"email": f"c{n}-{i}@fleet.example.com", "first_name": f"C{i}", "last_name": "F"}
                for i in range(per)
            ]
            enrollments.add_contacts(s, caller, seq.id, people)
    db.dispose()


def synced(db: Database) -> int:
    with db.session() as s:
        return int(
            s.scalar(select(func.count(Enrollment.id)).where(Enrollment.sync_state == "synced"))
            or 0
        )


def run_fleet(
    sim: Simulator, url: str, workers: int, contacts: int, n_connections: int
) -> dict[str, Any]:
    reset_database(url)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            data_dir=Path(tmp), database_url=url, crelate_base_url=sim.url + "/api3"
        )
        prepare(sim, settings, contacts, n_connections)
        total = (contacts // n_connections) * n_connections
        sim.admin("POST", "/stats/reset")
        env = {
            **os.environ,
            "OUTBOUND_DATA_DIR": tmp,
            "OUTBOUND_DATABASE_URL": url,
            "OUTBOUND_CRELATE_BASE_URL": sim.url + "/api3",
            "OUTBOUND_CRELATE_RATE_PER_SECOND": str(PACE),
            "OUTBOUND_LEASE_SECONDS": "10",
            "OUTBOUND_LOG_FORMAT": "text",
        }
        db = Database(url)
        start = time.perf_counter()
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "outbound.cli", "worker", "--until-idle"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for _ in range(workers)
        ]
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task(f"{workers} worker(s)", total=total)
            while any(p.poll() is None for p in procs):
                time.sleep(1)
                progress.update(task, completed=synced(db))
        elapsed = time.perf_counter() - start
        done = synced(db)
        db.dispose()
    stats = sim.admin("GET", "/stats")
    duplicates = sim.admin("GET", "/duplicates")["duplicate_emails"]
    return {
        "workers": workers,
        "connections": n_connections,
        "contacts": total,
        "synced": done,
        "seconds": round(elapsed, 1),
        "contacts_per_second": round(done / elapsed, 1),
        "ats_requests_per_second": round(stats["requests"] / elapsed, 1),
        "rate_limited_429": stats["rate_limited"],
        "duplicates": duplicates,
        "exit_codes": [p.returncode for p in procs],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=20_000)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--database-url", default=os.environ.get("OUTBOUND_BENCH_DATABASE_URL"))
    parser.add_argument("--json", default="bench/results/fleet.json")
    args = parser.parse_args()
    pg_dir = None
    url = args.database_url
    if not url:
        out = subprocess.run(["scripts/pg-temp"], capture_output=True, text=True, check=True)
        pg_dir, url = out.stdout.split()
    sim = Simulator()
    rows = []
    try:
        for n in (int(w) for w in args.workers.split(",")):
            rows.append(run_fleet(sim, url, n, args.contacts, args.connections))
            console.print(rows[-1])
            write(args.json, rows)  # after each run: a long benchmark never loses a figure
    finally:
        sim.stop()
        if pg_dir:
            subprocess.run(["scripts/pg-temp", "stop", pg_dir], check=False)
    table = Table(
        title=f"Fleet on PostgreSQL: {args.contacts} contacts, "
        f"{args.connections} connections, ATS limit {ATS_LIMIT:.0f} req/s per key"
    )
    for col in ("workers", "seconds", "contacts/s", "ATS req/s", "429s", "duplicates", "synced"):
        table.add_column(col, justify="right")
    for r in rows:
        table.add_row(
            str(r["workers"]),
            str(r["seconds"]),
            str(r["contacts_per_second"]),
            str(r["ats_requests_per_second"]),
            str(r["rate_limited_429"]),
            str(r["duplicates"]),
            f"{r['synced']}/{r['contacts']}",
        )
    console.print(table)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    write(args.json, rows)


def write(path: str, rows: list[dict[str, Any]]) -> None:
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps({"machine": machine, "runs": rows}, indent=2))


if __name__ == "__main__":
    main()
