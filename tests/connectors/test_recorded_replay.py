"""Every response body recorded from the real APIs (../shared/ats/recorded/) goes through the
connectors' parsers over httpx.MockTransport: what the live API says is what the code reads."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from outbound.connectors.base import DuplicateRecord, HttpConnector, PersonInput
from outbound.connectors.clockwork.connector import ClockworkConnector
from outbound.connectors.crelate.connector import CrelateConnector
from outbound.http import build_client

RECORDED = Path(__file__).resolve().parents[2].parent / "shared" / "ats" / "recorded"


def body(name: str) -> Any:
    return json.loads((RECORDED / name).read_text())


def status_of(name: str) -> int:
    """The HTTP status is part of each file's name: crelate-contact-create-409-duplicate.json."""
    match = re.search(r"-(\d{3})(?:-|\.json$)", name)
    assert match, name
    return int(match.group(1))


def replay(
    make: Callable[[httpx.AsyncClient], HttpConnector],
    name: str,
    action: Callable[[Any], Awaitable[Any]],
) -> Any:
    """Run ``action`` on a connector whose every request is answered with the recorded body."""
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status_of(name), json=body(name))

    async def go() -> Any:
        client = build_client(transport=httpx.MockTransport(answer))
        try:
            return await action(make(client))
        finally:
            await client.aclose()

    return asyncio.run(go())


def crelate(client: httpx.AsyncClient) -> HttpConnector:
    return CrelateConnector("https://app.crelate.com/api3", "key", client=client)


def clockwork(client: httpx.AsyncClient) -> HttpConnector:
    return ClockworkConnector(
        "https://api.clockworkrecruiting.com/v3.0", "acme", "k", "s", "f", client=client
    )


def test_crelate_contacts_list_finds_the_person_by_any_email_field() -> None:
    found = replay(
        crelate,
        "crelate-contacts-list-200.json",
        lambda c: c.find_person_by_email("TestUser@whippy.co"),
    )
    assert found is not None and found.id == "d637819a-21f0-4ca9-5236-edd37629dd08"
    assert found.email == "testuser@whippy.co"
    assert found.created_by_id == "2617363a-2a08-4800-102d-1e69cd28dd08"
    assert found.created_by_name == "Supriya"


def test_crelate_create_answers_the_new_id() -> None:
    new_id = replay(
        crelate,
        "crelate-contact-create-201.json",
        lambda c: c.create_person(PersonInput("a@b.example", "A", "B")),
    )
    assert new_id == "450bf96e-eb32-42bc-d11f-6ce89035dd08"


def test_crelate_409_duplicate_names_the_existing_record() -> None:
    with pytest.raises(DuplicateRecord) as refused:
        replay(
            crelate,
            "crelate-contact-create-409-duplicate.json",
            lambda c: c.create_person(PersonInput("a@b.example", "A", "B")),
        )
    assert refused.value.existing_id == "7456fdb0-0000-0000-0000-000000000000"


def test_clockwork_people_search_finds_the_person_by_email() -> None:
    found = replay(
        clockwork,
        "clockwork-people-search-200.json",
        lambda c: c.find_person_by_email("LISA@nationbuilder.com"),
    )
    assert found is not None and found.id == "6ae0bd2c-e0ae-402e-a479-d8d14104df9d"
    assert found.email == "lisa@nationbuilder.com"


REPLAYED = {
    "crelate-contacts-list-200.json",
    "crelate-contact-create-201.json",
    "crelate-contact-create-409-duplicate.json",
    "clockwork-people-search-200.json",
}


def test_every_recorded_body_is_replayed() -> None:
    recorded = {p.name for p in RECORDED.glob("*.json")}
    assert recorded, f"no recorded bodies under {RECORDED}"
    assert recorded <= REPLAYED, f"add a replay test for {sorted(recorded - REPLAYED)}"
