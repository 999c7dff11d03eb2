"""Issue 15: a contact's timeline is paged (REST and web): every call exactly once across the
pages, newest page first, the retention summary once, on the oldest page; limits enforced and
stated in the OpenAPI schema."""

from __future__ import annotations

import itertools
import re
from typing import Any

import httpx
import pytest

from outbound.service.retention import prune_once
from outbound.settings import Settings
from outbound.store.db import Database
from outbound.store.models import User, utcnow
from tests.conftest import Team
from tests.test_retention import OLD, Person, add_calls, enrol, set_enrollment


def pages(team: Team, eid: int, **params: Any) -> list[list[dict[str, Any]]]:
    """Follow the Link header from the latest page to the oldest."""
    url: str | None = f"/api/v1/enrollments/{eid}/timeline"
    out = []
    while url is not None:
        r = team.client.get(url, params=params if not out else None, headers=team.headers())
        assert r.status_code == 200, r.text
        out.append(r.json())
        link = r.links.get("next")
        url = link["url"] if link else None
        assert len(out) < 50
    return out


def test_every_call_once_across_pages_newest_page_first(
    team: Team, db: Database, settings: Settings
) -> None:
    p = enrol(team, db)
    set_enrollment(db, p, state="finished")
    add_calls(db, p, 7, utcnow() - OLD)
    prune_once(db, settings)  # a summary for the oldest page
    add_calls(db, p, 123, utcnow() - OLD / 2)
    other = enrol(team, db, "bo@talent.example.com")
    add_calls(db, other, 5, utcnow())  # another contact's calls never show

    got = pages(team, p.enrollment_id, limit=50)
    assert [len(page) for page in got] == [50, 50, 23 + 1]
    calls = [[e["id"] for e in page if e["kind"] == "call"] for page in got]
    # Oldest first within a page, each page older than the one before it.
    assert all(page == sorted(page) for page in calls)
    assert all(older[-1] < newer[0] for newer, older in itertools.pairwise(calls))
    flat = [i for page in calls for i in page]
    assert len(flat) == len(set(flat)) == 123
    # The summary of what retention removed: once, first on the oldest page.
    kinds = [e["kind"] for page in got for e in page]
    assert kinds.count("summary") == 1 and got[-1][0]["kind"] == "summary"
    assert got[-1][0]["summary"]["counts"] == {"calls": 7}

    # The default page is the latest 50, in the order the timeline always had.
    latest = team.call("GET", f"/enrollments/{p.enrollment_id}/timeline")
    assert [e["id"] for e in latest.json()] == calls[0]
    assert 'rel="next"' in latest.headers["link"]


def test_a_short_timeline_is_one_page_without_a_link(team: Team, db: Database) -> None:
    p = enrol(team, db)
    add_calls(db, p, 3, utcnow())
    r = team.call("GET", f"/enrollments/{p.enrollment_id}/timeline", params={"limit": 3})
    assert len(r.json()) == 3 and "link" not in r.headers
    ids = [e["id"] for e in r.json()]
    r = team.call("GET", f"/enrollments/{p.enrollment_id}/timeline", params={"limit": 2})
    assert [e["id"] for e in r.json()] == ids[1:]
    assert f"before={ids[1]}" in r.links["next"]["url"]
    rest = team.call(
        "GET", f"/enrollments/{p.enrollment_id}/timeline", params={"before": ids[1], "limit": 2}
    )
    assert [e["id"] for e in rest.json()] == ids[:1] and "link" not in rest.headers


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 201}, "limit"),
        ({"limit": "all"}, "limit"),
        ({"before": 0}, "before"),
        ({"before": 2**63}, "before"),
    ],
)
def test_a_bad_page_is_422_naming_the_field(
    team: Team, db: Database, params: dict[str, Any], field: str
) -> None:
    p = enrol(team, db)
    r = team.call("GET", f"/enrollments/{p.enrollment_id}/timeline", params=params)
    assert r.status_code == 422 and r.json()["field"] == field


def test_the_openapi_schema_states_the_limits(team: Team) -> None:
    spec = team.client.get("/openapi.json").json()
    endpoint = spec["paths"]["/api/v1/enrollments/{enrollment_id}/timeline"]["get"]
    params = {q["name"]: q["schema"] for q in endpoint["parameters"]}
    assert params["limit"]["minimum"] == 1 and params["limit"]["maximum"] == 200
    assert params["limit"]["default"] == 50
    before = params["before"]["anyOf"][0]
    assert before["minimum"] == 1 and before["maximum"] == 2**63 - 1


# -- the web timeline ----------------------------------------------------------------------
def _signed_in(team: Team, db: Database) -> httpx.Client:
    from outbound.web.session import hash_password

    with db.session() as session:
        user = session.get(User, team.user_ids["owner"])
        assert user is not None
        user.password_hash = hash_password("pw-owner-123")
        email = user.email
    web: httpx.Client = team.client
    token = re.search(r'name="csrf_token" value="([^"]+)"', web.get("/login").text)
    assert token
    form = {"email": email, "password": "pw-owner-123", "csrf_token": token.group(1)}
    assert web.post("/login", data=form, follow_redirects=False).status_code == 303
    return web


def _calls(html: str) -> list[str]:
    return re.findall(r"<code>GET (/api3/contacts/\d+)</code>", html)


def test_the_web_timeline_shows_the_latest_page_show_earlier_and_the_summary(
    team: Team, db: Database, settings: Settings
) -> None:
    p: Person = enrol(team, db)
    set_enrollment(db, p, state="finished")
    add_calls(db, p, 4, utcnow() - OLD)
    prune_once(db, settings)
    add_calls(db, p, 60, utcnow())
    web = _signed_in(team, db)

    first = web.get(f"/enrollments/{p.enrollment_id}/timeline")
    assert first.status_code == 200
    assert "Earlier history" in first.text and "4 ATS calls" in first.text
    shown = _calls(first.text)
    assert len(shown) == 50
    more = re.search(r'hx-get="(/enrollments/\d+/timeline\?before=\d+)"', first.text)
    assert more and "Show earlier calls" in first.text

    earlier = web.get(more.group(1))
    assert earlier.status_code == 200
    assert "Show earlier" not in earlier.text and "Earlier history" not in earlier.text
    older = _calls(earlier.text)
    assert len(older) == 10 and not set(older) & set(shown)
