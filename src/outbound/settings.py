"""Runtime settings, read from ``OUTBOUND_*`` environment variables.

Nothing needs configuring for a local start: data lives in ``./outbound-data`` and the
secret key that encrypts ATS credentials is generated there on first start and kept.
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path

from cryptography.fernet import Fernet
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MIN_RETENTION_DAYS = 30
MAX_RETENTION_DAYS = 36_500


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OUTBOUND_", extra="ignore")

    data_dir: Path = Path("./outbound-data")
    database_url: str | None = None
    # How long a statement waits for a lock another transaction holds before it fails (SQLite's
    # busy timeout, PostgreSQL's lock_timeout). A worker then retries the job later, uncounted.
    database_lock_timeout_seconds: float = 30.0
    secret_key: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    # Worker knobs: how many jobs may be in flight, how long a claim lasts. Each connection's
    # own share is about a second of its pacing (sync/worker._claim_plan); this caps the sum,
    # so that 50 connections at 5 req/s and 150 ms per call (~0.3 s a job) keep their pace.
    worker_concurrency: int = 256
    worker_batch_size: int = 64
    lease_seconds: int = 60
    # Per ATS credential, requests per second the worker allows itself (limits undocumented);
    # unset: the ATS's registry default (outbound.connectors.registry).
    crelate_rate_per_second: float | None = None
    clockwork_rate_per_second: float | None = None
    # Where the connectors send requests; point them at a simulator in the demo and the tests.
    # Unset: the real API. Any other registered ATS: OUTBOUND_ATS_BASE_URLS='{"name": "…"}'.
    crelate_base_url: str | None = None
    clockwork_base_url: str | None = None
    ats_base_urls: dict[str, str] = {}
    # The web address of an ATS record, for "Open in Crelate" on the contact page: {id} is the
    # record's id; {firm} Clockwork's subdomain; {host} the ATS host the connection calls.
    # Unset: the connector's unverified pattern (shown as unconfirmed), for the real API only.
    # e.g. https://app.crelate.com/go#stage/_Contacts/DefaultView/{id}/summary
    crelate_record_url: str | None = None
    clockwork_record_url: str | None = None
    ats_rates_per_second: dict[str, float] = {}
    max_attempts: int = 12
    # json (one object per line, for log collectors) or text.
    log_format: str = "json"
    # Mail. public_url is where tracking, click and unsubscribe links point (behind a proxy:
    # the public https address). One sequence "day" is mail_day_seconds (the demo compresses it).
    public_url: str | None = None
    mail_day_seconds: float = 86_400.0
    mail_poll_seconds: float = 60.0
    soft_bounce_limit: int = 3
    mail_max_attempts: int = 8
    # How long a send may stay "sending" before another worker treats its owner as dead.
    mail_lease_seconds: float = 120.0
    # A local Maildir as a mailbox's inbound side: for self-hosted delivery and the demo only,
    # since it reads a server path.
    allow_maildir: bool = False
    # Retention: finished sync jobs, ATS call logs and email events older than this many days
    # are pruned in the background (each contact's timeline keeps a summary); 0 keeps all.
    # At least MIN_RETENTION_DAYS: the dashboard charts the last two weeks of events.
    retention_days: int = 90
    # The largest request body accepted (bytes); a larger one is answered 413 before it is
    # read. 16 MiB: three times a 10,000-contact add with every field and five variables filled
    # (5.3 MiB; 0.8 MiB with email and names only), a sixth of the 100 MB that once filled
    # the server's memory.
    max_request_bytes: int = Field(default=16 * 1024 * 1024, ge=64 * 1024)
    # /metrics shows every team's job counts: with a token set a scrape must bring it
    # (Authorization: Bearer …); without one only this host (127.0.0.1, ::1) may scrape.
    metrics_token: str | None = None
    # Invalid API tokens one client address may present in 15 minutes before it must wait
    # (30 s, doubling to 15 minutes).
    api_token_failures_per_address: int = Field(default=20, ge=1)
    # Mailboxes connected by OAuth 2.0 (issue 18): each provider is offered once its client id
    # and secret are set (README, "Connecting Google and Microsoft mailboxes"). The discovery
    # URLs default to the real providers' (Microsoft: a tenant id instead of "common" keeps
    # sign-ins to one organisation); the demo and tests point them at the OAuth simulator.
    google_client_id: str | None = None
    google_client_secret: SecretStr | None = None
    google_discovery_url: str | None = None
    microsoft_client_id: str | None = None
    microsoft_client_secret: SecretStr | None = None
    microsoft_discovery_url: str | None = None
    # Where the providers send the browser back; registered with each provider. Unset:
    # public_url + /mailbox/oauth/callback.
    oauth_redirect_url: str | None = None
    # host:port:security for every OAuth mailbox's SMTP and IMAP instead of the provider's
    # (the demo and tests: local servers that take the simulator's tokens).
    oauth_smtp_server: str | None = None
    oauth_imap_server: str | None = None
    # The demo only (with allow_maildir): OAuth mailboxes read replies from <this>/<address>,
    # a local Maildir, instead of IMAP.
    oauth_inbound_maildir: Path | None = None

    @field_validator("crelate_record_url", "clockwork_record_url")
    @classmethod
    def _record_url_pattern(cls, pattern: str | None) -> str | None:
        from outbound.connectors.record_links import pattern_problem

        problem = pattern_problem(pattern) if pattern else None
        if problem:
            raise ValueError(problem)
        return pattern or None

    @field_validator("retention_days")
    @classmethod
    def _retention_window(cls, days: int) -> int:
        if days != 0 and not MIN_RETENTION_DAYS <= days <= MAX_RETENTION_DAYS:
            raise ValueError(
                f"must be 0 (keep everything) or {MIN_RETENTION_DAYS} to {MAX_RETENTION_DAYS}"
            )
        return days

    @property
    def resolved_oauth_redirect_url(self) -> str:
        return self.oauth_redirect_url or self.resolved_public_url + "/mailbox/oauth/callback"

    @property
    def resolved_public_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'outbound.db').resolve()}"

    @cached_property
    def fernet_key(self) -> bytes:
        """The key that encrypts secrets at rest; generated once and kept in the data dir."""
        if self.secret_key:
            return self.secret_key.encode()
        key_file = self.data_dir / "secret.key"
        if key_file.exists():
            return key_file.read_bytes().strip()
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)  # new: private to us
        key = Fernet.generate_key()
        # Write with 0600 so the key is readable only by the service user.
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(key)
        return key
