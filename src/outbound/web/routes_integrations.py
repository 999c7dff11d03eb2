"""The Integrations page: connect Crelate or Clockwork, sync settings, field mapping, clone."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from outbound.api.deps import BoxDep, DbDep, SettingsDep
from outbound.api.routes_integration import call_ats
from outbound.api.schemas import ConnectClockwork, ConnectCrelate, SettingsPatch
from outbound.connectors.base import Connector
from outbound.connectors.registry import CREDENTIAL_FIELDS
from outbound.domain.roles import can_manage_teammates
from outbound.domain.vocabulary import PROVIDERS
from outbound.service import connections
from outbound.service.caller import Caller
from outbound.service.errors import ServiceError
from outbound.settings import Settings
from outbound.web.forms import FormInvalid, attempt, blank_to_none, checkbox, parse
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
    """Jobs/projects and fields for the pickers; a failing ATS leaves them empty, with a note."""

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


def render_page(
    request: Request,
    session: Session,
    caller: Caller,
    user: Any,
    box: Any,
    settings: Settings,
    status_code: int = 200,
    **extra: Any,
) -> Response:
    conn = connections.get_connection(session, caller.user_id)
    if conn is not None and conn.disconnected_at is not None:
        conn = None
    current = connections.get_settings(session, caller.user_id)
    jobs: list[tuple[str, str]] = []
    fields: list[tuple[str, str]] = []
    picker_note = None
    if conn is not None:
        jobs, fields, picker_note = _ats_lists(
            conn.provider, box.open(conn.credentials_encrypted), settings
        )
    candidates = (
        connections.clone_candidates(session, caller)
        if conn is not None and can_manage_teammates(caller.role)
        else []
    )
    return page(
        request,
        "integrations.html",
        status_code,
        user=user,
        nav="integrations",
        conn=conn,
        current=current,
        providers=PROVIDERS,
        credential_fields=CREDENTIAL_FIELDS,
        sync_modes=SYNC_MODES,
        record_types=RECORD_TYPES,
        jobs=jobs,
        ats_fields=fields,
        picker_note=picker_note,
        mapping_sources=MAPPING_SOURCES,
        candidates=candidates,
        **extra,
    )


@router.get("/integrations")
def integrations(request: Request, db: DbDep, box: BoxDep, settings: SettingsDep) -> Response:
    with db.session() as session:
        caller, user = current_caller(request, session)
        return render_page(
            request, session, caller, user, box, settings, flash=request.query_params.get("done")
        )


@router.post("/integrations/connect", dependencies=[Depends(check_csrf)])
async def connect(request: Request, db: DbDep, box: BoxDep, settings: SettingsDep) -> Response:
    form = await request.form()
    # The ATS and mail servers are called synchronously: off the event loop.
    return await run_in_threadpool(_connect, request, form, db, box, settings)


def _connect(request: Request, form: Any, db: Any, box: Any, settings: Settings) -> Response:
    provider = str(form.get("provider") or "")
    values = {k: str(v) for k, v in form.items() if k not in ("csrf_token",)}
    with db.session() as session:
        caller, user = current_caller(request, session)
    try:
        if provider not in PROVIDERS:
            raise FormInvalid({"provider": "Pick Crelate or Clockwork."})
        model: type[ConnectCrelate | ConnectClockwork] = (
            ConnectCrelate if provider == "crelate" else ConnectClockwork
        )
        credentials = {k: values.get(k, "") for k in CREDENTIAL_FIELDS[provider]}
        body = parse(model, {"provider": provider, "credentials": credentials})
        creds = body.credentials.model_dump()
        identity = attempt(lambda: call_ats(provider, creds, settings, lambda c: c.verify()))
        with db.session() as session:
            connections.save_connection(session, caller, provider, creds, identity, box)
    except FormInvalid as exc:
        errors = {k.removeprefix("credentials."): v for k, v in exc.errors.items()}
        if "credentials" in errors:
            errors["form"] = errors.pop("credentials")
        with db.session() as session:
            return render_page(
                request, session, caller, user, box, settings, 422, errors=errors, values=values
            )
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
    try:
        with db.session() as session:
            caller, user = current_caller(request, session)
            patch = parse(SettingsPatch, changes).model_dump(exclude_unset=True)
            attempt(lambda: connections.update_settings(session, caller, patch))
    except FormInvalid as exc:
        with db.session() as session:
            caller, user = current_caller(request, session)
            return render_page(
                request,
                session,
                caller,
                user,
                box,
                settings,
                422,
                errors=exc.errors,
                values=changes,
            )
    return RedirectResponse("/integrations?done=Settings saved.", status_code=303)


@router.post("/integrations/clone", dependencies=[Depends(check_csrf)])
async def clone(request: Request, db: DbDep) -> Response:
    form = await request.form()
    ids = [int(str(v)) for v in form.getlist("user_ids") if str(v).isdigit()]
    with db.session() as session:
        caller, _ = current_caller(request, session)
        if not ids:
            return RedirectResponse("/integrations?done=Pick at least one teammate.", 303)
        result = connections.clone_settings(session, caller, ids)
    return RedirectResponse(
        f"/integrations?done=Settings cloned to {len(result.cloned)} teammate(s).", 303
    )
