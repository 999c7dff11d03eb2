"""A Clockwork v3.0 simulator: a real ASGI server following ../shared/ats/evidence-audit.md.

Routes live beside this file (people, notes, projects); ``context.Context`` holds what they share.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.types import Scope

from outbound.simulators.clockwork import unverified
from outbound.simulators.clockwork.context import PREFIX, ClockworkError, Context
from outbound.simulators.clockwork.notes import add_note_routes
from outbound.simulators.clockwork.people import add_people_routes
from outbound.simulators.clockwork.projects import (
    add_candidacy_routes,
    add_lookup_routes,
    add_webhook_routes,
)
from outbound.simulators.clockwork.store import RECORD_KINDS, seed_firm, upgrade_people
from outbound.simulators.harness import (
    FaultConfig,
    Harness,
    RateLimitConfig,
    load_state,
    mount_admin,
    save_state,
)

__all__ = ["PREFIX", "ClockworkError", "create_clockwork_app"]


def _key_of(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name.lower() == b"authorization":
            return str(value.decode())
    return None


def _initial_state(state_file: Path | None, seed: str, firm_name: str) -> dict[str, Any]:
    state = load_state(state_file)
    if state is None:
        return {"firm": seed_firm(seed, firm_name), "seed": seed}
    upgrade_people(state["firm"])
    return state


def create_clockwork_app(
    seed: str = "standard",
    firm_name: str = "acme",
    faults: FaultConfig | None = None,
    rate_limit: RateLimitConfig | None = None,
    state_file: Path | None = None,
    profiles: Iterable[str] = (),
) -> Harness:
    api = FastAPI(
        title="Clockwork v3.0 simulator",
        docs_url="/_admin/docs",
        openapi_url="/_admin/openapi.json",
    )
    state = _initial_state(state_file, seed, firm_name)
    harness = Harness(
        api,
        api_prefix=PREFIX,
        key_of=_key_of,
        error_body=lambda status, message, scope: ctx.error_body(message),
        faults=faults,
        rate_limit=rate_limit,
        profiles=unverified.profiles(profiles),
    )
    ctx = Context(state, harness)

    @api.exception_handler(ClockworkError)
    async def _err(request: Request, exc: ClockworkError) -> JSONResponse:
        return JSONResponse(ctx.error_body(exc.message), exc.status)

    add_people_routes(api, ctx)
    add_note_routes(api, ctx)
    add_lookup_routes(api, ctx)
    add_candidacy_routes(api, ctx)
    add_webhook_routes(api, ctx)

    @api.api_route(PREFIX + "/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    async def unknown(rest: str) -> None:
        raise ClockworkError(404, "Not found")

    def reset(seed_name: str | None) -> None:
        state["seed"] = seed_name or state["seed"]
        state["firm"] = seed_firm(state["seed"], firm_name)

    mount_admin(api, harness, lambda: ctx.firm, RECORD_KINDS, reset)

    @api.get("/_admin/keys")
    async def keys() -> dict[str, Any]:
        f = ctx.firm
        return {"firm": f.name, "firm_service_key": f.service_key, "users": f.users}

    if state_file is not None:
        harness.on_shutdown = lambda: save_state(state_file, state)
    return harness
