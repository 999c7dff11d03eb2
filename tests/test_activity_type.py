"""The activity type logged emails are filed as (audit #31-#32): chosen on the Integrations page
from what the ATS lists, "Email" preselected when it exists, and a warning when none is usable."""

from __future__ import annotations

from typing import Any

from tests.conftest import CRELATE_KEYS, Sim, Team, clockwork_credentials
from tests.test_sync_crelate import connect


def types_of(sim: Sim) -> dict[str, str]:
    """The simulated organisation's activity types, name → id."""
    return {t["Name"]: t["Id"] for t in sim.records("activity_types")}


def picker(team: Team, role: str = "owner") -> dict[str, Any]:
    r = team.call("GET", "/connection/activity-types", role)
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_picker_lists_the_ats_types_with_email_as_the_default(team: Team, crelate: Sim) -> None:
    connect(team)
    known = types_of(crelate)
    body = picker(team)
    assert {t["name"]: t["id"] for t in body["types"]} == known
    assert body["default_id"] == known["Email"]
    assert body["chosen_id"] is None
    assert body["effective_id"] == known["Email"]
    assert body["warning"] is None


def test_without_an_email_type_there_is_no_default_and_a_warning(team: Team, crelate: Sim) -> None:
    crelate.profiles("no_email_activity_type")
    connect(team)
    body = picker(team)
    names = [t["name"] for t in body["types"]]
    assert "Email" not in names and "Call" in names
    assert body["default_id"] is None
    assert body["effective_id"] is None
    assert 'no activity type named "Email"' in body["warning"]
    assert "emails will not be logged" in body["warning"]

    # Choosing one makes it the type in use, and the warning goes.
    call = types_of(crelate)["Call"]
    r = team.call("PATCH", "/settings", json={"activity_type_id": call})
    assert r.status_code == 200, r.text
    body = picker(team)
    assert (body["chosen_id"], body["effective_id"], body["warning"]) == (call, call, None)

    # With activity tracking off nothing is logged anyway: no warning.
    team.call("PATCH", "/settings", json={"activity_type_id": None, "activity_tracking": False})
    assert picker(team)["warning"] is None


def test_a_key_that_may_not_list_activity_types_gets_a_clear_4xx(team: Team, crelate: Sim) -> None:
    crelate.profiles("activitytypes_forbidden")
    connect(team)
    r = team.call("GET", "/connection/activity-types")
    assert 400 <= r.status_code < 500, r.text
    body = r.json()
    assert "Crelate API key may not list activity types" in body["detail"]
    assert "GET /activitytypes" in body["detail"] and "403" in body["detail"]
    assert "could not be reached" not in body["detail"]
    assert body["field"] == "activity_type_id"
    # The other pickers still work.
    assert team.call("GET", "/connection/jobs").status_code == 200


def test_settings_round_trip_the_activity_type(team: Team, crelate: Sim) -> None:
    connect(team)
    assert team.call("GET", "/settings").json()["activity_type_id"] is None
    call = types_of(crelate)["Call"]
    r = team.call("PATCH", "/settings", json={"activity_type_id": call})
    assert r.status_code == 200 and r.json()["activity_type_id"] == call
    assert team.call("GET", "/settings").json()["activity_type_id"] == call
    # Other settings leave it alone; blank or null goes back to "the type named Email".
    team.call("PATCH", "/settings", json={"sync_mode": "on_reply"})
    assert team.call("GET", "/settings").json()["activity_type_id"] == call
    r = team.call("PATCH", "/settings", json={"activity_type_id": "  "})
    assert r.status_code == 200 and r.json()["activity_type_id"] is None
    team.call("PATCH", "/settings", json={"activity_type_id": call})
    r = team.call("PATCH", "/settings", json={"activity_type_id": None})
    assert r.status_code == 200 and r.json()["activity_type_id"] is None
    r = team.call("PATCH", "/settings", json={"activity_type_id": "x" * 101})
    assert r.status_code == 422 and r.json()["field"] == "activity_type_id"


def test_a_chosen_type_deleted_in_the_ats_is_flagged(team: Team, crelate: Sim) -> None:
    connect(team)
    team.call("PATCH", "/settings", json={"activity_type_id": "not-a-type-anymore"})
    body = picker(team)
    assert body["effective_id"] is None
    assert "no longer exists in Crelate" in body["warning"]


def test_the_choice_is_cloned_to_teammates(team: Team, crelate: Sim) -> None:
    connect(team)
    r = team.call(
        "PUT",
        "/connection",
        "manager",
        json={"provider": "crelate", "credentials": {"api_key": CRELATE_KEYS["bob"]}},
    )
    assert r.status_code == 200, r.text
    call = types_of(crelate)["Call"]
    team.call("PATCH", "/settings", json={"activity_type_id": call})
    r = team.call("POST", "/settings/clone", json={"user_ids": [team.user_ids["manager"]]})
    assert r.status_code == 200 and r.json()["cloned"] == [team.user_ids["manager"]], r.text
    assert team.call("GET", "/settings", "manager").json()["activity_type_id"] == call


def test_switching_ats_forgets_the_old_ones_type(team: Team, crelate: Sim) -> None:
    connect(team)
    team.call("PATCH", "/settings", json={"activity_type_id": types_of(crelate)["Call"]})
    assert team.call("DELETE", "/connection").status_code == 200
    r = team.call(
        "PUT", "/connection", json={"provider": "clockwork", "credentials": clockwork_credentials()}
    )
    assert r.status_code == 200, r.text
    assert team.call("GET", "/settings").json()["activity_type_id"] is None


def test_reconnecting_the_same_ats_keeps_the_type(team: Team, crelate: Sim) -> None:
    connect(team)
    call = types_of(crelate)["Call"]
    team.call("PATCH", "/settings", json={"activity_type_id": call})
    assert team.call("DELETE", "/connection").status_code == 200
    connect(team)
    assert team.call("GET", "/settings").json()["activity_type_id"] == call


def test_the_picker_needs_a_connection(team: Team, crelate: Sim) -> None:
    r = team.call("GET", "/connection/activity-types")
    assert r.status_code == 404, r.text


def test_clockwork_offers_its_email_note_category(team: Team, clockwork: Sim) -> None:
    r = team.call(
        "PUT", "/connection", json={"provider": "clockwork", "credentials": clockwork_credentials()}
    )
    assert r.status_code == 200, r.text
    body = picker(team)
    assert [t["name"] for t in body["types"]] == ["Email"]
    assert body["default_id"] == body["effective_id"] == body["types"][0]["id"]
    assert body["warning"] is None
