"""Fleet benchmark (issue 15): 1, 2 and 4 `outbound worker` processes on PostgreSQL, syncing
new contacts across many ATS connections against a far-away, rate-limited ATS.

    .venv/bin/python -m bench.fleet [--connections 50] [--rate 5] [--latency-ms 150]
        [--workers 4,2,1] [--seconds 150 | --contacts N] [--worker-concurrency N]
        [--database-url postgresql://…]   # default: a throw-away cluster from scripts/pg-temp

The Crelate simulator adds ``--latency-ms`` to every request (its ``latency_ms`` fault) and
allows each API key ``--rate`` requests/s (one second of burst); every connection has its own
key and every worker paces each connection at that same rate, so the fleet's ceiling is
connections x rate ATS requests/s (250 by default). The contacts are sized so that a fleet at
the ceiling runs about ``--seconds`` (2 calls per new contact with deduplication off).

For each fleet size it prints and records (bench/results/fleet.json): wall time, contacts/s,
ATS requests/s and its share of the ceiling, 429s the simulator had to send (must be 0: one
worker per connection), duplicate records in the ATS (must be 0), contacts synced, the worker
processes' CPU seconds (their own rusage, children included) and CPU ms per ATS call, the mean
number of jobs running, and how busy the whole machine was.
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from sqlalchemy import func, select, text

from bench.run import Simulator, console
from outbound.crypto import SecretBox
from outbound.service import accounts, connections, enrollments, sequences
from outbound.service.ats_calls import call_ats
from outbound.service.caller import Caller
from outbound.settings import Settings
from outbound.store.db import Database, make_engine
from outbound.store.migrate import upgrade
from outbound.store.models import Enrollment, SyncJob

CONNECTIONS = 50
ATS_LIMIT = 5.0  # requests/s per API key, enforced by the simulator; each worker paces at it
LATENCY_MS = 150.0  # added by the simulator to every request: real ATSs are far away
CALLS_PER_CONTACT = 2  # a new contact, deduplication off: one lookup, one create
TARGET_SHARE = 0.95  # issue 15: one worker reaches 95% of the ceiling
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Options:
    connections: int = CONNECTIONS
    rate: float = ATS_LIMIT
    latency_ms: float = LATENCY_MS
    contacts: int = 0
    worker_concurrency: int | None = None  # None: the product's default (settings)

    @property
    def ceiling(self) -> float:
        return self.connections * self.rate


def contacts_for(seconds: float, connections: int, rate: float) -> int:
    """How many contacts keep a fleet at the ceiling busy for ``seconds``."""
    per = max(1, round(seconds * rate / CALLS_PER_CONTACT))
    return per * connections


def reset_database(url: str) -> None:
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    upgrade(url)


def prepare(sim: Simulator, settings: Settings, opts: Options) -> None:
    sim.reset(rate=0)
    sim.admin("PUT", "/faults", json={"latency_ms": 0})  # set up quickly, then add the distance
    keys = [u["ApiKey"] for u in sim.admin("POST", "/users", json={"count": opts.connections})]
    db = Database(settings.resolved_database_url)
    box = SecretBox(settings.fernet_key)

    per = opts.contacts // opts.connections
    with db.session() as s:
        team = accounts.create_team(s, "Fleet bench")
    for n, key in enumerate(keys):
        identity = call_ats("crelate", {"api_key": key}, settings, lambda c: c.verify())
        with db.session() as s:
            user, _ = accounts.create_user(s, team.id, f"r{n}@fleet.example.com", f"R{n}", "owner")
            caller = Caller(user.id, team.id, "owner")
            connections.save_connection(s, caller, "crelate", {"api_key": key}, identity, box)
            connections.update_settings(s, caller, {"dedup_enabled": False})
            seq = sequences.create_sequence(s, caller, "Fleet", [], {})
            people = [
                {
                    "email": f"c{n}-{i}@fleet.example.com",
                    "first_name": f"C{i}",
                    "last_name": f"F{n}",
                }
                for i in range(per)
            ]
            enrollments.add_contacts(s, caller, seq.id, people)
    db.dispose()
    # The ATS allows `rate`/s per key with up to one second of burst, and answers every
    # request `latency_ms` late (429s included).
    sim.admin("PUT", "/rate-limit", json={"requests_per_second": opts.rate, "burst": opts.rate})
    sim.admin("PUT", "/faults", json={"latency_ms": opts.latency_ms})


def counts(db: Database) -> tuple[int, int]:
    """(contacts synced, sync jobs running right now)."""
    with db.session() as s:
        done = s.scalar(select(func.count(Enrollment.id)).where(Enrollment.sync_state == "synced"))
        running = s.scalar(select(func.count(SyncJob.id)).where(SyncJob.status == "running"))
        return int(done or 0), int(running or 0)


def proc_cpu_seconds(pid: int) -> float:
    """User + system CPU of a live process (from /proc); 0 when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU jiffies of the whole machine so far (/proc/stat)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


def reap(proc: subprocess.Popen[bytes]) -> float | None:
    """The worker's CPU seconds (its rusage, children included) once it has exited, else None.
    Reaped with wait4 so the kernel's own accounting is read, not a last sample."""
    pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
    if pid == 0:
        return None
    proc.returncode = os.waitstatus_to_exitcode(status)
    return usage.ru_utime + usage.ru_stime


def run_fleet(sim: Simulator, url: str, workers: int, opts: Options) -> dict[str, Any]:
    reset_database(url)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            data_dir=Path(tmp), database_url=url, crelate_base_url=sim.url + "/api3"
        )
        prepare(sim, settings, opts)
        total = (opts.contacts // opts.connections) * opts.connections
        sim.admin("POST", "/stats/reset")
        env = {
            **os.environ,
            "OUTBOUND_DATA_DIR": tmp,
            "OUTBOUND_DATABASE_URL": url,
            "OUTBOUND_CRELATE_BASE_URL": sim.url + "/api3",
            "OUTBOUND_CRELATE_RATE_PER_SECOND": str(opts.rate),  # pace at what the ATS allows
            "OUTBOUND_LEASE_SECONDS": "10",
            "OUTBOUND_LOG_FORMAT": "text",
        }
        if opts.worker_concurrency:
            env["OUTBOUND_WORKER_CONCURRENCY"] = str(opts.worker_concurrency)
        db = Database(url)
        sim_cpu_before = proc_cpu_seconds(sim.proc.pid)
        busy_before = machine_busy()
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
        cpu: dict[int, float] = {}
        running: list[int] = []
        try:
            with Progress(console=console, transient=True) as progress:
                task = progress.add_task(f"{workers} worker(s)", total=total)
                while len(cpu) < len(procs):
                    time.sleep(1)
                    for p in procs:
                        if p.pid not in cpu and (used := reap(p)) is not None:
                            cpu[p.pid] = used
                    done, now_running = counts(db)
                    running.append(now_running)
                    progress.update(task, completed=done)
        finally:
            for p in procs:
                if p.pid not in cpu:
                    p.kill()
                    p.wait()
        elapsed = time.perf_counter() - start
        busy_after = machine_busy()
        sim_cpu = proc_cpu_seconds(sim.proc.pid) - sim_cpu_before
        done, _ = counts(db)
        db.dispose()
    stats = sim.admin("GET", "/stats")
    duplicates = sim.admin("GET", "/duplicates")["duplicate_emails"]
    requests = stats["requests"]
    worker_cpu = sum(cpu.values())
    busy = busy_after[0] - busy_before[0]
    return {
        "workers": workers,
        "connections": opts.connections,
        "rate_per_connection": opts.rate,
        "latency_ms": opts.latency_ms,
        "worker_concurrency": opts.worker_concurrency,
        "contacts": total,
        "synced": done,
        "seconds": round(elapsed, 1),
        "contacts_per_second": round(done / elapsed, 1),
        "ats_requests": requests,
        "ats_requests_per_second": round(requests / elapsed, 1),
        "calls_per_contact": round(requests / done, 2) if done else None,
        "by_endpoint": stats["by_endpoint"],
        "share_of_ceiling": round(requests / elapsed / opts.ceiling, 3),
        "rate_limited_429": stats["rate_limited"],
        "duplicates": duplicates,
        "worker_cpu_seconds": round(worker_cpu, 1),
        "worker_cpu_ms_per_call": round(1000 * worker_cpu / requests, 2) if requests else None,
        "simulator_cpu_seconds": round(sim_cpu, 1),
        "mean_jobs_running": round(sum(running) / len(running), 1) if running else 0,
        "machine_cpu_busy": round(busy / max(1, busy_after[1] - busy_before[1]), 3),
        "exit_codes": [p.returncode for p in procs],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--connections", type=int, default=CONNECTIONS)
    parser.add_argument(
        "--rate", type=float, default=ATS_LIMIT, help="ATS limit per key; the workers pace at it"
    )
    parser.add_argument("--latency-ms", type=float, default=LATENCY_MS)
    parser.add_argument("--workers", default="4,2,1")
    parser.add_argument(
        "--seconds",
        type=float,
        default=150,
        help="size the contacts so a fleet at the ceiling runs this long",
    )
    parser.add_argument("--contacts", type=int, help="total contacts (overrides --seconds)")
    parser.add_argument(
        "--worker-concurrency",
        type=int,
        help="OUTBOUND_WORKER_CONCURRENCY for the workers (default: the product's)",
    )
    parser.add_argument("--database-url", default=os.environ.get("OUTBOUND_BENCH_DATABASE_URL"))
    parser.add_argument("--json", default="bench/results/fleet.json")
    args = parser.parse_args()
    opts = Options(
        connections=args.connections,
        rate=args.rate,
        latency_ms=args.latency_ms,
        contacts=args.contacts or contacts_for(args.seconds, args.connections, args.rate),
        worker_concurrency=args.worker_concurrency,
    )
    default_concurrency = Settings.model_fields["worker_concurrency"].default
    console.print(
        f"Ceiling: {opts.connections} connections x {opts.rate:g} req/s = "
        f"{opts.ceiling:g} ATS req/s ({opts.ceiling / CALLS_PER_CONTACT:g} new contacts/s); "
        f"target {TARGET_SHARE:.0%} = {TARGET_SHARE * opts.ceiling:g} req/s. "
        f"{opts.latency_ms:g} ms per call; {opts.contacts} contacts "
        f"({opts.contacts // opts.connections} per connection); worker concurrency "
        f"{opts.worker_concurrency or default_concurrency}."
    )
    pg_dir = None
    url = args.database_url
    if not url:
        out = subprocess.run(["scripts/pg-temp"], capture_output=True, text=True, check=True)
        pg_dir, url = out.stdout.split()
    sim = Simulator()
    rows = []
    try:
        for n in (int(w) for w in args.workers.split(",")):
            rows.append(run_fleet(sim, url, n, opts))
            console.print(rows[-1])
            write(args.json, opts, rows)  # after each run: a long benchmark never loses a figure
    finally:
        sim.stop()
        if pg_dir:
            subprocess.run(["scripts/pg-temp", "stop", pg_dir], check=False)
    # Wide enough for every column even when the output is not a terminal (80 columns).
    Console(width=max(console.width, 160)).print(table(opts, rows))
    write(args.json, opts, rows)


def table(opts: Options, rows: list[dict[str, Any]]) -> Table:
    t = Table(
        title=f"Fleet on PostgreSQL: {opts.contacts} contacts, {opts.connections} connections x "
        f"{opts.rate:g} req/s = {opts.ceiling:g} req/s ceiling, {opts.latency_ms:g} ms per call"
    )
    columns = (
        "workers",
        "seconds",
        "contacts/s",
        "ATS req/s",
        "% of ceiling",
        "429s",
        "duplicates",
        "synced",
        "worker CPU s",
        "CPU ms/call",
        "jobs running",
        "machine busy",
    )
    for col in columns:
        t.add_column(col, justify="right")
    for r in rows:
        t.add_row(
            str(r["workers"]),
            f"{r['seconds']:.0f}",
            f"{r['contacts_per_second']:.1f}",
            f"{r['ats_requests_per_second']:.1f}",
            f"{r['share_of_ceiling']:.0%}",
            str(r["rate_limited_429"]),
            str(r["duplicates"]),
            f"{r['synced']:,} / {r['contacts']:,}",
            f"{r['worker_cpu_seconds']:.0f}",
            f"{r['worker_cpu_ms_per_call']:.2f}",
            f"{r['mean_jobs_running']:.0f}",
            f"{r['machine_cpu_busy']:.0%}",
        )
    return t


def write(path: str, opts: Options, rows: list[dict[str, Any]]) -> None:
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    summary = {
        "machine": machine,
        "ceiling_requests_per_second": opts.ceiling,
        "connections": opts.connections,
        "rate_per_connection": opts.rate,
        "latency_ms": opts.latency_ms,
        "runs": rows,
    }
    Path(path).write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
