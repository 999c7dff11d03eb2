"""Sequences renamed, archived and deleted; steps reordered and deleted with contacts mid-way
(issue 16): what a contact gets next after the steps change, through the service and REST."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from outbound.service import sequences
from outbound.service.caller import Caller
from outbound.service.sequence_figures import sequence_figures
from outbound.service.step_preview import preview_step
from outbound.store.db import Database
from outbound.store.models import Enrollment, Sequence
from tests.conftest import Team

STEPS = [
    {"subject": "Hello {{first_name}}", "body": "Step one body", "delay_days": 0},
    {"subject": "Following up", "body": "Step two body", "delay_days": 2},
    {"subject": "", "body": "Step three body at {{company}}", "delay_days": 3},
]


def _sequence_with_contacts(team: Team, positions: list[int]) -> tuple[int, list[int]]:
    seq = team.call("POST", "/sequences", json={"name": "Backend", "steps": STEPS}).json()
    contacts = [
        {"email": f"p{i}@example.com", "first_name": f"P{i}", "last_name": "X"}
        for i in range(len(positions))
    ]
    r = team.call("POST", f"/sequences/{seq['id']}/contacts", json={"contacts": contacts})
    assert r.status_code == 201, r.text
    ids = r.json()["enrollment_ids"]
    return seq["id"], ids


def _place(db: Database, ids: list[int], positions: list[int]) -> None:
    """Contacts mid-sequence: each waits for the step at its position."""
    with db.session() as session:
        for eid, pos in zip(ids, positions, strict=True):
            e = session.get(Enrollment, eid)
            assert e is not None
            e.next_step = pos


def _next_bodies(db: Database, seq_id: int, ids: list[int]) -> list[str | None]:
    """The body of the step each contact gets next (None: finished), as the planner reads it."""
    with db.read_session() as session:
        seq = session.get(Sequence, seq_id)
        assert seq is not None
        out: list[str | None] = []
        for eid in ids:
            e = session.get(Enrollment, eid)
            assert e is not None
            out.append(seq.steps[e.next_step].body if e.next_step < len(seq.steps) else None)
        return out


def test_contact_waiting_for_step_3_of_3_still_gets_it_after_step_1_is_deleted(
    team: Team, db: Database
) -> None:
    seq_id, ids = _sequence_with_contacts(team, [0, 1, 2])
    _place(db, ids, [0, 1, 2])
    r = team.call("DELETE", f"/sequences/{seq_id}/steps/0")
    assert r.status_code == 200, r.text
    assert [s["body"] for s in r.json()["steps"]] == ["Step two body", STEPS[2]["body"]]
    assert [s["position"] for s in r.json()["steps"]] == [0, 1]
    # Waiting for the deleted step: the next one. Further along: the same step as before.
    assert _next_bodies(db, seq_id, ids) == ["Step two body", "Step two body", STEPS[2]["body"]]


def test_deleting_the_last_step_finishes_those_waiting_for_it(team: Team, db: Database) -> None:
    seq_id, ids = _sequence_with_contacts(team, [1, 2])
    _place(db, ids, [1, 2])
    assert team.call("DELETE", f"/sequences/{seq_id}/steps/2").status_code == 200
    assert _next_bodies(db, seq_id, ids) == ["Step two body", None]
    assert team.call("DELETE", f"/sequences/{seq_id}/steps/7").status_code == 404


def test_moving_a_step_never_sends_the_same_email_twice(team: Team, db: Database) -> None:
    seq_id, ids = _sequence_with_contacts(team, [0, 1, 2])
    _place(db, ids, [0, 1, 2])
    r = team.call("POST", f"/sequences/{seq_id}/steps/1/move", json={"direction": "down"})
    assert r.status_code == 200, r.text
    assert [s["body"] for s in r.json()["steps"]] == [
        "Step one body",
        STEPS[2]["body"],
        "Step two body",
    ]
    # Before both: the new order. Had step 2, not step 3: step 2 is now third, so they skip it
    # (they would get it twice) and finish; the one waiting for old step 3 is there.
    assert _next_bodies(db, seq_id, ids) == ["Step one body", STEPS[2]["body"], None]
    # A follow-up with no subject cannot become the first step; bad directions are 422s.
    r = team.call("POST", f"/sequences/{seq_id}/steps/1/move", json={"direction": "up"})
    assert r.status_code == 422 and r.json()["field"] == "direction"
    r = team.call("POST", f"/sequences/{seq_id}/steps/0/move", json={"direction": "sideways"})
    assert r.status_code == 422


def test_editing_steps_keeps_contacts_in_place(team: Team, db: Database) -> None:
    seq_id, ids = _sequence_with_contacts(team, [1, 2])
    _place(db, ids, [1, 2])
    edited = [dict(s, body=s["body"] + " (edited)") for s in STEPS]
    r = team.call("PATCH", f"/sequences/{seq_id}", json={"steps": edited})
    assert r.status_code == 200, r.text
    assert _next_bodies(db, seq_id, ids) == ["Step two body (edited)", edited[2]["body"]]
    # An empty body is refused on its field; nothing is silently dropped.
    blank = [edited[0], dict(edited[1], body=""), edited[2]]
    r = team.call("PATCH", f"/sequences/{seq_id}", json={"steps": blank})
    assert r.status_code == 422 and r.json()["field"] == "steps[1].body"


def test_rename_archive_unarchive_and_delete_over_rest(team: Team, db: Database) -> None:
    seq_id, ids = _sequence_with_contacts(team, [0, 0])
    r = team.call("PATCH", f"/sequences/{seq_id}", json={"name": "Backend (Berlin)"})
    assert r.json()["name"] == "Backend (Berlin)" and r.json()["archived"] is False
    assert team.call("PATCH", f"/sequences/{seq_id}", json={"name": ""}).status_code == 422

    def due_moments() -> list[Any]:
        with db.read_session() as session:
            return list(
                session.scalars(
                    select(Enrollment.next_send_at)
                    .where(Enrollment.sequence_id == seq_id)
                    .order_by(Enrollment.id)
                )
            )

    before = due_moments()
    r = team.call("PATCH", f"/sequences/{seq_id}", json={"archived": True})
    assert r.status_code == 200 and r.json()["archived"] is True
    assert [s["id"] for s in team.call("GET", "/sequences").json()] == []
    listed = team.call("GET", "/sequences", params={"include_archived": "true"}).json()
    assert [(s["id"], s["archived"]) for s in listed] == [(seq_id, True)]
    # Each contact keeps when its next step is due (the planner sends nothing from an
    # archived sequence: tests/mail/test_archived_sequence.py); unarchived, no step comes early.
    assert due_moments() == before

    r = team.call("PATCH", f"/sequences/{seq_id}", json={"archived": False})
    assert r.json()["archived"] is False
    assert due_moments() == before

    # A recruiter cannot archive or delete the owner's sequence.
    r = team.call("PATCH", f"/sequences/{seq_id}", "recruiter", json={"archived": True})
    assert r.status_code == 403
    assert team.call("DELETE", f"/sequences/{seq_id}", "recruiter").status_code == 403
    assert team.call("DELETE", f"/sequences/{seq_id}").status_code == 204
    assert team.call("GET", f"/sequences/{seq_id}").status_code == 404
    with db.read_session() as session:  # its contacts' place in it went with it
        assert session.scalars(select(Enrollment).where(Enrollment.id.in_(ids))).all() == []


def _caller(team: Team, role: str = "owner") -> Caller:
    return Caller(team.user_ids[role], team.team_id, role)


def test_the_same_create_form_sent_twice_makes_one_sequence(team: Team, db: Database) -> None:
    caller = _caller(team)
    made = []
    for _ in range(2):
        with db.session() as session:
            made.append(
                sequences.create_sequence(session, caller, "Twice", [], {}, create_token="t-1").id
            )
    assert made[0] == made[1]
    with db.read_session() as session:
        assert len(sequences.list_sequences(session, caller)) == 1


def test_figures_count_each_sequence_in_one_query(team: Team, db: Database) -> None:
    seq_id, ids = _sequence_with_contacts(team, [0, 0, 0, 0])
    other, _ = _sequence_with_contacts(team, [0])
    changes: list[dict[str, Any]] = [
        {"engagement": "messaged"},
        {"engagement": "opened", "state": "replied", "sentiment": "interested"},
        {"engagement": "messaged", "state": "bounced"},
        {},
    ]
    with db.session() as session:
        for eid, change in zip(ids, changes, strict=True):
            e = session.get(Enrollment, eid)
            for key, value in change.items():
                setattr(e, key, value)
    with db.read_session() as session:
        figures = sequence_figures(session, team.team_id, [seq_id, other])
    f = figures[seq_id]
    assert (f.contacts, f.sent, f.opened, f.replied, f.interested, f.bounced) == (4, 3, 1, 1, 1, 1)
    assert f.rate("replied") == 33
    assert figures[other].contacts == 1 and figures[other].rate("sent") is None


def test_preview_fills_a_real_contact_and_marks_what_is_missing(team: Team, db: Database) -> None:
    seq_id, ids = _sequence_with_contacts(team, [0])
    with db.read_session() as session:
        preview, contact = preview_step(session, _caller(team), seq_id, 2, ids[0])
    assert contact is not None and contact.email == "p0@example.com"
    assert preview.text(preview.subject) == "Re: Hello P0"
    assert preview.missing == ["company"]
    assert [p.missing for p in preview.body if p.missing] == ["company"]


def test_a_step_is_deleted_or_moved_only_if_it_is_still_the_one_confirmed(team: Team) -> None:
    r = team.call(
        "POST",
        "/sequences",
        json={
            "name": "Three steps",
            "steps": [
                {"subject": "One", "body": "1"},
                {"subject": "Two", "body": "2", "delay_days": 1},
                {"subject": "Three", "body": "3", "delay_days": 1},
            ],
        },
    )
    seq = r.json()
    ids = [s["id"] for s in seq["steps"]]
    # Someone else deleted step 1 meanwhile: a retry naming the old step 2 changes nothing.
    assert team.call("DELETE", f"/sequences/{seq['id']}/steps/0").status_code == 200
    stale = team.call("DELETE", f"/sequences/{seq['id']}/steps/1", params={"step_id": ids[1]})
    assert stale.status_code == 409 and stale.json()["field"] == "position"
    moved = team.call(
        "POST",
        f"/sequences/{seq['id']}/steps/0/move",
        params={"step_id": ids[0]},
        json={"direction": "down"},
    )
    assert moved.status_code == 409
    bodies = [s["body"] for s in team.call("GET", f"/sequences/{seq['id']}").json()["steps"]]
    assert bodies == ["2", "3"]
    ok = team.call("DELETE", f"/sequences/{seq['id']}/steps/1", params={"step_id": ids[2]})
    assert ok.status_code == 200
    assert [s["body"] for s in ok.json()["steps"]] == ["2"]
