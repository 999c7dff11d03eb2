"""`outbound doctor` for Clockwork: one probe per fact in ``unverified.py`` (its PROBES names them).

Read-only unless the run allows writes; the write probes use one throw-away person named
"Outbound Doctor <tag>" and delete it afterwards.
"""

from __future__ import annotations

import contextlib
import re
from typing import Any

from outbound.connectors.clockwork import unverified
from outbound.connectors.clockwork.connector import (
    ClockworkConnector,
    email_addresses,
    parse_stamp,
)
from outbound.connectors.probes import ProbeContext, ProbeFn, ProbeResult, differs, holds, skipped
from outbound.connectors.record_links import self_links
from outbound.http import build_client

V3_STAMP = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")
WRITE_ONLY = "write probe: run with --write"


async def _get(c: ClockworkConnector, path: str, **params: Any) -> Any:
    return (await c.request("GET", path, params=params or None)).json()


async def _people(c: ClockworkConnector, ctx: ProbeContext) -> list[dict[str, Any]]:
    if "people" not in ctx.found:
        ctx.found["people"] = (await _get(c, "/people", limit=5)).get("people") or []
    people: list[dict[str, Any]] = ctx.found["people"]
    return people


async def _scratch(c: ClockworkConnector, ctx: ProbeContext) -> str:
    """One throw-away person with one email and two notes, made once per run."""
    if "scratch" not in ctx.found:
        from outbound.connectors.base import ActivityInput, PersonInput

        person = PersonInput(
            f"outbound-doctor-{ctx.tag}@example.invalid", "Outbound Doctor", ctx.tag
        )
        pid = await c.create_person(person)
        ctx.cleanup.append(f"/people/{pid}")
        await c.complete_person(pid, person, fresh=True)
        for n in (1, 2):
            note = ActivityInput("sent", "doctor", f"note {n}", "", f"outbound-doctor-{n}")
            await c.log_activity(pid, note)
        ctx.found["scratch"] = pid
    scratch: str = ctx.found["scratch"]
    return scratch


async def search_matches_email(c: ClockworkConnector, ctx: ProbeContext) -> ProbeResult:
    name = "clockwork.search_matches_email"
    person = next((p for p in await _people(c, ctx) if email_addresses(p)), None)
    if person is None:
        return skipped(name, "no listed person has an email to search for")
    address = email_addresses(person)[0]
    hits = (await _get(c, unverified.SEARCH_PATH, q=address, page=1, limit=50)).get(
        "peopleSearch"
    ) or []
    if any(str(h.get("id")) == str(person["id"]) for h in hits):
        return holds(name, "q finds a person by email address")
    return differs(
        name, "q does not match emails: people are also looked up by name", "search_ignores_email"
    )


async def person_shape(c: ClockworkConnector, ctx: ProbeContext) -> ProbeResult:
    name = "clockwork.person_shape"
    people = await _people(c, ctx)
    if not people:
        return skipped(name, "no person listed")
    keys = set().union(*(p.keys() for p in people))
    if unverified.EMAILS_KEY not in keys:
        return differs(name, f"no {unverified.EMAILS_KEY} on people (keys: {sorted(keys)})")
    if unverified.LEGACY_EMAILS_KEY in keys:
        return holds(name, "emails, plus the v1 emailAddresses list", "legacy_email_shape")
    return holds(name, "emails[].address and preferredEmailAddress")


async def created_user_id(c: ClockworkConnector, ctx: ProbeContext) -> ProbeResult:
    name = "clockwork.created_user_id"
    people = await _people(c, ctx)
    if not people:
        return skipped(name, "no person listed")
    if any(unverified.CREATED_USER_KEY in p for p in people):
        return holds(name, "people carry createdUserId")
    return differs(name, "people carry no createdUserId", "no_created_user_id")


async def get_person_wrapper(c: ClockworkConnector, ctx: ProbeContext) -> ProbeResult:
    name = "clockwork.get_person_wrapper"
    people = await _people(c, ctx)
    if not people:
        return skipped(name, "no person listed")
    body = await _get(c, unverified.PERSON_PATH.format(person_id=people[0]["id"]))
    if isinstance(body.get(unverified.PERSON_ROOT), dict):
        return holds(name, "{person: {...}}")
    if "id" in body:
        return differs(name, "the person itself, unwrapped", "get_person_unwrapped")
    return differs(name, f"neither wrapped nor the person (keys: {sorted(body)})")


async def update_method(c: ClockworkConnector, ctx: ProbeContext) -> ProbeResult:
    name = "clockwork.update_method"
    if not ctx.write:
        return skipped(name, WRITE_ONLY)
    pid = await _scratch(c, ctx)
    await c.update_person(pid, {"nickName": f"doctor-{ctx.tag}"})
    value = (await c.get_person(pid)).fields.get("nickName")
    if value == f"doctor-{ctx.tag}":
        return holds(name, f"{unverified.UPDATE_METHOD} writes nickName")
    return differs(name, f"nickName read back as {value!r}")


async def person_write_names(c: ClockworkConnector, ctx: ProbeContext) -> ProbeResult:
    name = "clockwork.person_write_names"
    people = await _people(c, ctx)
    if not people:
        return skipped(name, "no person listed")
    keys = set().union(*(p.keys() for p in people))
    wanted = {f for f, _ in unverified.PERSON_FIELDS}
    missing = sorted(wanted - keys)
    if missing:
        return differs(name, f"people lack {', '.join(missing)}")
    return holds(name, "the writable fields read back in camelCase")


async def email_location(c: ClockworkConnector, ctx: ProbeContext) -> ProbeResult:
    name = "clockwork.email_location"
    if not ctx.write:
        return skipped(name, WRITE_ONLY)
    pid = await _scratch(c, ctx)  # its email went in with location "work"
    emails = (await c.get_person(pid)).fields.get(unverified.EMAILS_KEY) or []
    return holds(name, f'location "{unverified.EMAIL_LOCATION}" accepted ({len(emails)} email)')


async def timestamp_format(c: ClockworkConnector, ctx: ProbeContext) -> ProbeResult:
    name = "clockwork.timestamp_format"
    people = await _people(c, ctx)
    stamps = [str(p.get("createdAt")) for p in people if p.get("createdAt")]
    if not stamps:
        return skipped(name, "no createdAt on listed people")
    if all(V3_STAMP.match(s) for s in stamps):
        return holds(name, f'"YYYY-MM-DD HH:MM:SS" (e.g. {stamps[0]})')
    if all(parse_stamp(s) for s in stamps):
        return differs(name, f"another readable format (e.g. {stamps[0]})")
    return differs(name, f"unreadable dates (e.g. {stamps[0]})")


async def error_statuses(c: ClockworkConnector, ctx: ProbeContext) -> ProbeResult:
    name = "clockwork.error_statuses"
    seen: list[str] = []
    as_expected = True
    string_body = False
    async with build_client(timeout=20) as raw:
        for header, value, expected in (
            ("Authorization", "Token b3V0Ym91bmQ6ZG9jdG9y", unverified.BAD_TOKEN_STATUS),
            ("X-API-Key", "outbound-doctor-not-a-key", unverified.BAD_FIRM_KEY_STATUS),
        ):
            response = await raw.get(c.base_url + "/tags", headers={**c.headers, header: value})
            seen.append(f"bad {header} → {response.status_code}")
            as_expected &= response.status_code == expected
            with contextlib.suppress(ValueError):
                string_body |= isinstance(response.json(), str)
    detail = "; ".join(seen)
    if not as_expected:
        return differs(name, f"{detail} (assumed 401 and 403)")
    if string_body:
        return holds(name, f"{detail}; bodies are bare strings", "error_body_string")
    return holds(name, f"{detail}; bodies are {{message}}")


async def rate_limit_headers(c: ClockworkConnector, ctx: ProbeContext) -> ProbeResult:
    return skipped("clockwork.rate_limit_headers", "seen only when Clockwork limits a request")


async def notes_list_content(c: ClockworkConnector, ctx: ProbeContext) -> ProbeResult:
    name = "clockwork.notes_list_content"
    if not ctx.write:
        return skipped(name, WRITE_ONLY + " (needs a person with notes)")
    pid = await _scratch(c, ctx)
    notes = (await _get(c, unverified.NOTES_LIST_PATH.format(person_id=pid), limit=5)).get(
        "notes"
    ) or []
    if notes and all("content" in n for n in notes):
        return holds(name, "listed notes carry content")
    return differs(
        name, "listed notes carry no content: read one by one", "notes_list_without_content"
    )


async def notes_offset(c: ClockworkConnector, ctx: ProbeContext) -> ProbeResult:
    name = "clockwork.notes_offset"
    if not ctx.write:
        return skipped(name, WRITE_ONLY)
    path = unverified.NOTES_LIST_PATH.format(person_id=await _scratch(c, ctx))
    first = (await _get(c, path, limit=1, offset=0)).get("notes") or []
    second = (await _get(c, path, limit=1, offset=1)).get("notes") or []
    if first and second and first[0].get("id") != second[0].get("id"):
        return holds(name, "offset pages the notes")
    return differs(name, "offset=1 answered the same page as offset=0")


async def note_create(c: ClockworkConnector, ctx: ProbeContext) -> ProbeResult:
    name = "clockwork.note_create"
    if not ctx.write:
        return skipped(name, WRITE_ONLY)
    pid = await _scratch(c, ctx)
    found = await c.has_activity(pid, "outbound-doctor-1")
    return (
        holds(name, "a note was written and found again")
        if found
        else differs(name, "a note was written but not found by its marker")
    )


async def pipeline_shapes(c: ClockworkConnector, ctx: ProbeContext) -> ProbeResult:
    name = "clockwork.pipeline_shapes"
    projects = (await _get(c, unverified.PROJECTS_PATH, limit=1)).get(unverified.PROJECTS_KEY)
    statuses = (await _get(c, unverified.STATUSES_PATH)).get(unverified.STATUSES_KEY)
    if not isinstance(projects, list) or not isinstance(statuses, list):
        return differs(name, "no projects/statuses lists under the assumed keys")
    if not projects:
        return skipped(name, f"no project to read candidacies of ({len(statuses)} statuses)")
    ctx.found["project"] = str(projects[0]["id"])
    path = unverified.CANDIDACIES_PATH.format(project_id=ctx.found["project"])
    candidacies = (await _get(c, path, limit=1)).get(unverified.CANDIDACIES_KEY)
    if not isinstance(candidacies, list):
        return differs(name, "no candidacies list under the assumed key")
    if candidacies and unverified.CANDIDACY_PERSON_KEY not in candidacies[0]:
        return differs(name, f"a candidacy has no {unverified.CANDIDACY_PERSON_KEY}")
    return holds(name, f"projects, {len(statuses)} statuses, candidacies")


async def candidacy_person_filter(c: ClockworkConnector, ctx: ProbeContext) -> ProbeResult:
    name = "clockwork.candidacy_person_filter"
    project = ctx.found.get("project")
    if project is None:
        return skipped(name, "no project to ask")
    path = unverified.CANDIDACIES_PATH.format(project_id=project)
    nobody = "00000000-0000-0000-0000-000000000000"
    params = {unverified.CANDIDACY_PERSON_FILTER: nobody, "limit": 5}
    items = (await _get(c, path, **params)).get(unverified.CANDIDACIES_KEY) or []
    if items:
        return differs(name, "the filter is ignored: a project's candidacies are paged through")
    return holds(name, "no candidacies for a person not on the project")


async def page_size(c: ClockworkConnector, ctx: ProbeContext) -> ProbeResult:
    people = (await _get(c, "/people", limit=unverified.PAGE_SIZE)).get("people") or []
    return holds("clockwork.page_size", f"limit={unverified.PAGE_SIZE} accepted ({len(people)})")


async def record_url(c: ClockworkConnector, ctx: ProbeContext) -> ProbeResult:
    name = "clockwork.record_url"
    people = await _people(c, ctx)
    if not people:
        return skipped(name, "no person listed")
    for person in people:
        for field, address in self_links(person, str(person.get("id") or "")):
            return differs(name, f"a person carries their own link in {field}: {address}")
    return holds(
        name,
        "no link on people: open a person in Clockwork and compare its address with "
        f"{unverified.RECORD_URL} (else set OUTBOUND_CLOCKWORK_RECORD_URL)",
    )


PROBES: dict[str, ProbeFn] = {
    "clockwork.search_matches_email": search_matches_email,
    "clockwork.person_shape": person_shape,
    "clockwork.created_user_id": created_user_id,
    "clockwork.get_person_wrapper": get_person_wrapper,
    "clockwork.update_method": update_method,
    "clockwork.person_write_names": person_write_names,
    "clockwork.email_location": email_location,
    "clockwork.timestamp_format": timestamp_format,
    "clockwork.error_statuses": error_statuses,
    "clockwork.rate_limit_headers": rate_limit_headers,
    "clockwork.notes_list_content": notes_list_content,
    "clockwork.notes_offset": notes_offset,
    "clockwork.note_create": note_create,
    "clockwork.pipeline_shapes": pipeline_shapes,
    "clockwork.candidacy_person_filter": candidacy_person_filter,
    "clockwork.page_size": page_size,
    "clockwork.record_url": record_url,
}
