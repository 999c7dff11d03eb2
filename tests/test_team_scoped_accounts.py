"""Accounts belong to their team (issue 17): adding a teammate never reveals that an address
has an account in another firm, one person can be in two firms, and sign-in asks which team
only after the password is right. The migration that made emails unique per team keeps every
row that refers to a user."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import func, select, text, update

from outbound.store.db import Database
from outbound.store.migrate import upgrade
from outbound.store.models import ApiToken, AtsConnection, Team, User, WebSession
from outbound.web.session import hash_password
from tests.conftest import Team as TestTeam
from tests.conftest import database_url
from tests.pg import reset_schema
from tests.test_web_sessions import csrf, signed_in

PASSWORD = "correct horse battery"


def add_teammate(team: TestTeam, email: str) -> tuple[int, dict[str, object]]:
    answer = team.call("POST", "/users", json={"email": email, "name": "Sam", "role": "recruiter"})
    return answer.status_code, answer.json()


def set_password(db: Database, user_id: int, password: str) -> None:
    with db.session() as s:
        s.execute(
            update(User).where(User.id == user_id).values(password_hash=hash_password(password))
        )


def sign_in(client: TestClient, email: str, password: str) -> str:
    answer = client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": csrf(client)},
        follow_redirects=False,
    )
    return answer.headers.get("location", str(answer.status_code))


def test_adding_an_address_another_firm_uses_answers_as_for_any_new_address(
    client: TestClient, db: Database
) -> None:
    acme, globex = TestTeam(client, db, "Acme"), TestTeam(client, db, "Globex")
    taken_elsewhere = add_teammate(acme, "recruiter@globex.test")
    fresh = add_teammate(acme, "new.person@example.test")
    # Same status, same fields: nothing tells Acme that Globex has this person.
    assert taken_elsewhere[0] == fresh[0] == 201
    assert set(taken_elsewhere[1]) == set(fresh[1])
    # Two accounts, each in its own team with its own token.
    me = client.get(
        "/api/v1/me", headers={"Authorization": f"Bearer {taken_elsewhere[1]['api_token']}"}
    )
    assert me.json()["email"] == "recruiter@globex.test"
    assert globex.call("GET", "/me", "recruiter").json()["id"] != me.json()["id"]
    with db.session() as s:
        teams = s.scalars(select(User.team_id).where(User.email == "recruiter@globex.test"))
        assert sorted(teams) == sorted([acme.team_id, globex.team_id])


def test_an_address_already_in_the_team_is_a_conflict_naming_the_field(
    client: TestClient, db: Database
) -> None:
    acme = TestTeam(client, db, "Acme")
    status, body = add_teammate(acme, "Manager@Acme.test")
    assert status == 409
    assert "email" in str(body) and "already a member of this team" in str(body)


def test_sign_in_asks_which_team_when_the_password_opens_two(
    client: TestClient, db: Database
) -> None:
    acme, globex = TestTeam(client, db, "Acme"), TestTeam(client, db, "Globex")
    _, created = add_teammate(acme, "recruiter@globex.test")
    set_password(db, int(str(created["id"])), PASSWORD)
    set_password(db, globex.user_ids["recruiter"], PASSWORD)

    browser = TestClient(client.app)
    assert sign_in(browser, "recruiter@globex.test", PASSWORD) == "/login/team"
    assert not signed_in(browser)  # nothing is open until a team is chosen
    choice = browser.get("/login/team")
    assert "Acme" in choice.text and "Globex" in choice.text

    # Only the accounts the password opened can be chosen.
    refused = browser.post(
        "/login/team",
        data={"user_id": str(acme.user_ids["owner"]), "csrf_token": csrf(browser, "/login/team")},
        follow_redirects=False,
    )
    assert refused.status_code == 422 and "Choose one of your teams" in refused.text
    assert not signed_in(browser)

    chosen = browser.post(
        "/login/team",
        data={"user_id": str(created["id"]), "csrf_token": csrf(browser, "/login/team")},
        follow_redirects=False,
    )
    assert chosen.status_code == 303 and chosen.headers["location"] == "/"
    assert signed_in(browser)
    with db.session() as s:
        session_user = s.scalar(select(WebSession.user_id))
    assert session_user == created["id"]  # the Acme account, not Globex's


def test_sign_in_opens_the_one_account_whose_password_matches(
    client: TestClient, db: Database
) -> None:
    acme, globex = TestTeam(client, db, "Acme"), TestTeam(client, db, "Globex")
    _, created = add_teammate(acme, "recruiter@globex.test")
    set_password(db, int(str(created["id"])), "the acme password")
    set_password(db, globex.user_ids["recruiter"], PASSWORD)

    browser = TestClient(client.app)
    assert sign_in(browser, "recruiter@globex.test", PASSWORD) == "/"
    with db.session() as s:
        session_user = s.scalar(select(WebSession.user_id))
    assert session_user == globex.user_ids["recruiter"]
    # A wrong password still opens nothing, and the team chooser is not reachable.
    other = TestClient(client.app)
    assert sign_in(other, "recruiter@globex.test", "wrong password!!") == "401"
    assert other.get("/login/team", follow_redirects=False).headers["location"] == "/login"


def test_migration_to_team_scoped_emails_keeps_every_row_referring_to_a_user(
    tmp_path: Path,
) -> None:
    url = database_url(tmp_path)
    reset_schema(url)
    upgrade(url, "0013")
    db = Database(url)
    with db.session() as s:
        s.execute(text("INSERT INTO teams (name, created_at) VALUES ('Acme', '2026-01-01')"))
        team_id = s.scalar(select(func.max(Team.id)))
        s.execute(
            text(
                "INSERT INTO users (team_id, email, name, role, created_at) "
                "VALUES (:t, 'o@acme.test', 'O', 'owner', '2026-01-01')"
            ),
            {"t": team_id},
        )
        user_id = s.scalar(select(func.max(User.id)))
        s.execute(
            text(
                "INSERT INTO api_tokens (user_id, token_hash, label, created_at) "
                "VALUES (:u, 'h', 'default', '2026-01-01')"
            ),
            {"u": user_id},
        )
        s.execute(
            text(
                "INSERT INTO ats_connections (user_id, team_id, provider, credentials_encrypted, "
                "ats_org, ats_user_id, ats_user_name, status, connected_at) "
                "VALUES (:u, :t, 'crelate', :c, 'acme', 'u1', 'O', 'active', '2026-01-01')"
            ),
            {"u": user_id, "t": team_id, "c": b"sealed"},
        )
    db.dispose()

    upgrade(url)

    db = Database(url)
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(ApiToken)) == 1
        assert s.scalar(select(func.count()).select_from(AtsConnection)) == 1
        # Same email in another team is now allowed; twice in one team is not.
        other = Team(name="Globex")
        s.add(other)
        s.flush()
        s.add(User(team_id=other.id, email="o@acme.test", name="O", role="owner"))
        s.flush()
    db.dispose()
