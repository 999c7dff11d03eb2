"""A small third ATS, "Toy", as a real ASGI server: the shape a new simulator takes (a store,
routes, the shared harness for faults, rate limits, profiles and /_admin)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from starlette.types import Scope

from outbound.simulators.harness import (
    FaultConfig,
    Harness,
    Profiles,
    RateLimitConfig,
    mount_admin,
)

TOKEN = "toy-token-alice"
STAGES = ("New", "Messaged", "Replied", "Interested", "Not Interested")


@dataclass
class ToyOrg:
    people: dict[str, dict[str, Any]] = field(default_factory=dict)
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    stages: list[dict[str, Any]] = field(default_factory=list)
    pipeline: dict[tuple[str, str], str] = field(default_factory=dict)  # (job, person) → stage
    activities: list[dict[str, Any]] = field(default_factory=list)

    def records(self, kind: str) -> list[Any]:
        value = getattr(self, kind)
        return list(value.values()) if isinstance(value, dict) else list(value)

    def duplicates(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for person in self.people.values():
            for email in {e.lower() for e in person["emails"]}:
                counts[email] = counts.get(email, 0) + 1
        return {e: n for e, n in counts.items() if n > 1}


def seeded() -> ToyOrg:
    org = ToyOrg()
    org.jobs = {j: {"id": j, "name": n} for j, n in (("j1", "Platform Lead"), ("j2", "CFO"))}
    org.stages = [{"id": f"s{i}", "name": n} for i, n in enumerate(STAGES)]
    return org


def _key(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            return value.decode()
    return None


def create_toy_app(
    seed: str = "standard",
    faults: FaultConfig | None = None,
    rate_limit: RateLimitConfig | None = None,
    profiles: Iterable[str] = (),
) -> Harness:
    api = FastAPI()
    state = {"org": seeded()}

    def org(request: Request) -> ToyOrg:
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            raise HTTPException(401, "bad token")
        found: ToyOrg = state["org"]
        return found

    def person_or_404(o: ToyOrg, pid: str) -> dict[str, Any]:
        if pid not in o.people:
            raise HTTPException(404, f"no person {pid}")
        return o.people[pid]

    @api.exception_handler(HTTPException)
    async def error(request: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse({"error": exc.detail}, exc.status_code)

    @api.get("/toy/me")
    async def me(request: Request) -> dict[str, Any]:
        org(request)
        return {"id": "u1", "name": "Alice Toy"}

    @api.get("/toy/people")
    async def find(request: Request, email: str = "") -> dict[str, Any]:
        o = org(request)
        hits = [p for p in o.people.values() if email.lower() in (e.lower() for e in p["emails"])]
        return {"people": hits}

    @api.post("/toy/people", status_code=201)
    async def create(request: Request) -> dict[str, Any]:
        o, body = org(request), await request.json()
        if not body.get("first_name") or not body.get("email"):
            raise HTTPException(422, "first_name and email are required")
        pid = uuid.uuid4().hex
        o.people[pid] = {
            "id": pid,
            "first_name": body["first_name"],
            "last_name": body.get("last_name"),
            "emails": [body["email"]],
            "created_by": {"id": "u1", "name": "Alice Toy"},
        }
        return {"id": pid}

    @api.get("/toy/people/{pid}")
    async def get(pid: str, request: Request) -> dict[str, Any]:
        return person_or_404(org(request), pid)

    @api.patch("/toy/people/{pid}")
    async def update(pid: str, request: Request) -> dict[str, Any]:
        person = person_or_404(org(request), pid)
        person.update(await request.json())
        return person

    @api.get("/toy/jobs")
    async def jobs(request: Request) -> dict[str, Any]:
        return {"jobs": list(org(request).jobs.values())}

    @api.get("/toy/stages")
    async def stages(request: Request) -> dict[str, Any]:
        return {"stages": org(request).stages}

    @api.get("/toy/jobs/{jid}/people/{pid}")
    async def on_job(jid: str, pid: str, request: Request) -> dict[str, Any]:
        o = org(request)
        if (jid, pid) not in o.pipeline:
            raise HTTPException(404, "not on the job")
        return {"stage_id": o.pipeline[(jid, pid)]}

    @api.put("/toy/jobs/{jid}/people/{pid}")
    async def put_on_job(jid: str, pid: str, request: Request) -> dict[str, Any]:
        o, body = org(request), await request.json()
        if jid not in o.jobs:
            raise HTTPException(404, f"no job {jid}")
        person_or_404(o, pid)
        o.pipeline[(jid, pid)] = body.get("stage_id") or o.stages[0]["id"]
        return {"stage_id": o.pipeline[(jid, pid)]}

    @api.get("/toy/activity-types")
    async def activity_types(request: Request) -> dict[str, Any]:
        org(request)
        return {"types": [{"id": "email", "name": "Email"}, {"id": "call", "name": "Call"}]}

    @api.post("/toy/people/{pid}/activities", status_code=201)
    async def log(pid: str, request: Request) -> dict[str, Any]:
        o = org(request)
        person_or_404(o, pid)
        o.activities.append({"person_id": pid, **(await request.json())})
        return {"ok": True}

    @api.get("/toy/people/{pid}/activities")
    async def activities(pid: str, request: Request) -> dict[str, Any]:
        o = org(request)
        return {"activities": [a for a in o.activities if a["person_id"] == pid]}

    @api.get("/toy/fields")
    async def fields(request: Request) -> dict[str, Any]:
        org(request)
        return {"fields": [{"name": "nickname", "label": "Nickname"}]}

    harness = Harness(
        api,
        api_prefix="/toy",
        key_of=_key,
        error_body=lambda status, message, scope: {"error": message},
        faults=faults,
        rate_limit=rate_limit,
        profiles=Profiles({}),
    )

    def reset(seed_name: str | None) -> None:
        state["org"] = seeded()

    mount_admin(api, harness, lambda: state["org"], ("people", "jobs", "activities"), reset)
    return harness
