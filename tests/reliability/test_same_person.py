"""Two teammates connected to the same ATS organisation add the same person at once: the work
for one person in one organisation runs one job at a time, across connections and workers, so
the person is created once and both contacts link to that record."""

from __future__ import annotations

from typing import Any

from tests.conftest import Sim, Team
from tests.test_api_core import make_sequence
from tests.test_sync_crelate import add, ats_contacts, connect, enrollment, person


def test_two_teammates_on_one_organisation_create_the_person_once(
    team: Team, crelate: Sim, work: Any
) -> None:
    crelate.profiles("duplicate_check_off")  # Crelate's own check would hide a second create
    crelate.faults(latency_ms=300)  # both syncs are in flight together
    connect(team, "owner", who="alice")
    connect(team, "manager", who="bob")
    mine = add(team, make_sequence(team, "owner"), person(1), role="owner")
    theirs = add(team, make_sequence(team, "manager"), person(1), role="manager")
    work()
    records = {enrollment(team, e)["ats_record_id"] for e in (*mine, *theirs)}
    assert len(ats_contacts(crelate, "cand1@talent.example.com")) == 1
    assert len(records) == 1 and None not in records
