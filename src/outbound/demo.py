"""`outbound demo`: the whole product on one machine, with sample data and nothing to configure.

Starts both ATS simulators, the API with its in-process workers (sync and mail), a local SMTP
server that keeps what is sent, and a prospect simulator that answers some of it (reply,
out-of-office, bounce) into the senders' mailboxes, which Outbound reads through its normal
inbound path. Sequence steps run on a compressed clock: one sequence day = DAY_SECONDS seconds.
"""

from __future__ import annotations

import asyncio
import json
import random
import shutil
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from rich.console import Console
from sqlalchemy import select

from outbound.api.app import create_app
from outbound.connectors.registry import make_connector
from outbound.crypto import SecretBox
from outbound.service import accounts, connections, enrollments, mailboxes, sequences
from outbound.service.caller import Caller
from outbound.settings import Settings
from outbound.simulators.clockwork.app import create_clockwork_app
from outbound.simulators.crelate.app import create_crelate_app
from outbound.simulators.harness import RateLimitConfig
from outbound.simulators.mail.prospects import ProspectSimulator, behaviour
from outbound.simulators.mail.sink import SmtpSink
from outbound.simulators.mail.viewer import viewer_router
from outbound.simulators.mail.xoauth2 import Introspection
from outbound.simulators.oauth import create_oauth_app
from outbound.simulators.oauth.app import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from outbound.simulators.server import ServerThread
from outbound.store.db import Database
from outbound.store.migrate import upgrade
from outbound.store.models import Team
from outbound.web.render import templates
from outbound.web.session import hash_password

DAY_SECONDS = 20.0  # compressed clock: a step "3 days later" goes out a minute later
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


# The simulators' sign-ins the sample team is connected with (printed on every start: to
# connect another teammate, or to call the simulated ATS directly).
CRELATE_CREDENTIALS = {"api_key": "alicecrelatekey0000000000a"}
CLOCKWORK_CREDENTIALS = {
    "firm": "acme",
    "api_key": "cw-bob-key",
    "api_secret": "cw-bob-secret",
    "firm_service_key": "acme-firm-service-key-0001",
}
# Other sign-ins the simulators accept, for teammates who connect from Integrations.
SPARE_CRELATE_KEYS = ("bobcrelatekey000000000000b", "carolcrelatekey0000000000c")
SPARE_CLOCKWORK_KEYS = (("cw-alice-key", "cw-alice-secret"), ("cw-carol-key", "cw-carol-secret"))


def ats_signins(port: int) -> list[str]:
    """The lines that tell where each simulated ATS answers and what to sign in with."""
    cw = CLOCKWORK_CREDENTIALS
    return [
        f"  Crelate simulator    http://127.0.0.1:{port + 1}/api3",
        f"    API key (Olivia, connected): {CRELATE_CREDENTIALS['api_key']}",
        f"    spare API keys for teammates: {', '.join(SPARE_CRELATE_KEYS)}",
        f"  Clockwork simulator  http://127.0.0.1:{port + 2}/v3.0",
        f"    firm {cw['firm']} · API key {cw['api_key']} · API secret {cw['api_secret']} · "
        f"firm service key {cw['firm_service_key']} (Max, connected)",
        "    spare key / secret pairs: "
        + ", ".join(f"{key} / {secret}" for key, secret in SPARE_CLOCKWORK_KEYS),
        f"  What each holds: http://127.0.0.1:{port + 1}/_admin/records/contacts · "
        f"http://127.0.0.1:{port + 2}/_admin/records/people",
    ]


# "Google" for the demo: the OAuth simulator, with one account for Riley to connect.
DEMO_GOOGLE_ACCOUNT = ("riley.recruiter@acme-google.test", "Riley Recruiter")


def oauth_port(port: int) -> int:
    return port + 4


def demo_settings(data_dir: Path, port: int) -> Settings:
    google = f"http://127.0.0.1:{oauth_port(port)}"
    return Settings(
        # "Connect with Google" goes to the OAuth simulator; the mailbox it connects sends
        # through the local SMTP server with XOAUTH2 and reads replies from a local Maildir.
        google_client_id=DEFAULT_CLIENT_ID,
        google_client_secret=SecretStr(DEFAULT_CLIENT_SECRET),
        google_discovery_url=google + "/.well-known/openid-configuration",
        oauth_smtp_server=f"127.0.0.1:{smtp_port(port)}:none",
        oauth_inbound_maildir=(data_dir / "mail" / "inboxes").resolve(),
        data_dir=data_dir,
        database_url=f"sqlite:///{(data_dir / 'outbound.db').resolve()}",
        port=port,
        crelate_base_url=f"http://127.0.0.1:{port + 1}/api3",
        clockwork_base_url=f"http://127.0.0.1:{port + 2}/v3.0",
        # Below the simulators' limit of 10/s, so the demo shows pacing without 429s.
        crelate_rate_per_second=8,
        clockwork_rate_per_second=8,
        public_url=f"http://127.0.0.1:{port}",
        mail_day_seconds=DAY_SECONDS,
        mail_poll_seconds=2,
        allow_maildir=True,
    )


def smtp_port(port: int) -> int:
    return port + 3


def sink_dir(data_dir: Path) -> Path:
    return data_dir / "mail" / "sent"


def inbox_dir(data_dir: Path, address: str) -> Path:
    return data_dir / "mail" / "inboxes" / address.lower()


def _connect_mailbox(
    session: Any, caller: Caller, name: str, address: str, settings: Settings, box: SecretBox
) -> None:
    values = {
        "email": address,
        "from_name": name,
        "smtp_host": "127.0.0.1",
        "smtp_port": smtp_port(settings.port),
        "smtp_security": "none",
        "smtp_username": address,
        "inbound_kind": "maildir",
        "maildir_path": str(inbox_dir(settings.data_dir, address).resolve()),
        "time_zone": "UTC",
        "window_start": "00:00",
        "window_end": "00:00",
        "send_days": [0, 1, 2, 3, 4, 5, 6],
        "daily_limit": 2000,
    }
    mb, secrets = mailboxes.build_mailbox(
        None, caller, values, {"smtp_password": "demo", "imap_password": None}, box, settings
    )
    mailboxes.verify(mb, secrets)
    mailboxes.save_mailbox(session, caller, mb, secrets, box)


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
    crelate_creds = dict(CRELATE_CREDENTIALS)
    clockwork_creds = dict(CLOCKWORK_CREDENTIALS)
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
            password = f"demo-{role}"  # a demo on localhost: printed on every start
            user, token = accounts.create_user(
                session,
                team.id,
                f"{role}@demo.outbound.dev",
                name,
                role,
                password_hash=hash_password(password),
            )
            users[role] = Caller(user.id, team.id, role)
            signins[role] = {"email": user.email, "password": password, "api_token": token}
        connections.save_connection(
            session, users["owner"], "crelate", crelate_creds, crelate_id, box
        )
        connections.save_connection(
            session, users["manager"], "clockwork", clockwork_creds, clockwork_id, box
        )
        connections.update_settings(session, users["owner"], {"default_job_id": crelate_job})
        for role, name in (("owner", "Olivia Owner"), ("manager", "Max Manager")):
            _connect_mailbox(session, users[role], name, signins[role]["email"], settings, box)
        steps = [
            sequences.StepInput(
                "Quick question, {{first_name}}",
                "Hi {{first_name}},\n\nI'm hiring for a team that would value your work at "
                "{{company|your company}}. Open to a short call this week?\n\n"
                "{{sender_first_name}}",
                0,
            ),
            sequences.StepInput("", "Following up on my note, {{first_name}}. Any interest?", 1),
            sequences.StepInput("", "Last note from me - happy to talk whenever suits.", 2),
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
            first, last, email = _prospect(rng, i)
            people.append(
                {
                    "email": email,
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


# What the prospects do, in turn, so every sequence shows replies, an out-of-office and a
# bounce within its first contacts (see simulators/mail/prospects.py).
PATTERN = (
    "reply",
    "silent",
    "out_of_office",
    "silent",
    "reply",
    "bounce",
    "silent",
    "silent",
    "reply",
    "silent",
)


def _prospect(rng: random.Random, i: int) -> tuple[str, str, str]:
    """A name and address whose simulated behaviour is the pattern's i-th."""
    want = PATTERN[i % len(PATTERN)]
    for attempt in range(1000):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        suffix = f"{i}" if attempt == 0 else f"{i}-{attempt}"
        email = f"{first}.{last}.{suffix}@prospects.example.com".lower()
        if behaviour(email) == want:
            break
    return first, last, email


async def _first_job(provider: str, credentials: dict[str, Any], settings: Settings) -> str:
    connector = make_connector(provider, credentials, settings)
    try:
        return (await connector.list_jobs())[0].id
    finally:
        await connector.aclose()


def run_demo(data_dir: Path, port: int, reset: bool, contacts: int = 300) -> None:
    import uvicorn

    if reset and data_dir.exists():
        shutil.rmtree(data_dir)
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    settings = demo_settings(data_dir, port)
    upgrade(settings.resolved_database_url)
    db = Database(settings.resolved_database_url, settings.database_lock_timeout_seconds)
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
    google = ServerThread(
        create_oauth_app(
            "google",
            accounts=[DEMO_GOOGLE_ACCOUNT],
            redirect_uris=[settings.resolved_oauth_redirect_url],
        ),
        port=oauth_port(port),
    ).start()
    sims.append(google)
    introspection = Introspection(
        google.url + "/introspect", DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
    )
    sink = SmtpSink(sink_dir(data_dir), smtp_port(port), xoauth2=introspection).start()
    signin_file = data_dir / "demo-signins.json"
    rng = random.Random(42)
    with db.session() as session:
        fresh = session.scalar(select(Team.id).limit(1)) is None
    if fresh:
        signin_file.write_text(json.dumps(seed(db, settings, rng, contacts), indent=2))
    signins = json.loads(signin_file.read_text())
    prospects = ProspectSimulator(
        sink_dir(data_dir), lambda sender: inbox_dir(data_dir, sender), delay_seconds=5
    )
    prospects.start()

    base = f"http://127.0.0.1:{port}"
    console.print(f"\n[bold green]Outbound demo[/bold green] is running: open {base}")
    console.print("Sign in as (password / API token):")
    for role, info in signins.items():
        console.print(
            f"  {role:9} {info['email']:28} {info.get('password', ''):15} {info['api_token']}"
        )
    console.print("The simulated ATSs (Integrations → Connect uses these sign-ins):")
    for line in ats_signins(port):
        console.print(line, markup=False, highlight=False)
    console.print(
        "Connect a mailbox the way real teams do: sign in as the recruiter, Mailbox → Connect "
        f"with Google (a local OAuth simulator at {google.url}; allow as "
        f"{DEMO_GOOGLE_ACCOUNT[0]}).",
        markup=False,
        highlight=False,
    )
    console.print(
        "Try first:\n"
        f'  1. Sign in as the owner and open Sequences → "Python engineers (Crelate)": '
        'watch contacts go scheduled → messaged → replied, and Dana show "Exists in '
        'Crelate".\n'
        f"  2. See what was sent: {base}/demo/mail (nothing leaves this machine; the demo's "
        "prospects answer some emails with a reply, an out-of-office or a bounce).\n"
        f"  3. See it in the ATS: Crelate http://127.0.0.1:{port + 1}/_admin/records/activities"
        f" · Clockwork http://127.0.0.1:{port + 2}/_admin/records/people\n"
        f"  4. The REST API: {base}/docs\n"
        f"[yellow]Clock compressed:[/yellow] one sequence day = {DAY_SECONDS:.0f} s "
        f"(outgoing mail: a local SMTP server on port {smtp_port(port)}).\n"
        f"Ctrl-C stops everything; data is kept in {data_dir} (--reset starts fresh).\n"
    )
    app = create_app(settings, db, run_worker=True)
    app.include_router(viewer_router(sink_dir(data_dir)))
    templates.env.globals["demo"] = True  # the navigation links the sent-mail page
    try:
        uvicorn.run(
            app,
            host="127.0.0.1",
            port=port,
            log_level="warning",
        )
    finally:
        prospects.stopping.set()
        prospects.join(timeout=5)
        for sim in sims:
            sim.stop()
        sink.stop()
        db.dispose()
        console.print("Outbound demo stopped.")
