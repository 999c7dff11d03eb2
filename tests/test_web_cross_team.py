"""Another team's ids answer 404 on the web pages too (issue 17), never 200 or 422."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import update

from outbound.store.db import Database
from outbound.store.models import User
from outbound.web.session import hash_password
from tests.conftest import Team
from tests.test_api_core import make_sequence
from tests.test_web_sessions import PASSWORD, csrf, try_sign_in


def signed_in_owner(team: Team, db: Database, slug: str) -> TestClient:
    with db.session() as s:
        s.execute(
            update(User)
            .where(User.id == team.user_ids["owner"])
            .values(password_hash=hash_password(PASSWORD))
        )
    client = TestClient(team.client.app)
    assert try_sign_in(client, f"owner@{slug}.test", PASSWORD)[0] == 303
    return client


def test_another_teams_sequence_is_not_found_on_the_web(team: Team, db: Database) -> None:
    theirs = make_sequence(team)
    other = Team(team.client, db, name="Rival")
    mine = make_sequence(other)
    rival = signed_in_owner(other, db, "rival")
    token = csrf(rival, f"/sequences/{mine}")
    for path, data in (
        (f"/sequences/{theirs}/resync", {}),
        (f"/sequences/{theirs}/import", {"list_id": "L1"}),
        (f"/sequences/{theirs}/import", {}),  # no list chosen: still not found first
    ):
        answer = rival.post(
            path, data={**data, "csrf_token": token}, headers={"HX-Request": "true"}
        )
        assert answer.status_code == 404, (path, data, answer.status_code, answer.text)
    assert rival.get(f"/sequences/{theirs}").status_code == 404
