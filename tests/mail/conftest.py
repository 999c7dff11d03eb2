"""Real mail servers for the mail tests: an aiosmtpd SMTP server that keeps what it is sent,
and a throw-away dovecot IMAP server that replies are delivered to."""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import imaplib
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage, Message
from email.utils import make_msgid
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

from outbound.mail.worker import MailWorker
from outbound.settings import Settings
from outbound.simulators.mail.xoauth2 import Introspection, XOAuth2Mixin
from outbound.simulators.oauth import create_oauth_app
from outbound.simulators.oauth.app import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from outbound.simulators.server import ServerThread
from outbound.store.db import Database
from tests.conftest import Team
from tests.mail import dovecot
from tests.mail.dovecot import PASSWORD as IMAP_PASSWORD

SMTP_USER = "sender@acme.test"
SMTP_PASSWORD = "smtp-test-password"


@dataclass
class SmtpSink:
    """What the SMTP server accepted, and knobs to make it refuse or misbehave."""

    port: int
    messages: list[Message] = field(default_factory=list)
    refuse: dict[str, tuple[int, str]] = field(default_factory=dict)  # rcpt -> reply
    on_data: Callable[[Message], None] | None = None

    def to(self, address: str) -> list[Message]:
        return [m for m in self.messages if str(m["To"]).lower() == address.lower()]


class _Handler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_RCPT(
        self, server: Any, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if address.lower() in self.sink.refuse:
            code, text = self.sink.refuse[address.lower()]
            return f"{code} {text}"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        self.sink.messages.append(msg)
        if self.sink.on_data is not None:
            await asyncio.to_thread(self.sink.on_data, msg)
        return "250 Message accepted"


def _authenticator(
    server: Any, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login.decode() == SMTP_USER
        and auth_data.password.decode() == SMTP_PASSWORD
    )
    return AuthResult(success=ok, handled=False)  # aiosmtpd then answers 535 itself


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    sink = SmtpSink(port=dovecot.free_port())
    controller = Controller(
        _Handler(sink),
        hostname="127.0.0.1",
        port=sink.port,
        authenticator=_authenticator,
        auth_require_tls=False,
    )
    controller.start()
    yield sink
    controller.stop()


@pytest.fixture(scope="session")
def imap_server() -> Iterator[dovecot.Dovecot]:
    if not dovecot.available():
        pytest.fail("dovecot is not installed: scripts/test installs dovecot-imapd")
    # Not under pytest's 0700 temp dir: as root, dovecot stores mail as `nobody`.
    server = dovecot.start(Path(tempfile.mkdtemp(prefix="outbound-dovecot-")))
    yield server
    server.stop()
    shutil.rmtree(server.base, ignore_errors=True)


@dataclass
class ImapUser:
    port: int
    user: str

    def _conn(self) -> imaplib.IMAP4:
        conn = imaplib.IMAP4("127.0.0.1", self.port)
        conn.login(self.user, IMAP_PASSWORD)
        return conn

    def deliver(self, msg: Message | bytes, folder: str = "INBOX") -> None:
        """Put a message into the mailbox the way a mail server's delivery would."""
        raw = msg if isinstance(msg, bytes) else msg.as_bytes()
        conn = self._conn()
        try:
            status, data = conn.append(folder, None, None, raw)
            assert status == "OK", data
        finally:
            conn.logout()


@pytest.fixture
def imap_user(imap_server: dovecot.Dovecot) -> ImapUser:
    return ImapUser(imap_server.port, f"rec-{uuid.uuid4().hex[:10]}@acme.example.com")


def mailbox_body(sink: SmtpSink, imap: ImapUser, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "email": imap.user,
        "from_name": "Olivia Owner",
        "smtp_host": "127.0.0.1",
        "smtp_port": sink.port,
        "smtp_security": "none",
        "smtp_username": SMTP_USER,
        "smtp_password": SMTP_PASSWORD,
        "imap_host": "127.0.0.1",
        "imap_port": imap.port,
        "imap_security": "none",
        "imap_username": imap.user,
        "imap_password": IMAP_PASSWORD,
        "time_zone": "UTC",
        "window_start": "00:00",
        "window_end": "00:00",
        "send_days": [0, 1, 2, 3, 4, 5, 6],
        "daily_limit": 5000,
    }
    body.update(overrides)
    return body


def connect_mailbox(
    team: Team, sink: SmtpSink, imap: ImapUser, role: str = "owner", **overrides: Any
) -> dict[str, Any]:
    r = team.call("PUT", "/mailbox", role, json=mailbox_body(sink, imap, **overrides))
    assert r.status_code == 200, r.text
    return dict(r.json())


@pytest.fixture
def mail_settings(settings: Settings) -> Settings:
    # One sequence day = 0.2 s, so three-step sequences run in a second; tracking links point
    # at the in-process API.
    settings.mail_day_seconds = 0.2
    settings.public_url = "http://testserver"
    settings.mail_poll_seconds = 0
    return settings


@pytest.fixture
def mail_worker(db: Database, mail_settings: Settings) -> MailWorker:
    return MailWorker(db, mail_settings, lease_seconds=5)


def tick(worker: MailWorker) -> None:
    """One round of the mail worker: plan and send what is due, read the mailboxes."""

    async def run() -> None:
        await worker.send_due()
        await worker.poll_all(force=True)

    asyncio.run(run())


def run_until(worker: MailWorker, done: Callable[[], bool], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        tick(worker)
        if done():
            return
        time.sleep(0.05)
    raise AssertionError("mail work did not reach the expected state in time")


def reply_to(
    original: Message, text: str, sender: str | None = None, **headers: str
) -> EmailMessage:
    """A reply as a mail client writes it: threading headers, quoted original."""
    msg = EmailMessage()
    msg["From"] = sender or str(original["To"])
    msg["To"] = str(original["From"])
    msg["Subject"] = "Re: " + str(original["Subject"]).removeprefix("Re: ")
    msg["Message-ID"] = make_msgid(domain="talent.example.com")
    msg["In-Reply-To"] = str(original["Message-ID"])
    msg["References"] = " ".join(
        x for x in (original.get("References"), original["Message-ID"]) if x
    )
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(f"{text}\n\nOn Mon, 23 Nov 2026 at 10:00, Olivia wrote:\n> earlier text\n")
    return msg


@pytest.fixture
def corpus_dir() -> Path:
    return Path(__file__).parent / "corpus"


# -- OAuth (issue 18): the provider simulator, and mail servers that take its tokens -----------


@dataclass
class OAuthProvider:
    """The OAuth simulator on a socket (Google profile), seen from a test."""

    url: str

    @property
    def introspection(self) -> Introspection:
        return Introspection(self.url + "/introspect", DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)

    def admin(self, method: str, path: str, **kw: Any) -> Any:
        r = httpx.request(method, f"{self.url}/_admin{path}", timeout=10, **kw)
        assert r.status_code < 300, r.text
        return r.json()

    def new_account(self) -> str:
        email_address = f"oauth-{uuid.uuid4().hex[:10]}@acme.example.com"
        self.admin("POST", "/accounts", json={"email": email_address})
        return email_address

    def tokens(self, email_address: str) -> dict[str, Any]:
        """An access and a refresh token for the account (the browser flow is tested in
        tests/test_oauth_simulator.py)."""
        return dict(self.admin("POST", "/grants", json={"email": email_address}))


@pytest.fixture(scope="session")
def oauth_provider() -> Iterator[OAuthProvider]:
    server = ServerThread(create_oauth_app("google")).start()
    yield OAuthProvider(server.url)
    server.stop()


class _OAuthHandler(XOAuth2Mixin, _Handler):
    def __init__(self, sink: SmtpSink, introspection: Introspection) -> None:
        super().__init__(sink)
        self.xoauth2 = introspection


@contextlib.contextmanager
def xoauth2_sink(provider: OAuthProvider) -> Iterator[SmtpSink]:
    """The test SMTP server, taking XOAUTH2 tokens ``provider`` issued as well as the password."""
    sink = SmtpSink(port=dovecot.free_port())
    controller = Controller(
        _OAuthHandler(sink, provider.introspection),
        hostname="127.0.0.1",
        port=sink.port,
        authenticator=_authenticator,
        auth_require_tls=False,
    )
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()


@pytest.fixture
def xoauth2_smtp_sink(oauth_provider: OAuthProvider) -> Iterator[SmtpSink]:
    with xoauth2_sink(oauth_provider) as sink:
        yield sink


@pytest.fixture(scope="session")
def oauth_imap_server(oauth_provider: OAuthProvider) -> Iterator[dovecot.Dovecot]:
    """Dovecot whose oauth2 passdb asks the simulator's introspection (Basic client auth)."""
    if not dovecot.available():
        pytest.fail("dovecot is not installed: scripts/test installs dovecot-imapd")
    credentials = f"{DEFAULT_CLIENT_ID}:{DEFAULT_CLIENT_SECRET}@"
    introspection_url = oauth_provider.url.replace("://", "://" + credentials) + "/introspect"
    server = dovecot.start(
        Path(tempfile.mkdtemp(prefix="outbound-dovecot-oauth-")),
        oauth2_introspection_url=introspection_url,
    )
    yield server
    server.stop()
    shutil.rmtree(server.base, ignore_errors=True)


def xoauth2_string(user: str, token: str) -> bytes:
    """The XOAUTH2 initial response, before base64 (imaplib encodes it itself)."""
    return f"user={user}\x01auth=Bearer {token}\x01\x01".encode()


def imap_xoauth2(port: int, user: str, token: str) -> imaplib.IMAP4:
    """Log in to IMAP with XOAUTH2; a refused token raises imaplib.IMAP4.error."""
    answered: list[bytes] = []

    def respond(challenge: bytes) -> bytes:
        # First the credentials; to the error challenge of a refused token, an empty answer.
        if answered:
            return b""
        answered.append(challenge)
        return xoauth2_string(user, token)

    conn = imaplib.IMAP4("127.0.0.1", port)
    try:
        conn.authenticate("XOAUTH2", respond)
    except imaplib.IMAP4.error:
        conn.shutdown()
        raise
    return conn
