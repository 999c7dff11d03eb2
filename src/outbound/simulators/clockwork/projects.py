"""Lookups, statuses, projects, candidacies and webhooks of the Clockwork simulator.

Every project, candidacy and status shape here is invented (audit #23-#27; unverified.ENDPOINTS).
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, Request

from outbound.simulators.clockwork.context import PREFIX, ClockworkError, Context
from outbound.simulators.clockwork.store import Firm, new_id, now_stamp


def candidacy_out(c: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": c["id"],
        "projectId": c["project_id"],
        "personId": c["person_id"],
        "statusId": c["status_id"],
        "rank": c["rank"],
        "stoplightStatus": c["stoplight_status"],
        "createdUserId": c["created_user_id"],
        "createdAt": c["created_at"],
        "updatedAt": c["updated_at"],
    }


def new_candidacy(
    f: Firm, project_id: str, person_id: str, status_id: Any, user_id: str
) -> dict[str, Any]:
    stamp = now_stamp()
    c: dict[str, Any] = {
        "id": new_id(),
        "project_id": project_id,
        "person_id": person_id,
        "status_id": status_id,
        "rank": len(f.candidacies) + 1,
        "stoplight_status": "green",
        "created_user_id": user_id,
        "created_at": stamp,
        "updated_at": stamp,
    }
    f.add_candidacy(c)
    return c


def add_lookup_routes(api: FastAPI, ctx: Context) -> None:
    for key in ("tags", "companies", "regions"):

        async def lookup(firm: str, request: Request, key: str = key) -> dict[str, Any]:
            f, _ = ctx.auth(firm, request)
            return {key: ctx.paged(request, getattr(f, key))}

        api.get(PREFIX + "/{firm}/" + key, name=key)(lookup)

    @api.get(PREFIX + "/{firm}/statuses")
    async def statuses(firm: str, request: Request) -> dict[str, Any]:
        f, _ = ctx.auth(firm, request)
        return {"statuses": f.statuses}

    @api.get(PREFIX + "/{firm}/projects")
    async def projects(firm: str, request: Request) -> dict[str, Any]:
        f, _ = ctx.auth(firm, request)
        return {"projects": ctx.paged(request, list(f.projects.values()))}


def add_candidacy_routes(api: FastAPI, ctx: Context) -> None:
    @api.get(PREFIX + "/{firm}/projects/{project_id}/candidacies")
    async def candidacies(firm: str, project_id: str, request: Request) -> dict[str, Any]:
        f, _ = ctx.auth(firm, request)
        ctx.project_or_404(f, project_id)
        person = request.query_params.get("person_id")
        items = f.candidacies_of(project_id, person)
        out = []
        for c in ctx.paged(request, items):
            entry = candidacy_out(c)
            if request.query_params.get("include") == "person" and c["person_id"] in f.people:
                entry["person"] = ctx.person_out(f.people[c["person_id"]])
            out.append(entry)
        return {"candidacies": out}

    @api.post(PREFIX + "/{firm}/projects/{project_id}/candidacies", status_code=201)
    async def add_candidacy(firm: str, project_id: str, request: Request) -> dict[str, Any]:
        f, user = ctx.auth(firm, request)
        ctx.project_or_404(f, project_id)
        data = await ctx.body_of(request, "candidacy")
        person_id = str(data.get("person_id") or "")
        ctx.person_or_404(f, person_id)
        if f.candidacies_of(project_id, person_id):
            raise ClockworkError(400, "candidacy.person_id is already on this project")
        status_id = data.get("status_id") or (f.statuses[0]["id"] if f.statuses else None)
        c = new_candidacy(f, project_id, person_id, status_id, user["id"])
        return {"candidacy": candidacy_out(c)}

    @api.patch(PREFIX + "/{firm}/candidacies/{cid}")
    async def update_candidacy(firm: str, cid: str, request: Request) -> dict[str, Any]:
        f, _ = ctx.auth(firm, request)
        c = f.candidacies.get(cid)
        if c is None:
            raise ClockworkError(404, f"Candidacy '{cid}' not found")
        data = await ctx.body_of(request, "candidacy")
        if "status_id" in data:
            if not any(s["id"] == data["status_id"] for s in f.statuses):
                raise ClockworkError(400, "candidacy.status_id is not a known status")
            c["status_id"] = data["status_id"]
        c["updated_at"] = now_stamp()
        return {"candidacy": candidacy_out(c)}


def add_webhook_routes(api: FastAPI, ctx: Context) -> None:
    @api.post(PREFIX + "/{firm}/webhooks", status_code=201)
    async def add_webhook(firm: str, request: Request) -> dict[str, Any]:
        f, _ = ctx.auth(firm, request)
        try:
            body = json.loads(await request.body() or b"{}")
        except ValueError as exc:
            raise ClockworkError(400, "request body is not valid JSON") from exc
        if not isinstance(body, dict) or not body.get("hook_url"):
            raise ClockworkError(400, "hook_url is required")
        wid = new_id()
        f.webhooks[wid] = {"id": wid, "hook_url": body["hook_url"]}
        return {"id": wid}

    @api.delete(PREFIX + "/{firm}/webhooks/{wid}", status_code=204)
    async def delete_webhook(firm: str, wid: str, request: Request) -> None:
        f, _ = ctx.auth(firm, request)
        if f.webhooks.pop(wid, None) is None:
            raise ClockworkError(404, f"Webhook '{wid}' not found")
