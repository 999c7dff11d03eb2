"""The Clockwork simulator's in-memory firm, with two seeds.

People are stored in the v3 shape of the only recorded v3 answer (a people_search sample,
../shared/ats/recorded/clockwork-people-search-200.json; evidence-audit.md Clockwork #9, #21):
``emails: [{id, address, locationTypeId, createdAt, updatedAt}]`` plus ``preferredEmailAddress``,
and dates as ``"YYYY-MM-DD HH:MM:SS"`` (UTC, no zone, whole seconds).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

STAMP_FORMAT = "%Y-%m-%d %H:%M:%S"

# Person body names a create or update may send: the SwaggerHub post_people schema as
# Pipedream's create-person action sends it (audit #10, #14, #15). Anything else is refused.
PERSON_BODY_FIELDS = (
    "name",
    "firstName",
    "lastName",
    "nickName",
    "assistantName",
    "skypeName",
    "biography",
    "doNotContact",
    "noRelocation",
    "tag_names",
    "tag_ids",
)
_TEXT_FIELDS = ("firstName", "lastName", "nickName", "assistantName", "skypeName", "biography")

# v3 types an email by a location type id (BH sample); these ids are the simulator's own.
LOCATION_TYPE_IDS = {
    "home": "5f0c1c52-9a51-4b7e-9d1e-2a3f4c5d6e01",
    "work": "5f0c1c52-9a51-4b7e-9d1e-2a3f4c5d6e02",
    "other": "5f0c1c52-9a51-4b7e-9d1e-2a3f4c5d6e03",
}


def new_id() -> str:
    return str(uuid.uuid4())


def now_stamp() -> str:
    return datetime.now(UTC).strftime(STAMP_FORMAT)


@dataclass
class Firm:
    name: str
    service_key: str
    users: list[dict[str, Any]] = field(default_factory=list)  # {id, name, email, key, secret}
    people: dict[str, dict[str, Any]] = field(default_factory=dict)
    projects: dict[str, dict[str, Any]] = field(default_factory=dict)
    candidacies: dict[str, dict[str, Any]] = field(default_factory=dict)
    statuses: list[dict[str, Any]] = field(default_factory=list)
    notes: dict[str, dict[str, Any]] = field(default_factory=dict)
    tags: list[dict[str, Any]] = field(default_factory=list)
    companies: list[dict[str, Any]] = field(default_factory=list)
    regions: list[dict[str, Any]] = field(default_factory=list)
    webhooks: dict[str, dict[str, Any]] = field(default_factory=dict)

    def add_person(self, data: dict[str, Any], user: dict[str, Any]) -> dict[str, Any]:
        """``data`` holds PERSON_BODY_FIELDS only (the routes refuse other names)."""
        pid = new_id()
        stamp = now_stamp()
        first, last = data.get("firstName"), data.get("lastName")
        person: dict[str, Any] = {
            "id": pid,
            "name": data.get("name") or " ".join(p for p in (first, last) if p),
            **{key: data.get(key) for key in _TEXT_FIELDS},
            "doNotContact": bool(data.get("doNotContact")),
            "noRelocation": bool(data.get("noRelocation")),
            "createdUserId": user["id"],
            "createdAt": stamp,
            "updatedAt": stamp,
            "preferredEmailAddress": None,
            "emails": [],
            "phoneNumbers": [],
            "linkedinUrls": [],
            "addresses": [],
            "positions": [],
            "tags": [],
        }
        self.set_tags(person, data)
        self.people[pid] = person
        return person

    def update_person(self, person: dict[str, Any], data: dict[str, Any]) -> None:
        for key in (*_TEXT_FIELDS, "name"):
            if key in data:
                person[key] = data[key]
        for key in ("doNotContact", "noRelocation"):
            if key in data:
                person[key] = bool(data[key])
        self.set_tags(person, data)
        person["updatedAt"] = now_stamp()

    def set_tags(self, person: dict[str, Any], data: dict[str, Any]) -> None:
        """tag_names add (or create) tags by name; tag_ids must name existing tags."""
        chosen = [self.tag_named(str(n)) for n in data.get("tag_names") or []]
        for tag_id in data.get("tag_ids") or []:
            tag = next((t for t in self.tags if t["id"] == tag_id), None)
            if tag is None:
                raise KeyError(tag_id)
            chosen.append(tag)
        for tag in chosen:
            if all(t.get("id") != tag["id"] for t in person["tags"]):
                person["tags"].append(dict(tag))

    def tag_named(self, name: str) -> dict[str, Any]:
        tag = next((t for t in self.tags if t["name"].lower() == name.lower()), None)
        if tag is None:
            tag = {"id": new_id(), "name": name}
            self.tags.append(tag)
        return tag

    def add_email(self, person: dict[str, Any], address: str, location: str) -> dict[str, Any]:
        stamp = now_stamp()
        item = {
            "id": new_id(),
            "address": address,
            "locationTypeId": LOCATION_TYPE_IDS[location],
            "createdAt": stamp,
            "updatedAt": stamp,
        }
        person["emails"].append(item)
        person["preferredEmailAddress"] = person.get("preferredEmailAddress") or address
        person["updatedAt"] = stamp
        return item

    def emails_of(self, person: dict[str, Any]) -> list[str]:
        return [str(e["address"]).lower() for e in person["emails"]]

    def records(self, kind: str) -> list[Any]:
        value = getattr(self, kind)
        if kind == "users":
            return [{k: v for k, v in u.items()} for u in value]
        return list(value.values()) if isinstance(value, dict) else list(value)

    def duplicates(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for person in self.people.values():
            for email in set(self.emails_of(person)):
                counts[email] = counts.get(email, 0) + 1
        return {e: n for e, n in counts.items() if n > 1}


def location_of(location_type_id: str | None) -> str:
    """The v1 location name of a v3 location type id (for the legacy_email_shape profile)."""
    names = {v: k for k, v in LOCATION_TYPE_IDS.items()}
    return names.get(location_type_id or "", "other")


def upgrade_people(firm: Firm) -> None:
    """People saved by an older simulator (v1 ``emailAddresses``) move to ``emails``: the demo
    reuses its data directory across versions."""
    for person in firm.people.values():
        if "emails" in person:
            continue
        person["emails"] = []
        person["preferredEmailAddress"] = None
        for old in person.pop("emailAddresses", None) or []:
            location = old.get("location") if old.get("location") in LOCATION_TYPE_IDS else "work"
            firm.add_email(person, str(old.get("address") or ""), location)


RECORD_KINDS = (
    "users",
    "people",
    "projects",
    "candidacies",
    "statuses",
    "notes",
    "tags",
    "companies",
    "regions",
    "webhooks",
)


def seed_firm(seed: str = "standard", firm_name: str = "acme") -> Firm:
    """standard: statuses include "Messaged", "Replied", "Interested", "Not Interested";
    bare: none of them."""
    if seed == "standard":
        status_names = [
            "Identified",
            "Messaged",
            "Replied",
            "Interested",
            "Not Interested",
            "Presented",
            "Placed",
        ]
    elif seed == "bare":
        status_names = ["Identified", "Contacted", "Presented", "Interviewing", "Placed"]
    else:
        raise ValueError(f"unknown seed {seed!r}: standard or bare")
    firm = Firm(name=firm_name, service_key=f"{firm_name}-firm-service-key-0001")
    firm.users = [
        {
            "id": new_id(),
            "name": "Alice Recruiter",
            "email": "alice@acme-search.test",
            "key": "cw-alice-key",
            "secret": "cw-alice-secret",
        },
        {
            "id": new_id(),
            "name": "Bob Manager",
            "email": "bob@acme-search.test",
            "key": "cw-bob-key",
            "secret": "cw-bob-secret",
        },
        {
            "id": new_id(),
            "name": "Carol Owner",
            "email": "carol@acme-search.test",
            "key": "cw-carol-key",
            "secret": "cw-carol-secret",
        },
    ]
    firm.statuses = [{"id": new_id(), "name": n, "position": i} for i, n in enumerate(status_names)]
    for name in ("CFO Search - Northwind", "CTO Search - Contoso", "Board Director - Fabrikam"):
        pid = new_id()
        firm.projects[pid] = {"id": pid, "name": name, "createdAt": now_stamp()}
    firm.tags = [{"id": new_id(), "name": n} for n in ("Priority", "Passive", "Alumni")]
    firm.companies = [{"id": new_id(), "name": n} for n in ("Northwind", "Contoso", "Fabrikam")]
    firm.regions = [{"id": new_id(), "name": n} for n in ("North America", "EMEA", "APAC")]
    owner = firm.users[2]
    for first, last, email, dnc in (
        ("Dana", "Existing", "dana.existing@example.com", False),
        ("Evan", "Known", "evan.known@example.com", False),
        ("Hank", "Offlimits", "hank.offlimits@example.com", True),
    ):
        person = firm.add_person({"firstName": first, "lastName": last, "doNotContact": dnc}, owner)
        firm.add_email(person, email, "work")
    return firm
