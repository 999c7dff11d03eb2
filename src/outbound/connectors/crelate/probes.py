"""`outbound doctor` for Crelate: one probe per fact in ``unverified.py`` (its PROBES names them).

Read-only unless the run allows writes; the write probes use throw-away contacts named
"Outbound Doctor <tag>" at example.invalid addresses and delete them afterwards.
"""

from __future__ import annotations

from typing import Any

from outbound.connectors.base import (
    AtsStage,
    AuthError,
    DuplicateRecord,
    NotFoundError,
    PermanentError,
    PermissionDenied,
    PersonInput,
)
from outbound.connectors.crelate import unverified
from outbound.connectors.crelate.connector import CrelateConnector
from outbound.connectors.probes import ProbeContext, ProbeFn, ProbeResult, differs, holds, skipped
from outbound.connectors.record_links import self_links


async def _data(c: CrelateConnector, path: str, **params: Any) -> Any:
    return (await c.request("GET", path, params=params or None)).json().get("Data")


async def users_me(c: CrelateConnector, ctx: ProbeContext) -> ProbeResult:
    name = "crelate.users_me"
    try:
        me = await _data(c, unverified.CURRENT_USER_PATH)
    except (NotFoundError, PermissionDenied) as exc:
        return differs(
            name, f"{exc.status_code}: the owner is learned from CreatedById", "no_users_me"
        )
    who = me.get("Title") or me.get("Name") if isinstance(me, dict) else None
    return holds(name, f"answers the key's owner ({who or 'unnamed'})")


async def record_types(c: CrelateConnector, ctx: ProbeContext) -> ProbeResult:
    name = "crelate.record_types"
    info = await _data(c, unverified.FIELDS_INFO_PATH)
    kinds = (info or {}).get("RecordTypes") if isinstance(info, dict) else None
    if not isinstance(kinds, dict):
        return skipped(name, "GET /contacts/info names no RecordTypes: bits stay assumed")
    bits = sorted(int(v) for v in kinds.values() if isinstance(v, int))
    expected = sorted(unverified.RECORD_TYPE_BITS.values())
    detail = ", ".join(f"{k}={v}" for k, v in kinds.items())
    return holds(name, detail) if bits == expected else differs(name, detail)


async def recruiting_workflow(c: CrelateConnector, ctx: ProbeContext) -> ProbeResult:
    name = "crelate.recruiting_workflow"
    stages = await c.list_stages("", fresh=True)
    ctx.found["stages"] = stages
    if not stages:
        return differs(
            name, f"no stages under workflow type {unverified.RECRUITING_WORKFLOW_TYPE_ID}"
        )
    wanted = ("Messaged", "Replied", "Interested", "Not Interested")
    missing = [w for w in wanted if w not in {s.name for s in stages}]
    note = f"; missing stages: {', '.join(missing)}" if missing else ""
    return holds(name, f"{len(stages)} stages{note}")


async def _any_job_and_contact(c: CrelateConnector, ctx: ProbeContext) -> tuple[str, str] | None:
    if "job_and_contact" not in ctx.found:
        jobs = await _data(c, "/jobs", limit=1)
        contacts = await _data(c, "/contacts", limit=1)
        ctx.found["job_and_contact"] = (
            (str(jobs[0]["Id"]), str(contacts[0]["Id"])) if jobs and contacts else None
        )
    pair: tuple[str, str] | None = ctx.found["job_and_contact"]
    return pair


async def history_not_on_job(c: CrelateConnector, ctx: ProbeContext) -> ProbeResult:
    name = "crelate.history_not_on_job"
    pair = await _any_job_and_contact(c, ctx)
    if pair is None:
        return skipped(name, "needs one job and one contact in the account")
    job, contact = pair
    try:
        history = await _data(c, f"/jobs/{job}/contacts/history", contact_id=contact, limit=1)
    except NotFoundError:
        return holds(name, "404 for a contact not on the job (read as: not on it)")
    if history:
        return skipped(name, "the sampled contact is on the sampled job; nothing to learn")
    return holds(name, "200 [] for a contact not on the job", "history_empty_list")


async def activities_by_parent(c: CrelateConnector, ctx: ProbeContext) -> ProbeResult:
    name = "crelate.activities_by_parent"
    pair = await _any_job_and_contact(c, ctx)
    if pair is None:
        return skipped(name, "needs one contact in the account")
    params = {unverified.ACTIVITIES_PARENT_PARAM: pair[1], "limit": 1}
    try:
        items = await _data(c, unverified.ACTIVITIES_BY_PARENT_PATH, **params)
    except NotFoundError:
        return differs(name, "404: a lost answer cannot be checked", "activities_unlisted")
    if not isinstance(items, list):
        return differs(name, f"answered {type(items).__name__}, not a list")
    return holds(name, f"answers a list ({len(items)} on the first page)")


async def lists(c: CrelateConnector, ctx: ProbeContext) -> ProbeResult:
    name = "crelate.lists"
    try:
        items = await _data(c, unverified.LISTS_PATH, limit=1)
    except NotFoundError:
        return differs(name, "404: list import is unavailable", "no_lists")
    return holds(name, f"answers {len(items or [])} list(s) on the first page")


async def fields_info(c: CrelateConnector, ctx: ProbeContext) -> ProbeResult:
    name = "crelate.fields_info"
    info = await _data(c, unverified.FIELDS_INFO_PATH)
    fields = info.get("Fields") if isinstance(info, dict) else None
    if not isinstance(fields, list) or not all(isinstance(f, dict) and "Name" in f for f in fields):
        keys = sorted(info) if isinstance(info, dict) else type(info).__name__
        return differs(name, f"Data is not {{Fields: [{{Name, Label}}]}} (keys: {keys})")
    ctx.found["custom_fields"] = [f["Name"] for f in fields if f.get("IsCustom")]
    return holds(name, f"{len(fields)} fields, {len(ctx.found['custom_fields'])} custom")


async def page_size(c: CrelateConnector, ctx: ProbeContext) -> ProbeResult:
    name = "crelate.page_size"
    items = await _data(c, "/jobs", limit=unverified.PAGE_SIZE)
    return holds(name, f"limit={unverified.PAGE_SIZE} accepted ({len(items or [])} jobs)")


async def email_activity_type(c: CrelateConnector, ctx: ProbeContext) -> ProbeResult:
    name = "crelate.email_activity_type"
    try:
        types = await c.list_activity_types()
    except PermissionDenied:
        return differs(name, "403: this key may not list activity types", "activitytypes_forbidden")
    wanted = {n.lower() for n in unverified.EMAIL_ACTIVITY_TYPE_NAMES}
    names = [t.name for t in types]
    if any(n.lower() in wanted for n in names):
        return holds(name, f"types: {', '.join(names)}")
    return differs(
        name, f"no type named Email (types: {', '.join(names)}): pick one", "no_email_activity_type"
    )


async def error_semantics(c: CrelateConnector, ctx: ProbeContext) -> ProbeResult:
    name = "crelate.error_semantics"
    bad = CrelateConnector(c.base_url, "outbound-doctor-not-a-key")
    try:
        await bad.request("GET", "/jobs", params={"limit": 1})
    except AuthError:
        pass
    except PermanentError as exc:
        return differs(name, f"a bad key answered {exc.status_code}, not 401")
    else:
        return differs(name, "a bad key was accepted")
    finally:
        await bad.aclose()
    try:
        await c.request("GET", "/outbound-doctor-no-such-path")
    except NotFoundError:
        return holds(name, "bad key 401; unknown path 404")
    except PermanentError as exc:
        return differs(name, f"an unknown path answered {exc.status_code}, not 404")
    return differs(name, "an unknown path answered 2xx")


async def rate_limit_headers(c: CrelateConnector, ctx: ProbeContext) -> ProbeResult:
    return skipped(
        "crelate.rate_limit_headers", "seen only when Crelate limits a request; not provoked"
    )


def _scratch_person(ctx: ProbeContext, suffix: str = "") -> PersonInput:
    return PersonInput(
        email=f"outbound-doctor-{ctx.tag}{suffix}@example.invalid",
        first_name="Outbound Doctor",
        last_name=ctx.tag,
    )


async def _scratch_contact(c: CrelateConnector, ctx: ProbeContext) -> str:
    if "scratch" not in ctx.found:
        contact_id = await c.create_person(_scratch_person(ctx))
        ctx.cleanup.append(unverified.DELETE_CONTACT_PATH.format(contact_id=contact_id))
        ctx.found["scratch"] = contact_id
    scratch: str = ctx.found["scratch"]
    return scratch


async def duplicate_check(c: CrelateConnector, ctx: ProbeContext) -> ProbeResult:
    name = "crelate.duplicate_check"
    if not ctx.write:
        return skipped(name, "write probe: run with --write")
    first = await _scratch_contact(c, ctx)
    try:
        second = await c.create_person(_scratch_person(ctx, "-2"))
    except DuplicateRecord as dup:
        if dup.existing_id.lower() != first.lower():
            return differs(name, f"409 named {dup.existing_id}, not the first record")
        return holds(name, "409 naming the existing record for the same name, another email")
    ctx.cleanup.append(f"/contacts/{second}")
    return holds(name, "duplicate check off: a second record was created", "duplicate_check_off")


async def stage_change(c: CrelateConnector, ctx: ProbeContext) -> ProbeResult:
    name = "crelate.stage_change"
    if not ctx.write:
        return skipped(name, "write probe: run with --write")
    stages: list[AtsStage] = ctx.found.get("stages") or await c.list_stages("", fresh=True)
    pair = await _any_job_and_contact(c, ctx)
    if len(stages) < 2 or pair is None:
        return skipped(name, "needs a job and two stages")
    job, contact = pair[0], await _scratch_contact(c, ctx)
    await c.attach(contact, job)
    try:
        await c.request(
            "POST",
            f"/jobs/{job}/contacts",
            params={"contact_ids": contact},
            json={"statusId": stages[1].id},
        )
        if (await c.stage_of(contact, job) or "").lower() == stages[1].id.lower():
            return holds(name, "re-posting with a new statusId moves the stage", "stage_post")
    except PermanentError:
        pass
    await c.request("PUT", f"/jobs/{job}/contacts/{contact}", json={"statusId": stages[1].id})
    return differs(name, "PUT /jobs/{id}/contacts/{contactId} moves the stage", "stage_put")


async def custom_field_write(c: CrelateConnector, ctx: ProbeContext) -> ProbeResult:
    name = "crelate.custom_field_write"
    if not ctx.write:
        return skipped(name, "write probe: run with --write")
    custom = ctx.found.get("custom_fields") or []
    if not custom:
        return skipped(name, "the account has no custom contact field")
    contact = await _scratch_contact(c, ctx)
    await c.update_person(contact, {custom[0]: f"outbound-doctor-{ctx.tag}"})
    value = (await c.get_person(contact)).fields.get(custom[0])
    if value == f"outbound-doctor-{ctx.tag}":
        return holds(name, f"{custom[0]} written as a raw entity key and read back")
    return differs(name, f"{custom[0]} read back as {value!r}")


async def record_url(c: CrelateConnector, ctx: ProbeContext) -> ProbeResult:
    name = "crelate.record_url"
    contacts = await _data(c, "/contacts", limit=1)
    if not contacts:
        return skipped(name, "needs one contact in the account")
    contact = contacts[0]
    found = list(self_links(contact, str(contact.get("Id") or "")))
    if found:
        field, address = found[0]
        return differs(name, f"the record carries its own link in {field}: {address}")
    return holds(
        name,
        "no link in the record: open a contact in Crelate and compare its address with "
        f"{unverified.RECORD_URL} (else set OUTBOUND_CRELATE_RECORD_URL)",
    )


PROBES: dict[str, ProbeFn] = {
    "crelate.users_me": users_me,
    "crelate.record_types": record_types,
    "crelate.recruiting_workflow": recruiting_workflow,
    "crelate.history_not_on_job": history_not_on_job,
    "crelate.activities_by_parent": activities_by_parent,
    "crelate.lists": lists,
    "crelate.fields_info": fields_info,
    "crelate.page_size": page_size,
    "crelate.email_activity_type": email_activity_type,
    "crelate.error_semantics": error_semantics,
    "crelate.rate_limit_headers": rate_limit_headers,
    "crelate.duplicate_check": duplicate_check,
    "crelate.stage_change": stage_change,
    "crelate.custom_field_write": custom_field_write,
    "crelate.record_url": record_url,
}
