"""People routes of the Clockwork simulator: create, search, get, update and sub-resources."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request

from outbound.simulators.clockwork.context import PREFIX, ClockworkError, Context
from outbound.simulators.clockwork.store import LOCATION_TYPE_IDS, Firm, new_id, now_stamp


def _camel(key: str) -> str:
    return "".join(w if i == 0 else w.title() for i, w in enumerate(key.split("_")))


def _search_hits(ctx: Context, f: Firm, q: str) -> list[dict[str, Any]]:
    """No q lists everyone (BH validates with ``people_search?limit=1``, audit #7)."""
    if not q:
        return list(f.people.values())
    return f.search(q, with_email=not ctx.has("search_ignores_email"))


def add_people_routes(api: FastAPI, ctx: Context) -> None:
    @api.get(PREFIX + "/{firm}/people")
    async def list_people(firm: str, request: Request) -> dict[str, Any]:
        f, _ = ctx.auth(firm, request)
        return {"people": [ctx.person_out(p) for p in ctx.paged(request, list(f.people.values()))]}

    @api.post(PREFIX + "/{firm}/people", status_code=201)
    async def create_person(firm: str, request: Request) -> dict[str, Any]:
        f, user = ctx.auth(firm, request)
        data = await ctx.person_body(request)
        if not (data.get("name") or data.get("firstName")):
            raise ClockworkError(400, "person.name is required")
        try:
            person = f.add_person(data, user)
        except KeyError as exc:
            raise ClockworkError(400, f"Unknown tag id '{exc.args[0]}'") from exc
        return {"id": person["id"], "person": ctx.person_out(person)}

    @api.get(PREFIX + "/{firm}/people_search")
    async def people_search(firm: str, request: Request) -> dict[str, Any]:
        f, _ = ctx.auth(firm, request)
        hits = _search_hits(ctx, f, request.query_params.get("q", "").strip().lower())
        page = ctx.paged(request, hits)
        meta = {"total": len(hits), "page": int(request.query_params.get("page") or 1)}
        return {"peopleSearch": [ctx.person_out(p) for p in page], "meta": meta}

    @api.get(PREFIX + "/{firm}/people/{pid}")
    async def get_person(firm: str, pid: str, request: Request) -> dict[str, Any]:
        f, _ = ctx.auth(firm, request)
        person = ctx.person_out(ctx.person_or_404(f, pid))
        return person if ctx.has("get_person_unwrapped") else {"person": person}

    @api.api_route(PREFIX + "/{firm}/people/{pid}", methods=["PATCH", "PUT"])
    async def update_person(firm: str, pid: str, request: Request) -> dict[str, Any]:
        f, _ = ctx.auth(firm, request)
        person = ctx.person_or_404(f, pid)
        data = await ctx.person_body(request)
        try:
            f.update_person(person, data)
        except KeyError as exc:
            raise ClockworkError(400, f"Unknown tag id '{exc.args[0]}'") from exc
        return {"person": ctx.person_out(person)}

    @api.delete(PREFIX + "/{firm}/people/{pid}", status_code=204)
    async def delete_person(firm: str, pid: str, request: Request) -> None:
        """Unverified: the doctor's write probes clean up their throw-away person with it."""
        f, _ = ctx.auth(firm, request)
        ctx.person_or_404(f, pid)
        f.remove_person(pid)  # with their notes and candidacies

    @api.post(PREFIX + "/{firm}/people/{pid}/email_addresses", status_code=201)
    async def add_email(firm: str, pid: str, request: Request) -> dict[str, Any]:
        f, _ = ctx.auth(firm, request)
        person = ctx.person_or_404(f, pid)
        data = await ctx.body_of(request, "email")
        if not data.get("address"):
            raise ClockworkError(400, "email.address is required")
        location = data.get("location", "work")
        if location not in LOCATION_TYPE_IDS:
            raise ClockworkError(400, "email.location must be home, work or other")
        return {"personEmailAddress": f.add_email(person, str(data["address"]), location)}

    add_sub_resources(api, ctx)

    @api.get(PREFIX + "/{firm}/people/{pid}/positions")
    async def positions(firm: str, pid: str, request: Request) -> dict[str, Any]:
        f, _ = ctx.auth(firm, request)
        person = ctx.person_or_404(f, pid)
        return {
            "personPositions": [
                {**p, "company": {"name": p.get("companyName")}, "isCurrent": not p.get("endYear")}
                for p in person["positions"]
            ]
        }


def add_sub_resources(api: FastAPI, ctx: Context) -> None:
    """Phone, LinkedIn, address, position, tag: ``{root: {...}}`` in, ``{out_key: item}`` out."""

    def sub_resource(
        path: str, root: str, out_key: str, list_key: str, required: tuple[str, ...]
    ) -> None:
        @api.post(PREFIX + "/{firm}/people/{pid}/" + path, status_code=201, name=f"add_{path}")
        async def add(firm: str, pid: str, request: Request) -> dict[str, Any]:
            f, _ = ctx.auth(firm, request)
            person = ctx.person_or_404(f, pid)
            data = await ctx.body_of(request, root)
            for name in required:
                if not data.get(name):
                    raise ClockworkError(400, f"{root}.{name} is required")
            item = {"id": new_id(), **{_camel(k): v for k, v in data.items()}}
            person[list_key].append(item)
            person["updatedAt"] = now_stamp()
            return {out_key: item}

    sub_resource("phone_numbers", "phone_number", "personPhoneNumber", "phoneNumbers", ("digits",))
    sub_resource("linkedin_urls", "linkedin_url", "personLinkedinUrl", "linkedinUrls", ("url",))
    sub_resource("addresses", "address", "personAddress", "addresses", ())
    sub_resource("positions", "position", "position", "positions", ())
    sub_resource("tags", "person_tag", "personTag", "tags", ("tag_id",))
