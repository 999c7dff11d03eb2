"""Clockwork v3.0 connector: ``Token`` auth + firm service key, snake_case bodies in a root key."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any, ClassVar

from outbound.connectors.base import (
    ActivityInput,
    AtsField,
    AtsIdentity,
    AtsJob,
    AtsList,
    AtsPerson,
    AtsStage,
    HttpConnector,
    PersonInput,
)
from outbound.connectors.clockwork import unverified
from outbound.http import AsyncClient, Response


def token_header(api_key: str, api_secret: str) -> str:
    return "Token " + base64.b64encode(f"{api_key}:{api_secret}".encode()).decode()


class ClockworkConnector(HttpConnector):
    provider: ClassVar[str] = "clockwork"

    def __init__(
        self,
        base_url: str,
        firm: str,
        api_key: str,
        api_secret: str,
        firm_service_key: str,
        *,
        client: AsyncClient | None = None,
        timeout: float = 10,
    ) -> None:
        headers = {
            "Authorization": token_header(api_key, api_secret),
            "X-API-Key": firm_service_key,
            "Accept": "application/json",
        }
        super().__init__(f"{base_url.rstrip('/')}/{firm}", headers, client=client, timeout=timeout)
        self.firm = firm
        self.api_key = api_key
        self._stages: list[AtsStage] | None = None
        self._lookup_lock = asyncio.Lock()  # one statuses lookup, not one per concurrent job

    def error_message(self, response: Response) -> str:
        try:
            body = response.json()
            return str(body.get("message") or (body.get("data") or {}).get("message") or "")
        except ValueError:
            return response.reason_phrase

    async def _pages(
        self, path: str, key: str, params: dict[str, Any] | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        offset = 0
        while True:
            page = {**(params or {}), "limit": unverified.PAGE_SIZE, "offset": offset}
            items = (await self.request("GET", path, params=page)).json().get(key) or []
            for item in items:
                yield item
            if len(items) < unverified.PAGE_SIZE:  # no total/next field: a short page ends it
                return
            offset += len(items)

    async def verify(self) -> AtsIdentity:
        # Confirmed list endpoint: a bad Token → 401, a bad firm service key → 403.
        await self.request("GET", "/tags", params={"limit": 1})
        # No users endpoint is known; the API key identifies the user whose name shows on writes.
        return AtsIdentity(
            user_id=self.api_key, user_name=f"API key …{self.api_key[-4:]}", org=self.firm
        )

    @staticmethod
    def _person(data: dict[str, Any]) -> AtsPerson:
        emails = data.get("emailAddresses") or []
        email = emails[0].get("address") if emails else None
        return AtsPerson(
            id=str(data["id"]),
            email=email,
            first_name=data.get("firstName"),
            last_name=data.get("lastName"),
            created_by_id=data.get("createdUserId"),
            do_not_contact=bool(data.get("doNotContact")),
            fields=data,
        )

    async def get_person(self, person_id: str) -> AtsPerson:
        body = (
            await self.request("GET", unverified.PERSON_PATH.format(person_id=person_id))
        ).json()
        return self._person(body["person"])

    async def _search(self, q: str) -> list[dict[str, Any]]:
        params = {"q": q, "page": 1, "limit": 50}
        return (await self.request("GET", unverified.SEARCH_PATH, params=params)).json().get(
            "peopleSearch"
        ) or []

    async def find_person_by_email(self, email: str) -> AtsPerson | None:
        wanted = email.strip().lower()
        for item in await self._search(email):
            addresses = item.get("emailAddresses")
            if addresses is None:  # search results may be short: fetch the full person
                addresses = (await self.get_person(str(item["id"]))).fields.get(
                    "emailAddresses"
                ) or []
            if any(str(a.get("address", "")).lower() == wanted for a in addresses):
                return self._person({**item, "emailAddresses": addresses})
        return None

    @staticmethod
    def person_body(person: PersonInput) -> dict[str, Any]:
        return {
            "person": {
                "name": " ".join(p for p in (person.first_name, person.last_name) if p)
                or person.email,
                "first_name": person.first_name,
                "last_name": person.last_name,
                **person.extra_fields,
            }
        }

    def preview_create(self, person: PersonInput) -> dict[str, Any]:
        preview: dict[str, Any] = {
            "POST /people": self.person_body(person),
            "POST /people/{id}/email_addresses": {
                "email": {"address": person.email, "location": "work"}
            },
        }
        if person.phone:
            preview["POST /people/{id}/phone_numbers"] = {
                "phone_number": {"digits": person.phone, "location": "work"}
            }
        if person.linkedin_url:
            preview["POST /people/{id}/linkedin_urls"] = {
                "linkedin_url": {"url": person.linkedin_url}
            }
        if person.title or person.company:
            preview["POST /people/{id}/positions"] = {
                "position": {"title": person.title, "companyName": person.company}
            }
        return preview

    async def create_person(self, person: PersonInput) -> str:
        body = self.person_body(person)
        response = (await self.request("POST", "/people", json=body)).json()
        return str(response.get("id") or (response.get("person") or {}).get("id"))

    async def complete_person(self, person_id: str, person: PersonInput, fresh: bool) -> None:
        """Add the sub-resources (email, phone, LinkedIn, position), skipping what is there."""
        existing: dict[str, Any] = {}
        if not fresh:  # a retry: the earlier attempt may have written some of them
            existing = (await self.get_person(person_id)).fields
        base = f"/people/{person_id}"
        have_emails = {
            str(a.get("address", "")).lower() for a in existing.get("emailAddresses") or []
        }
        if person.email.lower() not in have_emails:
            await self.request(
                "POST",
                f"{base}/email_addresses",
                json={"email": {"address": person.email, "location": "work"}},
            )
        if person.phone and not existing.get("phoneNumbers"):
            await self.request(
                "POST",
                f"{base}/phone_numbers",
                json={"phone_number": {"digits": person.phone, "location": "work"}},
            )
        if person.linkedin_url and not existing.get("linkedinUrls"):
            await self.request(
                "POST", f"{base}/linkedin_urls", json={"linkedin_url": {"url": person.linkedin_url}}
            )
        if (person.title or person.company) and not existing.get("positions"):
            await self.request(
                "POST",
                f"{base}/positions",
                json={"position": {"title": person.title, "companyName": person.company}},
            )

    async def recover_create(self, person: PersonInput, since: str) -> str | None:
        """After an uncertain POST /people: our record exists by name, with no email, made since."""
        name = " ".join(p for p in (person.first_name, person.last_name) if p) or person.email
        cutoff = datetime.fromisoformat(since.replace("Z", "+00:00"))
        for item in await self._search(name):
            full = (await self.get_person(str(item["id"]))).fields
            created = full.get("createdAt")
            if (
                full.get("name") == name
                and not full.get("emailAddresses")
                and created
                and datetime.fromisoformat(str(created).replace("Z", "+00:00")) >= cutoff
            ):
                return str(full["id"])
        return None

    async def update_person(self, person_id: str, fields: dict[str, Any]) -> None:
        await self.request(
            unverified.UPDATE_METHOD,
            unverified.PERSON_PATH.format(person_id=person_id),
            json={"person": fields},
        )

    async def list_jobs(self) -> list[AtsJob]:
        return [
            AtsJob(str(p["id"]), p.get("name") or "")
            async for p in self._pages(unverified.PROJECTS_PATH, "projects")
        ]

    async def list_stages(self, job_id: str) -> list[AtsStage]:
        async with self._lookup_lock:
            if self._stages is None:
                body = (await self.request("GET", unverified.STATUSES_PATH)).json()
                self._stages = [
                    AtsStage(str(s["id"]), s.get("name") or "") for s in body.get("statuses") or []
                ]
            return self._stages

    async def _candidacy(self, person_id: str, project_id: str) -> dict[str, Any] | None:
        params = {unverified.CANDIDACY_PERSON_FILTER: person_id}
        path = unverified.CANDIDACIES_PATH.format(project_id=project_id)
        async for c in self._pages(path, "candidacies", params):
            if str(c.get("personId")) == person_id:
                return c
        return None

    async def is_attached(self, person_id: str, job_id: str) -> bool:
        return await self._candidacy(person_id, job_id) is not None

    async def attach(self, person_id: str, job_id: str) -> None:
        await self.request(
            "POST",
            unverified.CANDIDACIES_PATH.format(project_id=job_id),
            json={"candidacy": {"person_id": person_id}},
        )

    async def set_stage(self, person_id: str, job_id: str, stage: AtsStage) -> None:
        candidacy = await self._candidacy(person_id, job_id)
        if candidacy is None:
            await self.attach(person_id, job_id)
            candidacy = await self._candidacy(person_id, job_id)
        assert candidacy is not None
        await self.request(
            "PATCH",
            unverified.CANDIDACY_UPDATE_PATH.format(candidacy_id=candidacy["id"]),
            json={"candidacy": {"status_id": stage.id}},
        )

    async def log_activity(self, person_id: str, activity: ActivityInput) -> None:
        direction = "Email sent" if activity.kind == "sent" else "Email reply"
        content = (
            f"<!-- {activity.marker} --><p><b>{direction}: {activity.subject}</b></p>"
            f"<p>{activity.body}</p>"
        )
        await self.request(
            "POST",
            unverified.NOTES_CREATE_PATH.format(person_id=person_id),
            json={
                "note": {
                    "content": content,
                    "content_type": "text/html",
                    "category": unverified.NOTE_CATEGORY,
                }
            },
        )

    async def has_activity(self, person_id: str, marker: str) -> bool:
        async for note in self._pages(f"/people/{person_id}/notes", "notes"):
            if marker in str(note.get("content") or ""):
                return True
        return False

    async def list_lists(self) -> AsyncIterator[AtsList]:
        # Clockwork has no contact lists: import is a Crelate feature in the guides.
        return
        yield  # pragma: no cover - makes this an async generator

    async def list_members(self, list_id: str) -> AsyncIterator[AtsPerson]:
        return
        yield  # pragma: no cover

    async def describe_fields(self) -> list[AtsField]:
        return [AtsField(name, label, False) for name, label in unverified.PERSON_FIELDS]
