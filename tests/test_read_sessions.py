"""Read-only sessions (issue 15's load target): a page or API read that never writes runs in
``Database.read_session()``. On SQLite it does not wait for the write lock (WAL snapshot), so it
answers while a big add or resync holds it; on both engines any write inside it is refused.

Behaviour only: a writer holds its transaction open on an Event while the read happens; a read
that waited for it would fail with "database is locked" after the short lock timeout given here
(it can never be released first: the writer waits for the read to finish)."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import DBAPIError

from outbound.api.app import create_app
from outbound.settings import Settings
from outbound.store.db import Database
from outbound.store.models import ApiToken, Team, User
from outbound.web.session import hash_password
from tests.conftest import Team as ApiTeam
from tests.test_api_core import make_sequence

LOCK_TIMEOUT = 2.0  # a read that waited for the writer would fail after this
READ_ONLY = r"(?i)read.?only"  # SQLite: "readonly database"; PostgreSQL: "read-only transaction"


@pytest.fixture
def impatient(db: Database) -> Iterator[Database]:
    """The same database with a short lock wait (the default is 30 s)."""
    other = Database(db.url, lock_timeout=LOCK_TIMEOUT)
    yield other
    other.dispose()


@contextmanager
def write_held_open(db: Database, name: str = "Held") -> Iterator[None]:
    """Another thread is inside a write transaction (it has written, not committed) until the
    block ends; on SQLite it holds the write lock."""
    inside, release, failed = threading.Event(), threading.Event(), []

    def hold() -> None:
        try:
            with db.session() as s:
                s.add(Team(name=name))
                s.flush()
                inside.set()
                release.wait(60)
        except Exception as exc:  # pragma: no cover - reported below
            failed.append(exc)
            inside.set()

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    assert inside.wait(30)
    assert not failed, failed
    try:
        yield
    finally:
        release.set()
        thread.join(30)
    assert not failed, failed


def teams(db: Database) -> list[str]:
    with db.read_session() as s:
        return list(s.scalars(select(Team.name).order_by(Team.id)))


def test_a_read_session_answers_while_a_writer_holds_its_transaction(
    db: Database, impatient: Database
) -> None:
    with db.session() as s:
        s.add(Team(name="Committed"))
    with write_held_open(db):
        with impatient.read_session() as s:  # would wait for the writer, then fail
            names = list(s.scalars(select(Team.name)))
        assert names == ["Committed"]  # the last commit; not the writer's uncommitted row
    assert teams(db) == ["Committed", "Held"]


def test_a_write_statement_in_a_read_session_is_refused(db: Database) -> None:
    with db.session() as s:
        s.add(Team(name="Before"))
    with pytest.raises(DBAPIError, match=READ_ONLY), db.read_session() as s:
        s.execute(update(Team).values(name="After"))
    with pytest.raises(DBAPIError, match=READ_ONLY), db.read_session() as s:
        s.execute(text("DELETE FROM teams"))
    assert teams(db) == ["Before"]


def test_a_changed_object_in_a_read_session_is_refused_not_dropped(db: Database) -> None:
    with db.session() as s:
        s.add(Team(name="Before"))
    with pytest.raises(DBAPIError, match=READ_ONLY), db.read_session() as s:
        team = s.scalars(select(Team)).one()
        team.name = "After"  # flushed at the end: refused there, loudly
    with pytest.raises(DBAPIError, match=READ_ONLY), db.read_session() as s:
        s.add(Team(name="New"))
    assert teams(db) == ["Before"]


def test_a_write_session_after_a_read_session_can_write(db: Database) -> None:
    """The pooled connection a read session used is writable again (query_only is turned off
    when its transaction ends, READ ONLY ends with the transaction)."""
    for n in range(5):
        with db.read_session() as s:
            s.scalar(select(func.count(Team.id)))
        with pytest.raises(DBAPIError), db.read_session() as s:
            s.add(Team(name="refused"))
        with db.session() as s:
            s.add(Team(name=f"T{n}"))
    assert teams(db) == [f"T{n}" for n in range(5)]


def test_the_database_sees_a_read_only_transaction(db: Database) -> None:
    if db.engine.dialect.name == "sqlite":
        query = "PRAGMA query_only"
        on, off = 1, 0
    else:
        query = "SHOW transaction_read_only"
        on, off = "on", "off"
    with db.read_session() as s:
        assert s.execute(text(query)).scalar() == on
    with db.session() as s:
        assert s.execute(text(query)).scalar() == off


def test_a_read_session_inside_a_write_session_of_the_same_thread(db: Database) -> None:
    with db.session() as s:
        s.add(Team(name="Outer"))
        s.flush()
        with db.read_session() as r:  # a second transaction: the last commit, no wait
            assert list(r.scalars(select(Team.name))) == []
    assert teams(db) == ["Outer"]


# -- the request paths issue 15's load benchmark samples --------------------------------------
def _csrf(page: httpx.Response) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match, page.text
    return match.group(1)


def test_the_contacts_api_and_page_answer_while_a_writer_holds_its_transaction(
    settings: Settings, db: Database, impatient: Database
) -> None:
    with TestClient(create_app(settings, impatient)) as client:
        team = ApiTeam(client, impatient)
        seq = make_sequence(team)
        people = [{"email": f"p{i}@example.com", "first_name": f"P{i}"} for i in range(3)]
        r = team.call("POST", f"/sequences/{seq}/contacts", json={"contacts": people})
        assert r.status_code == 201, r.text
        with impatient.session() as s:
            owner = s.get(User, team.user_ids["owner"])
            assert owner is not None
            owner.password_hash = hash_password("pw-owner-123")
            email = owner.email
        form = {
            "email": email,
            "password": "pw-owner-123",
            "csrf_token": _csrf(client.get("/login")),
        }
        assert client.post("/login", data=form, follow_redirects=False).status_code == 303

        with write_held_open(impatient):
            listed = team.call("GET", f"/sequences/{seq}/contacts")
            assert listed.status_code == 200, listed.text
            assert sorted(e["contact"]["email"] for e in listed.json()) == [
                f"p{i}@example.com" for i in range(3)
            ]
            page = client.get(f"/sequences/{seq}")
            assert page.status_code == 200, page.text
            assert "p2@example.com" in page.text


def test_checking_an_api_token_records_its_use_at_most_once_a_minute(
    client: TestClient, db: Database
) -> None:
    team = ApiTeam(client, db)
    with db.read_session() as s:
        assert s.scalar(select(ApiToken.last_used_at)) is None
    assert team.call("GET", "/sequences").status_code == 200
    with db.read_session() as s:
        first = s.scalar(
            select(ApiToken.last_used_at).where(ApiToken.user_id == team.user_ids["owner"])
        )
    assert first is not None
    assert team.call("GET", "/sequences").status_code == 200
    with db.read_session() as s:
        again = s.scalar(
            select(ApiToken.last_used_at).where(ApiToken.user_id == team.user_ids["owner"])
        )
    assert again == first  # recorded a minute ago at most: not written again
    refused = client.get("/api/v1/sequences", headers={"Authorization": "Bearer nope"})
    assert refused.status_code == 401
