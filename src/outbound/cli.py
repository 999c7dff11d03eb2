"""The `outbound` command line."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from outbound.logs import configure as configure_logs
from outbound.settings import Settings

app = typer.Typer(
    help="Outbound: recruiting outreach that keeps your ATS true.", no_args_is_help=True
)
db_app = typer.Typer(help="Database migrations.", no_args_is_help=True)
team_app = typer.Typer(help="Teams.", no_args_is_help=True)
user_app = typer.Typer(help="Users and API tokens.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(team_app, name="team")
app.add_typer(user_app, name="user")
console = Console()
err = Console(stderr=True)


def _settings() -> Settings:
    return Settings()


def _fail(message: str) -> None:
    err.print(f"[red]error:[/red] {message}")
    raise typer.Exit(code=2)


def _check_text(option: str, value: str) -> None:
    """What the REST API refuses in text (outbound.domain.text) is refused here too."""
    from outbound.domain.text import text_problem

    problem = text_problem(value)
    if problem:
        _fail(f"{option} {problem}")


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Apply migrations to the configured database (created if missing)."""
    from outbound.store.migrate import upgrade

    settings = _settings()
    upgrade(settings.resolved_database_url, revision)
    console.print(
        f"database at [bold]{_redact(settings.resolved_database_url)}[/bold] is up to date"
    )


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@team_app.command("create")
def team_create(name: str) -> None:
    """Create a team (a firm's account); prints its id."""
    from outbound.service.accounts import create_team
    from outbound.service.errors import ServiceError
    from outbound.store.db import Database

    _check_text("the team name", name)
    settings = _settings()
    db = Database(settings.resolved_database_url, settings.database_lock_timeout_seconds)
    try:
        with db.session() as session:
            team = create_team(session, name)
            console.print(f"team {team.id} created: {team.name}")
    except ServiceError as exc:
        _fail(exc.message)


@user_app.command("create")
def user_create(
    team_id: Annotated[int, typer.Option("--team", help="Team id")],
    email: Annotated[str, typer.Option(help="Sign-in email")],
    name: Annotated[str, typer.Option(help="Display name")] = "",
    role: Annotated[str, typer.Option(help="owner, manager or recruiter")] = "owner",
    password: Annotated[str | None, typer.Option(help="Web sign-in password")] = None,
) -> None:
    """Create a user and print an API token (shown once)."""
    from outbound.service.accounts import create_user
    from outbound.service.errors import ServiceError
    from outbound.store.db import Database

    _check_text("--email", email)
    _check_text("--name", name)
    if "@" not in email:
        _fail("--email must be an email address")
    password_hash = None
    if password:
        from outbound.web.session import hash_password

        password_hash = hash_password(password)
    settings = _settings()
    db = Database(settings.resolved_database_url, settings.database_lock_timeout_seconds)
    try:
        with db.session() as session:
            user, token = create_user(
                session, team_id, email, name or email, role, password_hash=password_hash
            )
            console.print(f"user {user.id} created ({user.role})")
            console.print(f"API token (shown once): [bold]{token}[/bold]")
    except ServiceError as exc:
        _fail(exc.message)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option()] = None,
    port: Annotated[int | None, typer.Option()] = None,
    worker: Annotated[bool, typer.Option(help="Run the workers in this process")] = True,
) -> None:
    """Serve the web app and REST API (and, by default, the sync and mail workers)."""
    import uvicorn

    from outbound.api.app import create_app
    from outbound.store.migrate import upgrade

    settings = _settings()
    configure_logs(settings.log_format)
    upgrade(settings.resolved_database_url)
    uvicorn.run(
        create_app(settings, run_worker=worker),
        host=host or settings.host,
        port=port or settings.port,
        log_config=None,  # uvicorn's lines go through our (JSON) handler too
        log_level="info",
    )


@app.command("worker")
def worker_cmd(
    until_idle: Annotated[bool, typer.Option(help="Exit when no sync work is left")] = False,
    mail: Annotated[bool, typer.Option(help="Also send sequence steps and read replies")] = True,
) -> None:
    """Run a worker: ATS sync and mail (several may share a PostgreSQL database)."""
    from outbound.mail.worker import MailWorker
    from outbound.store.db import Database
    from outbound.sync.worker import Worker

    settings = _settings()
    configure_logs(settings.log_format)
    db = Database(settings.resolved_database_url, settings.database_lock_timeout_seconds)
    w = Worker(db, settings)

    async def both() -> None:
        mail_worker = MailWorker(db, settings)
        mail_task = asyncio.create_task(mail_worker.run())
        try:
            await w.run()
        finally:
            mail_worker.stop()
            await mail_task

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(w.drain(timeout=10**9) if until_idle else both() if mail else w.run())


@app.command()
def simulate(
    ats: Annotated[
        str,
        typer.Argument(
            help="What to simulate: crelate, clockwork, or oauth (a Google or Microsoft "
            "sign-in provider for mailboxes: --profile google|microsoft)"
        ),
    ],
    port: Annotated[int, typer.Option()] = 9001,
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    seed: Annotated[
        str, typer.Option(help="standard (has Messaged/Replied stages) or bare")
    ] = "standard",
    rate: Annotated[float, typer.Option(help="Requests per second per key; 0 = unlimited")] = 5.0,
    fault_seed: Annotated[int, typer.Option()] = 0,
    error_rate: Annotated[float, typer.Option()] = 0.0,
    drop_rate: Annotated[float, typer.Option()] = 0.0,
    commit_then_fail_rate: Annotated[float, typer.Option()] = 0.0,
    latency_ms: Annotated[float, typer.Option()] = 0.0,
    profile: Annotated[
        list[str] | None,
        typer.Option(
            help="Behaviour profile where the real API is unknown (repeatable; "
            "list them at /_admin/profiles)"
        ),
    ] = None,
) -> None:
    """Serve a Crelate or Clockwork simulator, or an OAuth provider (admin routes under
    /_admin)."""
    if ats == "oauth":  # issue 18: a local Google / Microsoft OAuth provider
        from outbound.simulators.oauth.profiles import PROFILES
        from outbound.simulators.oauth.serve import serve

        names = profile or ["google"]
        if len(names) != 1 or names[0] not in PROFILES:
            _fail(f"oauth takes one --profile: {' or '.join(PROFILES)}")
            return
        serve(names[0], host=host, port=port)
        return
    import uvicorn

    from outbound.connectors.registry import simulator_factory, spec_of
    from outbound.simulators.harness import FaultConfig, RateLimitConfig, UnknownProfile

    faults = FaultConfig(
        seed=fault_seed,
        error_rate=error_rate,
        drop_rate=drop_rate,
        commit_then_fail_rate=commit_then_fail_rate,
        latency_ms=latency_ms,
    )
    limit = RateLimitConfig(requests_per_second=rate)
    try:
        spec = spec_of(ats)
        factory = simulator_factory(spec)
        sim = factory(seed=seed, faults=faults, rate_limit=limit, profiles=profile or ())
    except (ValueError, UnknownProfile) as exc:
        _fail(str(exc))
        return
    console.print(f"profiles: {', '.join(sorted(sim.profiles.active)) or 'none'}")
    console.print(
        f"{spec.title} simulator: API at http://{host}:{port}{spec.simulator_api_root}  "
        f"(seed: {seed}; keys: /_admin/keys; profiles: /_admin/profiles)"
    )
    creds = ", ".join(f"{k}={v}" for k, v in spec.simulator_credentials.items())
    console.print(f"connect Outbound to it with: {creds}")
    uvicorn.run(sim, host=host, port=port, log_level="warning")


def _credentials(provider: str, given: list[str]) -> dict[str, str]:
    """`--credential name=value` pairs; a missing one is asked for (typed input hidden)."""
    from outbound.connectors.registry import spec_of

    fields = {f.name: f for f in spec_of(provider).credentials}
    credentials: dict[str, str] = {}
    for pair in given:
        name, sep, value = pair.partition("=")
        if not sep or name not in fields:
            _fail(f"--credential takes name=value with a name among: {', '.join(fields)}")
        credentials[name] = value
    for name, spec_field in fields.items():
        if not credentials.get(name):
            credentials[name] = typer.prompt(
                f"{name} ({spec_field.help})", hide_input=spec_field.secret
            )
    return credentials


@app.command()
def doctor(
    ats: Annotated[str, typer.Argument(help="crelate or clockwork")],
    credential: Annotated[
        list[str] | None,
        typer.Option("--credential", "-c", help="name=value, e.g. api_key=…; asked if missing"),
    ] = None,
    base_url: Annotated[
        str | None, typer.Option(help="The ATS API root (default: the configured one)")
    ] = None,
    write: Annotated[
        bool,
        typer.Option(help="Also run the write probes, in throw-away records deleted afterwards"),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON")] = False,
) -> None:
    """Check every unverified ATS fact against your account, and which simulator profile it
    matches. Read-only unless --write. Paste the table into a bug report."""
    import json

    from rich.table import Table

    from outbound.domain.vocabulary import PROVIDER_TITLES, PROVIDERS
    from outbound.service.doctor import diagnose

    if ats not in PROVIDERS:
        _fail(f"ats must be one of {', '.join(PROVIDERS)}")
    settings = _settings()
    if base_url:
        settings = settings.model_copy(update={f"{ats}_base_url": base_url})
    report = asyncio.run(diagnose(ats, _credentials(ats, credential or []), settings, write=write))
    if as_json:
        console.print_json(json.dumps(report.as_dict()))
    else:
        table = Table(title=f"outbound doctor: {PROVIDER_TITLES[ats]}")
        for column in ("probe", "result", "detail", "profile"):
            table.add_column(column)
        colours = {"holds": "green", "differs": "yellow", "skipped": "dim", "failed": "red"}
        for r in report.results:
            outcome = f"[{colours[r.outcome]}]{r.outcome}[/]"
            table.add_row(r.name, outcome, r.detail, r.profile or "")
        console.print(table)
        console.print(f"matches simulator profiles: {', '.join(report.profiles) or 'defaults'}")
        for path in report.left_behind:
            console.print(f"[yellow]not deleted:[/yellow] {path} (remove it by hand)")
    if report.error:
        _fail(report.error)


@app.command()
def prune(
    days: Annotated[
        int | None,
        typer.Option(
            help="Prune what is older than this many days [default: OUTBOUND_RETENTION_DAYS]"
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count what would be pruned; delete nothing")
    ] = False,
) -> None:
    """Prune finished sync jobs, ATS call logs and email events older than the retention window,
    a small chunk per transaction (the workers also do it in the background). Each contact's
    timeline keeps a summary of what was removed."""
    from rich.table import Table
    from sqlalchemy.exc import DBAPIError

    from outbound.service.retention import PruneReport, count_prunable, prune_once
    from outbound.settings import MAX_RETENTION_DAYS, MIN_RETENTION_DAYS
    from outbound.store.db import Database

    settings = _settings()
    if days is None:
        days = settings.retention_days
        if days == 0:
            console.print("retention is off (OUTBOUND_RETENTION_DAYS=0): nothing pruned")
            return
    elif not MIN_RETENTION_DAYS <= days <= MAX_RETENTION_DAYS:
        _fail(
            f"--days must be between {MIN_RETENTION_DAYS} and {MAX_RETENTION_DAYS}, not {days} "
            "(the dashboard charts the last two weeks of email events)"
        )
    db = Database(settings.resolved_database_url, settings.database_lock_timeout_seconds)
    report = PruneReport(days=days)
    verb = "would prune" if dry_run else "pruned"
    try:
        with console.status(f"{verb}: 0 rows") as status:

            def show(progress: PruneReport) -> None:
                status.update(f"{verb}: {progress.total:,} rows, {progress.chunks} chunks")

            if dry_run:
                report = count_prunable(db, days, progress=show)
            else:
                settings = settings.model_copy(update={"retention_days": days})
                step = prune_once(db, settings)
                while True:
                    report.add(step)
                    show(report)
                    if not step.more:
                        break
                    # Finish the sweeps still going, without starting the others again.
                    step = prune_once(db, settings, tables=step.unfinished)
    except DBAPIError as exc:
        _fail(f"the database refused the work ({type(exc.orig).__name__}); is it migrated?")
    finally:
        db.dispose()
    table = Table(
        title=f"outbound prune: older than {days} days" + (" (dry run)" if dry_run else "")
    )
    for column in ("what", verb, "kept (still needed)"):
        table.add_column(column, justify="left" if column == "what" else "right")
    words = {
        "sync_jobs": "finished sync jobs",
        "sync_calls": "ATS call logs",
        "activity_events": "email events",
    }
    for name, what in words.items():
        table.add_row(what, f"{report.pruned[name]:,}", f"{report.kept[name]:,}")
    console.print(table)
    if not dry_run:
        console.print(f"timeline summaries created: {report.summaries:,}")


@app.command()
def demo(
    reset: Annotated[bool, typer.Option(help="Start from fresh demo data")] = False,
    port: Annotated[int, typer.Option()] = 8000,
    data_dir: Annotated[Path, typer.Option()] = Path("./outbound-demo"),
    contacts: Annotated[int, typer.Option(min=2, max=5000, help="Sample contacts")] = 300,
) -> None:
    """Start the whole product with sample data: web app, worker and both ATS simulators."""
    from outbound.demo import run_demo

    run_demo(data_dir=data_dir, port=port, reset=reset, contacts=contacts)


if __name__ == "__main__":  # pragma: no cover
    app()
