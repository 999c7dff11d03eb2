"""Crelate api3 connector: PascalCase, ``{"entity": ...}`` bodies, ``{Data, Metadata, Errors}``."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Any, ClassVar

from outbound.connectors.base import (
    ActivityInput,
    AtsActivityType,
    AtsField,
    AtsIdentity,
    AtsJob,
    AtsList,
    AtsPerson,
    AtsStage,
    DuplicateRecord,
    HttpConnector,
    NotFoundError,
    PermanentError,
    PermissionDenied,
    PersonInput,
    text_as_html,
)
from outbound.connectors.crelate import unverified
from outbound.http import AsyncClient, Response

RECRUITING_WORKFLOW_TYPE_ID = unverified.RECRUITING_WORKFLOW_TYPE_ID
EMAIL_FIELDS = (
    "EmailAddresses_Work",
    "EmailAddresses_Personal",
    "EmailAddresses_Other",
    "EmailAddresses_Personal_Other",
    "EmailAddresses_Work_Other",
    "EmailAddresses_Other_Alternate",
    "EmailAddresses_Potential",
)
CONTACT_POINT_PREFIXES = ("EmailAddresses_", "PhoneNumbers_", "Websites_", "InstantAddresses_")
E164 = re.compile(r"^\+[1-9]\d{6,14}$")
# "A duplicate record of type Contacts with ID '<uuid>' was found." (409, MP 4f49640)
DUPLICATE_ID = re.compile(r"\bID '([0-9A-Fa-f-]{36})'")
# A validation message names a field: "FirstName is required.", "LastName: must not be empty".
INVALID_FIELD = re.compile(
    r"\b([A-Z][A-Za-z0-9_]*)\b[^.;]*?\b(?:is required|required|is invalid|invalid|must|"
    r"cannot|missing)\b"
)


class CrelateConnector(HttpConnector):
    provider: ClassVar[str] = "crelate"

    def __init__(
        self, base_url: str, api_key: str, *, client: AsyncClient | None = None, timeout: float = 10
    ) -> None:
        # The header, not ?api_key=: Crelate echoes request URLs (with the key) in its replies.
        super().__init__(
            base_url,
            {"X-Api-Key": api_key, "Accept": "application/json"},
            client=client,
            timeout=timeout,
        )
        self._stages: list[AtsStage] | None = None
        self._email_type_id: str | None = None
        self._stage_method: str | None = None
        # Many jobs run at once on one connector: look lookups up once, not once per job.
        self._lookup_lock = asyncio.Lock()

    @staticmethod
    def error_messages(response: Response) -> list[str]:
        """Crelate answers ``{Errors: [{Message}]}`` and sometimes a plain string (MP df0fefc)."""
        try:
            body = response.json()
        except ValueError:
            return [response.text.strip()[:300]] if response.text.strip() else []
        if isinstance(body, str):
            return [body]
        errors = body.get("Errors") if isinstance(body, dict) else None
        return [str(e.get("Message", "")) if isinstance(e, dict) else str(e) for e in errors or []]

    def error_message(self, response: Response) -> str:
        return "; ".join(m for m in self.error_messages(response) if m) or response.reason_phrase

    def raise_for_status(self, method: str, path: str, response: Response) -> None:
        code = response.status_code
        if code < 400:
            return
        text = self.error_message(response)
        duplicate = DUPLICATE_ID.search(text) if code == 409 else None
        if duplicate:
            raise DuplicateRecord(f"Crelate's duplicate check: {text}", duplicate.group(1))
        invalid = INVALID_FIELD.search(text) if code in (400, 500) else None
        if invalid:
            # Official: an invalid record is a 500 listing the missing fields. Permanent.
            raise PermanentError(f"Crelate refused the record: {text}", code, invalid.group(1))
        super().raise_for_status(method, path, response)

    async def _data(self, method: str, path: str, **kwargs: Any) -> Any:
        return (await self.request(method, path, **kwargs)).json().get("Data")

    async def _pages(self, path: str, params: dict[str, Any] | None = None) -> AsyncIterator[Any]:
        offset = 0
        while True:
            page_params = {**(params or {}), "limit": unverified.PAGE_SIZE, "offset": offset}
            body = (await self.request("GET", path, params=page_params)).json()
            items = body.get("Data") or []
            for item in items:
                yield item
            more = (body.get("Metadata") or {}).get("MoreRecords")
            if len(items) < unverified.PAGE_SIZE or more is False:
                return
            offset += len(items)

    async def verify(self) -> AtsIdentity:
        await self.request("GET", "/jobs", params={"limit": 1})  # confirmed: bad key → 401
        try:
            me = await self._data("GET", unverified.CURRENT_USER_PATH)
        except (NotFoundError, PermissionDenied):
            # No public client reads the key's owner: connect anyway and learn it from the
            # first record created (its CreatedById).
            return AtsIdentity(user_id="", user_name="", org=self.base_url)
        me = me if isinstance(me, dict) else {}
        name = me.get("Title") or me.get("Name") or me.get("FullName") or ""
        return AtsIdentity(user_id=str(me.get("Id") or ""), user_name=name, org=self.base_url)

    @staticmethod
    def _person(data: dict[str, Any]) -> AtsPerson:
        emails = tuple(
            str(data[f]["Value"])
            for f in EMAIL_FIELDS
            if isinstance(data.get(f), dict) and data[f].get("Value")
        )
        created_by = data.get("CreatedById") or {}
        return AtsPerson(
            id=str(data["Id"]),
            email=emails[0] if emails else None,
            first_name=data.get("FirstName"),
            last_name=data.get("LastName"),
            created_by_id=created_by.get("Id"),
            created_by_name=created_by.get("Title"),
            fields=data,
            stored_emails=emails,
        )

    async def find_person_by_email(self, email: str, name: str | None = None) -> AtsPerson | None:
        # Crelate's `emails` filter is confirmed (audit #10): the name is not needed.
        data = await self._data("GET", "/contacts", params={"emails": email, "limit": 10})
        wanted = email.strip().lower()
        for item in data or []:
            person = self._person(item)
            if wanted in (e.strip().lower() for e in person.stored_emails):
                return person
        return None

    async def get_person(self, person_id: str) -> AtsPerson:
        return self._person(await self._data("GET", f"/contacts/{person_id}"))

    def person_entity(self, person: PersonInput) -> dict[str, Any]:
        if not person.first_name or not person.last_name:
            missing = "first_name" if not person.first_name else "last_name"
            raise PermanentError("Crelate requires a first and a last name", field=missing)
        entity: dict[str, Any] = {
            "FirstName": person.first_name,
            "LastName": person.last_name,
            "RecordType": unverified.RECORD_TYPE_BITS[person.record_type],
            "EmailAddresses_Work": {"Value": person.email, "IsPrimary": True},
        }
        if person.phone and E164.match(person.phone.replace(" ", "")):
            # Crelate refuses non-E.164 phones, which used to lose the whole record (S5).
            entity["PhoneNumbers_Work_Direct"] = {
                "Value": person.phone.replace(" ", ""),
                "IsPrimary": True,
            }
        if person.linkedin_url:
            entity["Websites_LinkedIn"] = {"Value": person.linkedin_url, "IsPrimary": True}
        if person.title:
            entity["CurrentPosition"] = {"JobTitle": person.title, "IsPrimary": True}
        if person.location:
            entity["Addresses_Business"] = {"City": person.location, "IsPrimary": True}
        entity.update(self.wrap_fields(person.extra_fields))
        return entity

    @staticmethod
    def wrap_fields(fields: dict[str, Any]) -> dict[str, Any]:
        """Contact points are objects in Crelate; a mapping names the field, we wrap the value."""
        return {
            k: {"Value": v, "IsPrimary": True}
            if k.startswith(CONTACT_POINT_PREFIXES) and not isinstance(v, dict)
            else v
            for k, v in fields.items()
        }

    def preview_create(self, person: PersonInput) -> dict[str, Any]:
        return {"POST /contacts": {"entity": self.person_entity(person)}}

    async def create_person(self, person: PersonInput) -> str:
        data = await self._data("POST", "/contacts", json={"entity": self.person_entity(person)})
        if not isinstance(data, str) or not data:
            raise PermanentError(
                f"Crelate accepted the contact but answered no record id ({data!r})"
            )
        return data

    async def update_person(self, person_id: str, fields: dict[str, Any]) -> None:
        await self.request(
            "PATCH", f"/contacts/{person_id}", json={"entity": self.wrap_fields(fields)}
        )

    async def list_jobs(self) -> list[AtsJob]:
        return [AtsJob(str(j["Id"]), j.get("Name") or "") async for j in self._pages("/jobs")]

    async def list_stages(self, job_id: str, fresh: bool = False) -> list[AtsStage]:
        async with self._lookup_lock:
            if fresh:  # a stage created in Crelate since the last look
                self._stages = None
            return await self._load_stages()

    async def _load_stages(self) -> list[AtsStage]:
        if self._stages is None:
            params = {"workflow_type_ids": RECRUITING_WORKFLOW_TYPE_ID}
            items = [s async for s in self._pages("/workflowstatuses", params)]
            items.sort(key=lambda s: s.get("SortOrder") or 0)
            self._stages = [AtsStage(str(s["Id"]), s.get("Name") or "") for s in items]
        return self._stages

    async def is_attached(self, person_id: str, job_id: str) -> bool:
        try:
            history = await self._data(
                "GET",
                f"/jobs/{job_id}/contacts/history",
                params={"contact_id": person_id, "limit": 1},
            )
        except NotFoundError:
            return False  # unverified.HISTORY_404_MEANS_NOT_ON_JOB (S8 reads it so)
        return bool(history)

    async def stage_of(self, person_id: str, job_id: str) -> str | None:
        try:
            history = [
                h
                async for h in self._pages(
                    f"/jobs/{job_id}/contacts/history", {"contact_id": person_id}
                )
                if isinstance(h, dict)
            ]
        except NotFoundError:
            return None  # not on the job
        if not history:
            return None
        # Whatever order the pages come in, the latest entry is the stage now.
        latest = max(
            enumerate(history),
            key=lambda e: (str(e[1].get(unverified.HISTORY_DATE_KEY) or ""), e[0]),
        )[1]
        stage = latest.get(unverified.HISTORY_STAGE_KEY)
        if not isinstance(stage, dict) or not stage.get("Id"):
            return None
        return str(stage["Id"])

    async def attach(self, person_id: str, job_id: str) -> None:
        stages = await self.list_stages(job_id)
        body = {"statusId": stages[0].id} if stages else {}
        await self.request(
            "POST", f"/jobs/{job_id}/contacts", params={"contact_ids": person_id}, json=body
        )

    async def set_stage(self, person_id: str, job_id: str, stage: AtsStage) -> None:
        """How a stage changes is unknown (audit #30): try the assumed form, and on a refusal
        the other one; the one that worked is kept for this connection."""
        first = self._stage_method or unverified.SET_STAGE_METHOD
        try:
            await self._move(first, person_id, job_id, stage)
        except PermanentError as refused:
            if self._stage_method is not None or refused.status_code not in (400, 404, 405):
                raise
            other = "PUT" if first == "POST" else "POST"
            try:
                await self._move(other, person_id, job_id, stage)
            except PermanentError:
                raise refused from None
            first = other
        self._stage_method = first

    async def _move(self, method: str, person_id: str, job_id: str, stage: AtsStage) -> None:
        if method == "PUT":  # v1's form: one contact's pipeline entry
            await self.request(
                "PUT", f"/jobs/{job_id}/contacts/{person_id}", json={"statusId": stage.id}
            )
            return
        await self.request(
            "POST",
            f"/jobs/{job_id}/contacts",
            params={"contact_ids": person_id},
            json={"statusId": stage.id},
        )

    async def _email_activity_type(self) -> str:
        async with self._lookup_lock:
            return await self._load_email_activity_type()

    async def list_activity_types(self) -> list[AtsActivityType]:
        types = await self._data("GET", "/activitytypes", params={"limit": 100})
        return [AtsActivityType(str(t["Id"]), str(t.get("Name") or "")) for t in types or []]

    async def _load_email_activity_type(self) -> str:
        if self._email_type_id is None:
            wanted = {n.lower() for n in unverified.EMAIL_ACTIVITY_TYPE_NAMES}
            types = await self.list_activity_types()
            match = next((t for t in types if t.name.lower() in wanted), None)
            if match is None:
                raise PermanentError(
                    'Crelate has no activity type named "Email": choose the activity type '
                    "for logged emails on the Integrations page"
                )
            self._email_type_id = match.id
        return self._email_type_id

    async def log_activity(self, person_id: str, activity: ActivityInput) -> None:
        verb = activity.activity_type_id or await self._email_activity_type()
        direction = "Email sent" if activity.kind == "sent" else "Email reply"
        # Subjects and bodies are written by prospects: text, never markup, in Crelate's HTML.
        body_html = text_as_html(activity.body)
        entity = {
            "ParentId": {"Id": person_id, "EntityName": "Contacts"},
            "VerbId": {"Id": verb},
            "Subject": f"{direction}: {activity.subject}",
            "Display": activity.body[:2000],
            # The marker lets a retry after an uncertain failure see that this write landed.
            "HTML": f"<!-- {activity.marker} --><p>{body_html}</p>",
            "When": activity.occurred_at,
            "Completed": True,
            "IsEngagement": True,
        }
        await self.request("POST", "/activities", json={"entity": entity})

    async def has_activity(self, person_id: str, marker: str) -> bool:
        params = {unverified.ACTIVITIES_PARENT_PARAM: person_id}
        try:
            async for item in self._pages(unverified.ACTIVITIES_BY_PARENT_PATH, params):
                html_text = str(item.get("HTML") or "") + str(item.get("Display") or "")
                if marker in html_text:
                    return True
        except NotFoundError as exc:  # unverified.ACTIVITIES_BY_PARENT_PATH
            # Writing again could log the email twice; not writing could lose it: a person says.
            raise PermanentError(
                "An earlier try may have logged this email already, and Crelate does not let "
                "Outbound read a contact's activities back to check: look at the contact's "
                "activities in Crelate, add the email if it is missing, then clear the error",
                404,
            ) from exc
        return False

    async def list_lists(self) -> AsyncIterator[AtsList]:
        try:
            async for item in self._pages(unverified.LISTS_PATH):
                yield AtsList(str(item["Id"]), item.get("Name") or "")
        except NotFoundError as exc:  # unverified.LISTS_PATH: no public client reads lists
            raise PermanentError(
                "This Crelate account does not offer its lists through the API, so lists "
                "cannot be imported; add the contacts to the sequence instead",
                404,
            ) from exc

    async def list_members(self, list_id: str) -> AsyncIterator[AtsPerson]:
        async for item in self._pages(unverified.LIST_MEMBERS_PATH.format(list_id=list_id)):
            yield self._person(item)

    async def describe_fields(self) -> list[AtsField]:
        info = await self._data("GET", unverified.FIELDS_INFO_PATH)
        return [
            AtsField(f["Name"], f.get("Label") or f["Name"], bool(f.get("IsCustom")))
            for f in (info or {}).get("Fields", [])
        ]
