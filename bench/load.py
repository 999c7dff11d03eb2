"""Load benchmark (issue 15): while a 10,000-contact add, a resync of 100,000 stored contacts and
the mail planner run, how fast do the contacts API, the contacts page and sign-in answer?
Target: p99 under 300 ms, no errors.

    .venv/bin/python -m bench.load [--contacts 100000] [--engine sqlite|postgresql]
                                   [--database-url …] [--json bench/results/load.json]

The real server runs as a subprocess (``outbound serve``: the API, the web app, the sync worker
and the mail worker in one process), on a fresh SQLite database (default) or PostgreSQL
(``--engine postgresql``: a throw-away cluster from scripts/pg-temp, or ``--database-url``).
Seeded straight into the tables (bulk insert, not timed): a team, a user with a password and an
API token, an ATS connection to a Crelate simulator (its own process, paced at ``--ats-rate``),
a mailbox sending to a local SMTP sink, ``--contacts`` contacts in one sequence ("Stored") and
``--mail-contacts`` more in a one-step sequence ("Mail", due once the measured window opens).

Then, each client pausing ``--pause`` s between its requests:

- GET /api/v1/sequences/{Stored}/contacts (bearer token, 100 a page; ``--clients``);
- GET /sequences/{Stored} (the web contacts page, 500 rows, signed in by cookie; ``--clients``);
- POST /login (a fresh sign-in each time, ``--sign-in-clients``; the GET /login for its form
  is not timed). Each is an argon2 verification, CPU-bound by design;
- and, as a control, GET /healthz (no database): what the machine and the server process alone
  add to every answer (CPU shared by everything on two cores, the GIL, the event loop).

first for ``--baseline-seconds`` with no background work, then while, at once, a 10,000-contact
add (POST …/contacts into a third sequence) and a resync of every stored contact (POST
…/resync) go through the API and the workers sync and send. The window lasts until both have
answered and at least ``--min-seconds`` have passed. Prints p50 / p99 / max / errors per endpoint
and phase; writes bench/results/load.json (one entry per engine).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from rich.table import Table
from sqlalchemy import event, func, insert, literal, select, update
from sqlalchemy.exc import OperationalError

from bench.databases import fresh_database
from bench.run import KEY, Simulator, console
from bench.size import store_contacts
from outbound.crypto import SecretBox
from outbound.service import accounts, connections, mailboxes, sequences
from outbound.service.ats_calls import call_ats
from outbound.service.caller import Caller
from outbound.service.sequences import StepInput
from outbound.settings import Settings
from outbound.simulators.mail.sink import SmtpSink
from outbound.simulators.server import free_port
from outbound.store.db import Database
from outbound.store.migrate import upgrade
from outbound.store.models import Contact, Enrollment, OutboundEmail, SyncJob, utcnow
from outbound.web.session import hash_password

RESULTS = Path(__file__).parent / "results" / "load.json"
TARGET_P99_MS = 300.0
ADD = 10_000
EMAIL = "load@example.com"
PASSWORD = "load-bench-password"
ENDPOINTS = ("contacts API", "contacts page", "sign-in", "control: /healthz")
STEP = [StepInput("Hi {{first_name|there}}", "Hello from the load bench")]


# -- setting up ---------------------------------------------------------------------------
@contextmanager
def postgresql(url: str | None) -> Iterator[str]:
    """The given PostgreSQL, or a throw-away cluster (scripts/pg-temp) stopped afterwards."""
    if url:
        yield url
        return
    script = Path(__file__).resolve().parents[1] / "scripts" / "pg-temp"
    pgdir, pgurl = subprocess.run(
        [str(script)], capture_output=True, text=True, check=True
    ).stdout.split()
    try:
        yield pgurl
    finally:
        subprocess.run([str(script), "stop", pgdir], check=False)


@dataclass
class Seeded:
    token: str
    stored: int  # sequence ids
    added: int
    mail: int
    mail_contacts: int


def seed(db: Database, settings: Settings, sim: Simulator, sink_port: int, args: Any) -> Seeded:
    box = SecretBox(settings.fernet_key)

    identity = call_ats("crelate", {"api_key": KEY}, settings, lambda c: c.verify())
    with db.session() as s:
        team = accounts.create_team(s, "Load")
        user, token = accounts.create_user(
            s, team.id, EMAIL, "Lena Load", "owner", password_hash=hash_password(PASSWORD)
        )
        caller = Caller(user.id, team.id, "owner")
        stored = sequences.create_sequence(s, caller, "Stored", [], {}).id
        added = sequences.create_sequence(s, caller, "Added", STEP, {}).id
        mail = sequences.create_sequence(s, caller, "Mail", STEP, {}).id
    # The stored contacts before the ATS is connected (as bench.size): not synced.
    store_contacts(db, team.id, user.id, stored, args.contacts)
    with db.session() as s:
        connections.save_connection(s, caller, "crelate", {"api_key": KEY}, identity, box)
        values = {
            "email": EMAIL,
            "from_name": "Lena Load",
            "smtp_host": "127.0.0.1",
            "smtp_port": sink_port,
            "smtp_security": "none",
            "smtp_username": EMAIL,
            "inbound_kind": "maildir",
            "maildir_path": str(settings.data_dir / "inbox"),
            "time_zone": "UTC",
            "window_start": "00:00",
            "window_end": "00:00",
            "send_days": [0, 1, 2, 3, 4, 5, 6],
            "daily_limit": 5000,
        }
        mb, secrets = mailboxes.build_mailbox(
            None, caller, values, {"smtp_password": "load", "imap_password": None}, box, settings
        )
        mailboxes.verify(mb, secrets)  # the sink answers and the Maildir opens
        mailboxes.save_mailbox(s, caller, mb, secrets, box)
    # The "Mail" sequence: contacts already checked and synced (no open job), due in a year
    # until the window opens (then now): the planner has nothing to do during the baseline.
    now = utcnow()
    with db.session() as s:
        s.execute(
            insert(Contact),
            [
                {
                    "team_id": team.id,
                    "email": f"m{i}@mail.example.com",
                    "first_name": f"M{i}",
                    "last_name": "Mail",
                    "custom_variables": {},
                    "created_at": now,
                }
                for i in range(args.mail_contacts)
            ],
        )
        columns: tuple[str, ...] = ("team_id", "sequence_id", "contact_id", "added_by_id")
        columns += ("state", "sync_state", "added_at", "next_step", "next_send_at", "soft_bounces")
        s.execute(
            insert(Enrollment).from_select(
                columns,
                select(
                    Contact.team_id,
                    literal(mail),
                    Contact.id,
                    literal(user.id),
                    literal("active"),
                    literal("synced"),
                    literal(now),
                    literal(0),
                    literal(now + timedelta(days=365)),
                    literal(0),
                ).where(Contact.email.like("%@mail.example.com")),
            )
        )
    return Seeded(token, stored, added, mail, args.mail_contacts)


class Server:
    """``outbound serve`` (with its workers) in its own process, logging to a file."""

    def __init__(self, settings: Settings, url: str, sim: Simulator, args: Any) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "OUTBOUND_DATA_DIR": str(settings.data_dir),
            "OUTBOUND_DATABASE_URL": url,
            "OUTBOUND_CRELATE_BASE_URL": sim.url + "/api3",
            "OUTBOUND_CRELATE_RATE_PER_SECOND": str(args.ats_rate),
            "OUTBOUND_ALLOW_MAILDIR": "true",
            # A sequence "day" of 864 s: the 5,000-a-day mailbox sends about every 0.17 s.
            "OUTBOUND_MAIL_DAY_SECONDS": "864",
            "OUTBOUND_LOG_FORMAT": "text",
        }
        self.log_path = settings.data_dir / "server.log"
        self.waits_path = settings.data_dir / "waits.json"
        self.log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            # ``outbound serve``, with the database waits recorded (serve_recording_waits).
            [sys.executable, "-m", "bench.load", "--serve", str(self.port), str(self.waits_path)],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited: see {self.log_path}")
            try:
                if httpx.get(self.url + "/readyz", timeout=5).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError("the server did not start")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        self.log.close()

    def waits(self) -> list[list[Any]]:
        """[wall time, "read" or "write", ms] per transaction (after stop)."""
        if not self.waits_path.exists():
            return []
        waits: list[list[Any]] = json.loads(self.waits_path.read_text())
        return waits

    def errors(self) -> list[str]:
        lines = self.log_path.read_text(errors="replace").splitlines()
        return [line for line in lines if " ERROR " in line or "Traceback" in line]


def serve_recording_waits(port: int, out: Path) -> None:
    """``outbound serve`` in this process, recording for every transaction how long it waited
    from its start (the engine's "begin") to its first statement: on SQLite, the wait for its
    turn and the write lock (BEGIN IMMEDIATE), or for nothing (a read's deferred BEGIN). The
    same whatever the code's version, so it compares before and after. Written at exit."""
    from sqlalchemy.engine import Engine

    from outbound.cli import app

    waits: list[tuple[float, str, float]] = []
    began = "bench_began"

    # Listeners on the class run before the engine's own (ours goes first: the wait is inside).
    @event.listens_for(Engine, "begin")
    def _begin(conn: Any) -> None:
        conn.info[began] = time.perf_counter()

    @event.listens_for(Engine, "before_cursor_execute")
    def _first(conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.startswith(("BEGIN", "PRAGMA", "SET TRANSACTION")):
            return
        start = conn.info.pop(began, None)
        if start is not None:
            kind = "read" if conn.get_execution_options().get("outbound_read_only") else "write"
            waits.append((time.time(), kind, round((time.perf_counter() - start) * 1000, 2)))

    def dump(*_: Any) -> None:
        out.write_text(json.dumps(waits))
        sys.exit(0)

    # uvicorn shuts down on SIGTERM, then raises it again for the handler it found: this one.
    signal.signal(signal.SIGTERM, dump)
    app(["serve", "--port", str(port)], standalone_mode=False)
    dump()


def wait_figures(waits: list[list[Any]], since: float, until: float) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    for kind in ("read", "write"):
        ms = [w[2] for w in waits if w[1] == kind and since <= w[0] < until]
        if ms:
            figures[kind] = {
                "transactions": len(ms),
                "p50_ms": round(statistics.median(ms), 1),
                "p99_ms": round(percentile(ms, 0.99), 1),
                "max_ms": round(max(ms), 1),
            }
    return figures


# -- sampling -----------------------------------------------------------------------------
@dataclass
class Sample:
    endpoint: str
    phase: str
    ms: float
    ok: bool
    detail: str = ""


@dataclass
class Run:
    phase: str = "baseline"
    samples: list[Sample] = field(default_factory=list)
    stop: asyncio.Event = field(default_factory=asyncio.Event)


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    if not match:
        raise RuntimeError("no CSRF token on the sign-in page")
    return match.group(1)


async def _timed(run: Run, endpoint: str, request: Any, expect: int) -> None:
    phase = run.phase
    start = time.perf_counter()
    try:
        response = await request()
        ok, detail = response.status_code == expect, str(response.status_code)
    except httpx.HTTPError as exc:
        ok, detail = False, type(exc).__name__
    ms = (time.perf_counter() - start) * 1000
    run.samples.append(Sample(endpoint, phase, ms, ok, "" if ok else detail))


async def sample_api(run: Run, base: str, token: str, seq: int, pause: float) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as client:
        while not run.stop.is_set():
            await _timed(
                run,
                "contacts API",
                lambda: client.get(f"/api/v1/sequences/{seq}/contacts", params={"limit": 100}),
                200,
            )
            await asyncio.sleep(pause)


async def sample_control(run: Run, base: str, pause: float) -> None:
    """/healthz touches no database: what the process and the machine alone add (CPU, the GIL,
    an event loop held up), to tell apart from waiting for the database."""
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        while not run.stop.is_set():
            await _timed(run, "control: /healthz", lambda: client.get("/healthz"), 200)
            await asyncio.sleep(pause)


async def _sign_in(client: httpx.AsyncClient) -> Any:
    form = {
        "email": EMAIL,
        "password": PASSWORD,
        "csrf_token": _csrf((await client.get("/login")).text),
    }
    return lambda: client.post("/login", data=form)


async def sample_page(run: Run, base: str, seq: int, pause: float) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        while not run.stop.is_set():  # signed in first (a failure counts against the page)
            try:
                signed_in = await (await _sign_in(client))()
                if signed_in.status_code == 303:
                    break
                detail = f"sign-in {signed_in.status_code}"
            except (httpx.HTTPError, RuntimeError) as exc:
                detail = f"sign-in {type(exc).__name__}"
            run.samples.append(Sample("contacts page", run.phase, 0.0, False, detail))
            await asyncio.sleep(pause)
        while not run.stop.is_set():
            await _timed(run, "contacts page", lambda: client.get(f"/sequences/{seq}"), 200)
            await asyncio.sleep(pause)


async def sample_sign_in(run: Run, base: str, pause: float) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        while not run.stop.is_set():
            client.cookies.clear()  # a new visitor each time
            try:
                post = await _sign_in(client)
            except (httpx.HTTPError, RuntimeError) as exc:
                run.samples.append(Sample("sign-in", run.phase, 0.0, False, type(exc).__name__))
            else:
                await _timed(run, "sign-in", post, 303)
            await asyncio.sleep(pause)


def _state(background: dict[str, Any], name: str) -> str:
    return f"answered {background[name]['status']}" if name in background else "running"


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))]


def summarise(samples: list[Sample]) -> dict[str, Any]:
    ms = [s.ms for s in samples if s.ok]
    errors = [s.detail for s in samples if not s.ok]
    if not ms:
        return {"samples": len(samples), "errors": len(errors), "error_kinds": sorted(set(errors))}
    return {
        "samples": len(samples),
        "p50_ms": round(statistics.median(ms), 1),
        "p99_ms": round(percentile(ms, 0.99), 1),
        "max_ms": round(max(ms), 1),
        "errors": len(errors),
        "error_kinds": sorted(set(errors)),
    }


def _reads(db: Database) -> Any:
    """A read transaction where the code has one (this bench also drives older code)."""
    return getattr(db, "read_session", db.session)()


def progress_figures(db: Database, since: Any) -> tuple[int, int, int] | None:
    """Emails planned and sync jobs done since ``since``, jobs pending; None if the database
    would not answer (older code: this read waits for the write lock, and may time out)."""
    try:
        return _progress_figures(db, since)
    except OperationalError:
        return None


def _progress_figures(db: Database, since: Any) -> tuple[int, int, int]:
    with _reads(db) as s:
        sent = s.scalar(
            select(func.count(OutboundEmail.id)).where(OutboundEmail.created_at >= since)
        )
        done = s.scalar(
            select(func.count(SyncJob.id)).where(
                SyncJob.status == "done", SyncJob.finished_at >= since
            )
        )
        pending = s.scalar(select(func.count(SyncJob.id)).where(SyncJob.status == "pending"))
    return int(sent or 0), int(done or 0), int(pending or 0)


def mail_falls_due(db: Database, sequence_id: int, when: Any) -> None:
    """The "Mail" contacts fall due: the planner has work. This process writes from outside
    the server's: on SQLite it may lose the lock to the server's writers for a while (older code
    starved such a writer for the whole lock timeout), so it tries again."""
    for attempt in range(3):
        try:
            with db.session() as s:
                s.execute(
                    update(Enrollment)
                    .where(Enrollment.sequence_id == sequence_id)
                    .values(next_send_at=when)
                )
            return
        except OperationalError:
            console.print(f"[yellow]opening the window: database locked (try {attempt + 1})[/]")
    console.print("[red]the mail never fell due (the database stayed locked): no planner work[/]")


async def measure(
    server: Server, db: Database, seeded: Seeded, args: Any
) -> tuple[list[Sample], dict[str, Any]]:
    run = Run()
    base = server.url
    samplers = []
    for _ in range(args.clients):
        samplers += [
            asyncio.create_task(sample_api(run, base, seeded.token, seeded.stored, args.pause)),
            asyncio.create_task(sample_page(run, base, seeded.stored, args.pause)),
        ]
    for _ in range(args.sign_in_clients):
        samplers.append(asyncio.create_task(sample_sign_in(run, base, args.pause)))
    samplers.append(asyncio.create_task(sample_control(run, base, args.pause)))

    def line(elapsed: float, extra: str = "") -> None:
        counts = {
            e: [s for s in run.samples if s.phase == run.phase and s.endpoint == e]
            for e in ENDPOINTS
        }
        parts = []
        for endpoint, got in counts.items():
            ok = [s.ms for s in got if s.ok]
            p99 = f"p99 {percentile(ok, 0.99):.0f} ms" if ok else "-"
            parts.append(f"{endpoint}: {len(got)} ({p99}, {len(got) - len(ok)} err)")
        console.print(f"[dim]{run.phase:>10} {elapsed:5.0f} s[/dim]  " + "; ".join(parts) + extra)

    clock = {"baseline_from": time.time()}
    start = time.monotonic()
    while time.monotonic() - start < args.baseline_seconds:
        await asyncio.sleep(min(5.0, args.baseline_seconds))
        line(time.monotonic() - start)

    # The background work, all at once.
    window_start = utcnow()
    clock["window_from"] = time.time()
    await asyncio.to_thread(mail_falls_due, db, seeded.mail, window_start)
    run.phase = "under load"
    background: dict[str, Any] = {}
    people = [
        # Half already stored, half new: a re-pasted list merges (as bench.size).
        {
            "email": f"s{i}@stored.example.com"
            if i % 2 and i < args.contacts
            else f"n{i}@new.example",
            "first_name": f"N{i}",
        }
        for i in range(ADD)
    ]
    headers = {"Authorization": f"Bearer {seeded.token}"}

    async def post(name: str, path: str, body: dict[str, Any]) -> None:
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=900) as client:
            began = time.perf_counter()
            try:
                r = await client.post(path, json=body)
                background[name] = {
                    "status": r.status_code,
                    "seconds": round(time.perf_counter() - began, 2),
                }
                if r.status_code < 300:
                    background[name]["answer"] = {
                        k: v for k, v in r.json().items() if k != "enrollment_ids"
                    }
            except httpx.HTTPError as exc:
                background[name] = {
                    "status": type(exc).__name__,
                    "seconds": round(time.perf_counter() - began, 2),
                }

    start = time.monotonic()
    jobs = [
        asyncio.create_task(
            post("add", f"/api/v1/sequences/{seeded.added}/contacts", {"contacts": people})
        ),
        asyncio.create_task(post("resync", f"/api/v1/sequences/{seeded.stored}/resync", {})),
    ]
    while not all(j.done() for j in jobs) or time.monotonic() - start < args.min_seconds:
        await asyncio.sleep(5.0)
        figures = await asyncio.to_thread(progress_figures, db, window_start)
        shown = [f"{n:,}" for n in figures] if figures else ["?"] * 3
        state = ", ".join(f"{name} {_state(background, name)}" for name in ("add", "resync"))
        line(
            time.monotonic() - start,
            f"  | {state}; emails {shown[0]}, jobs done {shown[1]}, pending {shown[2]}",
        )
        if time.monotonic() - start > args.max_seconds:
            console.print("[red]the background work did not finish in time[/red]")
            break
    window = time.monotonic() - start
    clock["window_to"] = time.time()
    run.stop.set()
    await asyncio.gather(*samplers, return_exceptions=True)
    for j in jobs:
        j.cancel()
    figures = None
    for _ in range(3):
        figures = figures or await asyncio.to_thread(progress_figures, db, window_start)
    sent, done, pending = figures or (None, None, None)
    background.update(
        window_seconds=round(window, 1),
        emails_planned=sent,
        sync_jobs_done=done,
        sync_jobs_pending=pending,
        clock=clock,
    )
    return run.samples, background


# -- one run, and the table ---------------------------------------------------------------
def one_run(args: Any, url: str | None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        url = fresh_database(url, tmp, "load")
        settings = Settings(data_dir=data_dir, database_url=url, allow_maildir=True)
        (data_dir / "inbox").mkdir()
        upgrade(url)
        db = Database(url)
        sim = Simulator()
        sim.reset(rate=0)
        sink = SmtpSink(data_dir / "sent", free_port()).start()
        server = None
        try:
            settings.crelate_base_url = sim.url + "/api3"
            with console.status(f"seeding {args.contacts:,} stored contacts"):
                began = time.perf_counter()
                seeded = seed(db, settings, sim, sink.port, args)
                console.print(f"seeded in {time.perf_counter() - began:.1f} s")
            server = Server(settings, url, sim, args)
            console.print(f"server up at {server.url} (log: {server.log_path})")
            samples, background = asyncio.run(measure(server, db, seeded, args))
        finally:
            if server is not None:
                server.stop()
                server_errors, waits = server.errors(), server.waits()
            sink.stop()
            sim.stop()
            engine = db.engine.dialect.name
            db.dispose()
    phases: dict[str, Any] = {}
    for phase in ("baseline", "under load"):
        phases[phase] = {
            e: summarise([s for s in samples if s.phase == phase and s.endpoint == e])
            for e in ENDPOINTS
        }
    clock = background.pop("clock")
    database_waits = {
        "baseline": wait_figures(waits, clock["baseline_from"], clock["window_from"]),
        "under load": wait_figures(waits, clock["window_from"], clock["window_to"]),
    }
    return {
        "engine": engine,
        "contacts": args.contacts,
        "add": ADD,
        "mail_contacts": args.mail_contacts,
        "clients_per_endpoint": args.clients,
        "sign_in_clients": args.sign_in_clients,
        "pause_seconds": args.pause,
        "ats_rate_per_second": args.ats_rate,
        "phases": phases,
        "background": background,
        "database_waits": database_waits,
        "server_error_lines": server_errors[:20],
        "server_error_count": len(server_errors),
    }


def met(figures: dict[str, Any]) -> bool:
    return figures.get("errors", 1) == 0 and figures.get("p99_ms", 1e9) < TARGET_P99_MS


def print_table(result: dict[str, Any]) -> None:
    bg = result["background"]
    table = Table(
        title=(
            f"Latency under load ({result['engine']}, {result['contacts']:,} stored, "
            f"{result['clients_per_endpoint']} client(s) on the API and the page, "
            f"{result['sign_in_clients']} signing in)"
        ),
        caption=(
            f"under load: add {ADD:,} {bg.get('add', {}).get('seconds', '?')} s, "
            f"resync {bg.get('resync', {}).get('seconds', '?')} s, "
            f"{bg['emails_planned']} emails planned, {bg['sync_jobs_done']} sync jobs done in a "
            f"{bg['window_seconds']} s window; target p99 < {TARGET_P99_MS:.0f} ms, 0 errors"
        ),
    )
    for col in ("phase", "endpoint", "samples", "p50 ms", "p99 ms", "max ms", "errors", "target"):
        table.add_column(col, justify="left" if col in ("phase", "endpoint") else "right")
    for phase, endpoints in result["phases"].items():
        for endpoint, f in endpoints.items():
            table.add_row(
                phase,
                endpoint,
                str(f["samples"]),
                str(f.get("p50_ms", "-")),
                str(f.get("p99_ms", "-")),
                str(f.get("max_ms", "-")),
                str(f["errors"]) + (f" {','.join(f['error_kinds'])}" if f["errors"] else ""),
                "-" if endpoint.startswith("control") else "met" if met(f) else "[red]missed[/]",
            )
    console.print(table)
    console.print(f"background: {json.dumps(bg)}")
    waits = Table(
        title="In the server: each transaction's wait from its start to its first statement",
        caption="on SQLite: a writer's turn and the write lock; a read session waits for none",
    )
    for col in ("phase", "transactions", "count", "p50 ms", "p99 ms", "max ms"):
        waits.add_column(col, justify="left" if col in ("phase", "transactions") else "right")
    for phase, kinds in result["database_waits"].items():
        for kind, f in kinds.items():
            waits.add_row(
                phase,
                kind,
                str(f["transactions"]),
                str(f["p50_ms"]),
                str(f["p99_ms"]),
                str(f["max_ms"]),
            )
    console.print(waits)
    if result["server_error_count"]:
        console.print(f"[red]{result['server_error_count']} error lines in the server log[/red]")
        for line in result["server_error_lines"][:5]:
            console.print(f"  {line}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--contacts", type=int, default=100_000, help="stored, then resynced")
    parser.add_argument("--mail-contacts", type=int, default=2_000)
    parser.add_argument("--engine", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--database-url", help="PostgreSQL to use (emptied) instead of a temp one")
    parser.add_argument("--clients", type=int, default=2, help="clients on the API and the page")
    parser.add_argument(
        "--sign-in-clients",
        type=int,
        default=1,
        help="clients signing in (each sign-in is an argon2 hash: CPU-bound)",
    )
    parser.add_argument(
        "--pause", type=float, default=0.2, help="seconds between a client's requests"
    )
    parser.add_argument("--baseline-seconds", type=float, default=20)
    parser.add_argument("--min-seconds", type=float, default=30, help="shortest window under load")
    parser.add_argument("--max-seconds", type=float, default=900)
    parser.add_argument("--ats-rate", type=float, default=20, help="the worker's ATS pace, req/s")
    parser.add_argument("--json", type=Path, default=RESULTS)
    parser.add_argument("--serve", nargs=2, help=argparse.SUPPRESS)  # the server subprocess
    args = parser.parse_args()
    if args.serve:
        serve_recording_waits(int(args.serve[0]), Path(args.serve[1]))
        return
    if args.database_url:
        args.engine = "postgresql"
    if args.engine == "postgresql":
        with postgresql(args.database_url) as url:
            result = one_run(args, url)
    else:
        result = one_run(args, None)
    result["machine"] = (
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    result["date"] = time.strftime("%Y-%m-%d %H:%M")
    print_table(result)
    everything: dict[str, Any] = {}
    if args.json.exists():
        try:
            everything = json.loads(args.json.read_text())
        except json.JSONDecodeError:
            everything = {}
    everything[result["engine"]] = result
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(everything, indent=2) + "\n")
    console.print(f"written to {args.json} (under {result['engine']!r})")


if __name__ == "__main__":
    main()
