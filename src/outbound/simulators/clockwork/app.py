"""A Clockwork v3.0 simulator: a real ASGI server following ../shared/ats/clockwork.md."""

from __future__ import annotations

import base64
import binascii
import json
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.types import Scope

from outbound.simulators.clockwork import unverified
from outbound.simulators.clockwork.store import RECORD_KINDS, Firm, new_id, now_iso, seed_firm
from outbound.simulators.harness import (
    FaultConfig,
    Harness,
    RateLimitConfig,
    load_state,
    mount_admin,
    save_state,
)

PREFIX = "/v3.0"


class ClockworkError(Exception):
    def __init__(self, status: int, message: str) -> None:
        self.status = status
        self.message = message


def _key_of(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name.lower() == b"authorization":
            return str(value.decode())
    return None


def _error_body(status: int, message: str, scope: Scope) -> dict[str, Any]:
    return {"message": message}


def create_clockwork_app(
    seed: str = "standard",
    firm_name: str = "acme",
    faults: FaultConfig | None = None,
    rate_limit: RateLimitConfig | None = None,
    state_file: Path | None = None,
) -> Harness:
    api = FastAPI(
        title="Clockwork v3.0 simulator",
        docs_url="/_admin/docs",
        openapi_url="/_admin/openapi.json",
    )
    state: dict[str, Any] = load_state(state_file) or {
        "firm": seed_firm(seed, firm_name),
        "seed": seed,
    }

    def firm_store() -> Firm:
        f: Firm = state["firm"]
        return f

    @api.exception_handler(ClockworkError)
    async def _err(request: Request, exc: ClockworkError) -> JSONResponse:
        return JSONResponse({"message": exc.message}, exc.status)

    def auth(firm: str, request: Request) -> tuple[Firm, dict[str, Any]]:
        f = firm_store()
        if firm.lower() != f.name.lower():
            raise ClockworkError(unverified.UNKNOWN_FIRM_STATUS, f"Firm '{firm}' not found")
        if request.headers.get("x-api-key") != f.service_key:
            raise ClockworkError(unverified.BAD_FIRM_KEY_STATUS, "Forbidden")
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme != "Token" or not token:
            raise ClockworkError(unverified.BAD_TOKEN_STATUS, "Unauthorized")
        try:
            key, _, secret = base64.b64decode(token, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise ClockworkError(unverified.BAD_TOKEN_STATUS, "Unauthorized") from exc
        user = next((u for u in f.users if u["key"] == key and u["secret"] == secret), None)
        if user is None:
            raise ClockworkError(unverified.BAD_TOKEN_STATUS, "Unauthorized")
        return f, user

    async def body_of(request: Request, root: str) -> dict[str, Any]:
        try:
            body = json.loads(await request.body() or b"{}")
        except ValueError as exc:
            raise ClockworkError(400, "request body is not valid JSON") from exc
        if not isinstance(body, dict) or not isinstance(body.get(root), dict):
            raise ClockworkError(400, f"'{root}' is required and must be an object")
        data: dict[str, Any] = body[root]
        return data

    def paged(request: Request, items: list[Any]) -> list[Any]:
        try:
            limit = int(request.query_params.get("limit", unverified.DEFAULT_PAGE_SIZE))
            offset = int(request.query_params.get("offset", 0))
            page_no = request.query_params.get("page")
        except ValueError as exc:
            raise ClockworkError(400, "limit and offset must be integers") from exc
        limit = max(1, min(limit, unverified.MAX_PAGE_SIZE))
        if page_no is not None:
            offset = (max(1, int(page_no)) - 1) * limit
        return items[offset : offset + limit]

    def person_or_404(f: Firm, pid: str) -> dict[str, Any]:
        person = f.people.get(pid)
        if person is None:
            raise ClockworkError(404, f"Person '{pid}' not found")
        return person

    def project_or_404(f: Firm, pid: str) -> dict[str, Any]:
        project = f.projects.get(pid)
        if project is None:
            raise ClockworkError(404, f"Project '{pid}' not found")
        return project

    # -- people -------------------------------------------------------------------------
    @api.get(PREFIX + "/{firm}/people")
    async def list_people(firm: str, request: Request) -> dict[str, Any]:
        f, _ = auth(firm, request)
        return {"people": paged(request, list(f.people.values()))}

    @api.post(PREFIX + "/{firm}/people", status_code=201)
    async def create_person(firm: str, request: Request) -> dict[str, Any]:
        f, user = auth(firm, request)
        data = await body_of(request, "person")
        if not (data.get("name") or data.get("first_name") or data.get("firstName")):
            raise ClockworkError(400, "person.name is required")
        person = f.add_person(data, user)
        return {"id": person["id"], "person": person}

    @api.get(PREFIX + "/{firm}/people_search")
    async def people_search(firm: str, request: Request) -> dict[str, Any]:
        f, _ = auth(firm, request)
        q = request.query_params.get("q", "").strip().lower()
        if not q:
            raise ClockworkError(400, "q is required")
        hits = [
            p
            for p in f.people.values()
            if q in str(p["name"]).lower()
            or (unverified.SEARCH_MATCHES_EMAIL and any(q in e for e in f.emails_of(p)))
        ]
        return {"peopleSearch": paged(request, hits)}

    @api.get(PREFIX + "/{firm}/people/{pid}")
    async def get_person(firm: str, pid: str, request: Request) -> dict[str, Any]:
        f, _ = auth(firm, request)
        return {"person": person_or_404(f, pid)}

    @api.api_route(PREFIX + "/{firm}/people/{pid}", methods=["PATCH", "PUT"])
    async def update_person(firm: str, pid: str, request: Request) -> dict[str, Any]:
        f, _ = auth(firm, request)
        person = person_or_404(f, pid)
        data = await body_of(request, "person")
        for key, value in data.items():
            camel = "".join(w if i == 0 else w.title() for i, w in enumerate(key.split("_")))
            if camel in ("id", "createdAt", "createdUserId", "emailAddresses"):
                raise ClockworkError(400, f"person.{key} cannot be changed here")
            person[camel] = value
        person["updatedAt"] = now_iso()
        return {"person": person}

    def sub_resource(
        path: str, root: str, out_key: str, list_key: str, required: tuple[str, ...]
    ) -> None:
        @api.post(PREFIX + "/{firm}/people/{pid}/" + path, status_code=201, name=f"add_{path}")
        async def add(firm: str, pid: str, request: Request) -> dict[str, Any]:
            f, _ = auth(firm, request)
            person = person_or_404(f, pid)
            data = await body_of(request, root)
            for name in required:
                if not data.get(name):
                    raise ClockworkError(400, f"{root}.{name} is required")
            if root == "email" and data.get("location", "work") not in ("home", "work", "other"):
                raise ClockworkError(400, "email.location must be home, work or other")
            item = {
                "id": new_id(),
                **{
                    "".join(w if i == 0 else w.title() for i, w in enumerate(k.split("_"))): v
                    for k, v in data.items()
                },
            }
            person[list_key].append(item)
            person["updatedAt"] = now_iso()
            return {out_key: item}

    sub_resource("email_addresses", "email", "personEmailAddress", "emailAddresses", ("address",))
    sub_resource("phone_numbers", "phone_number", "personPhoneNumber", "phoneNumbers", ("digits",))
    sub_resource("linkedin_urls", "linkedin_url", "personLinkedinUrl", "linkedinUrls", ("url",))
    sub_resource("addresses", "address", "personAddress", "addresses", ())
    sub_resource("positions", "position", "position", "positions", ())
    sub_resource("tags", "person_tag", "personTag", "tags", ("tag_id",))

    @api.get(PREFIX + "/{firm}/people/{pid}/positions")
    async def positions(firm: str, pid: str, request: Request) -> dict[str, Any]:
        f, _ = auth(firm, request)
        person = person_or_404(f, pid)
        return {
            "personPositions": [
                {**p, "company": {"name": p.get("companyName")}, "isCurrent": not p.get("endYear")}
                for p in person["positions"]
            ]
        }

    @api.get(PREFIX + "/{firm}/people/{pid}/notes")
    async def person_notes(firm: str, pid: str, request: Request) -> dict[str, Any]:
        f, _ = auth(firm, request)
        person_or_404(f, pid)
        return {"notes": paged(request, [n for n in f.notes.values() if n["personId"] == pid])}

    @api.post(PREFIX + "/{firm}/people/{pid}/notes", status_code=201)
    async def add_note(firm: str, pid: str, request: Request) -> dict[str, Any]:
        f, user = auth(firm, request)
        person_or_404(f, pid)
        data = await body_of(request, "note")
        if not data.get("content"):
            raise ClockworkError(400, "note.content is required")
        note = {
            "id": new_id(),
            "personId": pid,
            "type": data.get("category") or "Internal",
            "content": data["content"],
            "contentType": data.get("content_type", "text/html"),
            "createdUserId": user["id"],
            "createdAt": now_iso(),
        }
        f.notes[note["id"]] = note
        return {"note": note}

    @api.get(PREFIX + "/{firm}/notes/{nid}")
    async def get_note(firm: str, nid: str, request: Request) -> dict[str, Any]:
        f, _ = auth(firm, request)
        if nid not in f.notes:
            raise ClockworkError(404, f"Note '{nid}' not found")
        return {"note": f.notes[nid]}

    # -- lookups, projects, candidacies ------------------------------------------------
    for key in ("tags", "companies", "regions"):

        async def lookup(firm: str, request: Request, key: str = key) -> dict[str, Any]:
            f, _ = auth(firm, request)
            return {key: paged(request, getattr(f, key))}

        api.get(PREFIX + "/{firm}/" + key, name=key)(lookup)

    @api.get(PREFIX + "/{firm}/statuses")
    async def statuses(firm: str, request: Request) -> dict[str, Any]:
        f, _ = auth(firm, request)
        return {"statuses": f.statuses}

    @api.get(PREFIX + "/{firm}/projects")
    async def projects(firm: str, request: Request) -> dict[str, Any]:
        f, _ = auth(firm, request)
        return {"projects": paged(request, list(f.projects.values()))}

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

    @api.get(PREFIX + "/{firm}/projects/{project_id}/candidacies")
    async def candidacies(firm: str, project_id: str, request: Request) -> dict[str, Any]:
        f, _ = auth(firm, request)
        project_or_404(f, project_id)
        person = request.query_params.get("person_id")
        items = [
            c
            for c in f.candidacies.values()
            if c["project_id"] == project_id and (person is None or c["person_id"] == person)
        ]
        out = []
        for c in paged(request, items):
            entry = candidacy_out(c)
            if request.query_params.get("include") == "person":
                entry["person"] = f.people.get(c["person_id"])
            out.append(entry)
        return {"candidacies": out}

    @api.post(PREFIX + "/{firm}/projects/{project_id}/candidacies", status_code=201)
    async def add_candidacy(firm: str, project_id: str, request: Request) -> dict[str, Any]:
        f, user = auth(firm, request)
        project_or_404(f, project_id)
        data = await body_of(request, "candidacy")
        person_id = str(data.get("person_id") or "")
        person_or_404(f, person_id)
        if any(
            c["project_id"] == project_id and c["person_id"] == person_id
            for c in f.candidacies.values()
        ):
            raise ClockworkError(400, "candidacy.person_id is already on this project")
        status_id = data.get("status_id") or (f.statuses[0]["id"] if f.statuses else None)
        stamp = now_iso()
        c = {
            "id": new_id(),
            "project_id": project_id,
            "person_id": person_id,
            "status_id": status_id,
            "rank": len(f.candidacies) + 1,
            "stoplight_status": "green",
            "created_user_id": user["id"],
            "created_at": stamp,
            "updated_at": stamp,
        }
        f.candidacies[c["id"]] = c
        return {"candidacy": candidacy_out(c)}

    @api.patch(PREFIX + "/{firm}/candidacies/{cid}")
    async def update_candidacy(firm: str, cid: str, request: Request) -> dict[str, Any]:
        f, _ = auth(firm, request)
        c = f.candidacies.get(cid)
        if c is None:
            raise ClockworkError(404, f"Candidacy '{cid}' not found")
        data = await body_of(request, "candidacy")
        if "status_id" in data:
            if not any(s["id"] == data["status_id"] for s in f.statuses):
                raise ClockworkError(400, "candidacy.status_id is not a known status")
            c["status_id"] = data["status_id"]
        c["updated_at"] = now_iso()
        return {"candidacy": candidacy_out(c)}

    @api.post(PREFIX + "/{firm}/webhooks", status_code=201)
    async def add_webhook(firm: str, request: Request) -> dict[str, Any]:
        f, _ = auth(firm, request)
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
        f, _ = auth(firm, request)
        if f.webhooks.pop(wid, None) is None:
            raise ClockworkError(404, f"Webhook '{wid}' not found")

    @api.api_route(PREFIX + "/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    async def unknown(rest: str) -> None:
        raise ClockworkError(404, "Not found")

    harness = Harness(
        api,
        api_prefix=PREFIX,
        key_of=_key_of,
        error_body=_error_body,
        faults=faults,
        rate_limit=rate_limit,
    )

    def reset(seed_name: str | None) -> None:
        state["seed"] = seed_name or state["seed"]
        state["firm"] = seed_firm(state["seed"], firm_name)

    mount_admin(api, harness, firm_store, RECORD_KINDS, reset)

    @api.get("/_admin/keys")
    async def keys() -> dict[str, Any]:
        f = firm_store()
        return {"firm": f.name, "firm_service_key": f.service_key, "users": f.users}

    if state_file is not None:
        harness.on_shutdown = lambda: save_state(state_file, state)
    return harness
