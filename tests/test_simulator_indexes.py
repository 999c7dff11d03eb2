"""The ATS simulators answer lookups from indexes: these pin the answers the indexes must keep
(the same as a scan of every record) across creates, updates, deletes, bulk creates and reset."""

from __future__ import annotations

import base64
import pickle
import random
from typing import Any

import httpx
import pytest

from outbound.simulators.clockwork import store as clockwork_store
from outbound.simulators.clockwork.store import Firm, seed_firm
from outbound.simulators.crelate.store import EMAIL_FIELDS, CrelateStore, seed_store
from tests.conftest import CLOCKWORK_FIRM_KEY, CRELATE_KEYS, Sim

# -- Crelate ------------------------------------------------------------------------------------


@pytest.fixture
def api(crelate: Sim) -> httpx.Client:
    crelate.http.headers["X-Api-Key"] = CRELATE_KEYS["alice"]
    return crelate.http


def entity(
    first: str, last: str, email: str | None = None, field: str = "EmailAddresses_Personal"
) -> dict[str, Any]:
    e: dict[str, Any] = {"FirstName": first, "LastName": last}
    if email is not None:
        e[field] = {"Value": email, "IsPrimary": True}
    return {"entity": e}


def create(api: httpx.Client, *args: Any, **kw: Any) -> str:
    r = api.post("/api3/contacts", json=entity(*args, **kw))
    assert r.status_code == 201, r.text
    return str(r.json()["Data"])


def found(api: httpx.Client, *emails: str) -> list[str]:
    r = api.get("/api3/contacts", params={"emails": ",".join(emails), "limit": 100})
    assert r.status_code == 200
    return [c["Id"] for c in r.json()["Data"]]


def refused_as(api: httpx.Client, *args: Any, **kw: Any) -> str | None:
    """The id a create is refused as a duplicate of, or None (then the contact is created)."""
    r = api.post("/api3/contacts", json=entity(*args, **kw))
    if r.status_code == 201:
        return None
    assert r.status_code == 409, r.text
    message: str = r.json()["Errors"][0]["Message"]
    return message.split("'")[1]


def test_crelate_created_contact_is_found_by_email_any_case_and_is_a_duplicate(
    api: httpx.Client,
) -> None:
    cid = create(api, "Nina", "Index", "Nina.Index@Example.com")
    assert found(api, "nina.index@example.com") == [cid]
    assert found(api, " NINA.INDEX@EXAMPLE.COM ") == [cid]
    assert found(api, "nina@example.com") == []
    assert refused_as(api, "Other", "Person", "nina.index@example.com") == cid  # same email
    assert refused_as(api, " nina ", "INDEX", "another@example.com") == cid  # same name
    assert refused_as(api, "Nina", "Indexed", "third@example.com") is None


def test_crelate_every_email_field_is_indexed(api: httpx.Client) -> None:
    ids = [
        create(api, f"F{i}", "Fields", f"f{i}@fields.example.com", field=f)
        for i, f in enumerate(EMAIL_FIELDS)
    ]
    for i, cid in enumerate(ids):
        assert found(api, f"f{i}@fields.example.com") == [cid]
        assert refused_as(api, "New", f"Name{i}", f"F{i}@fields.example.com") == cid
    # An email-like field the simulator does not read as an email is not one.
    create(api, "Not", "Email", "notes@fields.example.com", field="EmailAddresses_Unknown")
    assert found(api, "notes@fields.example.com") == []


def test_crelate_update_moves_the_email_and_the_name(api: httpx.Client) -> None:
    cid = create(api, "Olga", "Old", "olga.old@example.com")
    r = api.patch(
        f"/api3/contacts/{cid}",
        json={"entity": {"EmailAddresses_Work": {"Value": "olga.new@example.com"}}},
    )
    assert r.status_code == 200
    assert found(api, "olga.new@example.com") == [cid]
    assert found(api, "olga.old@example.com") == [cid]  # the personal address is still held
    api.patch(
        f"/api3/contacts/{cid}",
        json={"entity": {"EmailAddresses_Personal": {"Value": "olga.newer@example.com"}}},
    )
    assert found(api, "olga.old@example.com") == []
    assert found(api, "olga.newer@example.com") == [cid]
    assert refused_as(api, "X", "Y", "olga.old@example.com") is None  # the old one is free
    api.patch(f"/api3/contacts/{cid}", json={"entity": {"FirstName": "Olgana"}})
    assert refused_as(api, "Olga", "Old", "z1@example.com") is None
    assert refused_as(api, "Olgana", "Old", "z2@example.com") == cid
    # PUT replaces: no email left, a new name.
    r = api.put(f"/api3/contacts/{cid}", json={"entity": {"FirstName": "P", "LastName": "Q"}})
    assert r.status_code == 200
    assert found(api, "olga.new@example.com", "olga.newer@example.com") == []
    assert refused_as(api, "Olgana", "Old", "z3@example.com") is None
    assert refused_as(api, "p", "q", "z4@example.com") == cid


def test_crelate_delete_forgets_the_contact(api: httpx.Client) -> None:
    cid = create(api, "Dora", "Deleted", "dora@example.com")
    upper = cid.upper()
    assert api.get(f"/api3/contacts/{upper}").json()["Data"]["Id"] == cid  # any case
    assert api.delete(f"/api3/contacts/{upper}").status_code == 200
    assert found(api, "dora@example.com") == []
    assert api.get(f"/api3/contacts/{cid}").status_code == 404
    assert api.delete(f"/api3/contacts/{cid}").status_code == 404
    again = refused_as(api, "Dora", "Deleted", "dora@example.com")
    assert again is None  # neither the name nor the email is a duplicate any more
    (new,) = found(api, "dora@example.com")
    assert new != cid


def test_crelate_bulk_create_indexes_every_contact_and_refuses_duplicates(
    api: httpx.Client,
) -> None:
    body = {
        "entities": [
            entity("Bulk", "One", "bulk1@example.com")["entity"],
            entity("Bulk", "Two", "bulk2@example.com")["entity"],
        ]
    }
    r = api.post("/api3/contacts/bulk", json=body)
    assert r.status_code == 201
    one, two = r.json()["Data"]
    assert found(api, "bulk1@example.com") == [one]
    assert found(api, "bulk2@example.com", "bulk1@example.com") == [one, two]  # stored order
    assert refused_as(api, "Bulk", "Two", "other@example.com") == two
    again = {
        "entities": [entity("Bulk", "Three", "bulk3@example.com")["entity"], body["entities"][0]]
    }
    r = api.post("/api3/contacts/bulk", json=again)
    assert r.status_code == 409 and one in r.json()["Errors"][0]["Message"]
    assert found(api, "bulk3@example.com") == []  # nothing of a refused bulk is stored


def test_crelate_shared_emails_answer_in_stored_order(crelate: Sim, api: httpx.Client) -> None:
    crelate.profiles("duplicate_check_off")
    a = create(api, "Same", "Mail", "shared@example.com")
    b = create(api, "Same", "Mail", "SHARED@example.com", field="EmailAddresses_Other")
    c = create(api, "Else", "Where", "elsewhere@example.com")
    assert found(api, "shared@example.com") == [a, b]
    assert found(api, "elsewhere@example.com", "shared@example.com") == [a, b, c]
    crelate.profiles()
    assert refused_as(api, "same", "mail", "nobody@example.com") == a  # the first stored
    assert refused_as(api, "Another", "One", "elsewhere@example.com") == c
    api.delete(f"/api3/contacts/{a}")
    assert found(api, "shared@example.com") == [b]
    assert refused_as(api, "same", "mail", "nobody@example.com") == b


def test_crelate_reset_forgets_created_contacts(crelate: Sim, api: httpx.Client) -> None:
    create(api, "Reset", "Me", "reset.me@example.com")
    crelate.reset()
    assert found(api, "reset.me@example.com") == []
    assert refused_as(api, "Reset", "Me", "reset.me@example.com") is None
    (seeded,) = found(api, "dana.existing@example.com")  # the seed is indexed
    assert refused_as(api, "Dana", "Existing", "x@example.com") == seeded


def test_crelate_pipeline_history_by_contact_any_case(api: httpx.Client) -> None:
    cid = create(api, "Pia", "Pipeline", "pia@example.com")
    jid = api.get("/api3/jobs").json()["Data"][0]["Id"]
    r = api.post(f"/api3/jobs/{jid}/contacts", params={"contact_ids": cid}, json={})
    assert r.status_code == 200
    history = api.get(f"/api3/jobs/{jid}/contacts/history", params={"contact_id": cid.upper()})
    assert history.status_code == 200 and len(history.json()["Data"]) == 1
    other = create(api, "Never", "OnJob", "never@example.com")
    missing = api.get(f"/api3/jobs/{jid}/contacts/history", params={"contact_id": other})
    assert missing.status_code == 404
    api.delete(f"/api3/contacts/{cid}")
    gone = api.get(f"/api3/jobs/{jid}/contacts/history", params={"contact_id": cid})
    assert gone.status_code == 404


def _scan_emails(store: CrelateStore, wanted: set[str]) -> list[str]:
    """The simulator's answer before the indexes: a scan of every contact."""
    return [c["Id"] for c in store.contacts.values() if wanted & set(store.emails_of(c))]


def _scan_duplicate(store: CrelateStore, e: dict[str, Any]) -> str | None:
    def name(x: dict[str, Any]) -> tuple[str, str]:
        return (
            str(x.get("FirstName") or "").strip().lower(),
            str(x.get("LastName") or "").strip().lower(),
        )

    emails = set(store.emails_of(e))
    for c in store.contacts.values():
        if name(e) == name(c) or emails & set(store.emails_of(c)):
            return str(c["Id"])
    return None


def test_crelate_store_indexes_agree_with_a_scan_after_random_edits() -> None:
    rng = random.Random(7)
    store = seed_store()
    user = store.users[0]
    names = ["Ann", "Bo", "Cy", " ann "]
    emails = [f"m{i}@Example.com" for i in range(6)]

    def random_entity() -> dict[str, Any]:
        e: dict[str, Any] = {"FirstName": rng.choice(names), "LastName": rng.choice(names)}
        for f in rng.sample(EMAIL_FIELDS, rng.randrange(3)):
            e[f] = {"Value": rng.choice(emails)}
        return e

    for step in range(400):
        op = rng.random()
        ids = list(store.contacts)
        if op < 0.4 or not ids:
            store.add_contact(random_entity(), user)
        elif op < 0.7:
            cid = rng.choice(ids)
            store.contacts[cid].update(random_entity())
            if rng.random() < 0.3:
                store.contacts[cid].pop("EmailAddresses_Personal", None)
            store.reindex_contact(cid)
        else:
            store.remove_contact(rng.choice(ids))
        if step % 50 == 0:  # a saved state reloads with the same answers
            store = pickle.loads(pickle.dumps(store))
        wanted = {e.lower() for e in rng.sample(emails, rng.randrange(1, 3))}
        assert [c["Id"] for c in store.contacts_with_emails(wanted)] == _scan_emails(store, wanted)
        probe = random_entity()
        assert store.duplicate_of(probe) == _scan_duplicate(store, probe)
        some = rng.choice(list(store.contacts))
        assert store.contact(some.upper()) is store.contacts[some]


# -- Clockwork ----------------------------------------------------------------------------------


@pytest.fixture
def cw(clockwork: Sim) -> httpx.Client:
    token = base64.b64encode(b"cw-alice-key:cw-alice-secret").decode()
    clockwork.http.headers.update(
        {"x-api-key": CLOCKWORK_FIRM_KEY, "authorization": f"Token {token}"}
    )
    return clockwork.http


def person(cw: httpx.Client, name: str, *emails: str) -> str:
    r = cw.post("/v3.0/acme/people", json={"person": {"name": name}})
    assert r.status_code == 201
    pid = str(r.json()["id"])
    for address in emails:
        r = cw.post(
            f"/v3.0/acme/people/{pid}/email_addresses", json={"email": {"address": address}}
        )
        assert r.status_code == 201
    return pid


def search(cw: httpx.Client, q: str) -> list[str]:
    r = cw.get("/v3.0/acme/people_search", params={"q": q, "limit": 100})
    assert r.status_code == 200
    return [p["id"] for p in r.json()["peopleSearch"]]


def test_clockwork_search_finds_by_email_and_name_substrings(
    clockwork: Sim, cw: httpx.Client
) -> None:
    a = person(cw, "Quinn Query", "quinn@example.com")
    b = person(cw, "Other Query", "xquinn@example.com", "Second@Example.com")
    assert search(cw, "quinn@example.com") == [a, b]  # a substring of b's address too
    assert search(cw, "QUINN@EXAMPLE.COM") == [a, b]
    assert search(cw, "second@") == [b]
    assert search(cw, "query") == [a, b]
    assert search(cw, "qu") == [a, b]  # short: a scan
    assert search(cw, "nobody@example.com") == []
    r = cw.patch(f"/v3.0/acme/people/{a}", json={"person": {"name": "Renamed Person"}})
    assert r.status_code == 200
    assert search(cw, "quinn query") == []
    assert search(cw, "renamed") == [a]
    clockwork.profiles("search_ignores_email")
    assert search(cw, "quinn@example.com") == []
    assert search(cw, "renamed") == [a]


def test_clockwork_delete_forgets_the_person_notes_and_candidacies(cw: httpx.Client) -> None:
    pid = person(cw, "Dee Leted", "dee@example.com")
    keep = person(cw, "Kay Kept", "kay@example.com")
    project = cw.get("/v3.0/acme/projects").json()["projects"][0]["id"]
    path = f"/v3.0/acme/projects/{project}/candidacies"
    for who in (pid, keep):
        r = cw.post(path, json={"candidacy": {"person_id": who}})
        assert r.status_code == 201
        r = cw.post(f"/v3.0/acme/people/{who}/notes", json={"note": {"content": f"n {who}"}})
        assert r.status_code == 201
    again = cw.post(path, json={"candidacy": {"person_id": pid}})
    assert again.status_code == 400  # already on this project
    assert [c["personId"] for c in cw.get(path).json()["candidacies"]] == [pid, keep]
    assert [
        c["personId"] for c in cw.get(path, params={"person_id": keep}).json()["candidacies"]
    ] == [keep]
    assert len(cw.get(f"/v3.0/acme/people/{pid}/notes").json()["notes"]) == 1
    assert cw.delete(f"/v3.0/acme/people/{pid}").status_code == 204
    assert search(cw, "dee@example.com") == []
    assert search(cw, "dee leted") == []
    assert cw.get(f"/v3.0/acme/people/{pid}").status_code == 404
    assert [c["personId"] for c in cw.get(path).json()["candidacies"]] == [keep]
    assert len(cw.get(f"/v3.0/acme/people/{keep}/notes").json()["notes"]) == 1
    assert cw.post(path, json={"candidacy": {"person_id": keep}}).status_code == 400


def test_clockwork_reset_forgets_created_people(clockwork: Sim, cw: httpx.Client) -> None:
    person(cw, "Reset Me", "reset.me@example.com")
    clockwork.reset()
    assert search(cw, "reset.me@example.com") == []
    assert len(search(cw, "dana.existing@example.com")) == 1  # the seed is indexed


def _scan_search(firm: Firm, q: str, with_email: bool) -> list[str]:
    """The simulator's answer before the indexes: a scan of every person."""
    return [
        p["id"]
        for p in firm.people.values()
        if q in str(p["name"]).lower() or (with_email and any(q in e for e in firm.emails_of(p)))
    ]


def test_clockwork_search_agrees_with_a_scan_after_random_edits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(clockwork_store, "COMMON", 5)  # common trigrams are dropped early
    rng = random.Random(11)
    firm = seed_firm()
    user = firm.users[0]
    words = ["ann", "annabel", "bob", "example", "exam"]

    def text() -> str:
        return " ".join(rng.choice(words) for _ in range(rng.randrange(1, 3)))

    for step in range(400):
        op = rng.random()
        ids = list(firm.people)
        if op < 0.35 or not ids:
            firm.add_person({"name": text()}, user)
        elif op < 0.6:
            firm.add_email(
                firm.people[rng.choice(ids)], text().replace(" ", ".") + "@X.com", "work"
            )
        elif op < 0.8:
            firm.update_person(firm.people[rng.choice(ids)], {"name": text().title()})
        else:
            firm.remove_person(rng.choice(ids))
        if step % 50 == 0:
            firm = pickle.loads(pickle.dumps(firm))
        q = rng.choice([*words, "an", "nab", "bob@x", "ple.ann", "zzz", "@x.com"])
        for with_email in (True, False):
            assert [p["id"] for p in firm.search(q, with_email)] == _scan_search(
                firm, q, with_email
            )
