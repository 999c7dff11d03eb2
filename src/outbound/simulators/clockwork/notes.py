"""Note routes of the Clockwork simulator (creation is invented: audit #28, #29)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request

from outbound.simulators.clockwork.context import PREFIX, ClockworkError, Context
from outbound.simulators.clockwork.store import new_id, now_stamp


def add_note_routes(api: FastAPI, ctx: Context) -> None:
    @api.get(PREFIX + "/{firm}/people/{pid}/notes")
    async def person_notes(firm: str, pid: str, request: Request) -> dict[str, Any]:
        f, _ = ctx.auth(firm, request)
        ctx.person_or_404(f, pid)
        notes = ctx.paged(request, f.notes_of(pid))
        if ctx.has("notes_list_without_content"):  # BH fetches each note for its content
            notes = [{k: v for k, v in n.items() if k != "content"} for n in notes]
        return {"notes": notes}

    @api.post(PREFIX + "/{firm}/people/{pid}/notes", status_code=201)
    async def add_note(firm: str, pid: str, request: Request) -> dict[str, Any]:
        f, user = ctx.auth(firm, request)
        ctx.person_or_404(f, pid)
        data = await ctx.body_of(request, "note")
        if not data.get("content"):
            raise ClockworkError(400, "note.content is required")
        note = {
            "id": new_id(),
            "personId": pid,
            "type": data.get("category") or "Internal",
            "content": data["content"],
            "contentType": data.get("content_type", "text/html"),
            "createdUserId": user["id"],
            "createdAt": now_stamp(),
        }
        f.add_note(note)
        return {"note": note}

    @api.get(PREFIX + "/{firm}/notes/{nid}")
    async def get_note(firm: str, nid: str, request: Request) -> dict[str, Any]:
        f, _ = ctx.auth(firm, request)
        if nid not in f.notes:
            raise ClockworkError(404, f"Note '{nid}' not found")
        return {"note": f.notes[nid]}
