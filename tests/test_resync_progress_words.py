"""Issue 16, "Progress lies": a resync of 400 contacts synced earlier, some of them changed since
(their update queued), once from the Bulk card and once over "all matching" in the list. A single
click showed "0 of 400 done (400 already synced, skipped)"; nothing queued must be said as such,
and progress counts only what was queued."""

from __future__ import annotations

import re

import httpx
import pytest
from sqlalchemy import update

from outbound.store.db import Database
from outbound.store.models import Enrollment
from tests.conftest import Team, sign_in_owner, web_csrf
from tests.seeding import Seat, add_connection, add_jobs_for, enrol_many

PASSWORD = "pw-owner-123"
NOTHING_NEW = "Nothing new to resync: 400 contacts are already synced or already waiting to sync."


def resync_all_matching(team: Team, seat: Seat) -> httpx.Response:
    """The contacts list's "select all N matching", then "Resync to Crelate"."""
    token = web_csrf(team, f"/sequences/{seat.sequence_id}")
    return team.client.post(
        f"/sequences/{seat.sequence_id}/contacts/bulk",
        data={"csrf_token": token, "action": "resync", "all": "1"},
        headers={"HX-Request": "true"},
    )


@pytest.fixture
def seat(team: Team, db: Database) -> Seat:
    """400 contacts synced to Crelate; 20 of them edited since (an update queued: pending)."""
    r = team.call("POST", "/sequences", json={"name": "Synced", "steps": []})
    assert r.status_code == 201, r.text
    owner_id = team.user_ids["owner"]
    with db.session() as s:
        conn = add_connection(s, team.team_id, owner_id, "owner", "Owner")
        seat = Seat(team.team_id, owner_id, conn, r.json()["id"])
        enrolled = enrol_many(
            s, seat, [f"p{i}@synced.test" for i in range(400)], sync_state="synced"
        )
        changed = enrolled[:20]
        add_jobs_for(s, seat, changed, kinds=["sync_contact"])
        s.execute(
            update(Enrollment)
            .where(Enrollment.id.in_([eid for _, eid in changed]))
            .values(sync_state="pending")
        )
    sign_in_owner(team, db, PASSWORD)
    return seat


def test_one_click_on_resync_says_nothing_new_not_0_of_400(team: Team, seat: Seat) -> None:
    token = web_csrf(team, f"/sequences/{seat.sequence_id}")
    answer = team.client.post(
        f"/sequences/{seat.sequence_id}/resync",
        data={"csrf_token": token},
        headers={"HX-Request": "true"},
    )
    assert answer.status_code == 200
    assert NOTHING_NEW in answer.text
    assert "0 of" not in answer.text and "progress" not in answer.text
    # Under live progress from an earlier click, never in its place.
    assert answer.headers["HX-Reswap"] == "beforeend"


def test_a_bulk_resync_of_all_matching_says_nothing_new_and_leaves_progress_alone(
    team: Team, seat: Seat
) -> None:
    answer = resync_all_matching(team, seat)
    assert answer.status_code == 200
    assert NOTHING_NEW in answer.text
    assert "0 of" not in answer.text
    # No progress swapped in: one already running beside the list keeps running.
    assert 'id="bulk-progress"' not in answer.text


def test_progress_counts_only_what_was_queued(team: Team, db: Database, seat: Seat) -> None:
    with db.session() as s:  # ten of them failed since: those are what a resync queues
        failed = s.scalars(
            update(Enrollment)
            .where(Enrollment.sequence_id == seat.sequence_id, Enrollment.id > 390)
            .values(sync_state="failed")
            .returning(Enrollment.id)
        ).all()
    assert len(failed) == 10
    answer = resync_all_matching(team, seat)
    assert answer.status_code == 200
    text = re.sub(r"\s+", " ", answer.text)
    assert "Resync queued for 10; 390 skipped: already synced or syncing." in text
    assert 'id="bulk-progress" class="bulk-progress" hx-swap-oob="true"' in text
    assert "Resync of the selected contacts: 0 of 10 done, 10 still to go" in text
    assert "390 contacts not resynced: already synced or already waiting to sync." in text
    assert "of 400" not in text
    # Its live progress polls the batch it queued.
    poll = re.search(r'hx-get="(/web/batches/[^"]+)"', answer.text)
    assert poll and "slot=bulk" in poll.group(1)
    again = team.client.get(poll.group(1).replace("&amp;", "&"))
    assert again.status_code == 200
    assert "0 of 10 done, 10 still to go" in re.sub(r"\s+", " ", again.text)
