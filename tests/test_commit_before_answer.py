"""Issue 14: every API request commits before it answers, a commit that fails never answers a
2xx, and no database transaction is open while a mail server is being waited for.

Driven through the REST API as a client would: a real server on a socket where the order of
"answer sent" and "committed" matters, and slow mail servers that stall until the test lets
them go (assertions are on what completed first, never on how long anything took)."""

from __future__ import annotations

import contextlib
import re
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, event, select, text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from outbound.api.app import create_app
from outbound.api.schemas import ErrorOut
from outbound.settings import Settings
from outbound.simulators.server import ServerThread
from outbound.store.db import Database
from outbound.store.models import Sequence
from tests.conftest import Team
from tests.mail import conftest as mail
from tests.mail.conftest import ImapUser, SmtpSink, mailbox_body

# The mail tests' real servers (aiosmtpd, dovecot), as fixtures here too.
smtp_sink = mail.smtp_sink
imap_server = mail.imap_server
imap_user = mail.imap_user

SEQUENCE = {
    "name": "Commit first",
    "steps": [{"subject": "Hi {{first_name}}", "body": "Hello", "delay_days": 0}],
}


# -- helpers ---------------------------------------------------------------------------------
class SequenceCommits:
    """Hooks on the commit of the app's transaction that inserts a sequence (and no other)."""

    def __init__(self, db: Database, on_commit: Callable[[], None]) -> None:
        self.db = db
        self.on_commit = on_commit

    def _flushed(self, session: Session, _ctx: Any) -> None:
        if any(isinstance(o, Sequence) for o in session.new):
            session.info["inserts_sequence"] = True

    def _committing(self, session: Session) -> None:
        if session.info.pop("inserts_sequence", False):
            self.on_commit()

    def __enter__(self) -> SequenceCommits:
        event.listen(self.db.sessions, "after_flush", self._flushed)
        event.listen(self.db.sessions, "before_commit", self._committing)
        return self

    def __exit__(self, *_: object) -> None:
        event.remove(self.db.sessions, "after_flush", self._flushed)
        event.remove(self.db.sessions, "before_commit", self._committing)


def plain_engine(url: str) -> Engine:
    """Another connection, outside the app's pool and without its BEGIN IMMEDIATE: it reads
    what is committed right now, without waiting for anybody's lock."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return create_engine(url)


@pytest.fixture
def server(settings: Settings, db: Database) -> Iterator[ServerThread]:
    live = ServerThread(create_app(settings, db)).start()
    yield live
    live.stop()


@pytest.fixture
def live_team(server: ServerThread, db: Database) -> Iterator[Team]:
    with httpx.Client(base_url=server.url, timeout=120) as http:
        yield Team(http, db)  # type: ignore[arg-type]  # the same .request() as a TestClient


def in_thread(
    action: Callable[[], httpx.Response], done: list[str], name: str
) -> tuple[threading.Thread, dict[str, httpx.Response]]:
    """Run one request in a thread; its name goes into ``done`` when its answer arrives."""
    result: dict[str, httpx.Response] = {}

    def run() -> None:
        result["response"] = action()
        done.append(name)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, result


class StallingServer:
    """A mail server that accepts the connection, then says nothing until released; released,
    it relays to ``upstream`` (a real server) or, without one, refuses with a 554."""

    def __init__(self, upstream: int | None = None) -> None:
        self.upstream = upstream
        self.accepted = threading.Event()
        self.release = threading.Event()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = int(self.sock.getsockname()[1])
        self.conns: list[socket.socket] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        self.accepted.set()
        self.release.wait(120)  # a cap only so that a broken test cannot hang for ever
        if self.upstream is None:
            conn.sendall(b"554 5.3.2 not accepting connections\r\n")
            conn.close()
            return
        up = socket.create_connection(("127.0.0.1", self.upstream))
        self.conns.append(up)

        def pump(a: socket.socket, b: socket.socket) -> None:
            try:
                while data := a.recv(65536):
                    b.sendall(data)
            except OSError:
                pass
            finally:
                for s in (a, b):
                    with contextlib.suppress(OSError):
                        s.shutdown(socket.SHUT_RDWR)

        threading.Thread(target=pump, args=(up, conn), daemon=True).start()
        pump(conn, up)

    def wait_for(self, thread: threading.Thread, result: dict[str, httpx.Response]) -> None:
        """Until the request in ``thread`` is connected here (and so waiting for us)."""
        while not self.accepted.wait(0.05):
            assert thread.is_alive(), f"answered without calling the server: {result}"

    def close(self) -> None:
        self.release.set()
        self.sock.close()
        for c in self.conns:
            c.close()


@pytest.fixture
def stalling() -> Iterator[Callable[..., StallingServer]]:
    made: list[StallingServer] = []

    def make(upstream: int | None = None) -> StallingServer:
        made.append(StallingServer(upstream))
        return made[-1]

    yield make
    for s in made:
        s.close()


def open_transactions(db: Database) -> int:
    """Transactions open in the database right now, from any connection but this probe's."""
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect() as conn:
            return int(
                conn.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                        " AND pid <> pg_backend_pid() AND state LIKE 'idle in transaction%'"
                    )
                ).scalar_one()
            )
    # SQLite: every transaction of the app holds the write lock; try to take it, not waiting.
    import sqlite3

    raw = sqlite3.connect(db.engine.url.database or "", timeout=0, isolation_level=None)
    try:
        raw.execute("BEGIN IMMEDIATE")
        raw.execute("ROLLBACK")
        return 0
    except sqlite3.OperationalError:
        return 1
    finally:
        raw.close()


# -- (a) a commit that fails answers an error, never a 2xx -----------------------------------
@pytest.mark.parametrize(
    ("failure", "status"),
    [
        (OperationalError("COMMIT", {}, Exception("server closed the connection")), 503),
        (RuntimeError("the commit hook failed"), 500),
        (IntegrityError("COMMIT", {}, Exception("deferred constraint violated")), 409),
    ],
    ids=["connection-lost", "unexpected", "constraint"],
)
def test_a_commit_that_fails_answers_an_error_body_and_stores_nothing(
    settings: Settings, db: Database, failure: Exception, status: int
) -> None:
    # Not raised into the test: the client sees exactly what an HTTP client would.
    with TestClient(create_app(settings, db), raise_server_exceptions=False) as client:
        team = Team(client, db)
        fired: list[bool] = []

        def refuse() -> None:
            if not fired:
                fired.append(True)
                raise failure

        with SequenceCommits(db, refuse):
            r = team.call("POST", "/sequences", json=SEQUENCE)
        assert fired, "the commit was never reached"
        assert r.status_code == status, r.text
        error = ErrorOut.model_validate(r.json())
        assert error.detail and "Traceback" not in r.text
        assert team.call("GET", "/sequences").json() == []  # nothing was stored

        # The database took the next one: the app recovered, it answers 201 and stores it.
        again = team.call("POST", "/sequences", json=SEQUENCE)
        assert again.status_code == 201, again.text
        assert [s["id"] for s in team.call("GET", "/sequences").json()] == [again.json()["id"]]


# -- (b) a 2xx means committed: visible on any other connection at once ----------------------
def test_b_a_created_sequence_is_visible_on_another_connection_at_once(
    live_team: Team, server: ServerThread, db: Database
) -> None:
    # The commit is held back until the test has looked (or for a second, when the answer
    # cannot arrive before the commit: the fixed behaviour). Before the fix the 201 arrived
    # while the transaction was still open, and other connections did not see the sequence.
    looked = threading.Event()
    with SequenceCommits(db, lambda: looked.wait(1.0)):
        r = live_team.call("POST", "/sequences", json=SEQUENCE)
        assert r.status_code == 201, r.text
        seq_id = r.json()["id"]
        reader = plain_engine(db.url)
        try:
            with reader.connect() as conn:
                seen = conn.execute(select(Sequence.name).where(Sequence.id == seq_id)).all()
        finally:
            looked.set()
            reader.dispose()
    assert seen == [(SEQUENCE["name"],)]
    with httpx.Client(base_url=server.url, timeout=60) as other:  # another HTTP connection
        got = other.get(f"/api/v1/sequences/{seq_id}", headers=live_team.headers())
    assert (got.status_code, got.json()["name"]) == (200, SEQUENCE["name"])


# -- (c) no transaction is open while a mail server is being waited for ----------------------
def test_c_a_slow_smtp_server_holds_up_no_other_write(
    live_team: Team, db: Database, stalling: Callable[..., StallingServer]
) -> None:
    slow = stalling()
    body = mailbox_body(
        SmtpSink(port=slow.port), ImapUser(port=1, user="slow@acme.example.com"), imap_port=1
    )
    done: list[str] = []
    put, put_result = in_thread(lambda: live_team.call("PUT", "/mailbox", json=body), done, "put")
    try:
        slow.wait_for(put, put_result)
        # The PUT is waiting for the mail server right now: nothing holds a transaction open.
        assert open_transactions(db) == 0
        post, post_result = in_thread(
            lambda: live_team.call("POST", "/sequences", json=SEQUENCE), done, "post"
        )
        post.join(90)
        assert done == ["post"], "the other write waited for the mail server"
        assert post_result["response"].status_code == 201, post_result["response"].text
    finally:
        slow.release.set()
        put.join(90)
    assert done == ["post", "put"]
    refused = put_result["response"]
    assert (refused.status_code, refused.json()["field"]) == (400, "smtp_host"), refused.text
    assert live_team.call("GET", "/mailbox").status_code == 404  # nothing was saved


def test_c_a_mailbox_changed_while_it_was_being_verified_is_not_overwritten(
    live_team: Team,
    db: Database,
    smtp_sink: SmtpSink,
    imap_user: ImapUser,
    stalling: Callable[..., StallingServer],
) -> None:
    first = live_team.call("PUT", "/mailbox", json=mailbox_body(smtp_sink, imap_user))
    assert first.status_code == 200, first.text

    # A change that keeps the saved passwords, verified through a slow relay to the same server.
    slow = stalling(upstream=smtp_sink.port)
    keep_passwords = mailbox_body(smtp_sink, imap_user, smtp_port=slow.port, daily_limit=50)
    del keep_passwords["smtp_password"], keep_passwords["imap_password"]
    done: list[str] = []
    put, put_result = in_thread(
        lambda: live_team.call("PUT", "/mailbox", json=keep_passwords), done, "slow"
    )
    try:
        slow.wait_for(put, put_result)
        # Meanwhile another tab saves other settings: it completes at once.
        other = live_team.call(
            "PUT", "/mailbox", json=mailbox_body(smtp_sink, imap_user, daily_limit=70)
        )
        assert (other.status_code, done) == (200, []), other.text
    finally:
        slow.release.set()
        put.join(90)
    # The slow one verified fine, but what it was built on changed: it saves nothing.
    stale = put_result["response"]
    assert (stale.status_code, stale.json()["field"]) == (409, "mailbox"), stale.text
    shown = live_team.call("GET", "/mailbox").json()
    assert (shown["daily_limit"], shown["smtp_port"]) == (70, smtp_sink.port)

    # Nothing changing meanwhile (and the relay no longer stalling), the same change is saved.
    again = live_team.call("PUT", "/mailbox", json=keep_passwords)
    assert (again.status_code, again.json()["daily_limit"]) == (200, 50), again.text


# -- the web twin: the Mailbox page ----------------------------------------------------------
def _signed_in(server: ServerThread, db: Database, team: Team) -> httpx.Client:
    """A browser-like client signed in as the team's owner (cookie session, CSRF token)."""
    from outbound.store.models import User
    from outbound.web.session import hash_password

    with db.session() as session:
        user = session.get(User, team.user_ids["owner"])
        assert user is not None
        user.password_hash = hash_password("pw-owner-123")
        email = user.email
    web = httpx.Client(base_url=server.url, timeout=120)
    form = {"email": email, "password": "pw-owner-123", "csrf_token": _csrf(web.get("/login"))}
    assert web.post("/login", data=form).status_code == 303
    return web


def _csrf(page: httpx.Response) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match, page.text
    return match.group(1)


def test_the_mailbox_page_checks_the_servers_with_no_transaction_open_and_never_overwrites(
    live_team: Team,
    server: ServerThread,
    db: Database,
    smtp_sink: SmtpSink,
    imap_user: ImapUser,
    stalling: Callable[..., StallingServer],
) -> None:
    assert live_team.call("PUT", "/mailbox", json=mailbox_body(smtp_sink, imap_user)).is_success
    slow = stalling(upstream=smtp_sink.port)
    web = _signed_in(server, db, live_team)
    try:
        form = {
            k: str(v)
            for k, v in mailbox_body(
                smtp_sink, imap_user, smtp_port=slow.port, daily_limit=50
            ).items()
            if k not in ("send_days", "smtp_password", "imap_password")
        }
        form["csrf_token"] = _csrf(web.get("/mailbox"))
        form["send_days"] = "0"
        done: list[str] = []
        post, post_result = in_thread(lambda: web.post("/mailbox", data=form), done, "page")
        try:
            slow.wait_for(post, post_result)
            assert open_transactions(db) == 0
            other = live_team.call(
                "PUT", "/mailbox", json=mailbox_body(smtp_sink, imap_user, daily_limit=70)
            )
            assert (other.status_code, done) == (200, []), other.text
        finally:
            slow.release.set()
            post.join(90)
    finally:
        web.close()
    page = post_result["response"]
    assert page.status_code == 422, page.text
    assert "changed while these settings were being checked" in page.text
    assert live_team.call("GET", "/mailbox").json()["daily_limit"] == 70


def test_a_web_form_whose_commit_fails_answers_an_error_not_a_redirect(
    live_team: Team, server: ServerThread, db: Database
) -> None:
    web = _signed_in(server, db, live_team)
    try:
        form = {
            "csrf_token": _csrf(web.get("/sequences/new")),
            "name": "From the page",
            "subject_0": "Hi",
            "body_0": "Hello",
            "delay_0": "0",
        }

        def refuse() -> None:
            raise OperationalError("COMMIT", {}, Exception("server closed the connection"))

        with SequenceCommits(db, refuse):
            r = web.post("/sequences/new", data=form)
        assert r.status_code == 503, r.text
        assert "unavailable" in r.text and "Traceback" not in r.text
        assert live_team.call("GET", "/sequences").json() == []
        created = web.post("/sequences/new", data=form)  # the next one goes through
        assert created.status_code == 303, created.text
    finally:
        web.close()
    assert [s["name"] for s in live_team.call("GET", "/sequences").json()] == ["From the page"]
