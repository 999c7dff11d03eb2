"""Clockwork v3.0 connector: ``Token`` auth + firm service key, bodies in a root key.

People are read in the v3 shape (``emails`` + ``preferredEmailAddress``, dates as
``"YYYY-MM-DD HH:MM:SS"``) and, defensively, in the older v1 shape. Every unconfirmed name or
behaviour lives in unverified.py with the audit row and doctor probe that cover it.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any, ClassVar

from outbound.connectors.base import (
    ActivityInput,
    AtsActivityType,
    AtsField,
    AtsIdentity,
    AtsJob,
    AtsPerson,
    AtsStage,
    AuthError,
    HttpConnector,
    PermanentError,
    PermissionDenied,
    PersonInput,
    text_as_html,
)
from outbound.connectors.clockwork import unverified
from outbound.http import AsyncClient, Response

# Mapping targets saved before person fields went camelCase (audit #15) keep working.
LEGACY_FIELD_NAMES = {
    "first_name": "firstName",
    "last_name": "lastName",
    "nick_name": "nickName",
    "assistant_name": "assistantName",
    "skype_name": "skypeName",
    "do_not_contact": "doNotContact",
    "no_relocation": "noRelocation",
}


def token_header(api_key: str, api_secret: str) -> str:
    return "Token " + base64.b64encode(f"{api_key}:{api_secret}".encode()).decode()


def key_fingerprint(api_key: str) -> str:
    """A stable, non-secret id for the key's user: Clockwork has no "who am I" endpoint."""
    return "clockwork-key-" + hashlib.sha256(api_key.encode()).hexdigest()[:12]


def parse_stamp(value: object) -> datetime | None:
    """An aware UTC datetime from v3's zone-less "YYYY-MM-DD HH:MM:SS" (read as UTC) or from
    ISO 8601 with Z or an offset; None for anything else (never raises)."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        if parsed.tzinfo is None:
            return parsed.replace(tzinfo=UTC)  # unverified.TIMESTAMP_ZONE
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):  # not a date, or an offset past datetime's range
        return None


def email_addresses(data: dict[str, Any]) -> list[str]:
    """Every address on a person: the preferred one first, then ``emails`` and the v1 list."""
    found: list[str] = []
    preferred = data.get(unverified.PREFERRED_EMAIL_KEY)
    if isinstance(preferred, dict):
        preferred = preferred.get("address")
    candidates = [preferred]
    for key in (unverified.EMAILS_KEY, unverified.LEGACY_EMAILS_KEY):
        items = data.get(key)
        for item in items if isinstance(items, list) else []:
            candidates.append(item.get("address") if isinstance(item, dict) else item)
    for address in candidates:
        known = {a.lower() for a in found}
        if isinstance(address, str) and address.strip() and address.strip().lower() not in known:
            found.append(address.strip())
    return found


def stored_emails(data: dict[str, Any]) -> tuple[str, ...]:
    """The email sub-records as stored (v3 `emails`, else v1's list), duplicates kept."""
    items = data.get(unverified.EMAILS_KEY)
    if not isinstance(items, list):
        items = data.get(unverified.LEGACY_EMAILS_KEY)
    return tuple(
        str(i.get("address")) for i in items or [] if isinstance(i, dict) and i.get("address")
    )


def _lowered(data: dict[str, Any]) -> set[str]:
    return {a.lower() for a in email_addresses(data)}


def _is_short(hit: dict[str, Any]) -> bool:
    """A search hit without the email lists or the do-not-contact flag: read the full person."""
    no_lists = all(
        hit.get(k) is None for k in (unverified.EMAILS_KEY, unverified.LEGACY_EMAILS_KEY)
    )
    return no_lists or "doNotContact" not in hit


def _unwrap(body: Any, root: str) -> Any:
    """``{root: {...}}``, v1's ``{data: {root: {...}}}`` / ``{data: {...}}``, or the object."""
    if isinstance(body, dict) and "id" not in body:
        for inner in (body.get(root), body.get("data")):
            if isinstance(inner, dict):
                return _unwrap(inner, root) if root in inner else inner
    return body


def message_of(body: Any) -> str:
    """The error text of a JSON body: {"message"}, {"data": {"message"}}, {"error"}, or a bare
    string (unverified.ERROR_MESSAGE_KEYS)."""
    if isinstance(body, str):
        return body
    if not isinstance(body, dict):
        return ""
    data = body.get("data")
    nested = data.get("message") if isinstance(data, dict) else data
    for candidate in (body.get("message"), nested, body.get("error")):
        if isinstance(candidate, str) and candidate:
            return candidate
    return ""


def camel_fields(fields: dict[str, Any]) -> dict[str, Any]:
    return {LEGACY_FIELD_NAMES.get(k, k): v for k, v in fields.items()}


class ClockworkConnector(HttpConnector):
    provider: ClassVar[str] = "clockwork"
    # Email, phone, LinkedIn and position are sub-resources written after POST /people.
    separate_details: ClassVar[bool] = True

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
        self._user_id = key_fingerprint(api_key)  # the key itself is a secret: never stored
        self._stages: list[AtsStage] | None = None
        self._lookup_lock = asyncio.Lock()  # one statuses lookup, not one per concurrent job
        # Learned from the first person found by address (unverified.SEARCH_MATCHES_EMAIL).
        self._search_matches_email = False

    def error_message(self, response: Response) -> str:
        try:
            text = message_of(response.json())
        except ValueError:  # not JSON: plain text (or nothing)
            text = response.text.strip()[:300]
        return text or response.reason_phrase

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
        # A confirmed list endpoint (PD listTags); which status a bad Token or firm key gets is
        # unverified.BAD_TOKEN_STATUS / BAD_FIRM_KEY_STATUS.
        try:
            await self.request("GET", "/tags", params={"limit": 1})
        except PermissionDenied as exc:
            # Listing tags needs no permission: a 403 here is the firm service key refused.
            raise AuthError(f"{exc.message} (the firm service key was refused)", 403) from exc
        # No users endpoint is known: the key's user is named by a fingerprint of the key.
        return AtsIdentity(user_id=self._user_id, user_name="Clockwork API user", org=self.firm)

    @staticmethod
    def _person(data: dict[str, Any]) -> AtsPerson:
        emails = email_addresses(data)
        creator = data.get(unverified.CREATED_USER_KEY)
        # Mapping policies look targets up in `fields`: old snake_case targets see the value too.
        aliases = {old: data[new] for old, new in LEGACY_FIELD_NAMES.items() if new in data}
        return AtsPerson(
            id=str(data["id"]),
            email=emails[0] if emails else None,
            first_name=data.get("firstName"),
            last_name=data.get("lastName"),
            created_by_id=str(creator) if creator else None,
            do_not_contact=bool(data.get("doNotContact")),
            fields={**aliases, **data},
            stored_emails=stored_emails(data),
        )

    async def get_person(self, person_id: str) -> AtsPerson:
        path = unverified.PERSON_PATH.format(person_id=person_id)
        data = _unwrap((await self.request("GET", path)).json(), unverified.PERSON_ROOT)
        if not isinstance(data, dict) or "id" not in data:
            raise PermanentError(f"GET {path}: the answer holds no person")
        return self._person(data)

    async def _search(self, q: str) -> list[dict[str, Any]]:
        params = {"q": q, "page": 1, "limit": 50}
        hits = (await self.request("GET", unverified.SEARCH_PATH, params=params)).json()
        return [h for h in hits.get("peopleSearch") or [] if isinstance(h, dict) and "id" in h]

    async def find_person_by_email(self, email: str, name: str | None = None) -> AtsPerson | None:
        """Search by the address, then (unverified.SEARCH_MATCHES_EMAIL: a search that ignores
        emails answers "no hits", like "nobody has it") by the person's name, keeping only an
        exact address match either way: a miss never becomes a duplicate person."""
        wanted = email.strip().lower()
        by_name = name.strip() if name and not self._search_matches_email else None
        for q in [email.strip()] + ([by_name] if by_name else []):
            for hit in await self._search(q):
                data = hit
                if _is_short(hit):  # search results may be short: read the full person
                    data = (await self.get_person(str(hit["id"]))).fields
                if wanted in _lowered(data):
                    if q == email.strip():
                        # This firm's search matches addresses: a miss by email is a miss,
                        # and later lookups need no second search by name.
                        self._search_matches_email = True
                    return self._person(data)
        return None

    @staticmethod
    def person_body(person: PersonInput) -> dict[str, Any]:
        name = " ".join(p for p in (person.first_name, person.last_name) if p) or person.email
        first, last = person.first_name, person.last_name
        names = dict(zip(unverified.NAME_FIELDS, (name, first, last), strict=True))
        fields = {**names, **camel_fields(person.extra_fields)}
        return {"person": {k: v for k, v in fields.items() if v is not None}}

    def preview_create(self, person: PersonInput) -> dict[str, Any]:
        preview: dict[str, Any] = {
            "POST /people": self.person_body(person),
            "POST /people/{id}/email_addresses": self._email_body(person),
        }
        if person.phone:
            preview["POST /people/{id}/phone_numbers"] = self._phone_body(person)
        if person.linkedin_url:
            preview["POST /people/{id}/linkedin_urls"] = {
                "linkedin_url": {"url": person.linkedin_url}
            }
        if person.title or person.company:
            preview["POST /people/{id}/positions"] = self._position_body(person)
        return preview

    @staticmethod
    def _email_body(person: PersonInput) -> dict[str, Any]:
        return {"email": {"address": person.email, "location": unverified.EMAIL_LOCATION}}

    @staticmethod
    def _phone_body(person: PersonInput) -> dict[str, Any]:
        return {"phone_number": {"digits": person.phone, "location": unverified.PHONE_LOCATION}}

    @staticmethod
    def _position_body(person: PersonInput) -> dict[str, Any]:
        return {"position": {"title": person.title, "companyName": person.company}}

    async def create_person(self, person: PersonInput) -> str:
        body = self.person_body(person)
        response = (await self.request("POST", "/people", json=body)).json()
        new_id = response.get("id") or (response.get(unverified.PERSON_ROOT) or {}).get("id")
        if not new_id:
            raise PermanentError("POST /people: the answer holds no id")
        return str(new_id)

    async def complete_person(self, person_id: str, person: PersonInput, fresh: bool) -> None:
        """Add the sub-resources (email, phone, LinkedIn, position), skipping what is there."""
        existing: dict[str, Any] = {}
        if not fresh:  # a retry: the earlier attempt may have written some of them
            existing = (await self.get_person(person_id)).fields
        base = f"/people/{person_id}"
        if person.email.strip().lower() not in _lowered(existing):
            await self.request("POST", f"{base}/email_addresses", json=self._email_body(person))
        if person.phone and not existing.get(unverified.PHONE_NUMBERS_KEY):
            await self.request("POST", f"{base}/phone_numbers", json=self._phone_body(person))
        if person.linkedin_url and not existing.get(unverified.LINKEDIN_URLS_KEY):
            await self.request(
                "POST", f"{base}/linkedin_urls", json={"linkedin_url": {"url": person.linkedin_url}}
            )
        if (person.title or person.company) and not existing.get(unverified.POSITIONS_KEY):
            await self.request("POST", f"{base}/positions", json=self._position_body(person))

    async def recover_create(self, person: PersonInput, since: str) -> str | None:
        """After an uncertain POST /people: our record exists by name, made since the intent,
        with no email yet (or only ours, if completing it was cut short too)."""
        name = " ".join(p for p in (person.first_name, person.last_name) if p) or person.email
        intent = parse_stamp(since)
        if intent is None:
            return None
        cutoff = intent.replace(microsecond=0)  # Clockwork dates have whole seconds
        for hit in await self._search(name):
            if hit.get("name") not in (None, name):
                continue
            full = (await self.get_person(str(hit["id"]))).fields
            created = parse_stamp(full.get("createdAt"))
            if (
                full.get("name") == name
                and _lowered(full) <= {person.email.strip().lower()}
                and created is not None
                and created >= cutoff
            ):
                return str(full["id"])
        return None

    async def update_person(self, person_id: str, fields: dict[str, Any]) -> None:
        await self.request(
            unverified.UPDATE_METHOD,
            unverified.PERSON_PATH.format(person_id=person_id),
            json={unverified.PERSON_ROOT: camel_fields(fields)},
        )

    async def list_jobs(self) -> list[AtsJob]:
        return [
            AtsJob(str(p["id"]), p.get("name") or "")
            async for p in self._pages(unverified.PROJECTS_PATH, unverified.PROJECTS_KEY)
        ]

    async def list_stages(self, job_id: str, fresh: bool = False) -> list[AtsStage]:
        async with self._lookup_lock:
            if self._stages is None or fresh:  # fresh: a status added since the last look
                body = (await self.request("GET", unverified.STATUSES_PATH)).json()
                self._stages = [
                    AtsStage(str(s["id"]), s.get("name") or "")
                    for s in body.get(unverified.STATUSES_KEY) or []
                ]
            return self._stages

    async def _candidacy(self, person_id: str, project_id: str) -> dict[str, Any] | None:
        params = {unverified.CANDIDACY_PERSON_FILTER: person_id}
        path = unverified.CANDIDACIES_PATH.format(project_id=project_id)
        async for c in self._pages(path, unverified.CANDIDACIES_KEY, params):
            if str(c.get(unverified.CANDIDACY_PERSON_KEY)) == person_id:
                return c
        return None

    async def is_attached(self, person_id: str, job_id: str) -> bool:
        return await self._candidacy(person_id, job_id) is not None

    async def stage_of(self, person_id: str, job_id: str) -> str | None:
        candidacy = await self._candidacy(person_id, job_id)
        status = (candidacy or {}).get(unverified.CANDIDACY_STATUS_KEY)
        return str(status) if status is not None else None

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
        if candidacy is None:
            raise PermanentError(f"no candidacy for person {person_id} on project {job_id}")
        await self.request(
            "PATCH",
            unverified.CANDIDACY_UPDATE_PATH.format(candidacy_id=candidacy["id"]),
            json={"candidacy": {"status_id": stage.id}},
        )

    async def list_activity_types(self) -> list[AtsActivityType]:
        # No note-category endpoint is known: the one category Outbound writes.
        return [AtsActivityType(unverified.NOTE_CATEGORY, unverified.NOTE_CATEGORY)]

    async def log_activity(self, person_id: str, activity: ActivityInput) -> None:
        direction = "Email sent" if activity.kind == "sent" else "Email reply"
        # Subjects and bodies are written by prospects: text, never markup, in the note's HTML.
        subject, body = text_as_html(activity.subject), text_as_html(activity.body)
        content = f"<!-- {activity.marker} --><p><b>{direction}: {subject}</b></p><p>{body}</p>"
        await self.request(
            "POST",
            unverified.NOTES_CREATE_PATH.format(person_id=person_id),
            json={
                "note": {
                    "content": content,
                    "content_type": "text/html",
                    "category": activity.activity_type_id or unverified.NOTE_CATEGORY,
                }
            },
        )

    async def _note_content(self, note: dict[str, Any]) -> str:
        """A listed note's content; read from the note itself when the list leaves it out."""
        if note.get("content") is not None or not note.get("id"):
            return str(note.get("content") or "")
        path = unverified.NOTE_PATH.format(note_id=note["id"])
        full = _unwrap((await self.request("GET", path)).json(), "note")
        return str(full.get("content") or "") if isinstance(full, dict) else ""

    async def has_activity(self, person_id: str, marker: str) -> bool:
        path = unverified.NOTES_LIST_PATH.format(person_id=person_id)
        async for note in self._pages(path, "notes"):
            if marker in await self._note_content(note):
                return True
        return False

    async def describe_fields(self) -> list[AtsField]:
        return [AtsField(name, label, False) for name, label in unverified.PERSON_FIELDS]
