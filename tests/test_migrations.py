"""Data migrations, run on a database holding what an older release stored."""

from __future__ import annotations

from pathlib import Path

from outbound.store.db import Database
from outbound.store.migrate import upgrade
from outbound.store.models import AtsConnection, Team, User
from tests.conftest import database_url
from tests.pg import reset_schema


def test_a_stored_clockwork_api_key_is_no_longer_the_connections_user_id(tmp_path: Path) -> None:
    url = database_url(tmp_path)
    reset_schema(url)
    upgrade(url, "0004")
    db = Database(url)
    with db.session() as session:
        # Rows of tables 0005 and 0006 leave as they are (create_user would also write
        # integration_settings, whose columns are head's).
        team = Team(name="Acme")
        session.add(team)
        session.flush()
        owner = User(team_id=team.id, email="o@acme.test", name="Owner", role="owner")
        crelate_user = User(team_id=team.id, email="c@acme.test", name="C", role="recruiter")
        session.add_all([owner, crelate_user])
        session.flush()
        for user, provider, user_id in (
            (owner, "clockwork", "cw-secret-api-key"),
            (crelate_user, "crelate", "crelate-user-guid"),
        ):
            session.add(
                AtsConnection(
                    user_id=user.id,
                    team_id=team.id,
                    provider=provider,
                    credentials_encrypted=b"sealed",
                    ats_org="acme",
                    ats_user_id=user_id,
                    ats_user_name=f"API key …{user_id[-4:]}",
                )
            )
    upgrade(url)
    with db.session() as session:
        stored = {
            c.provider: (c.ats_user_id, c.ats_user_name) for c in session.query(AtsConnection)
        }
    db.dispose()
    cw_id, cw_name = stored["clockwork"]
    assert "cw-secret-api-key" not in cw_id and cw_id.startswith("clockwork-key-")
    assert cw_name == "Clockwork API user"
    assert stored["crelate"] == ("crelate-user-guid", "API key …guid")  # not a Clockwork key
