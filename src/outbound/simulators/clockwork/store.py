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


GRAM = 3  # people_search matches substrings: a q of GRAM characters or more uses the index
COMMON = 1000  # a trigram more people hold than this is dropped from the index ("example.com")

Ordered = dict[str, None]  # an insertion-ordered set of ids


def grams(text: str) -> set[str]:
    return {text[i : i + GRAM] for i in range(len(text) - GRAM + 1)}


class GramIndex:
    """Trigram → ids of the texts holding it, for substring search: the ids holding ``q``'s
    rarest trigram are a superset of those whose text contains ``q``. Trigrams held by more than
    COMMON ids are dropped for good (memory): they never narrow a search much anyway."""

    def __init__(self) -> None:
        self.ids: dict[str, set[str]] = {}
        self.common: set[str] = set()

    def add(self, pid: str, text: str) -> None:
        for gram in grams(text):
            ids = self.ids.get(gram)
            if ids is None:
                if gram not in self.common:
                    self.ids[gram] = {pid}
            elif len(ids) < COMMON:
                ids.add(pid)
            else:
                del self.ids[gram]
                self.common.add(gram)

    def remove(self, pid: str, text: str) -> None:
        for gram in grams(text):
            ids = self.ids.get(gram)
            if ids is not None:
                ids.discard(pid)
                if not ids:
                    del self.ids[gram]

    def candidates(self, q: str) -> set[str] | None:
        """Ids that may hold ``q`` (GRAM characters or more), or None: scan (every trigram of
        ``q`` is common)."""
        best: set[str] | None = None
        for gram in grams(q):
            if gram not in self.common:
                ids = self.ids.get(gram, set())
                if best is None or len(ids) < len(best):
                    best = ids
        return best


_INDEXES = (
    "_seq",
    "_next_seq",
    "_names",
    "_emails",
    "_indexed",
    "_notes_of",
    "_cands_of_project",
    "_cands_of_pair",
    "_cands_of_person",
)


@dataclass
class Firm:
    """People, notes and candidacies are kept with indexes (name and email trigrams → person
    ids, person → notes, project → candidacies) so the routes the sync engine uses do not scan
    everything: change them through add_person / update_person / add_email / remove_person,
    add_note and add_candidacy only (or call reindex)."""

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
    # Indexes, set by reindex (not pickled: rebuilt on load). Person ids are put in people order
    # by _seq.
    _seq: dict[str, int] = field(init=False, repr=False, compare=False)
    _next_seq: int = field(init=False, repr=False, compare=False)
    _names: GramIndex = field(init=False, repr=False, compare=False)
    _emails: GramIndex = field(init=False, repr=False, compare=False)
    # person id → the (name, emails) texts it is indexed under, lower-cased
    _indexed: dict[str, tuple[str, tuple[str, ...]]] = field(init=False, repr=False, compare=False)
    # Insertion-ordered "sets" (dict keys): the order a scan of notes / candidacies meets them.
    _notes_of: dict[str, Ordered] = field(init=False, repr=False, compare=False)
    _cands_of_project: dict[str, Ordered] = field(init=False, repr=False, compare=False)
    _cands_of_pair: dict[tuple[str, str], Ordered] = field(init=False, repr=False, compare=False)
    _cands_of_person: dict[str, Ordered] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.reindex()

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k not in _INDEXES}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.reindex()

    # -- indexes ----------------------------------------------------------------------------
    def reindex(self) -> None:
        """Rebuild every index from people, notes and candidacies."""
        self._seq, self._next_seq, self._indexed = {}, 0, {}
        self._names, self._emails = GramIndex(), GramIndex()
        self._notes_of, self._cands_of_project, self._cands_of_pair = {}, {}, {}
        self._cands_of_person = {}
        for pid in self.people:
            self._seq[pid] = self._next_seq
            self._next_seq += 1
            self._index_person(pid)
        for note in self.notes.values():
            self._notes_of.setdefault(note["personId"], {})[note["id"]] = None
        for c in self.candidacies.values():
            self._index_candidacy(c)

    def _index_person(self, pid: str) -> None:
        person = self.people[pid]
        name = str(person["name"]).lower()
        emails = tuple(str(e["address"]).lower() for e in person.get("emails") or [])
        self._indexed[pid] = (name, emails)
        self._names.add(pid, name)
        for email in emails:
            self._emails.add(pid, email)

    def _unindex_person(self, pid: str) -> None:
        name, emails = self._indexed.pop(pid)
        self._names.remove(pid, name)
        for email in emails:
            self._emails.remove(pid, email)

    def reindex_person(self, pid: str) -> None:
        """After a person's name or emails changed in place."""
        self._unindex_person(pid)
        self._index_person(pid)

    def _index_candidacy(self, c: dict[str, Any]) -> None:
        project, person = c["project_id"], c["person_id"]
        self._cands_of_project.setdefault(project, {})[c["id"]] = None
        self._cands_of_pair.setdefault((project, person), {})[c["id"]] = None
        self._cands_of_person.setdefault(person, {})[c["id"]] = None

    # -- queries ----------------------------------------------------------------------------
    def search(self, q: str, with_email: bool) -> list[dict[str, Any]]:
        """People whose name (or, with_email, one of whose emails) contains ``q`` (lower-cased),
        in people order. A q of GRAM characters or more: only the people holding q's rarest
        indexed trigram are checked (with the same test)."""

        def hit(p: dict[str, Any]) -> bool:
            return q in str(p["name"]).lower() or (
                with_email and any(q in e for e in self.emails_of(p))
            )

        if len(q) < GRAM:
            return [p for p in self.people.values() if hit(p)]
        ids: set[str] = set()
        for index in (self._names, self._emails) if with_email else (self._names,):
            found = index.candidates(q)
            if found is None:
                return [p for p in self.people.values() if hit(p)]
            ids |= found
        people = (self.people[pid] for pid in sorted(ids, key=self._seq.__getitem__))
        return [p for p in people if hit(p)]

    def notes_of(self, pid: str) -> list[dict[str, Any]]:
        """A person's notes, in notes order."""
        return [self.notes[nid] for nid in self._notes_of.get(pid, {})]

    def candidacies_of(self, project_id: str, person_id: str | None = None) -> list[dict[str, Any]]:
        """A project's candidacies (of one person, if given), in candidacies order."""
        if person_id is None:
            ids = self._cands_of_project.get(project_id, {})
        else:
            ids = self._cands_of_pair.get((project_id, person_id), {})
        return [self.candidacies[cid] for cid in ids]

    # -- writes -----------------------------------------------------------------------------
    def add_note(self, note: dict[str, Any]) -> None:
        self.notes[note["id"]] = note
        self._notes_of.setdefault(note["personId"], {})[note["id"]] = None

    def add_candidacy(self, c: dict[str, Any]) -> None:
        self.candidacies[c["id"]] = c
        self._index_candidacy(c)

    def remove_person(self, pid: str) -> None:
        """Delete a person with their notes and candidacies."""
        del self.people[pid]
        self._unindex_person(pid)
        del self._seq[pid]
        for nid in self._notes_of.pop(pid, {}):
            del self.notes[nid]
        for cid in self._cands_of_person.pop(pid, {}):
            project = self.candidacies.pop(cid)["project_id"]
            _drop(self._cands_of_project, project, cid)
            _drop(self._cands_of_pair, (project, pid), cid)

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
        self._seq[pid] = self._next_seq
        self._next_seq += 1
        self._index_person(pid)
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
        if "name" in data and person["id"] in self._indexed:
            self.reindex_person(person["id"])

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
        indexed = self._indexed.get(person.get("id") or "")
        if indexed is not None:  # one more email to find the person by
            email = str(item["address"]).lower()
            self._indexed[person["id"]] = (indexed[0], (*indexed[1], email))
            self._emails.add(person["id"], email)
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


def _drop(index: dict[Any, dict[str, None]], key: Any, cid: str) -> None:
    ids = index[key]
    del ids[cid]
    if not ids:
        del index[key]


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
    firm.reindex()


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
