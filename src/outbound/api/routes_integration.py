"""The Integrations page: connect, settings, clone, and pickers filled from the ATS."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body

from outbound.api.deps import BoxDep, CallerDep, DbDep, SessionDep, SettingsDep
from outbound.api.schemas import (
    ActivityTypesOut,
    CloneCandidate,
    CloneIn,
    CloneOut,
    ConnectIn,
    ConnectionOut,
    NamedItem,
    SettingsOut,
    SettingsPatch,
)
from outbound.connectors.base import AtsActivityType, Connector, PermissionDenied
from outbound.connectors.registry import credential_fields
from outbound.service import connections
from outbound.service.ats_calls import call_ats
from outbound.service.errors import AtsRejected
from outbound.store.models import AtsConnection

router = APIRouter(tags=["integration"])


def connection_out(conn: AtsConnection) -> ConnectionOut:
    # Built field by field: the encrypted credentials are never part of any response.
    return ConnectionOut(
        provider=conn.provider,
        ats_org=conn.ats_org,
        ats_user_id=conn.ats_user_id,
        ats_user_name=conn.ats_user_name,
        status=conn.status,
        status_reason=conn.status_reason,
        failing_since=conn.failing_since,
        connected_at=conn.connected_at,
        disconnected_at=conn.disconnected_at,
    )


@router.get("/connection/providers")
def providers() -> dict[str, dict[str, str]]:
    """The credentials each ATS needs, with where to find them."""
    return credential_fields()


@router.get("/connection", response_model=ConnectionOut)
def get_connection(session: SessionDep, caller: CallerDep) -> object:
    return connection_out(connections.require_connection(session, caller))


@router.put("/connection", response_model=ConnectionOut)
def connect(
    body: Annotated[ConnectIn, Body()],
    db: DbDep,
    caller: CallerDep,
    settings: SettingsDep,
    box: BoxDep,
) -> object:
    """Check the credentials against the ATS, then store them encrypted."""
    credentials = body.credentials.model_dump()
    identity = call_ats(body.provider, credentials, settings, lambda c: c.verify())
    with db.session() as session:
        conn = connections.save_connection(
            session, caller, body.provider, credentials, identity, box
        )
        return connection_out(conn)


@router.delete("/connection", response_model=ConnectionOut)
def disconnect(session: SessionDep, caller: CallerDep) -> object:
    return connection_out(connections.disconnect(session, caller))


def _connected(db: DbDep, caller: CallerDep, box: BoxDep) -> tuple[str, dict[str, Any]]:
    with db.session() as session:
        conn = connections.require_connection(session, caller)
        return conn.provider, box.open(conn.credentials_encrypted)


@router.get("/connection/jobs", response_model=list[NamedItem])
def ats_jobs(db: DbDep, caller: CallerDep, box: BoxDep, settings: SettingsDep) -> object:
    """Crelate jobs / Clockwork projects, for the default job/project picker."""
    provider, creds = _connected(db, caller, box)
    jobs = call_ats(provider, creds, settings, lambda c: c.list_jobs())
    return [NamedItem(id=j.id, name=j.name) for j in jobs]


@router.get("/connection/stages", response_model=list[NamedItem])
def ats_stages(db: DbDep, caller: CallerDep, box: BoxDep, settings: SettingsDep) -> object:
    provider, creds = _connected(db, caller, box)
    stages = call_ats(provider, creds, settings, lambda c: c.list_stages(""))
    return [NamedItem(id=s.id, name=s.name) for s in stages]


@router.get("/connection/lists", response_model=list[NamedItem])
def ats_lists(db: DbDep, caller: CallerDep, box: BoxDep, settings: SettingsDep) -> object:
    provider, creds = _connected(db, caller, box)

    async def collect(c: Connector) -> list[NamedItem]:
        return [NamedItem(id=item.id, name=item.name) async for item in c.list_lists()]

    return call_ats(provider, creds, settings, collect)


@router.get("/connection/fields")
def ats_fields(
    db: DbDep, caller: CallerDep, box: BoxDep, settings: SettingsDep
) -> list[dict[str, Any]]:
    provider, creds = _connected(db, caller, box)
    fields = call_ats(provider, creds, settings, lambda c: c.describe_fields())
    return [{"name": f.name, "label": f.label, "custom": f.custom} for f in fields]


async def activity_types_or_denial(c: Connector) -> list[AtsActivityType] | PermissionDenied:
    """The ATS's activity types, or the 403 that says this key may not list them."""
    try:
        return await c.list_activity_types()
    except PermissionDenied as exc:
        return exc


@router.get("/connection/activity-types", response_model=ActivityTypesOut)
def ats_activity_types(db: DbDep, caller: CallerDep, box: BoxDep, settings: SettingsDep) -> object:
    """What logged emails can be filed as (the "Log emails as" picker), with the type used when
    none is chosen (the one named "Email") and the type in use now."""
    with db.session() as session:
        conn = connections.require_connection(session, caller)
        provider, creds = conn.provider, box.open(conn.credentials_encrypted)
        current = connections.get_settings(session, caller.user_id)
        chosen, tracking = current.activity_type_id, current.activity_tracking
    # The ATS is called outside any transaction.
    types = call_ats(provider, creds, settings, activity_types_or_denial)
    if isinstance(types, PermissionDenied):
        message = connections.activity_types_forbidden(provider, types.call)
        raise AtsRejected(message, "activity_type_id")
    choice = connections.activity_type_choice(provider, types, chosen, tracking)
    return ActivityTypesOut(
        types=[NamedItem(id=t.id, name=t.name) for t in choice.types],
        default_id=choice.default_id,
        chosen_id=choice.chosen_id,
        effective_id=choice.effective_id,
        warning=choice.warning,
    )


@router.get("/settings", response_model=SettingsOut)
def get_settings(session: SessionDep, caller: CallerDep) -> object:
    return connections.get_settings(session, caller.user_id)


@router.patch("/settings", response_model=SettingsOut)
def patch_settings(body: SettingsPatch, session: SessionDep, caller: CallerDep) -> object:
    changes = body.model_dump(exclude_unset=True)
    return connections.update_settings(session, caller, changes)


@router.get("/settings/clone-candidates", response_model=list[CloneCandidate])
def clone_candidates(session: SessionDep, caller: CallerDep) -> object:
    return [
        CloneCandidate(user_id=u.id, name=u.name, eligible=d.eligible, reason=d.reason)
        for u, d in connections.clone_candidates(session, caller)
    ]


@router.post("/settings/clone", response_model=CloneOut)
def clone(body: CloneIn, session: SessionDep, caller: CallerDep) -> object:
    result = connections.clone_settings(session, caller, body.user_ids)
    names = {u.id: u.name for u, _ in connections.clone_candidates(session, caller)}
    return CloneOut(
        cloned=result.cloned,
        refused=[
            CloneCandidate(
                user_id=d.user_id, name=names[d.user_id], eligible=False, reason=d.reason
            )
            for d in result.refused
        ],
    )
