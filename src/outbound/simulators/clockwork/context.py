"""What every Clockwork simulator route shares: the firm, auth, bodies, paging and profiles."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from fastapi import Request

from outbound.simulators.clockwork import unverified
from outbound.simulators.clockwork.store import PERSON_BODY_FIELDS, Firm, location_of
from outbound.simulators.harness import Harness

PREFIX = "/v3.0"


class ClockworkError(Exception):
    def __init__(self, status: int, message: str) -> None:
        self.status = status
        self.message = message


class Context:
    def __init__(self, state: dict[str, Any], harness: Harness) -> None:
        self.state = state
        self.harness = harness

    @property
    def firm(self) -> Firm:
        f: Firm = self.state["firm"]
        return f

    def has(self, profile: str) -> bool:
        """Read per request: tests switch profiles on a running simulator."""
        return profile in self.harness.profiles

    def auth(self, firm: str, request: Request) -> tuple[Firm, dict[str, Any]]:
        f = self.firm
        if firm.lower() != f.name.lower():
            raise ClockworkError(unverified.UNKNOWN_FIRM_STATUS, f"Firm '{firm}' not found")
        if request.headers.get("x-api-key") != f.service_key:
            raise ClockworkError(unverified.BAD_FIRM_KEY_STATUS, "Forbidden")
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
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

    async def body_of(self, request: Request, root: str) -> dict[str, Any]:
        try:
            body = json.loads(await request.body() or b"{}")
        except ValueError as exc:
            raise ClockworkError(400, "request body is not valid JSON") from exc
        if not isinstance(body, dict) or not isinstance(body.get(root), dict):
            raise ClockworkError(400, f"'{root}' is required and must be an object")
        data: dict[str, Any] = body[root]
        return data

    async def person_body(self, request: Request) -> dict[str, Any]:
        """A create or update body: the real API's names only. The real API would drop or refuse
        anything else (snake_case included); the simulator says so instead of hiding it."""
        data = await self.body_of(request, "person")
        for key in data:
            if key not in PERSON_BODY_FIELDS:
                raise ClockworkError(400, f"Unknown field '{key}'")
        for key in ("tag_names", "tag_ids"):
            if not isinstance(data.get(key) or [], list):
                raise ClockworkError(400, f"person.{key} must be a list")
        return data

    def paged(self, request: Request, items: list[Any]) -> list[Any]:
        try:
            limit = int(request.query_params.get("limit", unverified.DEFAULT_PAGE_SIZE))
            offset = int(request.query_params.get("offset", 0))
            page_no = request.query_params.get("page")
            page = None if page_no is None else max(1, int(page_no))
        except ValueError as exc:
            raise ClockworkError(400, "limit, offset and page must be integers") from exc
        limit = max(1, min(limit, unverified.MAX_PAGE_SIZE))
        if page is not None:
            offset = (page - 1) * limit
        return items[offset : offset + limit]

    def person_or_404(self, f: Firm, pid: str) -> dict[str, Any]:
        person = f.people.get(pid)
        if person is None:
            raise ClockworkError(404, f"Person '{pid}' not found")
        return person

    def project_or_404(self, f: Firm, pid: str) -> dict[str, Any]:
        project = f.projects.get(pid)
        if project is None:
            raise ClockworkError(404, f"Project '{pid}' not found")
        return project

    def person_out(self, person: dict[str, Any]) -> dict[str, Any]:
        """A person as the API answers it, under the active profiles."""
        out = dict(person)
        if self.has("no_created_user_id"):
            out.pop("createdUserId", None)
        if self.has("legacy_email_shape"):  # an older account: the v1 list beside the v3 one
            out["emailAddresses"] = [
                {
                    "id": e["id"],
                    "address": e["address"],
                    "location": location_of(e.get("locationTypeId")),
                    "isPreferred": e["address"] == person.get("preferredEmailAddress"),
                }
                for e in person["emails"]
            ]
        return out

    def error_body(self, message: str) -> Any:
        return message if self.has("error_body_string") else {"message": message}
