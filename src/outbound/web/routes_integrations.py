"""The Integrations page: connect Crelate or Clockwork, sync settings, field mapping, clone."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from outbound.api.deps import BoxDep, DbDep, SettingsDep
from outbound.api.schemas import CONNECT_MODELS, SettingsPatch
from outbound.connectors.base import (
    AtsError,
    AuthError,
    Connector,
    PermissionDenied,
)
from outbound.connectors.registry import ATS
from outbound.domain.roles import can_manage_teammates
from outbound.domain.vocabulary import PROVIDER_TITLES, PROVIDERS
from outbound.service import connections, work_state
from outbound.service.ats_calls import call_ats
from outbound.service.doctor import diagnose
from outbound.service.errors import ServiceError
from outbound.settings import Settings
from outbound.store.db import Database
from outbound.web.deps import FormDep
from outbound.web.forms import (
    FormInvalid,
    attempt,
    blank_to_none,
    checkbox,
    parse,
    whole_number,
)
from outbound.web.render import page
from outbound.web.session import check_csrf, current_caller

router = APIRouter(include_in_schema=False)

SYNC_MODES = [
    ("off", "Off: contacts do not sync"),
    ("on_add", "Sync contacts when added to a sequence"),
    ("on_reply", "Sync contacts only when they reply"),
    ("on_interested", "Sync contacts only when they reply with interest"),
]
RECORD_TYPES = [
    ("candidate", "Candidate"),
    ("client_contact", "Sales/Client Contact"),
    ("lead_contact", "Lead Contact"),
    ("employee", "Employee"),
]
MAPPING_SOURCES = [
    "title",
    "company",
    "phone",
    "linkedin_url",
    "location",
    "first_name",
    "last_name",
]


def _ats_lists(
    provider: str, creds: dict[str, Any], settings: Settings
) -> tuple[list[tuple[str, str]], list[tuple[str, str]], str | None]:
    """Jobs/projects and fields for the pickers; a failing ATS leaves them empty, with a note.
    (The Syncing tab's job picker uses it; the Integrations page loads more: ``load_pickers``.)"""

    async def both(c: Connector) -> tuple[list[Any], list[Any]]:
        return await c.list_jobs(), await c.describe_fields()

    try:
        jobs, fields = call_ats(provider, creds, settings, both)
    except ServiceError as exc:
        return [], [], exc.message
    return (
        [(j.id, j.name) for j in jobs],
        [(f.name, f.label + (" (custom)" if f.custom else "")) for f in fields],
        None,
    )


# The page waits for the ATS: a hanging one costs seconds, not the connector's default.
PICKER_TIMEOUT = 8.0


@dataclass
class Pickers:
    """What the page's pickers are filled from, fetched from the ATS before any transaction."""

    jobs: list[tuple[str, str]] = field(default_factory=list)
    fields: list[tuple[str, str]] = field(default_factory=list)
    activity: connections.ActivityTypeChoice | None = None  # None: not loaded
    note: str | None = None  # why jobs and fields could not be loaded
    activity_note: str | None = None  # why activity types could not be loaded


def load_pickers(
    provider: str,
    creds: dict[str, Any],
    settings: Settings,
    chosen_type_id: str | None,
    tracking: bool,
) -> Pickers:
    """Jobs/projects, fields and activity types, at once; a failing ATS leaves them empty, with
    a note, and a key that may not list activity types leaves only that picker empty."""

    async def fetch(c: Connector) -> tuple[Any, Any, Any]:
        jobs, fields, types = await asyncio.gather(
            c.list_jobs(), c.describe_fields(), c.list_activity_types(), return_exceptions=True
        )
        for result in (jobs, fields):
            if isinstance(result, BaseException):
                raise result
        # The activity types alone failing (a 403, say) leaves only their picker empty.
        if isinstance(types, BaseException) and (
            isinstance(types, AuthError) or not isinstance(types, AtsError)
        ):
            raise types
        return jobs, fields, types

    try:
        jobs, fields, types = call_ats(provider, creds, settings, fetch, timeout=PICKER_TIMEOUT)
    except ServiceError as exc:
        return Pickers(note=exc.message)
    pickers = Pickers(
        jobs=[(j.id, j.name) for j in jobs],
        fields=[(f.name, f.label + (" (custom)" if f.custom else "")) for f in fields],
    )
    if isinstance(types, PermissionDenied):
        pickers.activity = connections.activity_type_choice(
            provider, None, chosen_type_id, tracking, types.call
        )
        pickers.activity_note = connections.activity_types_forbidden(provider, types.call)
    elif isinstance(types, AtsError):
        title = PROVIDER_TITLES[provider]
        pickers.activity_note = f"Could not load activity types from {title}: {types.message}"
    else:
        pickers.activity = connections.activity_type_choice(
            provider, types, chosen_type_id, tracking
        )
    return pickers


def activity_select(
    choice: connections.ActivityTypeChoice | None, values: dict[str, Any]
) -> tuple[list[tuple[str, str]], str] | None:
    """The "Log emails as" options and the selected one: the saved choice, else the type named
    "Email"; a blank "choose" option when neither is there. None: no list to pick from."""
    if choice is None or not choice.types:
        return None
    ids = {t.id.lower(): t.id for t in choice.types}
    wanted = values.get("activity_type_id", choice.chosen_id)
    selected = ids.get(str(wanted or "").lower()) or ("" if wanted else choice.default_id) or ""
    options = [(t.id, t.name) for t in choice.types]
    if not selected:
        options.insert(0, ("", "— choose a type —"))
    return options, selected


def render_page(
    request: Request,
    db: Database,
    box: Any,
    settings: Settings,
    status_code: int = 200,
    **extra: Any,
) -> Response:
    with db.session() as session:
        caller, user = current_caller(request, session)
        conn = connections.get_connection(session, caller.user_id)
        if conn is not None and conn.disconnected_at is not None:
            conn = None
        current = connections.get_settings(session, caller.user_id)
        creds = box.open(conn.credentials_encrypted) if conn is not None else None
        candidates = (
            connections.clone_candidates(session, caller)
            if conn is not None and can_manage_teammates(caller.role)
            else []
        )
        # What a disconnect would leave waiting, said before the user confirms it.
        waiting = work_state.pending_for_connection(session, caller) if conn is not None else 0
        status = (
            work_state.connection_status(conn, PROVIDER_TITLES[conn.provider])
            if conn is not None
            else None
        )
    # The ATS is called after the transaction: no database lock is held while it answers.
    pickers = Pickers()
    if conn is not None and creds is not None:
        pickers = load_pickers(
            conn.provider, creds, settings, current.activity_type_id, current.activity_tracking
        )
    return page(
        request,
        "integrations.html",
        status_code,
        user=user,
        nav="integrations",
        conn=conn,
        current=current,
        sync_modes=SYNC_MODES,
        record_types=RECORD_TYPES,
        jobs=pickers.jobs,
        ats_fields=pickers.fields,
        picker_note=pickers.note,
        activity=pickers.activity,
        activity_note=pickers.activity_note,
        activity_options=activity_select(pickers.activity, extra.get("values") or {}),
        mapping_sources=MAPPING_SOURCES,
        candidates=candidates,
        waiting=waiting,
        status=status,
        **extra,
    )


@router.get("/integrations")
def integrations(request: Request, db: DbDep, box: BoxDep, settings: SettingsDep) -> Response:
    problem = request.query_params.get("problem")
    if problem:  # a refused action: shown as an error, not as a success
        return render_page(request, db, box, settings, flash=problem, flash_kind="error")
    return render_page(request, db, box, settings, flash=request.query_params.get("done"))


SECRET_FIELDS = frozenset(f.name for spec in ATS.values() for f in spec.credentials if f.secret)


@router.post("/integrations/connect", dependencies=[Depends(check_csrf)])
async def connect(request: Request, db: DbDep, box: BoxDep, settings: SettingsDep) -> Response:
    form = await request.form()
    # The ATS and mail servers are called synchronously: off the event loop.
    return await run_in_threadpool(_connect, request, form, db, box, settings)


def _connect(request: Request, form: Any, db: Any, box: Any, settings: Settings) -> Response:
    provider = str(form.get("provider") or "")
    values = {k: str(v) for k, v in form.items() if k not in ("csrf_token",)}
    with db.session() as session:
        caller, _ = current_caller(request, session)
    try:
        if provider not in PROVIDERS:
            titles = " or ".join(PROVIDER_TITLES[p] for p in PROVIDERS)
            raise FormInvalid({"provider": f"Pick {titles}."})
        credentials = {f.name: values.get(f.name, "") for f in ATS[provider].credentials}
        body = parse(CONNECT_MODELS[provider], {"provider": provider, "credentials": credentials})
        creds = body.credentials.model_dump()  # type: ignore[attr-defined]
        identity = attempt(lambda: call_ats(provider, creds, settings, lambda c: c.verify()))
        with db.session() as session:
            connections.save_connection(session, caller, provider, creds, identity, box)
    except FormInvalid as exc:
        errors = {k.removeprefix("credentials."): v for k, v in exc.errors.items()}
        if "credentials" in errors:
            errors["form"] = errors.pop("credentials")
        # Kept for correction, except the secrets: never sent back, not even to their owner.
        shown = {k: v for k, v in values.items() if k not in SECRET_FIELDS}
        return render_page(request, db, box, settings, 422, errors=errors, values=shown)
    return RedirectResponse("/integrations?done=Connected.", status_code=303)


@router.post("/integrations/disconnect", dependencies=[Depends(check_csrf)])
def disconnect(request: Request, db: DbDep) -> Response:
    with db.session() as session:
        caller, _ = current_caller(request, session)
        connections.disconnect(session, caller)
    return RedirectResponse("/integrations?done=Disconnected.", status_code=303)


def _mapping(form: Any) -> list[dict[str, str]]:
    rows = zip(
        form.getlist("map_source"),
        form.getlist("map_target"),
        form.getlist("map_policy"),
        strict=False,
    )
    return [
        {"source": str(s), "target": str(t), "policy": str(p or "always")}
        for s, t, p in rows
        if str(s).strip() or str(t).strip()
    ]


@router.post("/integrations/check", dependencies=[Depends(check_csrf)])
async def check_connection(
    request: Request, db: DbDep, box: BoxDep, settings: SettingsDep
) -> Response:
    """`outbound doctor`, read-only, with the stored credentials: what holds of our assumptions."""
    with db.read_session() as session:  # on the event loop: a read never waits for writers
        caller, _ = current_caller(request, session)
        conn = connections.require_connection(session, caller)
        provider, creds = conn.provider, box.open(conn.credentials_encrypted)
    # The probes run after the transaction: no database lock is held while the ATS answers.
    report = await diagnose(provider, creds, settings)
    return page(request, "_doctor.html", report=report)


@router.post("/integrations/settings", dependencies=[Depends(check_csrf)])
async def save_settings(
    request: Request, db: DbDep, box: BoxDep, settings: SettingsDep
) -> Response:
    form = await request.form()
    # The ATS and mail servers are called synchronously: off the event loop.
    return await run_in_threadpool(_save_settings, request, form, db, box, settings)


def _save_settings(request: Request, form: Any, db: Any, box: Any, settings: Settings) -> Response:
    changes = {
        "sync_mode": form.get("sync_mode"),
        "record_type": form.get("record_type") or None,
        "default_job_id": blank_to_none(form.get("default_job_id")),
        "dedup_enabled": checkbox(form, "dedup_enabled"),
        "activity_tracking": checkbox(form, "activity_tracking"),
        "field_mapping": _mapping(form),
    }
    if changes["record_type"] is None:
        del changes["record_type"]
    if "activity_type_id" in form:  # absent when the ATS could not list the types: kept
        changes["activity_type_id"] = blank_to_none(form.get("activity_type_id"))
    try:
        with db.session() as session:
            caller, _ = current_caller(request, session)
            patch = parse(SettingsPatch, changes).model_dump(exclude_unset=True)
            attempt(lambda: connections.update_settings(session, caller, patch))
    except FormInvalid as exc:
        return render_page(request, db, box, settings, 422, errors=exc.errors, values=changes)
    return RedirectResponse("/integrations?done=Settings saved.", status_code=303)


@router.post("/integrations/clone", dependencies=[Depends(check_csrf)])
def clone(request: Request, db: DbDep, form: FormDep) -> Response:
    ids = [n for v in form.getlist("user_ids") if (n := whole_number(v)) is not None]
    with db.session() as session:
        caller, _ = current_caller(request, session)
        if not ids:
            return RedirectResponse("/integrations?problem=Pick at least one teammate.", 303)
        result = connections.clone_settings(session, caller, ids)
    return RedirectResponse(
        f"/integrations?done=Settings cloned to {len(result.cloned)} teammate(s).", 303
    )
