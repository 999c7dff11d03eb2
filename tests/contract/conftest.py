"""Where the contract tests point: the simulators, or a real account given in env vars."""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from tests.conftest import CLOCKWORK_FIRM_KEY, CRELATE_KEYS, Sim


@dataclass
class Target:
    http: httpx.Client  # base URL = the API root (…/api3 or …/v3.0/{firm}), auth headers set
    simulated: bool
    bad_auth_headers: dict[str, str]

    def require_simulator(self) -> None:
        if not self.simulated:
            pytest.skip("simulator-only check")

    def require_writes(self) -> None:
        if not self.simulated and os.environ.get("OUTBOUND_CONTRACT_ALLOW_WRITES") != "1":
            pytest.skip("writes to a real account need OUTBOUND_CONTRACT_ALLOW_WRITES=1")


@pytest.fixture
def crelate_api(crelate_server: Sim) -> Iterator[Target]:
    url = os.environ.get("OUTBOUND_CONTRACT_CRELATE_URL")
    key = os.environ.get("OUTBOUND_CONTRACT_CRELATE_KEY")
    simulated = not (url and key)
    if simulated:
        crelate_server.reset()
        url, key = crelate_server.server.url + "/api3", CRELATE_KEYS["alice"]
    with httpx.Client(base_url=str(url), headers={"X-Api-Key": str(key)}, timeout=20) as http:
        yield Target(http, simulated, {"X-Api-Key": "not-a-real-key"})


def _token(key: str, secret: str) -> str:
    return "Token " + base64.b64encode(f"{key}:{secret}".encode()).decode()


@pytest.fixture
def clockwork_api(clockwork_server: Sim) -> Iterator[Target]:
    env = {
        k: os.environ.get(f"OUTBOUND_CONTRACT_CLOCKWORK_{k}")
        for k in ("URL", "FIRM", "KEY", "SECRET", "FIRM_KEY")
    }
    simulated = not all(env.values())
    if simulated:
        clockwork_server.reset()
        env = {
            "URL": clockwork_server.server.url + "/v3.0",
            "FIRM": "acme",
            "KEY": "cw-alice-key",
            "SECRET": "cw-alice-secret",
            "FIRM_KEY": CLOCKWORK_FIRM_KEY,
        }
    headers = {
        "Authorization": _token(str(env["KEY"]), str(env["SECRET"])),
        "X-API-Key": str(env["FIRM_KEY"]),
        "Accept": "application/json",
    }
    with httpx.Client(base_url=f"{env['URL']}/{env['FIRM']}", headers=headers, timeout=20) as http:
        yield Target(http, simulated, {"Authorization": _token("nobody", "wrong")})
