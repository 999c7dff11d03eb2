"""Operations endpoints: health, readiness, Prometheus metrics that reflect real sync work."""

from __future__ import annotations

import re
from typing import Any

from outbound.settings import Settings
from tests.conftest import Sim, Team
from tests.test_api_core import make_sequence
from tests.test_sync_crelate import add, connect, person


def metric(text: str, name: str, labels: str) -> float:
    match = re.search(rf"^{re.escape(name)}\{{{re.escape(labels)}\}} (\S+)$", text, re.M)
    return float(match.group(1)) if match else 0.0


def test_health_and_readiness(team: Team) -> None:
    assert team.client.get("/healthz").json() == {"status": "ok"}
    assert team.client.get("/readyz").json() == {"status": "ready"}


def test_metrics_are_for_the_scraper_only(team: Team, settings: Settings) -> None:
    # The test client is not this host: without a token it is refused, as anyone remote.
    assert team.client.get("/metrics").status_code == 404
    settings.metrics_token = "scrape-secret"
    assert team.client.get("/metrics").status_code == 404
    assert team.client.get("/metrics", headers={"Authorization": "Bearer nope"}).status_code == 404
    answer = team.client.get("/metrics", headers={"Authorization": "Bearer scrape-secret"})
    assert answer.status_code == 200 and "outbound_sync_jobs" in answer.text


def test_metrics_count_jobs_and_ats_calls(
    team: Team, crelate: Sim, work: Any, settings: Settings
) -> None:
    settings.metrics_token = "scrape-secret"
    team.client.headers["Authorization"] = "Bearer scrape-secret"
    connect(team)
    seq = make_sequence(team)
    add(team, seq, person(1), person(2))
    before = team.client.get("/metrics").text
    assert metric(before, "outbound_sync_jobs", 'state="pending"') == 2  # a check-and-sync each
    created_before = metric(before, "outbound_ats_calls_total", 'provider="crelate",status="201"')
    work()
    after = team.client.get("/metrics").text
    assert metric(after, "outbound_sync_jobs", 'state="pending"') == 0
    assert metric(after, "outbound_sync_jobs", 'state="done"') == 2
    assert (
        metric(after, "outbound_ats_calls_total", 'provider="crelate",status="201"')
        == created_before + 2
    )
    assert "outbound_ats_call_seconds_bucket" in after
