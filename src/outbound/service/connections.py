"""ATS connections and integration settings (the Integrations page)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from outbound.connectors.base import AtsActivityType, AtsIdentity
from outbound.crypto import SecretBox
from outbound.domain.field_mapping import validate_mapping
from outbound.domain.roles import can_manage_teammates
from outbound.domain.sync_rules import CloneDecision, clone_eligibility
from outbound.domain.vocabulary import PROVIDER_TITLES, PROVIDERS, RECORD_TYPES, SYNC_MODES
from outbound.service.caller import Caller
from outbound.service.enrollments import connection_view
from outbound.service.errors import Forbidden, Invalid, NotFound
from outbound.store.models import AtsConnection, IntegrationSettings, User, utcnow

SETTING_KEYS = (
    "sync_mode",
    "record_type",
    "default_job_id",
    "dedup_enabled",
    "activity_tracking",
    "field_mapping",
    "do_not_contact_tag",
    "activity_type_id",
)
# The activity type a logged email is filed as when none is chosen, matched by name
# case-insensitively, as the connectors do (Crelate's unverified.EMAIL_ACTIVITY_TYPE_NAMES).
EMAIL_ACTIVITY_TYPE_NAMES = ("email", "e-mail")


def get_connection(session: Session, user_id: int) -> AtsConnection | None:
    return session.scalar(select(AtsConnection).where(AtsConnection.user_id == user_id))


def require_connection(session: Session, caller: Caller) -> AtsConnection:
    conn = get_connection(session, caller.user_id)
    if conn is None or conn.disconnected_at is not None:
        raise NotFound("no ATS is connected", "connection")
    return conn


def save_connection(
    session: Session,
    caller: Caller,
    provider: str,
    credentials: dict[str, Any],
    identity: AtsIdentity,
    box: SecretBox,
) -> AtsConnection:
    """Store verified credentials. Reconnecting replaces the credentials on the same row, so
    queued work resumes with them; records already in the ATS keep their creator."""
    if provider not in PROVIDERS:
        raise Invalid(f"provider must be one of {', '.join(PROVIDERS)}", "provider")
    conn = get_connection(session, caller.user_id)
    now = utcnow()
    if conn is None:
        conn = AtsConnection(user_id=caller.user_id, team_id=caller.team_id)
        session.add(conn)
    elif conn.provider != provider and conn.disconnected_at is None:
        raise Invalid(f"you are connected to {conn.provider}; disconnect it first", "provider")
    if conn.provider != provider:
        # Another ATS: the old one's queued work cannot run against it.
        _cancel_pending(session, conn)
        if conn.provider is not None:
            # Nor can its activity type: the new ATS's "Email" applies until one is chosen.
            get_settings(session, caller.user_id).activity_type_id = None
    conn.provider = provider
    conn.credentials_encrypted = box.seal(credentials)
    conn.ats_org = identity.org
    conn.ats_user_id = identity.user_id
    conn.ats_user_name = identity.user_name
    conn.status = "active"
    conn.status_reason = None
    conn.failing_since = None
    conn.connected_at = now
    conn.disconnected_at = None
    session.flush()
    return conn


def _cancel_pending(session: Session, conn: AtsConnection) -> None:
    if conn.id is None:
        return
    from outbound.store.models import SyncJob

    session.execute(
        update(SyncJob)
        .where(SyncJob.connection_id == conn.id, SyncJob.status.in_(("pending", "running")))
        .values(status="cancelled", finished_at=utcnow(), last_error="ATS changed")
    )


def disconnect(session: Session, caller: Caller) -> AtsConnection:
    conn = require_connection(session, caller)
    conn.disconnected_at = utcnow()
    conn.status = "disconnected"
    return conn


def get_settings(session: Session, user_id: int) -> IntegrationSettings:
    settings = session.get(IntegrationSettings, user_id)
    if settings is None:
        settings = IntegrationSettings(user_id=user_id)
        session.add(settings)
        session.flush()
    return settings


def validate_settings(changes: dict[str, Any]) -> None:
    if "sync_mode" in changes and changes["sync_mode"] not in SYNC_MODES:
        raise Invalid(f"sync_mode must be one of {', '.join(SYNC_MODES)}", "sync_mode")
    if "record_type" in changes and changes["record_type"] not in RECORD_TYPES:
        raise Invalid(f"record_type must be one of {', '.join(RECORD_TYPES)}", "record_type")
    if "field_mapping" in changes:
        problems = validate_mapping(changes["field_mapping"] or [])
        if problems:
            field, message = problems[0]
            raise Invalid(message, field)
    type_id = changes.get("activity_type_id")
    if type_id is not None and (not isinstance(type_id, str) or len(type_id) > 100):
        raise Invalid("activity_type_id must be at most 100 characters", "activity_type_id")


def update_settings(
    session: Session, caller: Caller, changes: dict[str, Any]
) -> IntegrationSettings:
    if isinstance(changes.get("activity_type_id"), str) and not changes["activity_type_id"].strip():
        changes = {**changes, "activity_type_id": None}  # blank: the type named "Email"
    validate_settings(changes)
    settings = get_settings(session, caller.user_id)
    for key in SETTING_KEYS:
        if key in changes:
            value = changes[key]
            if key in ("dedup_enabled", "activity_tracking", "sync_mode", "record_type") and (
                value is None
            ):
                raise Invalid(f"{key} cannot be null", key)
            setattr(settings, key, value if key != "field_mapping" else list(value or []))
    return settings


def default_activity_type(types: Sequence[AtsActivityType]) -> AtsActivityType | None:
    """The type logged emails are filed as when none is chosen: the one named "Email"."""
    return next((t for t in types if t.name.lower() in EMAIL_ACTIVITY_TYPE_NAMES), None)


def activity_types_forbidden(provider: str, call: str) -> str:
    title = PROVIDER_TITLES.get(provider, provider)
    return (
        f"This {title} API key may not list activity types ({call} answered 403). "
        f"Ask your {title} administrator for that permission; until then Outbound cannot "
        "tell which type logged emails are filed as."
    )


@dataclass(frozen=True)
class ActivityTypeChoice:
    """What logged emails are filed as, given what the ATS lists and the saved setting."""

    types: list[AtsActivityType]
    default_id: str | None
    chosen_id: str | None
    effective_id: str | None
    warning: str | None


def activity_type_choice(
    provider: str,
    types: Sequence[AtsActivityType] | None,
    chosen_id: str | None,
    tracking: bool,
    forbidden_call: str | None = None,
) -> ActivityTypeChoice:
    """``types`` None: the ATS would not list them (``forbidden_call`` answered 403)."""
    title = PROVIDER_TITLES.get(provider, provider)
    listed = list(types or [])
    default = default_activity_type(listed)
    default_id = default.id if default is not None else None
    warning = None
    if types is None:
        # The saved choice is still used (logging needs no listing); without one, nothing is.
        effective_id = chosen_id
        if chosen_id is None:
            warning = (
                activity_types_forbidden(provider, forbidden_call or "listing activity types")
                + " Emails will not be logged."
            )
    elif chosen_id is not None and chosen_id.lower() not in {t.id.lower() for t in listed}:
        effective_id = None
        warning = (
            f"The activity type chosen for logged emails no longer exists in {title}: "
            "choose another, or emails will not be logged."
        )
    else:
        effective_id = chosen_id or default_id
        if effective_id is None:
            warning = (
                f'{title} has no activity type named "Email": choose the type logged emails '
                "are filed as, or emails will not be logged."
            )
    return ActivityTypeChoice(
        listed, default_id, chosen_id, effective_id, warning if tracking else None
    )


@dataclass
class CloneResult:
    cloned: list[int]
    refused: list[CloneDecision]


def clone_candidates(session: Session, caller: Caller) -> list[tuple[User, CloneDecision]]:
    if not can_manage_teammates(caller.role):
        raise Forbidden("only owners and managers can clone integration settings")
    source = require_connection(session, caller)
    # Teammates with their connections in one query, not one more per teammate.
    rows = session.execute(
        select(User, AtsConnection)
        .outerjoin(AtsConnection, AtsConnection.user_id == User.id)
        .where(User.team_id == caller.team_id, User.id != caller.user_id)
        .order_by(User.id)
    ).tuples()
    return [
        (user, clone_eligibility(source.provider, user.id, connection_view(conn)))
        for user, conn in rows
    ]


def clone_settings(session: Session, caller: Caller, user_ids: list[int] | None) -> CloneResult:
    """Copy all integration settings to teammates on the same ATS (no per-setting choice)."""
    candidates = clone_candidates(session, caller)
    known = {u.id for u, _ in candidates}
    if user_ids is not None:
        unknown = [uid for uid in user_ids if uid not in known]
        if unknown:
            raise NotFound(f"user {unknown[0]} not found", "user_ids")
    source = get_settings(session, caller.user_id)
    # The targets' settings in one query: get_settings then finds them in the session.
    session.scalars(
        select(IntegrationSettings).where(IntegrationSettings.user_id.in_(list(known)))
    ).all()
    result = CloneResult([], [])
    for user, decision in candidates:
        if user_ids is not None and user.id not in user_ids:
            continue
        if not decision.eligible:
            result.refused.append(decision)
            continue
        target = get_settings(session, user.id)
        for key in SETTING_KEYS:
            value = getattr(source, key)
            setattr(target, key, list(value) if isinstance(value, list) else value)
        result.cloned.append(user.id)
    return result
