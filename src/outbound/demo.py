"""`outbound demo`: the whole product on one machine, with sample data and nothing to configure.

Starts both ATS simulators, the API with its in-process worker, and a demo activity generator
that plays the prospects' side on a compressed clock (one sequence day = DAY_SECONDS seconds).
Real SMTP/IMAP mail is not built yet, so the generator records "sent" and "replied" events
through the same service call the mail pipeline will use; the demo says so when it starts.
"""

from __future__ import annotations

import asyncio
import json
import random
import shutil
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from sqlalchemy import select

from outbound.api.app import create_app
from outbound.connectors.registry import make_connector
from outbound.crypto import SecretBox
from outbound.service import accounts, connections, enrollments, sequences
from outbound.service.caller import Caller
from outbound.settings import Settings
from outbound.simulators.clockwork.app import create_clockwork_app
from outbound.simulators.crelate.app import create_crelate_app
from outbound.simulators.harness import RateLimitConfig
from outbound.simulators.server import ServerThread
from outbound.store.db import Database
from outbound.store.migrate import upgrade
from outbound.store.models import ActivityEvent, Enrollment, Sequence, Team, utcnow

DAY_SECONDS = 20.0  # compressed clock: a step "3 days later" goes out a minute later
REPLY_RATE = 0.15
console = Console(soft_wrap=True)

FIRST = [
    "Ada",
    "Grace",
    "Alan",
    "Linus",
    "Margaret",
    "Ken",
    "Barbara",
    "Dennis",
    "Frances",
    "Guido",
    "Radia",
    "Tim",
    "Shafi",
    "Donald",
    "Hedy",
    "John",
    "Katherine",
    "Edsger",
]
LAST = [
    "Lovelace",
    "Hopper",
    "Turing",
    "Torvalds",
    "Hamilton",
    "Thompson",
    "Liskov",
    "Ritchie",
    "Allen",
    "Rossum",
    "Perlman",
    "Berners",
    "Goldwasser",
    "Knuth",
    "Lamarr",
    "Backus",
]


def demo_settings(data_dir: Path, port: int) -> Settings:
    return Settings(
        data_dir=data_dir,
        database_url=f"sqlite:///{(data_dir / 'outbound.db').resolve()}",
        port=port,
        crelate_base_url=f"http://127.0.0.1:{port + 1}/api3",
        clockwork_base_url=f"http://127.0.0.1:{port + 2}/v3.0",
        # Below the simulators' limit of 10/s, so the demo shows pacing without 429s.
        crelate_rate_per_second=8,
        clockwork_rate_per_second=8,
    )


def _verify(provider: str, credentials: dict[str, Any], settings: Settings) -> Any:
    async def run() -> Any:
        connector = make_connector(provider, credentials, settings)
        try:
            return await connector.verify()
        finally:
            await connector.aclose()

    return asyncio.run(run())


def seed(db: Database, settings: Settings, rng: random.Random, contacts: int) -> dict[str, Any]:
    """Create the sample team once; returns the sign-ins to print."""
    box = SecretBox(settings.fernet_key)
    crelate_creds = {"api_key": "alicecrelatekey0000000000a"}
    clockwork_creds = {
        "firm": "acme",
        "api_key": "cw-bob-key",
        "api_secret": "cw-bob-secret",
        "firm_service_key": "acme-firm-service-key-0001",
    }
    crelate_id = _verify("crelate", crelate_creds, settings)
    clockwork_id = _verify("clockwork", clockwork_creds, settings)
    crelate_job = asyncio.run(_first_job("crelate", crelate_creds, settings))
    clockwork_project = asyncio.run(_first_job("clockwork", clockwork_creds, settings))
    signins: dict[str, Any] = {}
    with db.session() as session:
        team = accounts.create_team(session, "Acme Talent (demo)")
        users = {}
        for role, name in (
            ("owner", "Olivia Owner"),
            ("manager", "Max Manager"),
            ("recruiter", "Riley Recruiter"),
        ):
            user, token = accounts.create_user(
                session, team.id, f"{role}@demo.outbound.dev", name, role
            )
            users[role] = Caller(user.id, team.id, role)
            signins[role] = {"email": user.email, "api_token": token}
        connections.save_connection(
            session, users["owner"], "crelate", crelate_creds, crelate_id, box
        )
        connections.save_connection(
            session, users["manager"], "clockwork", clockwork_creds, clockwork_id, box
        )
        connections.update_settings(session, users["owner"], {"default_job_id": crelate_job})
        steps = [
            sequences.StepInput("Quick question, {{first_name}}", "Hi {{first_name}}, ...", 0),
            sequences.StepInput("Re: Quick question", "Following up ...", 1),
            sequences.StepInput("Re: Quick question", "Last note from me ...", 2),
        ]
        crelate_seq = sequences.create_sequence(
            session, users["owner"], "Python engineers (Crelate)", steps, {}
        )
        clockwork_seq = sequences.create_sequence(
            session,
            users["manager"],
            "CFO search (Clockwork)",
            steps,
            {"job_id": clockwork_project},
        )
        people = [
            {"email": "dana.existing@example.com", "first_name": "Dana", "last_name": "Existing"}
        ]
        for i in range(max(1, contacts - 1)):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            people.append(
                {
                    "email": f"{first}.{last}.{i}@prospects.example.com".lower(),
                    "first_name": first,
                    "last_name": last,
                    "title": rng.choice(["Engineer", "Staff Engineer", "CFO", "VP Finance"]),
                    "company": rng.choice(["Initech", "Hooli", "Globex", "Umbrella"]),
                }
            )
        split = max(1, len(people) * 2 // 3)
        enrollments.add_contacts(session, users["owner"], crelate_seq.id, people[:split])
        enrollments.add_contacts(session, users["manager"], clockwork_seq.id, people[split:])
    return signins


async def _first_job(provider: str, credentials: dict[str, Any], settings: Settings) -> str:
    connector = make_connector(provider, credentials, settings)
    try:
        return (await connector.list_jobs())[0].id
    finally:
        await connector.aclose()


class ProspectSimulator(threading.Thread):
    """Plays both sides of the mail on the compressed clock (see the module docstring)."""

    def __init__(self, db: Database, rng: random.Random) -> None:
        super().__init__(daemon=True, name="demo-prospects")
        self.db = db
        self.rng = rng
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.wait(2.0):
            try:
                self.tick()
            except Exception as exc:  # the demo keeps going; say what happened
                console.print(f"[yellow]demo activity generator: {exc}[/yellow]")

    def tick(self) -> None:
        now = utcnow()
        with self.db.session() as session:
            rows = (
                session.execute(select(Enrollment).where(Enrollment.state == "active").limit(400))
                .scalars()
                .all()
            )
            for enrollment in rows:
                seq = session.get(Sequence, enrollment.sequence_id)
                sent = session.scalars(
                    select(ActivityEvent.occurred_at)
                    .where(
                        ActivityEvent.enrollment_id == enrollment.id, ActivityEvent.kind == "sent"
                    )
                    .order_by(ActivityEvent.id)
                ).all()
                if seq is None or len(sent) >= len(seq.steps):
                    enrollment.state = "finished"
                    continue
                step = seq.steps[len(sent)]
                last = sent[-1] if sent else enrollment.added_at
                if now - last < timedelta(seconds=step.delay_days * DAY_SECONDS + 3):
                    continue
                if sent and self.rng.random() < REPLY_RATE:
                    enrollments.record_event(
                        session,
                        enrollment,
                        "replied",
                        subject=f"Re: {seq.steps[0].subject}",
                        body="Thanks for reaching out, happy to chat.",
                    )
                    continue
                enrollments.record_event(
                    session, enrollment, "sent", subject=step.subject, body=step.body
                )


def run_demo(data_dir: Path, port: int, reset: bool, contacts: int = 300) -> None:
    import uvicorn

    if reset and data_dir.exists():
        shutil.rmtree(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    settings = demo_settings(data_dir, port)
    upgrade(settings.resolved_database_url)
    db = Database(settings.resolved_database_url)
    limit = RateLimitConfig(requests_per_second=10)
    sims = [
        ServerThread(
            create_crelate_app(rate_limit=limit, state_file=data_dir / "crelate-simulator.pickle"),
            port=port + 1,
        ).start(),
        ServerThread(
            create_clockwork_app(
                rate_limit=limit, state_file=data_dir / "clockwork-simulator.pickle"
            ),
            port=port + 2,
        ).start(),
    ]
    signin_file = data_dir / "demo-signins.json"
    rng = random.Random(42)
    with db.session() as session:
        fresh = session.scalar(select(Team.id).limit(1)) is None
    if fresh:
        signin_file.write_text(json.dumps(seed(db, settings, rng, contacts), indent=2))
    signins = json.loads(signin_file.read_text())
    prospects = ProspectSimulator(db, rng)
    prospects.start()

    base = f"http://127.0.0.1:{port}"
    console.print(
        f"\n[bold green]Outbound demo[/bold green] running at {base}  (API docs: {base}/docs)"
    )
    console.print(f"Crelate simulator:   http://127.0.0.1:{port + 1}/_admin/records/contacts")
    console.print(f"Clockwork simulator: http://127.0.0.1:{port + 2}/_admin/records/people")
    for role, info in signins.items():
        console.print(f"  {role:9} {info['email']:28} API token: {info['api_token']}")
    console.print(
        "[yellow]Clock compressed:[/yellow] one sequence day = "
        f"{DAY_SECONDS:.0f} s. No real mail is sent yet: a demo generator records the sends "
        "and prospects' replies through the same path the mail pipeline will use."
    )
    owner = signins["owner"]["api_token"]
    console.print(
        "Try first:\n"
        f"  curl -H 'Authorization: Bearer {owner}' {base}/api/v1/sequences/1/contacts\n"
        f"  curl -H 'Authorization: Bearer {owner}' "
        f"'{base}/api/v1/sequences/1/contacts?needs_attention=true'\n"
        "Ctrl-C stops everything; data is kept in "
        f"{data_dir} (use --reset to start fresh).\n"
    )
    try:
        uvicorn.run(
            create_app(settings, db, run_worker=True),
            host="127.0.0.1",
            port=port,
            log_level="warning",
        )
    finally:
        prospects.stopping.set()
        prospects.join(timeout=5)
        for sim in sims:
            sim.stop()
        db.dispose()
        console.print("Outbound demo stopped.")
