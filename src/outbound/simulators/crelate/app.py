"""A Crelate api3 simulator: a real ASGI server following ../shared/ats/crelate.md."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from starlette.types import Scope

from outbound.simulators.crelate import unverified
from outbound.simulators.crelate.store import (
    RECORD_KINDS,
    CrelateStore,
    new_id,
    now_iso,
    seed_store,
)
from outbound.simulators.harness import (
    FaultConfig,
    Harness,
    RateLimitConfig,
    load_state,
    mount_admin,
    save_state,
)

E164 = re.compile(r"^\+[1-9]\d{6,14}$")
PHONE_PREFIX = "PhoneNumbers_"
CONTACT_POINTS = ("EmailAddresses_", "PhoneNumbers_", "Websites_", "InstantAddresses_")


class CrelateError(Exception):
    def __init__(self, status: int, *messages: str) -> None:
        self.status = status
        self.messages = messages


def envelope(
    request_url: str,
    verb: str,
    data: Any,
    *,
    total: int | None = None,
    more: bool | None = None,
    errors: list[str] | None = None,
) -> dict[str, Any]:
    return {
        "Data": data,
        "Metadata": {
            "CorrelationId": str(uuid.uuid4()),
            "TimeStamp": now_iso(),
            "Url": request_url,  # echoes ?api_key= when the key came in the query (confirmed)
            "Verb": verb,
            "TotalRecords": total,
            "MoreRecords": more,
            "Links": None,
        },
        "Errors": [{"Message": m} for m in errors or []],
    }


def _key_of(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name.lower() == b"x-api-key" and value.strip():
            return str(value.decode())
    qs = scope.get("query_string", b"").decode()
    match = re.search(r"(?:^|&)api_key=([^&]*)", qs)
    return match.group(1) if match else None


def _error_body(status: int, message: str, scope: Scope) -> dict[str, Any]:
    return envelope(scope.get("path", ""), scope.get("method", ""), None, errors=[message])


def create_crelate_app(
    seed: str = "standard",
    faults: FaultConfig | None = None,
    rate_limit: RateLimitConfig | None = None,
    state_file: Path | None = None,
    profiles: Iterable[str] = (),
) -> Harness:
    api = FastAPI(
        title="Crelate api3 simulator", docs_url="/_admin/docs", openapi_url="/_admin/openapi.json"
    )
    state: dict[str, Any] = load_state(state_file) or {"store": seed_store(seed), "seed": seed}
    state.setdefault("denied", {})  # api key or "*" → ["POST /activities", …] (answered 403)
    active = unverified.profiles(profiles)

    def store() -> CrelateStore:
        s: CrelateStore = state["store"]
        return s

    def reply(request: Request, data: Any, status: int = 200, **kw: Any) -> JSONResponse:
        return JSONResponse(envelope(str(request.url), request.method, data, **kw), status)

    @api.exception_handler(CrelateError)
    async def _err(request: Request, exc: CrelateError) -> JSONResponse:
        return JSONResponse(
            envelope(str(request.url), request.method, None, errors=list(exc.messages)),
            exc.status,
        )

    def user(request: Request) -> dict[str, Any]:
        u = store().user_by_key(_key_of(request.scope))
        if u is None:
            raise CrelateError(401, "Authorization has been denied for this request.")
        call = f"{request.method} {request.url.path.removeprefix('/api3')}"
        denied = [*state["denied"].get("*", ()), *state["denied"].get(u["ApiKey"], ())]
        if any(call == d or call.startswith(d + "/") for d in denied):
            # Evidence (MP 52758b0): a valid key without permission on one endpoint gets 403.
            raise CrelateError(403, "You do not have permission to perform this action.")
        return u

    def usable_activity_types() -> list[dict[str, Any]]:
        types = store().activity_types
        if "no_email_activity_type" in active:
            return [t for t in types if t["Name"].lower() not in unverified.EMAIL_TYPE_NAMES]
        return types

    async def entity(request: Request, key: str = "entity") -> Any:
        try:
            body = json.loads(await request.body() or b"{}")
        except ValueError as exc:
            raise CrelateError(400, "The request body is not valid JSON.") from exc
        if not isinstance(body, dict) or key not in body:
            raise CrelateError(400, f"The request body must be an object with '{key}'.")
        return body[key]

    def paging(request: Request) -> tuple[int, int]:
        try:
            limit = int(request.query_params.get("limit", 50))
            offset = int(request.query_params.get("offset", 0))
        except ValueError as exc:
            raise CrelateError(400, "limit and offset must be integers") from exc
        if limit < 1 or offset < 0:
            raise CrelateError(400, "limit must be positive and offset not negative")
        return min(limit, unverified.MAX_PAGE_SIZE), offset

    def page(request: Request, items: list[Any]) -> JSONResponse:
        limit, offset = paging(request)
        chunk = items[offset : offset + limit]
        return reply(request, chunk, total=len(items), more=offset + len(chunk) < len(items))

    def contact_or_404(cid: str) -> dict[str, Any]:
        c = store().contact(cid)  # an index lookup, case-insensitive
        if c is not None:
            return c
        raise CrelateError(unverified.NOT_FOUND_STATUS, f"Contact {cid} was not found.")

    def job_or_404(jid: str) -> dict[str, Any]:
        for key, j in store().jobs.items():
            if key.lower() == jid.lower():
                return j
        raise CrelateError(unverified.NOT_FOUND_STATUS, f"Job {jid} was not found.")

    def validate_contact(e: Any, creating: bool) -> dict[str, Any]:
        if not isinstance(e, dict):
            raise CrelateError(400, "entity must be an object")
        if creating:
            missing = [f for f in ("FirstName", "LastName") if not str(e.get(f) or "").strip()]
            if missing:  # official: 500 with the list of missing fields
                raise CrelateError(500, *(f"{f} is required." for f in missing))
        for key, value in e.items():
            if key.startswith(CONTACT_POINTS) and not isinstance(value, dict):
                raise CrelateError(400, f"{key} must be an object with a Value.")
            if key.startswith(PHONE_PREFIX) and not E164.match(str(value.get("Value", ""))):
                raise CrelateError(
                    unverified.PHONE_REJECT_STATUS,
                    f"{key}: '{value.get('Value')}' is not a valid phone number.",
                )
            if key == "RecordType" and not isinstance(value, int):
                raise CrelateError(400, "RecordType must be an integer bitmask.")
            if key[:1].islower():
                raise CrelateError(400, f"Unknown field '{key}'.")
        return e

    # -- contacts ---------------------------------------------------------------------
    @api.get("/api3/contacts/info")
    async def contacts_info(request: Request) -> JSONResponse:
        user(request)
        fields = [
            {"Name": f, "Label": f, "IsCustom": False}
            for f in ("FirstName", "LastName", "Description", "Salary")
        ]
        return reply(
            request,
            {
                "Fields": fields + store().custom_fields,
                "RecordTypes": {
                    "Candidate": 1,
                    "Contact": 2,
                    "Lead": 4,
                    "Employee": unverified.EMPLOYEE_BIT,
                },
            },
        )

    @api.get("/api3/contacts")
    async def list_contacts(request: Request) -> JSONResponse:
        user(request)
        q = request.query_params
        if q.get("emails"):
            wanted = {e.strip().lower() for e in q["emails"].split(",") if e.strip()}
            items = store().contacts_with_emails(wanted)  # the email index, in stored order
        else:
            items = list(store().contacts.values())
        if q.get("job_ids"):
            jobs = {j.lower() for j in q["job_ids"].split(",")}
            on = {c for (j, c) in store().pipeline if j.lower() in jobs}
            items = [c for c in items if c["Id"] in on]
        if q.get("modified_after"):
            items = [c for c in items if c["ModifiedOn"] > q["modified_after"].replace("Z", "")]
        if q.get("tag_names"):
            names = {t.strip() for t in q["tag_names"].split(",")}
            items = [
                c
                for c in items
                if names & {t.get("Title") for ts in (c.get("Tags") or {}).values() for t in ts}
            ]
        return page(request, items)

    def refuse_duplicate(e: dict[str, Any]) -> None:
        """Crelate's own duplicate check (MP 4f49640): seen for the same name with another
        email; the same email is a duplicate too."""
        if "duplicate_check_off" in active:
            return
        match = store().duplicate_of(e)
        if match is not None:
            raise CrelateError(
                409, f"A duplicate record of type Contacts with ID '{match}' was found."
            )

    @api.post("/api3/contacts")
    async def create_contact(request: Request) -> JSONResponse:
        u = user(request)
        e = validate_contact(await entity(request), creating=True)
        refuse_duplicate(e)
        return reply(request, store().add_contact(e, u), 201)

    @api.post("/api3/contacts/bulk")
    async def bulk_contacts(request: Request) -> JSONResponse:
        u = user(request)
        entities = await entity(request, "entities")
        if not isinstance(entities, list):
            raise CrelateError(400, "entities must be an array")
        checked = [validate_contact(e, creating=True) for e in entities]
        for e in checked:
            refuse_duplicate(e)
        return reply(request, [store().add_contact(e, u) for e in checked], 201)

    @api.get("/api3/contacts/{cid}")
    async def get_contact(cid: str, request: Request) -> JSONResponse:
        user(request)
        return reply(request, contact_or_404(cid))

    @api.api_route("/api3/contacts/{cid}", methods=["PATCH", "PUT"])
    async def update_contact(cid: str, request: Request) -> JSONResponse:
        u = user(request)
        c = contact_or_404(cid)
        e = validate_contact(await entity(request), creating=False)
        if request.method == "PUT":  # unverified against the live API: PUT replaces
            keep = {k: c[k] for k in ("Id", "CreatedById", "CreatedOn", "ContactNum", "Owners")}
            c.clear()
            c.update(keep)
        c.update({k: v for k, v in e.items() if k not in ("Id", "CreatedById", "CreatedOn")})
        c["UpdatedById"] = {"Id": u["Id"], "Title": u["Name"]}
        c["ModifiedOn"] = now_iso()
        store().reindex_contact(c["Id"])  # its names and emails may have changed
        return reply(request, c["Id"])

    @api.delete("/api3/contacts/{cid}")
    async def delete_contact(cid: str, request: Request) -> JSONResponse:
        """Unverified: the doctor's write probes clean up their throw-away contacts with it."""
        user(request)
        contact = contact_or_404(cid)
        store().remove_contact(contact["Id"])
        return reply(request, contact["Id"])

    # -- jobs and pipelines -------------------------------------------------------------
    @api.get("/api3/jobs")
    async def list_jobs(request: Request) -> JSONResponse:
        user(request)
        items = list(store().jobs.values())
        if request.query_params.get("name"):
            items = [j for j in items if request.query_params["name"].lower() in j["Name"].lower()]
        return page(request, items)

    @api.get("/api3/jobs/{jid}")
    async def get_job(jid: str, request: Request) -> JSONResponse:
        user(request)
        return reply(request, job_or_404(jid))

    def stage_from(body: dict[str, Any]) -> dict[str, Any]:
        statuses = store().statuses
        if body.get("statusId"):
            match = next(
                (s for s in statuses if s["Id"].lower() == str(body["statusId"]).lower()), None
            )
        elif body.get("statusName"):
            match = next(
                (s for s in statuses if s["Name"].lower() == str(body["statusName"]).lower()), None
            )
        else:
            match = min(statuses, key=lambda s: s["SortOrder"]) if statuses else None
        if match is None:
            raise CrelateError(400, "The workflow status was not found.")
        return match

    async def json_body(request: Request) -> dict[str, Any]:
        try:
            body = json.loads(await request.body() or b"{}")
        except ValueError as exc:
            raise CrelateError(400, "The request body is not valid JSON.") from exc
        if not isinstance(body, dict):
            raise CrelateError(400, "The request body must be an object.")
        return body

    def move(job: dict[str, Any], contact: dict[str, Any], stage: dict[str, Any]) -> None:
        entry = store().pipeline.setdefault(
            (job["Id"], contact["Id"]), {"StatusId": None, "History": []}
        )
        if entry["StatusId"] != stage["Id"]:
            entry["StatusId"] = stage["Id"]
            entry["History"].append(
                {"Date": now_iso(), "Stage": {"Id": stage["Id"], "Title": stage["Name"]}}
            )

    @api.post("/api3/jobs/{jid}/contacts")
    async def job_contacts(jid: str, request: Request) -> JSONResponse:
        user(request)
        job = job_or_404(jid)
        ids = [i for i in request.query_params.get("contact_ids", "").split(",") if i]
        if not ids:
            raise CrelateError(400, "contact_ids is required.")
        stage = stage_from(await json_body(request))
        contacts = [contact_or_404(cid) for cid in ids]
        for contact in contacts:
            on_job = (job["Id"], contact["Id"]) in store().pipeline
            if on_job and "stage_put" in active:
                raise CrelateError(400, f"Contact {contact['Id']} is already on this job.")
            move(job, contact, stage)
        return reply(request, ids)

    @api.put("/api3/jobs/{jid}/contacts/{cid}")
    async def job_contact_stage(jid: str, cid: str, request: Request) -> JSONResponse:
        user(request)
        if "stage_put" not in active:
            raise CrelateError(404, f"No HTTP resource was found that matches {request.url.path}.")
        job, contact = job_or_404(jid), contact_or_404(cid)
        if (job["Id"], contact["Id"]) not in store().pipeline:
            raise CrelateError(404, f"Contact {cid} is not on job {jid}.")
        move(job, contact, stage_from(await json_body(request)))
        return reply(request, contact["Id"])

    @api.get("/api3/jobs/{jid}/contacts")
    async def job_contacts_list(jid: str, request: Request) -> JSONResponse:
        user(request)
        job = job_or_404(jid)
        items = [store().contacts[c] for (j, c) in store().pipeline if j == job["Id"]]
        return page(request, items)

    @api.get("/api3/jobs/{jid}/contacts/history")
    async def job_history(jid: str, request: Request) -> JSONResponse:
        user(request)
        job = job_or_404(jid)
        cid = request.query_params.get("contact_id")
        items = []
        if cid is None:
            for (j, _), entry in store().pipeline.items():
                if j == job["Id"]:
                    items.extend(entry["History"])
        else:  # pipeline entries name live contacts only: one dict lookup, not a scan
            contact = store().contact(cid)
            found = None if contact is None else store().pipeline.get((job["Id"], contact["Id"]))
            items.extend(found["History"] if found else [])
        if not items and cid and "history_empty_list" not in active:
            # S8 treats a 404 here as "no history": a contact never on the job.
            raise CrelateError(404, f"No pipeline history for contact {cid} on job {jid}.")
        return page(request, items)

    @api.get("/api3/workflowstatuses")
    async def workflow_statuses(request: Request) -> JSONResponse:
        user(request)
        items = store().statuses
        wanted = request.query_params.get("workflow_type_ids")
        if wanted:
            ids = {w.lower() for w in wanted.split(",")}
            items = [s for s in items if s["WorkflowTypeId"]["Id"].lower() in ids]
        return page(request, items)

    # -- activities, notes, lookups -------------------------------------------------------
    @api.get("/api3/activitytypes")
    async def activity_types(request: Request) -> JSONResponse:
        user(request)
        if "activitytypes_forbidden" in active:
            raise CrelateError(403, "You do not have permission to perform this action.")
        return page(request, usable_activity_types())

    def parent_of(e: dict[str, Any]) -> dict[str, Any]:
        parent = e.get("ParentId")
        if not isinstance(parent, dict) or not parent.get("Id"):
            raise CrelateError(400, "ParentId is required.")
        if parent.get("EntityName", "Contacts") == "Contacts":
            contact_or_404(str(parent["Id"]))
        return parent

    @api.post("/api3/activities")
    async def create_activity(request: Request) -> JSONResponse:
        u = user(request)
        e = await entity(request)
        parent = parent_of(e)
        verb = e.get("VerbId") or {}
        if not any(
            t["Id"].lower() == str(verb.get("Id", "")).lower() for t in usable_activity_types()
        ):
            raise CrelateError(400, "VerbId must be an existing activity type.")
        aid = new_id()
        store().activities[aid] = {
            **e,
            "Id": aid,
            "ParentId": parent,
            "CreatedById": {"Id": u["Id"], "Title": u["Name"]},
            "CreatedOn": now_iso(),
        }
        return reply(request, aid)

    @api.get("/api3/activities")
    async def list_activities(request: Request) -> JSONResponse:
        user(request)
        absent_under("activities_unlisted", request)
        parents = {p.lower() for p in request.query_params.get("parent_ids", "").split(",") if p}
        items = [
            a
            for a in store().activities.values()
            if not parents or str(a["ParentId"]["Id"]).lower() in parents
        ]
        return page(request, items)

    @api.post("/api3/notes")
    async def create_note(request: Request) -> JSONResponse:
        u = user(request)
        e = await entity(request)
        parent = parent_of(e)
        if not e.get("Display"):
            raise CrelateError(500, "Body is required.")
        nid = new_id()
        store().notes[nid] = {
            **e,
            "Id": nid,
            "ParentId": parent,
            "CreatedById": {"Id": u["Id"], "Title": u["Name"]},
        }
        return reply(request, nid)

    @api.get("/api3/contactsources")
    async def contact_sources(request: Request) -> JSONResponse:
        user(request)
        return page(request, store().contact_sources)

    @api.get("/api3/artifacttypes")
    async def artifact_types(request: Request) -> JSONResponse:
        user(request)
        return page(request, [])

    @api.get("/api3/companies")
    async def companies(request: Request) -> JSONResponse:
        user(request)
        return page(request, [])

    # -- unverified: users and lists ------------------------------------------------------
    def public_user(u: dict[str, Any]) -> dict[str, Any]:
        return {"Id": u["Id"], "Title": u["Name"], "Name": u["Name"], "Email": u["Email"]}

    def absent_under(profile: str, request: Request) -> None:
        if profile in active:
            raise CrelateError(404, f"No HTTP resource was found that matches {request.url.path}.")

    @api.get("/api3/users/me")
    async def me(request: Request) -> JSONResponse:
        u = user(request)
        absent_under("no_users_me", request)
        return reply(request, public_user(u))

    @api.get("/api3/users")
    async def users(request: Request) -> JSONResponse:
        user(request)
        absent_under("no_users_me", request)
        return page(request, [public_user(u) for u in store().users])

    @api.get("/api3/lists")
    async def lists(request: Request) -> JSONResponse:
        user(request)
        absent_under("no_lists", request)
        return page(
            request,
            [
                {"Id": v["Id"], "Name": v["Name"], "Count": len(v["Members"])}
                for v in store().lists.values()
            ],
        )

    @api.get("/api3/lists/{lid}/contacts")
    async def list_members(lid: str, request: Request) -> JSONResponse:
        user(request)
        absent_under("no_lists", request)
        entry = next((v for k, v in store().lists.items() if k.lower() == lid.lower()), None)
        if entry is None:
            raise CrelateError(unverified.NOT_FOUND_STATUS, f"List {lid} was not found.")
        return page(
            request, [store().contacts[c] for c in entry["Members"] if c in store().contacts]
        )

    @api.api_route("/api3/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    async def unknown(rest: str, request: Request) -> JSONResponse:
        user(request)
        raise CrelateError(404, f"No HTTP resource was found that matches /api3/{rest}.")

    harness = Harness(
        api,
        api_prefix="/api3",
        key_of=_key_of,
        error_body=_error_body,
        faults=faults,
        rate_limit=rate_limit,
        profiles=active,
    )

    def reset(seed_name: str | None) -> None:
        state["seed"] = seed_name or state["seed"]
        state["store"] = seed_store(state["seed"])
        state["denied"] = {}

    @api.put("/_admin/permissions")
    async def permissions(request: Request) -> dict[str, Any]:
        """Take calls away from a key (or every key: no api_key), as a restricted Crelate role
        does: {"api_key": …, "deny": ["POST /activities"]}. An empty list gives them back."""
        body = await request.json()
        deny = body.get("deny") if isinstance(body, dict) else None
        if not isinstance(deny, list) or not all(isinstance(d, str) for d in deny):
            raise HTTPException(422, 'send {"api_key": optional, "deny": ["METHOD /path", …]}')
        state["denied"][body.get("api_key") or "*"] = [d.strip() for d in deny]
        return {"denied": state["denied"]}

    mount_admin(api, harness, store, RECORD_KINDS, reset)

    @api.get("/_admin/keys")
    async def keys() -> list[dict[str, Any]]:
        return store().users

    @api.post("/_admin/users")
    async def add_users(request: Request) -> list[dict[str, Any]]:
        """Load tests: add `count` users, each with an API key of its own."""
        count = int((await request.json()).get("count", 1))
        users = store().users
        added = []
        for _ in range(count):
            n = len(users) + 1
            user = {
                "Id": new_id(),
                "Name": f"Load User {n}",
                "Email": f"load{n}@acme-staffing.test",
                "ApiKey": f"loadkey{n:06d}" + "0" * 12,
            }
            users.append(user)
            added.append(user)
        return added

    harness.state = state  # type: ignore[attr-defined]
    if state_file is not None:
        harness.on_shutdown = lambda: save_state(state_file, state)
    return harness
