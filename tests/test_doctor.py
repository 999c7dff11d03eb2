"""`outbound doctor` against every simulator profile: each probe tells the variant it meets, so
the table a real account prints names the profile it matches."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from outbound.cli import app
from outbound.connectors.clockwork import unverified as clockwork_facts
from outbound.connectors.crelate import unverified as crelate_facts
from outbound.connectors.registry import probes_for
from outbound.simulators.clockwork import unverified as clockwork_sim
from outbound.simulators.crelate import unverified as crelate_sim
from tests.conftest import CRELATE_KEYS, Sim, clockwork_credentials

FACTS = {"crelate": crelate_facts, "clockwork": clockwork_facts}
SIM_PROFILES = {"crelate": crelate_sim.PROFILES, "clockwork": clockwork_sim.PROFILES}
CASES = [(p, None) for p in SIM_PROFILES] + [
    (p, profile) for p in SIM_PROFILES for profile in sorted(SIM_PROFILES[p])
]


def credentials(provider: str) -> list[str]:
    given = {"api_key": CRELATE_KEYS["alice"]} if provider == "crelate" else clockwork_credentials()
    return [arg for name, value in given.items() for arg in ("-c", f"{name}={value}")]


def doctor(provider: str, sim: Sim, *extra: str) -> tuple[int, Any]:
    root = "/api3" if provider == "crelate" else "/v3.0"
    args = ["doctor", provider, *credentials(provider), "--base-url", sim.server.url + root]
    result = CliRunner().invoke(app, [*args, *extra])
    return result.exit_code, result.output


@pytest.mark.parametrize(
    ("provider", "profile"), CASES, ids=[f"{p}-{x or 'default'}" for p, x in CASES]
)
def test_doctor_names_the_profile_the_account_matches(
    provider: str, profile: str | None, crelate: Sim, clockwork: Sim
) -> None:
    sim = {"crelate": crelate, "clockwork": clockwork}[provider]
    active = sim.profiles(*([profile] if profile else []))
    before = len(sim.records("contacts" if provider == "crelate" else "people"))
    code, output = doctor(provider, sim, "--write", "--json")
    assert code == 0, output
    report = json.loads(output)
    assert [r for r in report["results"] if r["outcome"] == "failed"] == []
    assert report["profiles"] == active  # every variant told apart, none invented
    assert report["left_behind"] == []
    after = len(sim.records("contacts" if provider == "crelate" else "people"))
    assert after == before  # the throw-away records were deleted


def test_doctor_prints_a_table_and_is_read_only_by_default(crelate: Sim) -> None:
    code, output = doctor("crelate", crelate)
    assert code == 0, output
    assert "users_me" in output and "holds" in output and "matches simulator profiles" in output
    crelate.http.post("/_admin/stats/reset").raise_for_status()
    code, output = doctor("crelate", crelate, "--json")
    skipped = {r["probe"] for r in json.loads(output)["results"] if r["outcome"] == "skipped"}
    assert {"crelate.duplicate_check", "crelate.stage_change"} <= skipped
    methods = {k.split()[0] for k in crelate.stats()["by_endpoint"]}
    assert methods == {"GET"}  # nothing written without --write


def test_doctor_with_bad_credentials_says_so_and_exits_non_zero(crelate: Sim) -> None:
    result = CliRunner().invoke(
        app,
        ["doctor", "crelate", "-c", "api_key=wrong", "--base-url", crelate.server.url + "/api3"],
    )
    assert result.exit_code != 0
    assert "rejected" in result.output


@pytest.mark.parametrize("provider", sorted(FACTS))
def test_every_unverified_fact_has_a_probe(provider: str) -> None:
    import inspect

    described = set(FACTS[provider].PROBES)
    probes = probes_for(provider)
    assert set(probes) == described
    source = inspect.getsource(FACTS[provider])
    named = {
        line.split("probe:", 1)[1].split()[0] for line in source.splitlines() if "probe:" in line
    }
    assert named <= described, f"unknown probes named in comments: {named - described}"
    assert described <= named, f"probes no fact names: {described - named}"
