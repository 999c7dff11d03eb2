"""The Clockwork simulator's in-memory firm, with two seeds."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


def new_id() -> str:
    return str(uuid.uuid4())


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


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
        pid = new_id()
        stamp = now_iso()
        first = data.get("first_name") or data.get("firstName")
        last = data.get("last_name") or data.get("lastName")
        person = {
            "id": pid,
            "name": data.get("name") or " ".join(p for p in (first, last) if p),
            "firstName": first,
            "lastName": last,
            "nickName": data.get("nick_name") or data.get("nickName"),
            "biography": data.get("biography"),
            "assistantName": data.get("assistant_name") or data.get("assistantName"),
            "skypeName": data.get("skype_name") or data.get("skypeName"),
            "doNotContact": bool(data.get("do_not_contact") or data.get("doNotContact")),
            "noRelocation": bool(data.get("no_relocation") or data.get("noRelocation")),
            "createdUserId": user["id"],
            "createdAt": stamp,
            "updatedAt": stamp,
            "emailAddresses": [],
            "phoneNumbers": [],
            "linkedinUrls": [],
            "addresses": [],
            "positions": [],
            "tags": [],
        }
        self.people[pid] = person
        return person

    def emails_of(self, person: dict[str, Any]) -> list[str]:
        return [str(e["address"]).lower() for e in person["emailAddresses"]]

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
        firm.projects[pid] = {"id": pid, "name": name, "createdAt": now_iso()}
    firm.tags = [{"id": new_id(), "name": n} for n in ("Priority", "Passive", "Alumni")]
    firm.companies = [{"id": new_id(), "name": n} for n in ("Northwind", "Contoso", "Fabrikam")]
    firm.regions = [{"id": new_id(), "name": n} for n in ("North America", "EMEA", "APAC")]
    owner = firm.users[2]
    for first, last, email, dnc in (
        ("Dana", "Existing", "dana.existing@example.com", False),
        ("Evan", "Known", "evan.known@example.com", False),
        ("Hank", "Offlimits", "hank.offlimits@example.com", True),
    ):
        person = firm.add_person(
            {"first_name": first, "last_name": last, "do_not_contact": dnc}, owner
        )
        person["emailAddresses"].append(
            {"id": new_id(), "address": email, "location": "work", "isPreferred": True}
        )
    return firm
