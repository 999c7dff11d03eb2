"""The Crelate simulator's in-memory organisation, with two seeds."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

RECRUITING_WORKFLOW_TYPE_ID = "F6EF012F-998D-4132-B38B-A17A00B2B958"
EMAIL_FIELDS = (
    "EmailAddresses_Personal",
    "EmailAddresses_Work",
    "EmailAddresses_Other",
    "EmailAddresses_Personal_Other",
    "EmailAddresses_Work_Other",
    "EmailAddresses_Other_Alternate",
    "EmailAddresses_Potential",
)


def new_id() -> str:
    return str(uuid.uuid4())


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def name_key(entity: dict[str, Any]) -> tuple[str, str]:
    """The (first, last) name Crelate's duplicate check compares: trimmed, case-folded."""
    return (
        str(entity.get("FirstName") or "").strip().lower(),
        str(entity.get("LastName") or "").strip().lower(),
    )


def emails_of(contact: dict[str, Any]) -> list[str]:
    """Every email a contact holds, lower-cased, in EMAIL_FIELDS order."""
    return [
        str(contact[f]["Value"]).lower()
        for f in EMAIL_FIELDS
        if isinstance(contact.get(f), dict) and contact[f].get("Value")
    ]


_INDEXES = ("_seq", "_next_seq", "_lower_ids", "_by_email", "_by_name", "_indexed")


@dataclass
class CrelateStore:
    """Contacts are kept with indexes (email → ids, (first, last) → ids, lower-cased id → id) so
    lookups and the duplicate check do not scan every contact: change ``contacts`` through
    add_contact, reindex_contact (after editing one in place) and remove_contact only."""

    users: list[dict[str, Any]] = field(default_factory=list)  # {Id, Name, Email, ApiKey}
    contacts: dict[str, dict[str, Any]] = field(default_factory=dict)
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    statuses: list[dict[str, Any]] = field(default_factory=list)
    activity_types: list[dict[str, Any]] = field(default_factory=list)
    activities: dict[str, dict[str, Any]] = field(default_factory=dict)
    notes: dict[str, dict[str, Any]] = field(default_factory=dict)
    # (job id, contact id) → {"StatusId", "History": [{Date, Stage{Id,Title}}]}
    pipeline: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    lists: dict[str, dict[str, Any]] = field(default_factory=dict)
    contact_sources: list[dict[str, Any]] = field(default_factory=list)
    custom_fields: list[dict[str, Any]] = field(default_factory=list)
    # Indexes over ``contacts`` (not pickled: rebuilt on load).
    _seq: dict[str, int] = field(default_factory=dict, init=False, repr=False, compare=False)
    _next_seq: int = field(default=0, init=False, repr=False, compare=False)
    _lower_ids: dict[str, str] = field(default_factory=dict, init=False, repr=False, compare=False)
    _by_email: dict[str, set[str]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    _by_name: dict[tuple[str, str], set[str]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    _indexed: dict[str, tuple[tuple[str, str], frozenset[str]]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        self.reindex()

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k not in _INDEXES}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.reindex()

    # -- indexes ----------------------------------------------------------------------------
    def reindex(self) -> None:
        """Rebuild every index from ``contacts`` (a loaded state, or after a bulk edit)."""
        self._seq, self._next_seq, self._lower_ids = {}, 0, {}
        self._by_email, self._by_name, self._indexed = {}, {}, {}
        for cid in self.contacts:
            self._seq[cid] = self._next_seq
            self._next_seq += 1
            self._lower_ids.setdefault(cid.lower(), cid)
            self._index(cid)

    def _index(self, cid: str) -> None:
        contact = self.contacts[cid]
        name, emails = name_key(contact), frozenset(emails_of(contact))
        self._indexed[cid] = (name, emails)
        self._by_name.setdefault(name, set()).add(cid)
        for email in emails:
            self._by_email.setdefault(email, set()).add(cid)

    def _unindex(self, cid: str) -> None:
        name, emails = self._indexed.pop(cid)
        _discard(self._by_name, name, cid)
        for email in emails:
            _discard(self._by_email, email, cid)

    def reindex_contact(self, cid: str) -> None:
        """After a contact was changed in place (an update): its names and emails again."""
        self._unindex(cid)
        self._index(cid)

    def _in_order(self, ids: set[str]) -> list[str]:
        """Ids in ``contacts`` order (the order a scan of the dict would meet them)."""
        return sorted(ids, key=self._seq.__getitem__)

    # -- queries ----------------------------------------------------------------------------
    def user_by_key(self, key: str | None) -> dict[str, Any] | None:
        if not key:
            return None
        return next((u for u in self.users if u["ApiKey"] == key), None)

    def emails_of(self, contact: dict[str, Any]) -> list[str]:
        return emails_of(contact)

    def contact(self, cid: str) -> dict[str, Any] | None:
        """The contact with this id, compared case-insensitively (as the API does)."""
        key = cid if cid in self.contacts else self._lower_ids.get(cid.lower())
        return None if key is None else self.contacts[key]

    def contacts_with_emails(self, wanted: set[str]) -> list[dict[str, Any]]:
        """Contacts holding any of ``wanted`` (lower-cased), in ``contacts`` order."""
        ids: set[str] = set()
        for email in wanted:
            ids |= self._by_email.get(email, set())
        return [self.contacts[cid] for cid in self._in_order(ids)]

    def duplicate_of(self, entity: dict[str, Any]) -> str | None:
        """The record Crelate's duplicate check would match: same full name, or same email
        (the first such contact in ``contacts`` order)."""
        ids = set(self._by_name.get(name_key(entity), set()))
        for email in emails_of(entity):
            ids |= self._by_email.get(email, set())
        if not ids:
            return None
        first = min(ids, key=self._seq.__getitem__)
        return str(self.contacts[first]["Id"])

    # -- writes -----------------------------------------------------------------------------
    def add_contact(self, entity: dict[str, Any], user: dict[str, Any]) -> str:
        cid = new_id()
        stamp = now_iso()
        lookup = {"Id": user["Id"], "Title": user["Name"]}
        first, last = entity.get("FirstName") or "", entity.get("LastName") or ""
        self.contacts[cid] = {
            **entity,
            "Id": cid,
            "Name": f"{last}, {first}".strip(", "),
            "FullName": f"{first} {last}".strip(),
            "RecordType": entity.get("RecordType", 1),
            "EntityStatus": 1,
            "ContactNum": len(self.contacts) + 1,
            "CreatedById": lookup,
            "UpdatedById": lookup,
            "Owners": entity.get("Owners") or [{**lookup, "IsPrimary": True}],
            "CreatedOn": stamp,
            "ModifiedOn": stamp,
            "Tags": entity.get("Tags") or {},
        }
        self._seq[cid] = self._next_seq
        self._next_seq += 1
        self._lower_ids.setdefault(cid.lower(), cid)
        self._index(cid)
        return cid

    def remove_contact(self, cid: str) -> None:
        """Delete a contact (by its exact id) and its pipeline entries."""
        del self.contacts[cid]
        self._unindex(cid)
        del self._seq[cid]
        if self._lower_ids.get(cid.lower()) == cid:
            del self._lower_ids[cid.lower()]
            # Another id differing only in case (never: ids are lower-case uuids) takes over.
            other = next((k for k in self.contacts if k.lower() == cid.lower()), None)
            if other is not None:
                self._lower_ids[cid.lower()] = other
        for key in [k for k in self.pipeline if k[1] == cid]:  # deletes are rare: a scan is fine
            del self.pipeline[key]

    def records(self, kind: str) -> list[Any]:
        if kind == "pipeline":
            return [{"JobId": j, "ContactId": c, **v} for (j, c), v in self.pipeline.items()]
        value = getattr(self, kind)
        return list(value.values()) if isinstance(value, dict) else list(value)

    def duplicates(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for contact in self.contacts.values():
            for email in set(self.emails_of(contact)):
                counts[email] = counts.get(email, 0) + 1
        return {e: n for e, n in counts.items() if n > 1}


def _discard(index: dict[Any, set[str]], key: Any, cid: str) -> None:
    ids = index.get(key)
    if ids is not None:
        ids.discard(cid)
        if not ids:
            del index[key]


RECORD_KINDS = (
    "users",
    "contacts",
    "jobs",
    "statuses",
    "activity_types",
    "activities",
    "notes",
    "pipeline",
    "lists",
    "contact_sources",
    "custom_fields",
)


def _seed_common(store: CrelateStore, stage_names: list[str]) -> None:
    store.users = [
        {
            "Id": new_id(),
            "Name": "Alice Recruiter",
            "Email": "alice@acme-staffing.test",
            "ApiKey": "alicecrelatekey0000000000a",
        },
        {
            "Id": new_id(),
            "Name": "Bob Manager",
            "Email": "bob@acme-staffing.test",
            "ApiKey": "bobcrelatekey000000000000b",
        },
        {
            "Id": new_id(),
            "Name": "Carol Owner",
            "Email": "carol@acme-staffing.test",
            "ApiKey": "carolcrelatekey0000000000c",
        },
    ]
    for name in ("Senior Python Engineer", "VP of Sales", "Staff Data Scientist", "Head of Talent"):
        jid = new_id()
        store.jobs[jid] = {
            "Id": jid,
            "Name": name,
            "JobNum": len(store.jobs) + 1,
            "CreatedOn": now_iso(),
        }
    store.statuses = [
        {
            "Id": new_id(),
            "Name": n,
            "SortOrder": i,
            "WorkflowTypeId": {"Id": RECRUITING_WORKFLOW_TYPE_ID, "Title": "Recruiting"},
        }
        for i, n in enumerate(stage_names)
    ]
    store.activity_types = [
        {"Id": new_id(), "Name": n} for n in ("Email", "Call", "Meeting", "Screen", "Text Message")
    ]
    store.contact_sources = [
        {"Id": new_id(), "Name": n} for n in ("LinkedIn", "Referral", "Outbound")
    ]
    store.custom_fields = [
        {"Name": "CustomField1", "Label": "Preferred Pronouns", "IsCustom": True, "Type": "Text"},
        {"Name": "CustomField2", "Label": "Visa Status", "IsCustom": True, "Type": "Text"},
        {"Name": "CustomField3", "Label": "Sourced By Campaign", "IsCustom": True, "Type": "Text"},
    ]
    owner = store.users[2]
    existing = [
        ("Dana", "Existing", "dana.existing@example.com"),
        ("Evan", "Known", "evan.known@example.com"),
        ("Fiona", "Placed", "fiona.placed@example.com"),
        ("Gus", "Returning", "gus.returning@example.com"),
    ]
    for first, last, email in existing:
        store.add_contact(
            {
                "FirstName": first,
                "LastName": last,
                "EmailAddresses_Personal": {"Value": email, "IsPrimary": True},
            },
            owner,
        )
    ivy = store.add_contact(
        {
            "FirstName": "Ivy",
            "LastName": "Offlimits",
            "EmailAddresses_Personal": {"Value": "ivy.offlimits@example.com", "IsPrimary": True},
        },
        owner,
    )
    store.contacts[ivy]["Tags"] = {
        "00000000-0000-0000-0000-000000000000": [{"Id": new_id(), "Title": "Do Not Contact"}]
    }
    members = []
    for i in range(12):
        members.append(
            store.add_contact(
                {
                    "FirstName": f"Listed{i}",
                    "LastName": "Prospect",
                    "EmailAddresses_Work": {
                        "Value": f"listed{i}@prospects.example.com",
                        "IsPrimary": True,
                    },
                },
                owner,
            )
        )
    for i in range(3):  # list members without an email: skipped on import
        members.append(
            store.add_contact({"FirstName": f"NoEmail{i}", "LastName": "Prospect"}, owner)
        )
    members.append(next(iter(store.contacts)))  # Dana: already known to the ATS
    lid = new_id()
    store.lists[lid] = {"Id": lid, "Name": "Q4 Python Engineers", "Members": members}
    lid2 = new_id()
    store.lists[lid2] = {"Id": lid2, "Name": "Empty list", "Members": []}


def seed_store(seed: str = "standard") -> CrelateStore:
    """standard: has stages "Messaged", "Replied", "Interested", "Not Interested";
    bare: Crelate's usual stages only, none of those four."""
    store = CrelateStore()
    if seed == "bare":
        _seed_common(store, ["Maybe", "Applied", "Submitted", "Good Fit", "Interviewing", "Hired"])
    elif seed == "standard":
        _seed_common(
            store,
            [
                "Maybe",
                "Messaged",
                "Replied",
                "Interested",
                "Not Interested",
                "Submitted",
                "Good Fit",
                "Hired",
            ],
        )
    else:
        raise ValueError(f"unknown seed {seed!r}: standard or bare")
    return store
