"""Issue 16's last contact-page gaps: the ATS record opens from a link (an administrator's
pattern, else the connector's unverified one, said to be unconfirmed; never made of unchecked
data), and the job a contact was added to is named by its title, with its id when the ATS
cannot be reached (the page still answers)."""

from __future__ import annotations

import html
from typing import Any

import pytest
from pydantic import ValidationError

from outbound.connectors.record_links import pattern_problem, record_link, self_links
from outbound.settings import Settings
from outbound.store.db import Database
from tests.conftest import Sim, Team
from tests.test_api_core import make_sequence
from tests.test_sync_crelate import add, connect, enrollment, job_named, person
from tests.test_web_cross_team import signed_in_owner

GUID = "7b59bb80-35ff-48a1-a94c-a83b00ee915e"
CRELATE_API = "https://app.crelate.com/api3"
CLOCKWORK_API = "https://api.clockworkrecruiting.com/v3.0"


# -- the link ---------------------------------------------------------------------------------
def test_the_unverified_pattern_is_used_for_the_real_api_only_and_marked_so() -> None:
    link = record_link("crelate", GUID, CRELATE_API, CRELATE_API, None)
    assert link is not None and not link.confirmed
    assert link.url == f"https://app.crelate.com/go#stage/_Contacts/DefaultView/{GUID}/summary"
    sandbox_api = "https://sandbox.crelate.com/api3"
    sandbox = record_link("crelate", GUID, sandbox_api, sandbox_api, None)
    assert sandbox is not None and sandbox.url.startswith("https://sandbox.crelate.com/go#")
    # A simulator (or any other host) has no record pages: no link, the id is shown.
    simulator = "http://127.0.0.1:9/api3"
    assert record_link("crelate", GUID, simulator, simulator, None) is None
    person_link = record_link("clockwork", GUID, "acme", CLOCKWORK_API, None)
    assert person_link is not None and not person_link.confirmed
    assert person_link.url == f"https://acme.clockworkrecruiting.com/firm/people#id:{GUID}"
    assert record_link("clockwork", GUID, "acme", "http://127.0.0.1:9/v3.0", None) is None


def test_a_configured_pattern_wins_and_counts_as_confirmed() -> None:
    pattern = "https://{firm}.example.com/people/{id}"
    link = record_link("clockwork", "4456601", "acme", "http://127.0.0.1:9/v3.0", pattern)
    assert link is not None and link.confirmed
    assert link.url == "https://acme.example.com/people/4456601"
    # {host} is filled only with one of the ATS's own hosts, never the simulator's.
    simulator = "http://127.0.0.1:9/api3"
    assert record_link("crelate", GUID, simulator, simulator, "https://{host}/{id}") is None


@pytest.mark.parametrize(
    ("record_id", "org"),
    [
        ('x"><script>alert(1)</script>', "acme"),
        ("../../admin", "acme"),
        ("rec-42", "acme"),
        (GUID, "acme.evil.example/x"),  # a firm that is not a subdomain
    ],
)
def test_nothing_unchecked_goes_into_a_link(record_id: str, org: str) -> None:
    pattern = "https://{firm}.clockworkrecruiting.com/firm/people#id:{id}"
    assert record_link("clockwork", record_id, org, CLOCKWORK_API, pattern) is None


def test_an_administrators_pattern_is_checked_when_the_server_starts() -> None:
    assert pattern_problem("https://app.crelate.com/go#/contacts/{id}") is None
    for bad in ("javascript:alert({id})", "https://x.example/", "https://x/{id}/{name}"):
        with pytest.raises(ValidationError):
            Settings(crelate_record_url=bad)
    assert Settings(clockwork_record_url="https://{firm}.x.example/{id}").clockwork_record_url


def test_the_doctor_finds_a_link_a_record_carries_but_not_its_api_address() -> None:
    record = {
        "Id": GUID,
        "Websites_LinkedIn": {"Value": "https://linkedin.com/in/nia"},
        "Links": [{"Web": f"https://app.crelate.com/go#stage/_Contacts/DefaultView/{GUID}"}],
    }
    assert [field for field, _ in self_links(record, GUID)] == ["Links.Web"]
    echoed = {"Url": f"https://app.crelate.com/api3/contacts/{GUID}?api_key=secret"}
    assert list(self_links(echoed, GUID)) == []
    assert list(self_links(record, "")) == []


# -- on the contact page ------------------------------------------------------------------------
def _synced(team: Team, crelate: Sim, work: Any, job: str) -> int:
    connect(team)
    seq = make_sequence(team, job_id=job)
    eid = add(team, seq, person(1))[0]
    work()
    assert enrollment(team, eid)["sync_state"] == "synced"
    return eid


def test_the_contact_page_names_the_job_and_shows_the_record(
    team: Team, db: Database, crelate: Sim, work: Any, settings: Settings
) -> None:
    job = job_named(crelate, "Senior Python Engineer")
    eid = _synced(team, crelate, work, job)
    browser = signed_in_owner(team, db, "acme")

    page = html.unescape(browser.get(f"/enrollments/{eid}").text)
    assert 'Added to job "Senior Python Engineer"' in page
    assert job not in page.split("Technical details")[0]  # the id stays in the raw calls
    # The simulator has no record pages: the record's id, no link.
    record_id = enrollment(team, eid)["ats_record_id"]
    assert f"Record id {record_id}" in page.replace("<code>", "").replace("</code>", "")
    assert "Open in Crelate" not in page

    # An administrator's pattern: the link, not marked unconfirmed.
    settings.crelate_record_url = "https://crelate.example.com/contacts/{id}"
    page = browser.get(f"/enrollments/{eid}").text
    assert f'href="https://crelate.example.com/contacts/{record_id}"' in page
    assert "Open in Crelate" in page and "Unconfirmed link pattern" not in page

    # The same history in the contacts list's timeline.
    timeline = html.unescape(browser.get(f"/enrollments/{eid}/timeline").text)
    assert 'Added to job "Senior Python Engineer"' in timeline


def test_an_unreachable_ats_shows_the_job_id_and_the_page_still_answers(
    team: Team, db: Database, crelate: Sim, work: Any
) -> None:
    job = job_named(crelate, "Senior Python Engineer")
    eid = _synced(team, crelate, work, job)
    browser = signed_in_owner(team, db, "acme")
    crelate.faults(error_rate=1.0)
    answer = browser.get(f"/enrollments/{eid}")
    assert answer.status_code == 200
    assert f"Added to job {job}" in html.unescape(answer.text)
