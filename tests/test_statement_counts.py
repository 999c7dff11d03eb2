"""Pages read a fixed number of statements, whatever the number of rows they show (issue 15):
the dashboard's sync health per connection and the clone candidates. Each is counted with 5
rows and with 50 (SQLAlchemy's ``before_cursor_execute``); the counts must be equal."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from outbound.store.db import Database
from outbound.store.models import SyncCall, User, utcnow
from outbound.web.session import hash_password
from tests.conftest import Team
from tests.seeding import add_connection, add_jobs_for, add_seat, add_user, enrol_many
from tests.statements import statements_sent

PASSWORD = "pw-owner-123"
CRELATE_ORG = "https://app.crelate.com"


def add_teammates(db: Database, team: Team, start: int, stop: int) -> None:
    """Teammates on Crelate (every other one connected), each with a sequence, a contact, an
    open job and a recent 429: something in every column of the dashboard."""
    now = utcnow()
    with db.session() as s:
        for i in range(start, stop):
            email, name = f"mate{i}@acme.test", f"Mate {i}"
            if i % 2:
                add_user(s, team.team_id, email, name, "recruiter")
                continue
            seat = add_seat(
                s,
                team.team_id,
                email,
                name,
                ats_user_id=f"mate{i}",
                sequence=f"S{i}",
                role="recruiter",
                ats_org=CRELATE_ORG,
            )
            enrolled = enrol_many(s, seat, [f"p{i}@prospect.test"], sync_state="synced")
            (job,) = add_jobs_for(s, seat, enrolled, kinds=["sync_contact"])
            s.add(
                SyncCall(
                    contact_id=enrolled[0][0],
                    job_id=job,
                    method="GET",
                    path="/contacts",
                    status_code=429,
                    outcome="rate limited",
                    at=now - timedelta(minutes=5),
                )
            )


def connect_owner(db: Database, team: Team) -> None:
    with db.session() as s:
        add_connection(s, team.team_id, team.user_ids["owner"], "owner", "Owner", CRELATE_ORG)
        owner = s.get(User, team.user_ids["owner"])
        assert owner is not None
        owner.password_hash = hash_password(PASSWORD)


def sign_in(team: Team) -> None:
    form = team.client.get("/login").text
    match = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert match
    answer = team.client.post(
        "/login",
        data={"email": "owner@acme.test", "password": PASSWORD, "csrf_token": match.group(1)},
        follow_redirects=False,
    )
    assert answer.status_code == 303


def statements_for(db: Database, request: Callable[[], Any]) -> int:
    # Once unmeasured: a token's first use in a minute records it (api/deps.py), a write that
    # has nothing to do with how much the request reads.
    request()
    with statements_sent(db) as statements:
        request()
    return len(statements)


def test_the_dashboard_reads_as_much_for_50_connections_as_for_5(team: Team, db: Database) -> None:
    connect_owner(db, team)
    sign_in(team)

    def dashboard() -> str:
        answer = team.client.get("/")
        assert answer.status_code == 200
        return answer.text

    add_teammates(db, team, 0, 10)  # 5 of them connected
    with_5 = statements_for(db, dashboard)
    assert dashboard().count("<strong>Mate ") == 5
    add_teammates(db, team, 10, 100)  # 50 connected
    with_50 = statements_for(db, dashboard)
    assert dashboard().count("<strong>Mate ") == 50
    assert with_50 == with_5


def test_clone_candidates_read_as_much_for_50_teammates_as_for_5(team: Team, db: Database) -> None:
    connect_owner(db, team)

    def candidates() -> list[dict[str, Any]]:
        answer = team.call("GET", "/settings/clone-candidates")
        assert answer.status_code == 200, answer.text
        return list(answer.json())

    add_teammates(db, team, 0, 3)  # with the manager and the recruiter: 5 teammates
    with_5 = statements_for(db, candidates)
    assert len(candidates()) == 5
    add_teammates(db, team, 3, 48)
    with_50 = statements_for(db, candidates)
    listed = candidates()
    assert len(listed) == 50
    assert sum(1 for c in listed if c["eligible"]) == 24  # the connected half of the mates
    assert with_50 == with_5
