"""How a contact reads as an ATS record: the person to write, the name an ATS search may know
them by, the tags read back, and the dry-run plan (what a sync would write, read-only)."""

from __future__ import annotations

from typing import Any

from outbound.connectors.base import Connector, PermanentError, PersonInput
from outbound.crypto import SecretBox
from outbound.domain.field_mapping import mapped_values, values_to_write
from outbound.domain.sync_rules import off_limits_reason
from outbound.service import enrollments
from outbound.service.ats_calls import call_ats
from outbound.service.caller import Caller
from outbound.service.contact_state import ContactState, load_state
from outbound.service.errors import Invalid
from outbound.service.sequences import get_sequence
from outbound.settings import Settings
from outbound.store.db import Database
from outbound.store.models import AtsConnection


def full_name(contact: dict[str, Any]) -> str | None:
    """The name an ATS search may know the person by, when its search ignores emails."""
    return " ".join(p for p in (contact.get("first_name"), contact.get("last_name")) if p) or None


def person_input(contact: dict[str, Any], snapshot: dict[str, Any]) -> PersonInput:
    values = mapped_values(contact, snapshot.get("field_mapping") or [])
    return PersonInput(
        email=contact["email"],
        first_name=contact["first_name"],
        last_name=contact["last_name"],
        title=contact["title"],
        company=contact["company"],
        phone=contact["phone"],
        linkedin_url=contact["linkedin_url"],
        location=contact["location"],
        record_type=snapshot.get("record_type") or "candidate",
        extra_fields=values_to_write(values, {}, is_new_record=True),
    )


def tag_titles(fields: dict[str, Any]) -> list[str]:
    tags = fields.get("Tags") or fields.get("tags") or {}
    groups = tags.values() if isinstance(tags, dict) else [tags]
    return [str(t.get("Title") or t.get("name") or "") for g in groups for t in g or []]


async def plan_sync(connector: Connector, cs: ContactState) -> dict[str, Any]:
    """What syncing this contact would write, without writing (read-only ATS calls only)."""
    assert cs.snapshot is not None
    person = person_input(cs.contact, cs.snapshot)
    plan: dict[str, Any] = {"job_id": cs.snapshot.get("job_id"), "writes": {}}
    remote_id = cs.link.remote_id if cs.link else None
    found = (
        None
        if remote_id
        else await connector.find_person_by_email(cs.contact["email"], full_name(cs.contact))
    )
    if remote_id:
        plan["action"] = "already linked"
        plan["remote_id"] = remote_id
    elif found is not None:
        plan["action"] = "link existing record"
        plan["remote_id"] = found.id
        values = mapped_values(cs.contact, cs.snapshot.get("field_mapping") or [])
        changes = values_to_write(values, found.fields, is_new_record=False)
        if changes:
            plan["writes"]["update"] = changes
        reason = off_limits_reason(
            cs.provider, found.do_not_contact, tag_titles(found.fields), cs.snapshot
        )
        if reason:
            plan["warning"] = reason
    else:
        plan["action"] = "create record"
        try:
            plan["writes"] = connector.preview_create(person)
        except PermanentError as exc:
            plan["action"] = "would fail"
            plan["error"] = exc.message
    if plan["job_id"] and not (cs.link and plan["job_id"] in cs.link.attached_jobs):
        plan["writes"]["attach to job/project"] = plan["job_id"]
    return plan


def preview_sync(
    db: Database, caller: Caller, box: SecretBox, settings: Settings, enrollment_id: int
) -> dict[str, Any]:
    """The dry run of one contact: read what is stored (one short transaction), then ask the
    ATS outside it."""
    with db.session() as session:
        e = enrollments.get_enrollment(session, caller, enrollment_id)
        snapshot = e.sync_snapshot or enrollments.current_snapshot(
            session, get_sequence(session, caller, e.sequence_id)
        )
        if snapshot is None:
            raise Invalid("connect an ATS first", "connection")
        conn = session.get(AtsConnection, snapshot["connection_id"])
        assert conn is not None
        provider, creds = conn.provider, box.open(conn.credentials_encrypted)
        contact_id = e.contact_id
    cs = load_state(db, snapshot["connection_id"], contact_id, None)
    assert cs is not None
    cs.snapshot = snapshot
    return call_ats(provider, creds, settings, lambda c: plan_sync(c, cs))
