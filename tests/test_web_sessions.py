"""Server-side sessions and sign-in throttling (issue 17): signing out or changing the password
ends a session for good, even for a copy of its cookie; a user sees and ends their sessions;
guessing passwords is held off per account and per address, without telling which accounts
exist."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from outbound.service import sign_in_throttle
from outbound.store.db import Database
from outbound.store.models import AuthFailure, User
from outbound.web.session import hash_password
from tests.conftest import Team

PASSWORD = "correct horse battery"
OWNER = "owner@acme.test"


@pytest.fixture
def owner_password(team: Team, db: Database) -> str:
    with db.session() as s:
        s.execute(
            update(User)
            .where(User.id == team.user_ids["owner"])
            .values(password_hash=hash_password(PASSWORD))
        )
    return PASSWORD


def browser(team: Team) -> TestClient:
    """Another browser: the same app, its own cookies."""
    return TestClient(team.client.app)


def csrf(client: TestClient, path: str = "/login") -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text)
    assert match, path
    return match.group(1)


def try_sign_in(client: TestClient, email: str, password: str) -> tuple[int, str]:
    answer = client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": csrf(client)},
        follow_redirects=False,
    )
    return answer.status_code, answer.text


def signed_in(client: TestClient) -> bool:
    answer = client.get("/account", follow_redirects=False)
    return answer.status_code == 200


def post(client: TestClient, path: str, **data: str) -> int:
    answer = client.post(
        path, data={**data, "csrf_token": csrf(client, "/account")}, follow_redirects=False
    )
    return answer.status_code


def test_a_cookie_copied_before_sign_out_opens_nothing_after(
    team: Team, owner_password: str
) -> None:
    alice = browser(team)
    assert try_sign_in(alice, OWNER, owner_password)[0] == 303
    copied = dict(alice.cookies)
    assert post(alice, "/logout") == 303
    thief = browser(team)
    thief.cookies.update(copied)
    assert not signed_in(thief)
    assert thief.get("/", follow_redirects=False).headers["location"] == "/login"


def test_a_password_change_signs_out_every_other_session(team: Team, owner_password: str) -> None:
    laptop, phone = browser(team), browser(team)
    for b in (laptop, phone):
        assert try_sign_in(b, OWNER, owner_password)[0] == 303
    # A wrong current password or a short new one changes nothing.
    assert post(laptop, "/account/password", current_password="nope", new_password="x" * 20) == 422
    assert post(laptop, "/account/password", current_password=PASSWORD, new_password="short") == 422
    assert signed_in(phone)
    new = "a much longer new password"
    assert post(laptop, "/account/password", current_password=PASSWORD, new_password=new) == 303
    assert signed_in(laptop) and not signed_in(phone)
    assert try_sign_in(browser(team), OWNER, PASSWORD)[0] == 401
    assert try_sign_in(browser(team), OWNER, new)[0] == 303


def test_a_user_sees_their_sessions_and_ends_one(team: Team, owner_password: str) -> None:
    laptop, phone = browser(team), browser(team)
    for b in (laptop, phone):
        assert try_sign_in(b, OWNER, owner_password)[0] == 303
    page = laptop.get("/account").text
    assert page.count("Sign out everywhere else") == 1
    assert "(this browser)" in page
    ids = re.findall(r'action="/account/sessions/(\d+)/end"', page)
    assert len(ids) == 1  # the other one; this browser signs out with "Sign out"
    assert post(laptop, f"/account/sessions/{ids[0]}/end") == 303
    assert signed_in(laptop) and not signed_in(phone)


def test_nobody_ends_another_users_session(team: Team, db: Database, owner_password: str) -> None:
    with db.session() as s:
        s.execute(
            update(User)
            .where(User.id == team.user_ids["manager"])
            .values(password_hash=hash_password(PASSWORD))
        )
    owner, manager = browser(team), browser(team)
    assert try_sign_in(owner, OWNER, owner_password)[0] == 303
    assert try_sign_in(manager, "manager@acme.test", PASSWORD)[0] == 303
    ids = re.findall(r'action="/account/sessions/(\d+)/end"', owner.get("/account").text)
    assert ids == []  # only one session of their own: nothing else listed
    for guess in range(1, 6):
        post(manager, f"/account/sessions/{guess}/end")
    assert signed_in(owner)


def test_guessing_a_password_locks_the_account_even_for_the_right_one(
    team: Team, db: Database, owner_password: str
) -> None:
    guesser = browser(team)
    answers = [try_sign_in(guesser, OWNER, f"guess {n}")[0] for n in range(5)]
    assert answers == [401] * 5
    status, text = try_sign_in(browser(team), OWNER, owner_password)
    assert status == 429 and "Too many sign-in attempts" in text
    # Once the wait is over, the right password works (and the count starts again).
    with db.session() as s:
        s.execute(update(AuthFailure).values(locked_until=None))
    assert try_sign_in(browser(team), OWNER, owner_password)[0] == 303


def test_the_answer_does_not_tell_which_accounts_exist(team: Team, owner_password: str) -> None:
    for email in (OWNER, "nobody@acme.test"):
        client = browser(team)
        answers = [try_sign_in(client, email, "wrong")[0] for _ in range(6)]
        assert answers == [401] * 5 + [429], email


def test_one_address_guessing_many_accounts_is_held_off(team: Team, owner_password: str) -> None:
    client = browser(team)
    for n in range(sign_in_throttle.ADDRESS_FREE_TRIES):
        assert try_sign_in(client, f"person{n}@acme.test", "wrong")[0] == 401
    # Every account had one try, but the address is out of tries: even the owner must wait.
    status, text = try_sign_in(client, OWNER, owner_password)
    assert status == 429 and "Wait" in text


def test_a_control_character_in_the_sign_in_form_is_a_plain_refusal(
    team: Team, owner_password: str
) -> None:
    # A NUL used to reach the database (a 500 on PostgreSQL); it matches no account.
    assert try_sign_in(browser(team), "owner\x00@acme.test", owner_password)[0] == 401
    assert try_sign_in(browser(team), OWNER, owner_password + "\x00")[0] == 401


def test_guessing_api_tokens_is_held_off_per_address(team: Team) -> None:
    for n in range(sign_in_throttle.ADDRESS_FREE_TRIES):
        answer = team.client.get("/api/v1/sequences", headers={"Authorization": f"Bearer g{n}"})
        assert answer.status_code == 401
    answer = team.client.get("/api/v1/sequences", headers=team.headers())
    assert answer.status_code == 429 and int(answer.headers["Retry-After"]) >= 1
    assert "too many invalid API tokens" in answer.json()["detail"]
