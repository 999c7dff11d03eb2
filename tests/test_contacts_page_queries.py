"""The contacts page of a big sequence (issue 16): the page shows its rows without reading every
contact of the sequence; the tab counts, the figures and the stuck-work banners it loads right
after come from one grouped read, searched through an index, that says what the three reads it
replaces said. On the engine under test."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from outbound.domain.contact_tabs import LABELS
from outbound.service import contact_list, work_state
from outbound.service.caller import Caller
from outbound.service.sequence_figures import (
    figures_of,
    groups_statement,
    sequence_figures,
    sequence_groups,
)
from outbound.store.db import Database
from outbound.store.models import Sequence, utcnow
from tests.conftest import Team, database_url, sign_in_owner
from tests.seeding import Seat, add_connection, enrol_many, planned_session
from tests.statements import statements_sent
from tests.test_query_plans import assert_reads, plan_of

PASSWORD = "pw-owner-123"
STATES = ("active", "active", "paused", "finished", "replied", "bounced", "unsubscribed")
SYNC = ("not_synced", "pending", "synced", "failed")
ERRORS = (None, None, None, "missing_variable", "sync_error", "ats_permission", "send_uncertain")
ENGAGEMENT = (None, "messaged", "opened", "clicked", None)
SENTIMENT = (None, None, "interested", "not_interested")


def varied(i: int) -> dict[str, Any]:
    """Every combination the tabs, figures and warnings tell apart, spread over the rows."""
    state = STATES[i % len(STATES)]
    return {
        "state": state,
        "sync_state": SYNC[i % len(SYNC)],
        "error_code": ERRORS[i % len(ERRORS)],
        "engagement": ENGAGEMENT[i % len(ENGAGEMENT)],
        "sentiment": SENTIMENT[i % len(SENTIMENT)],
        "next_send_at": utcnow() + timedelta(hours=1) if i % 3 else None,
    }


@pytest.fixture
def seat(team: Team, db: Database) -> Seat:
    """The owner, signed in on the web client, with a Crelate connection and a sequence."""
    step = {"subject": "Hi", "body": "Hello", "delay_days": 0}
    r = team.call("POST", "/sequences", json={"name": "Big", "steps": [step]})
    assert r.status_code == 201, r.text
    with db.session() as s:
        conn = add_connection(s, team.team_id, team.user_ids["owner"], "owner", "Owner")
    sign_in_owner(team, db, PASSWORD)
    return Seat(team.team_id, team.user_ids["owner"], conn, r.json()["id"])


def enrol(db: Database, seat: Seat, start: int, stop: int) -> None:
    with db.session() as s:
        emails = [f"p{i}@big.test" for i in range(start, stop)]
        enrol_many(s, seat, emails, each=lambda i: varied(start + i))


def whole_sequence_reads(statements: list[str]) -> list[str]:
    """The statements that read the enrollments grouped (a read of every contact)."""
    return [
        s
        for s in statements
        if re.search(r"FROM enrollments\b", s) and "GROUP BY" in s and "sync_jobs" not in s
    ]


def test_the_page_shows_its_rows_without_reading_every_contact(
    team: Team, db: Database, seat: Seat
) -> None:
    def contacts_page() -> str:
        answer = team.client.get(f"/sequences/{seat.sequence_id}")
        assert answer.status_code == 200, answer.text
        return answer.text

    enrol(db, seat, 0, 5)
    contacts_page()
    with statements_sent(db) as with_5:
        contacts_page()
    enrol(db, seat, 5, 120)
    with statements_sent(db) as with_120:
        text = contacts_page()
    assert len(with_120) == len(with_5)
    assert whole_sequence_reads(with_120) == []
    # The rows are there; the counts, figures and banners are asked for once it is shown.
    assert text.count('class="contact-row') == 50
    counts_url = f"/sequences/{seat.sequence_id}/contacts/counts?summary=1"
    assert f'hx-get="{counts_url}" hx-trigger="load"' in text
    assert 'id="seq-figures"' in text and 'aria-busy="true"' in text


def test_counts_figures_and_warnings_come_from_one_read(
    team: Team, db: Database, seat: Seat
) -> None:
    enrol(db, seat, 0, 140)
    url = f"/sequences/{seat.sequence_id}/contacts/counts?summary=1"
    team.client.get(url)
    with statements_sent(db) as sent:
        answer = team.client.get(url)
    assert answer.status_code == 200, answer.text
    assert len(whole_sequence_reads(sent)) == 1

    caller = Caller(seat.user_id, seat.team_id, "owner")
    with db.read_session() as s:
        tabs = contact_list.count_tabs(s, caller, seat.sequence_id)
        figures = sequence_figures(s, seat.team_id, [seat.sequence_id])[seat.sequence_id]
    html = answer.text
    assert f'data-matching="{tabs["all"]}"' in html
    for key, n in tabs.items():
        if n:
            assert f'{LABELS[key]} <span class="count">{n}</span>' in html, key
    assert f'<span class="stat">{figures.contacts}</span> contacts' in html
    assert f'<span class="stat">{figures.replied}</span> replied' in html
    # The figures and banners are swapped in by id: the rows' page keeps its place.
    assert '<ul id="seq-figures"' in html and 'id="sequence-warnings" hx-swap-oob="true"' in html
    assert 'data-kind="failed"' in html and 'data-kind="no_mailbox"' in html


def test_a_search_counts_its_tabs_only(team: Team, db: Database, seat: Seat) -> None:
    enrol(db, seat, 0, 30)
    answer = team.client.get(f"/sequences/{seat.sequence_id}/contacts/counts?q=p1")
    assert answer.status_code == 200
    # p1, p10…p19: 11 contacts; no figures or banners for a search (they do not change).
    assert 'data-matching="11"' in answer.text
    assert "seq-figures" not in answer.text and "sequence-warnings" not in answer.text


def test_the_one_read_says_what_the_three_reads_said(team: Team, db: Database, seat: Seat) -> None:
    enrol(db, seat, 0, 300)
    with db.session() as s:  # another sequence of the team, which none of it may count
        other = s.scalars(select(Sequence).where(Sequence.id == seat.sequence_id)).one()
        twin = Sequence(team_id=other.team_id, owner_id=other.owner_id, name="Other")
        s.add(twin)
        s.flush()
        enrol_many(
            s,
            Seat(seat.team_id, seat.user_id, seat.connection_id, twin.id),
            [f"o{i}@big.test" for i in range(40)],
            each=lambda i: varied(i + 3),
        )
    caller = Caller(seat.user_id, seat.team_id, "owner")
    with db.read_session() as s:
        groups = sequence_groups(s, seat.team_id, seat.sequence_id)
        assert contact_list.tab_counts_of(groups) == contact_list.count_tabs(
            s, caller, seat.sequence_id
        )
        by_sql = sequence_figures(s, seat.team_id, [seat.sequence_id])[seat.sequence_id]
        assert figures_of(groups) == by_sql
        warnings = work_state.sequence_warnings(s, caller, seat.sequence_id, groups)
        assert warnings == work_state.sequence_warnings(s, caller, seat.sequence_id)
        assert {w.kind for w in warnings} >= {"failed", "no_mailbox", "waiting"}


@pytest.fixture
def planned(tmp_path: Path) -> Iterator[Session]:
    with planned_session(database_url(tmp_path)) as s:
        yield s


def test_the_one_read_searches_its_sequence_through_an_index(planned: Session) -> None:
    """Led by ``state``, SQLite read ix_enrollments_paused whole (every sequence) for its
    order: the read must be narrowed to the sequence."""
    team_id, sequence_id = planned.execute(
        select(Sequence.team_id, Sequence.id).order_by(Sequence.id)
    ).first() or (0, 0)
    plan = plan_of(planned, groups_statement(team_id, sequence_id))
    assert_reads(plan, "enrollments")
