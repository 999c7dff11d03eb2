"""The "Toy" ATS's connector: the few hooks a new ATS overrides on the shared HttpConnector."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from outbound.connectors.base import (
    ActivityInput,
    AtsActivityType,
    AtsField,
    AtsIdentity,
    AtsJob,
    AtsPerson,
    AtsStage,
    Connector,
    HttpConnector,
    NotFoundError,
    PersonInput,
)
from outbound.http import AsyncClient


class ToyConnector(HttpConnector):
    provider: ClassVar[str] = "toy"

    def __init__(self, base_url: str, token: str, client: AsyncClient | None, timeout: float):
        super().__init__(
            base_url, {"Authorization": f"Bearer {token}"}, client=client, timeout=timeout
        )

    async def _get(self, path: str, **params: Any) -> Any:
        return (await self.request("GET", path, params=params or None)).json()

    @staticmethod
    def _person(data: dict[str, Any]) -> AtsPerson:
        emails = tuple(data.get("emails") or ())
        return AtsPerson(
            id=data["id"],
            email=emails[0] if emails else None,
            first_name=data.get("first_name"),
            last_name=data.get("last_name"),
            created_by_id=(data.get("created_by") or {}).get("id"),
            fields=data,
            stored_emails=emails,
        )

    async def verify(self) -> AtsIdentity:
        me = await self._get("/me")
        return AtsIdentity(me["id"], me["name"], self.base_url)

    async def find_person_by_email(self, email: str, name: str | None = None) -> AtsPerson | None:
        hits = (await self._get("/people", email=email.strip()))["people"]
        return self._person(hits[0]) if hits else None

    async def get_person(self, person_id: str) -> AtsPerson:
        return self._person(await self._get(f"/people/{person_id}"))

    def preview_create(self, person: PersonInput) -> dict[str, Any]:
        return {"POST /people": self._body(person)}

    @staticmethod
    def _body(person: PersonInput) -> dict[str, Any]:
        return {
            "first_name": person.first_name,
            "last_name": person.last_name,
            "email": person.email,
        }

    async def create_person(self, person: PersonInput) -> str:
        return str((await self.request("POST", "/people", json=self._body(person))).json()["id"])

    async def update_person(self, person_id: str, fields: dict[str, Any]) -> None:
        await self.request("PATCH", f"/people/{person_id}", json=fields)

    async def list_jobs(self) -> list[AtsJob]:
        return [AtsJob(j["id"], j["name"]) for j in (await self._get("/jobs"))["jobs"]]

    async def list_stages(self, job_id: str, fresh: bool = False) -> list[AtsStage]:
        return [AtsStage(s["id"], s["name"]) for s in (await self._get("/stages"))["stages"]]

    async def is_attached(self, person_id: str, job_id: str) -> bool:
        try:
            await self._get(f"/jobs/{job_id}/people/{person_id}")
        except NotFoundError:
            return False
        return True

    async def attach(self, person_id: str, job_id: str) -> None:
        await self.request("PUT", f"/jobs/{job_id}/people/{person_id}", json={})

    async def set_stage(self, person_id: str, job_id: str, stage: AtsStage) -> None:
        await self.request("PUT", f"/jobs/{job_id}/people/{person_id}", json={"stage_id": stage.id})

    async def list_activity_types(self) -> list[AtsActivityType]:
        types = (await self._get("/activity-types"))["types"]
        return [AtsActivityType(t["id"], t["name"]) for t in types]

    async def log_activity(self, person_id: str, activity: ActivityInput) -> None:
        body = {
            "type_id": activity.activity_type_id or "email",
            "text": activity.body,
            "marker": activity.marker,
        }
        await self.request("POST", f"/people/{person_id}/activities", json=body)

    async def has_activity(self, person_id: str, marker: str) -> bool:
        items = (await self._get(f"/people/{person_id}/activities"))["activities"]
        return any(a.get("marker") == marker for a in items)

    async def describe_fields(self) -> list[AtsField]:
        return [
            AtsField(f["name"], f["label"], False) for f in (await self._get("/fields"))["fields"]
        ]


def build(
    base_url: str, credentials: Mapping[str, str], client: AsyncClient | None, timeout: float
) -> Connector:
    return ToyConnector(base_url, credentials["token"], client, timeout)
