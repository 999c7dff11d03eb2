"""Pure sync rules from the two product guides: which settings apply, when to sync, what to write.

No I/O here: the service layer feeds in rows, and gets back plain decisions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from outbound.domain.vocabulary import (
    FLAGS_DO_NOT_CONTACT,
    PROVIDER_TITLES,
    STAGE_INTERESTED,
    STAGE_MESSAGED,
    STAGE_NOT_INTERESTED,
    STAGE_REPLIED,
)


@dataclass(frozen=True)
class ConnectionView:
    id: int
    provider: str
    ats_org: str
    status: str
    connected_at: datetime


@dataclass(frozen=True)
class SettingsView:
    sync_mode: str
    record_type: str
    default_job_id: str | None
    dedup_enabled: bool
    activity_tracking: bool
    field_mapping: list[dict[str, Any]] = field(default_factory=list)
    do_not_contact_tag: str | None = None


@dataclass(frozen=True)
class SequenceView:
    sync_enabled: bool
    record_type: str | None
    job_id: str | None


@dataclass(frozen=True)
class TrackingView:
    """The account's activity tracking as it is now (read when each email event happens)."""

    enabled: bool
    # When it was last turned on; None: on since the connection was made.
    since: datetime | None = None


def snapshot_sync_settings(
    connection: ConnectionView | None, settings: SettingsView, sequence: SequenceView
) -> dict[str, Any] | None:
    """The settings that will govern a contact for its whole life in the sequence.

    Taken when the contact is added: later changes to the sequence or the account do not move
    it (guides: "contacts cannot be re-synced if they were added first": the record type, the
    job/project, the sequence's sync on/off and the field mapping). None when no ATS was
    connected, which is what makes the contact eligible for "Resync" later.

    Activity tracking is not in it: it applies from the moment it is turned on, to every
    contact (see ``logs_activity``).
    """
    if connection is None:
        return None
    return {
        "connection_id": connection.id,
        "provider": connection.provider,
        "ats_org": connection.ats_org,
        "connected_at": connection.connected_at.isoformat(),
        "sync_enabled": sequence.sync_enabled,
        "sync_mode": settings.sync_mode,
        "record_type": sequence.record_type or settings.record_type,
        "job_id": sequence.job_id or settings.default_job_id,
        "dedup_enabled": settings.dedup_enabled,
        "field_mapping": list(settings.field_mapping),
        "do_not_contact_tag": settings.do_not_contact_tag,
    }


def sync_allowed(snapshot: dict[str, Any] | None) -> bool:
    if not snapshot:
        return False
    return bool(snapshot["sync_enabled"]) and snapshot["sync_mode"] != "off"


def syncs_on_add(snapshot: dict[str, Any] | None) -> bool:
    return sync_allowed(snapshot) and snapshot is not None and snapshot["sync_mode"] == "on_add"


def syncs_on_event(snapshot: dict[str, Any] | None, kind: str, sentiment: str | None) -> bool:
    """Whether this event is the trigger that first creates/links the ATS record."""
    if not sync_allowed(snapshot) or snapshot is None:
        return False
    mode = snapshot["sync_mode"]
    if mode == "on_reply":
        return kind == "replied"
    if mode == "on_interested":
        return kind == "sentiment" and sentiment == "interested"
    return False


# Events worth an ATS activity entry ("every email sent and every reply").
ACTIVITY_KINDS = ("sent", "replied")


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment  # stored as UTC


def logs_activity(
    snapshot: dict[str, Any] | None,
    tracking: TrackingView | None,
    kind: str,
    occurred_at: datetime,
) -> bool:
    """Activity tracking: sent and replied emails of a contact whose sync is on, while the
    account's tracking is on now (``tracking``: its current setting, not the one at add time),
    never from before the connection existed nor from before tracking was last turned on."""
    if not sync_allowed(snapshot) or snapshot is None or tracking is None:
        return False
    if not tracking.enabled or kind not in ACTIVITY_KINDS:
        return False
    start = _utc(datetime.fromisoformat(snapshot["connected_at"]))
    if tracking.since is not None:
        start = max(start, _utc(tracking.since))
    return _utc(occurred_at) >= start


def stage_for_event(kind: str, sentiment: str | None, first_send: bool) -> str | None:
    """The stage name an event advances the contact to, spelled exactly as the guides require."""
    if kind == "sent" and first_send:
        return STAGE_MESSAGED
    if kind == "replied":
        return STAGE_REPLIED
    if kind == "sentiment":
        return STAGE_INTERESTED if sentiment == "interested" else STAGE_NOT_INTERESTED
    return None


def checks_ats_on_add(snapshot: dict[str, Any]) -> bool:
    """Look the person up when added: to warn of duplicates, or to read back do-not-contact
    (Clockwork always has the flag; Crelate only when a tag is chosen in settings)."""
    return bool(
        snapshot["dedup_enabled"]
        or snapshot["provider"] in FLAGS_DO_NOT_CONTACT
        or snapshot.get("do_not_contact_tag")
    )


def off_limits_reason(
    provider: str, flagged: bool, tag_titles: list[str], snapshot: dict[str, Any]
) -> str | None:
    """Why the ATS says this person must not be emailed, or None (read-back, beyond the guides)."""
    title = PROVIDER_TITLES[provider]
    if flagged:
        return f"Marked do-not-contact in {title}: Outbound will not email this person."
    tag = snapshot.get("do_not_contact_tag")
    if tag and tag.lower() in (t.lower() for t in tag_titles):
        return f'Tagged "{tag}" in {title}: Outbound will not email this person.'
    return None


def exists_error(provider: str) -> str:
    return f"Exists in {PROVIDER_TITLES[provider]}"


@dataclass(frozen=True)
class CloneDecision:
    user_id: int
    eligible: bool
    reason: str | None


def clone_eligibility(
    source_provider: str, target_user_id: int, target_connection: ConnectionView | None
) -> CloneDecision:
    """Settings clone only to teammates connected to the same ATS (guides)."""
    title = PROVIDER_TITLES[source_provider]
    if target_connection is None:
        return CloneDecision(target_user_id, False, "has no ATS integration set up")
    if target_connection.provider != source_provider:
        other = PROVIDER_TITLES[target_connection.provider]
        return CloneDecision(target_user_id, False, f"is connected to {other}, not {title}")
    return CloneDecision(target_user_id, True, None)
