"""Another team's ids answer 404 on the web pages too (issue 17), never 200 or 422."""

from __future__ import annotations

import re
from typing import Any

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


# Path parameters that are not another team's ids: tokens of public links (a wrong one is a
# 404 by itself), the signed-in user's own sessions, and the mail provider's name.
NOT_TEAM_IDS = {"token", "index", "session_id", "provider"}


def _web_routes(app: Any) -> list[tuple[str, str]]:
    """Every (method, path) of the web app whose path names something by id."""
    found: list[tuple[str, str]] = []
    for included in app.routes:
        router = getattr(included, "original_router", None)
        for route in getattr(router, "routes", []):
            path = getattr(route, "path", "")
            if "{" not in path or path.startswith("/api") or route.include_in_schema:
                continue
            if set(re.findall(r"{(\w+)}", path)) <= NOT_TEAM_IDS:
                continue
            found += [(method, path) for method in sorted(route.methods)]
    return found


def test_every_web_route_answers_another_teams_ids_with_404(team: Team, db: Database) -> None:
    theirs = make_sequence(team)
    added = team.call(
        "POST", f"/sequences/{theirs}/contacts", json={"contacts": [{"email": "a@x.io"}]}
    )
    (their_contact,) = added.json()["enrollment_ids"]
    resync = team.call("POST", f"/sequences/{theirs}/resync")
    batch = resync.json().get("batch_id", "none") if resync.status_code < 300 else "none"
    other = Team(team.client, db, name="Rival")
    mine = make_sequence(other)
    rival = signed_in_owner(other, db, "rival")
    token = csrf(rival, f"/sequences/{mine}")
    ids = {
        "sequence_id": str(theirs),
        "eid": str(their_contact),
        "position": "0",
        "import_id": "1",
        "batch_id": str(batch),
    }
    routes = _web_routes(team.client.app)
    assert len(routes) > 30  # the walk found the web app's routes
    leaks = []
    for method, path in routes:
        url = re.sub(r"{(\w+)}", lambda m: ids[m.group(1)], path)
        if method == "GET":
            answer = rival.get(url, headers={"HX-Request": "true"})
        else:
            answer = rival.post(url, data={"csrf_token": token}, headers={"HX-Request": "true"})
        if answer.status_code != 404:
            leaks.append((method, path, answer.status_code))
    assert leaks == []
