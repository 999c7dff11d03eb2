"""Issue 16, the contacts list of a sequence that scales: status tabs and their counts, search,
sort, cursor paging through 800+ contacts, and bulk actions (pause, resume, remove, resync,
move), on the REST API and through the services."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update

from outbound.domain.contact_tabs import TAB_KEYS, tab_of
from outbound.store.db import Database
from outbound.store.models import Enrollment, OutboundEmail
from tests.conftest import CRELATE_KEYS, Sim, Team

SEQUENCE = {
    "name": "Staff engineers",
    "steps": [{"subject": "Hi {{first_name}}", "body": "Hello", "delay_days": 0}],
}
MANY = 820


def person(i: int) -> dict[str, Any]:
    return {
        "email": f"p{i:04d}@talent.example.com",
        "first_name": "Person",
        "last_name": f"N{i:04d}",
        "company": "Initech" if i % 2 else "Hooli",
    }


def sequence_with(team: Team, n: int, name: str = "Staff engineers") -> tuple[int, list[int]]:
    seq = team.call("POST", "/sequences", json={**SEQUENCE, "name": name}).json()["id"]
    r = team.call(
        "POST", f"/sequences/{seq}/contacts", json={"contacts": [person(i) for i in range(n)]}
    )
    assert r.status_code == 201, r.text
    return seq, r.json()["enrollment_ids"]


def page_through(team: Team, seq: int, **params: Any) -> list[int]:
    seen: list[int] = []
    cursor = None
    while True:
        r = team.call(
            "GET",
            f"/sequences/{seq}/contacts",
            params={**params, **({"cursor": cursor} if cursor else {})},
        )
        assert r.status_code == 200, r.text
        seen += [row["id"] for row in r.json()]
        cursor = r.headers.get("X-Next-Cursor")
        if cursor is None:
            return seen
        assert 'rel="next"' in r.headers["Link"]


def set_rows(db: Database, ids: list[int], **values: Any) -> None:
    with db.session() as s:
        s.execute(update(Enrollment).where(Enrollment.id.in_(ids)).values(**values))


def test_every_contact_is_reached_by_cursor_paging_once(team: Team) -> None:
    seq, ids = sequence_with(team, MANY)
    assert page_through(team, seq, limit=200) == ids  # the order they were added in
    newest_first = page_through(team, seq, limit=150, sort="-added")
    assert newest_first == ids[::-1]
    by_name = page_through(team, seq, limit=200, sort="name")
    assert sorted(by_name) == sorted(ids) and len(set(by_name)) == MANY
    names = [
        r["contact"]["last_name"]
        for r in team.call("GET", f"/sequences/{seq}/contacts", params={"sort": "-name"}).json()
    ]
    assert names[:3] == ["N0819", "N0818", "N0817"]


def test_paging_is_stable_while_contacts_are_added(team: Team) -> None:
    seq, ids = sequence_with(team, 300)
    first = team.call("GET", f"/sequences/{seq}/contacts", params={"limit": 100, "sort": "name"})
    seen = [r["id"] for r in first.json()]
    # Someone adds people who sort before and after the page already read.
    extra = [
        {"email": "aaron@x.example.com", "first_name": "Aaron", "last_name": "A"},
        {"email": "zed@x.example.com", "first_name": "Zed", "last_name": "Z"},
    ]
    team.call("POST", f"/sequences/{seq}/contacts", json={"contacts": extra})
    cursor = first.headers["X-Next-Cursor"]
    while cursor:
        r = team.call(
            "GET",
            f"/sequences/{seq}/contacts",
            params={"limit": 100, "sort": "name", "cursor": cursor},
        )
        seen += [row["id"] for row in r.json()]
        cursor = r.headers.get("X-Next-Cursor")
    assert len(seen) == len(set(seen))  # no repeats
    assert set(ids) <= set(seen)  # no gaps
    # The previous page goes back to exactly the page before.
    second = team.call(
        "GET",
        f"/sequences/{seq}/contacts",
        params={"limit": 100, "sort": "name", "cursor": first.headers["X-Next-Cursor"]},
    )
    back = team.call(
        "GET",
        f"/sequences/{seq}/contacts",
        params={"limit": 100, "sort": "name", "cursor": second.headers["X-Prev-Cursor"]},
    )
    assert [r["id"] for r in back.json()] == [r["id"] for r in first.json()]
    # Before it now: Aaron, added after the first page was read.
    front = team.call(
        "GET",
        f"/sequences/{seq}/contacts",
        params={"limit": 100, "sort": "name", "cursor": back.headers["X-Prev-Cursor"]},
    )
    assert [r["contact"]["first_name"] for r in front.json()] == ["Aaron"]
    assert "X-Prev-Cursor" not in front.headers  # the first page


def test_tabs_hold_each_contact_once_and_count_contacts(team: Team, db: Database) -> None:
    seq, ids = sequence_with(team, 60)
    set_rows(db, ids[0:5], error_code="missing_variable", error_message="missing {{company}}")
    set_rows(db, ids[5:9], state="replied")
    set_rows(db, ids[9:11], state="replied", sentiment="interested")
    set_rows(db, ids[11:12], state="replied", sentiment="not_interested")
    set_rows(db, ids[12:15], state="bounced")
    set_rows(db, ids[15:17], state="paused")
    set_rows(db, ids[17:27], state="finished", engagement="messaged")
    set_rows(db, ids[27:40], engagement="opened")
    counts = team.call("GET", f"/sequences/{seq}/contacts/counts").json()
    assert counts == {
        "all": 60,
        "needs_attention": 5,
        "interested": 2,
        "not_interested": 1,
        "replied": 4,
        "bounced": 3,
        "unsubscribed": 0,
        "paused": 2,
        "finished": 10,
        "messaged": 13,
        "scheduled": 20,
    }
    for tab in TAB_KEYS:
        listed = page_through(team, seq, status=tab, limit=7)
        assert len(listed) == counts[tab], tab
    rows = team.call("GET", f"/sequences/{seq}/contacts", params={"status": "replied"}).json()
    assert {r["status"] for r in rows} == {"replied"} and not any(r["sentiment"] for r in rows)
    # The older filter still answers the same.
    old = team.call("GET", f"/sequences/{seq}/contacts", params={"needs_attention": True}).json()
    assert [r["id"] for r in old] == ids[0:5]
    # The status sort puts contacts who need attention first.
    by_status = team.call(
        "GET", f"/sequences/{seq}/contacts", params={"sort": "status", "limit": 5}
    )
    assert {r["status"] for r in by_status.json()} == {"needs_attention"}


def test_the_tab_rules_match_in_python_and_sql() -> None:
    assert tab_of("active", None, None, None) == "scheduled"
    assert tab_of("active", "clicked", None, None) == "messaged"
    assert tab_of("replied", "messaged", "sync_error", "interested") == "needs_attention"
    assert tab_of("replied", "messaged", None, "interested") == "interested"
    assert tab_of("do_not_contact", None, None, None) == "unsubscribed"


def test_search_finds_a_contact_by_name_email_or_company(team: Team) -> None:
    seq, ids = sequence_with(team, MANY)
    by_name = team.call("GET", f"/sequences/{seq}/contacts", params={"q": "person n0801"}).json()
    assert [r["contact"]["email"] for r in by_name] == ["p0801@talent.example.com"]
    by_email = team.call("GET", f"/sequences/{seq}/contacts", params={"q": "P0801@TALENT"}).json()
    assert [r["id"] for r in by_email] == [ids[801]]
    hooli = team.call("GET", f"/sequences/{seq}/contacts/counts", params={"q": "hooli"}).json()
    assert hooli["all"] == MANY // 2
    # Wildcards are searched as text.
    assert team.call("GET", f"/sequences/{seq}/contacts", params={"q": "%"}).json() == []


def test_bulk_pause_resume_and_remove_say_what_they_skipped(team: Team, db: Database) -> None:
    seq, ids = sequence_with(team, 10)
    set_rows(db, ids[8:10], state="finished")

    def bulk(**body: Any) -> dict[str, Any]:
        r = team.call("POST", f"/sequences/{seq}/contacts/bulk", json=body)
        assert r.status_code == 200, r.text
        return dict(r.json())

    paused = bulk(action="pause", ids=ids[5:10])
    assert paused["done"] == 3
    assert paused["skipped"] == [{"reason": "already finished", "count": 2}]
    with db.session() as s:  # their planned emails wait: nothing goes out while paused
        assert s.get(Enrollment, ids[5]).next_send_at is None  # type: ignore[union-attr]
    counts = team.call("GET", f"/sequences/{seq}/contacts/counts").json()
    assert counts["paused"] == 3
    again = bulk(action="pause", all=True, status="paused")
    assert again["done"] == 0 and again["skipped"] == [{"reason": "already paused", "count": 3}]

    resumed = bulk(action="resume", all=True)
    assert resumed["done"] == 3
    assert {s["reason"]: s["count"] for s in resumed["skipped"]} == {
        "not paused": 5,
        "already finished": 2,
    }
    assert team.call("GET", f"/sequences/{seq}/contacts/counts").json()["paused"] == 0

    removed = bulk(action="remove", ids=[ids[0], ids[1], 999_999])
    assert removed["done"] == 2
    assert removed["skipped"] == [{"reason": "not in this sequence", "count": 1}]
    assert team.call("GET", f"/sequences/{seq}/contacts/counts").json()["all"] == 8


def test_bulk_pause_cancels_planned_emails_and_resume_picks_up(team: Team, db: Database) -> None:
    seq, ids = sequence_with(team, 1)
    with db.session() as s:
        e = s.get(Enrollment, ids[0])
        assert e is not None
        s.add(
            OutboundEmail(
                team_id=e.team_id,
                enrollment_id=e.id,
                mailbox_id=_mailbox(s, e.team_id, e.added_by_id),
                step_position=0,
                message_id="<m1@x>",
                token="tok1",
                to_address="p0000@talent.example.com",
                subject="Hi",
                body_text="Hello",
            )
        )
    r = team.call("POST", f"/sequences/{seq}/contacts/bulk", json={"action": "pause", "ids": ids})
    assert r.json()["done"] == 1
    emails = team.call("GET", f"/enrollments/{ids[0]}/emails").json()
    assert [m["status"] for m in emails] == ["cancelled"]
    r = team.call("POST", f"/sequences/{seq}/contacts/bulk", json={"action": "resume", "ids": ids})
    assert r.json()["done"] == 1
    row = team.call("GET", f"/enrollments/{ids[0]}").json()
    assert row["status"] == "scheduled" and row["next_step"] == 0 and row["next_send_at"]


def _mailbox(s: Any, team_id: int, user_id: int) -> int:
    from tests.seeding import add_mailbox

    return add_mailbox(s, team_id, user_id, "owner@acme.test")


def test_bulk_move_to_another_sequence(team: Team, db: Database) -> None:
    seq, ids = sequence_with(team, 6)
    other, _ = sequence_with(team, 1, name="Managers")  # holds p0000 already
    set_rows(db, ids[5:6], state="bounced")
    r = team.call(
        "POST",
        f"/sequences/{seq}/contacts/bulk",
        json={"action": "move", "all": True, "target_sequence_id": other},
    )
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["done"] == 4
    assert {s["reason"]: s["count"] for s in out["skipped"]} == {
        "already in that sequence": 1,
        "bounced": 1,
    }
    moved = team.call("GET", f"/sequences/{other}/contacts").json()
    assert sorted(r["contact"]["email"] for r in moved) == [person(i)["email"] for i in range(5)]
    assert {r["status"] for r in moved} == {"scheduled"}
    left = team.call("GET", f"/sequences/{seq}/contacts").json()
    assert [r["id"] for r in left] == [ids[0], ids[5]]


def test_bulk_resync_of_the_contacts_picked(team: Team, crelate: Sim, work: Any) -> None:
    seq, ids = sequence_with(team, 5)  # added before Crelate was connected: not synced
    r = team.call(
        "POST", f"/sequences/{seq}/contacts/bulk", json={"action": "resync", "ids": ids[:2]}
    )
    assert r.status_code == 422 and r.json()["field"] == "connection"
    r = team.call(
        "PUT",
        "/connection",
        json={"provider": "crelate", "credentials": {"api_key": CRELATE_KEYS["alice"]}},
    )
    assert r.status_code == 200, r.text
    r = team.call(
        "POST",
        f"/sequences/{seq}/contacts/bulk",
        json={"action": "resync", "all": True, "q": "n0001"},
    )
    assert r.json()["done"] == 1 and len(r.json()["batch_ids"]) == 1
    r = team.call(
        "POST", f"/sequences/{seq}/contacts/bulk", json={"action": "resync", "ids": ids[:3]}
    )
    out = r.json()
    assert out["done"] == 2
    assert out["skipped"] == [{"reason": "already synced or syncing", "count": 1}]
    work()
    synced = [r["sync_state"] for r in team.call("GET", f"/sequences/{seq}/contacts").json()]
    assert synced == ["synced", "synced", "synced", "not_synced", "not_synced"]


def test_bad_list_and_bulk_requests_are_422s_naming_the_field(team: Team, db: Database) -> None:
    seq, ids = sequence_with(team, 3)
    other_team = Team(team.client, db, "Other")
    foreign, _ = sequence_with(other_team, 1)
    path = f"/sequences/{seq}/contacts"
    for params, field in (
        ({"status": "sleeping"}, "status"),
        ({"sort": "email"}, "sort"),
        ({"cursor": "bm90IGEgY3Vyc29y"}, "cursor"),
        ({"cursor": "!!"}, "cursor"),
        ({"limit": 0}, "limit"),
        ({"q": "x" * 201}, "q"),
    ):
        r = team.call("GET", path, params=params)
        assert r.status_code == 422, (params, r.text)
        assert r.json()["field"] == field, (params, r.json())
    by_name = team.call("GET", path, params={"sort": "name", "limit": 1})
    r = team.call("GET", path, params={"sort": "added", "cursor": by_name.headers["X-Next-Cursor"]})
    assert r.status_code == 422 and r.json()["field"] == "cursor"
    for body, field, status in (
        ({"action": "nap", "ids": ids}, "action", 422),
        ({"action": "pause"}, "ids", 422),
        ({"action": "pause", "ids": ids, "all": True}, "ids", 422),
        ({"action": "pause", "ids": []}, "ids", 422),
        ({"action": "pause", "all": True, "status": "asleep"}, "status", 422),
        ({"action": "move", "ids": ids}, "target_sequence_id", 422),
        ({"action": "move", "ids": ids, "target_sequence_id": foreign}, "target_sequence_id", 404),
    ):
        r = team.call("POST", f"{path}/bulk", json=body)
        assert r.status_code == status, (body, r.text)
        assert r.json()["field"] == field, (body, r.json())
    # Coherent, not refused: a contact is in one tab; moving into its own sequence skips all.
    both = team.call("GET", path, params={"needs_attention": True, "status": "paused"})
    assert both.status_code == 200 and both.json() == []
    r = team.call(
        "POST", f"{path}/bulk", json={"action": "move", "ids": ids, "target_sequence_id": seq}
    )
    assert r.json()["done"] == 0
    assert r.json()["skipped"] == [{"reason": "already in that sequence", "count": 3}]
    # Another team's sequence is not found, whatever the request.
    assert team.call("GET", f"/sequences/{foreign}/contacts/counts").status_code == 404
    r = team.call(
        "POST", f"/sequences/{foreign}/contacts/bulk", json={"action": "remove", "all": True}
    )
    assert r.status_code == 404
    assert len(other_team.call("GET", f"/sequences/{foreign}/contacts").json()) == 1


def test_the_web_list_shows_a_wrong_url_as_a_note_and_guards_other_teams(
    team: Team, db: Database
) -> None:
    from tests.test_web_cross_team import signed_in_owner
    from tests.test_web_sessions import csrf

    seq, ids = sequence_with(team, 60)
    web = signed_in_owner(team, db, "acme")
    page = web.get(f"/sequences/{seq}", params={"tab": "sleeping", "q": "a\x00b"})
    assert page.status_code == 200
    assert "Unknown status tab" in page.text and "showing the first page" in page.text
    assert page.text.count('class="contact-row') == 50  # the first page, not 60 nor 500
    token = csrf(web, f"/sequences/{seq}")
    nothing = web.post(
        f"/sequences/{seq}/contacts/bulk", data={"action": "pause", "csrf_token": token}
    )
    assert nothing.status_code == 422 and "Select contacts first" in nothing.text
    paused = web.post(
        f"/sequences/{seq}/contacts/bulk",
        data={"action": "pause", "ids": [str(i) for i in ids[:2]], "csrf_token": token},
    )
    assert paused.status_code == 200 and "Paused 2." in paused.text
    other = Team(team.client, db, "Rival")
    theirs, _ = sequence_with(other, 1)
    answer = web.post(
        f"/sequences/{theirs}/contacts/bulk",
        data={"action": "remove", "all": "1", "csrf_token": token},
    )
    assert answer.status_code == 404
    assert len(other.call("GET", f"/sequences/{theirs}/contacts").json()) == 1


def test_search_finds_accented_names_whatever_their_case(team: Team) -> None:
    seq = team.call("POST", "/sequences", json={"name": "Lyon", "steps": []}).json()["id"]
    people = [
        {"email": "elodie@example.fr", "first_name": "ÉLODIE", "last_name": "Brûlé"},
        {"email": "other@example.fr", "first_name": "Other", "last_name": "Person"},
    ]
    assert (
        team.call("POST", f"/sequences/{seq}/contacts", json={"contacts": people}).status_code
        == 201
    )
    found = team.call("GET", f"/sequences/{seq}/contacts", params={"q": "élodie"}).json()
    assert [c["contact"]["email"] for c in found] == ["elodie@example.fr"]
    found = team.call("GET", f"/sequences/{seq}/contacts", params={"q": "BRÛ"}).json()
    assert [c["contact"]["email"] for c in found] == ["elodie@example.fr"]
