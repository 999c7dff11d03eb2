"""Contacts: one row per email address per team."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from outbound.service.caller import Caller
from outbound.service.errors import Conflict, NotFound
from outbound.store.jobs import enqueue, job_row
from outbound.store.models import AtsConnection, Contact, Enrollment, SyncJob

CONTACT_COLUMNS = (
    "first_name",
    "last_name",
    "title",
    "company",
    "phone",
    "linkedin_url",
    "location",
    "custom_variables",
)


def normalise_email(email: str) -> str:
    return email.strip().lower()


def get_contact(session: Session, caller: Caller, contact_id: int) -> Contact:
    contact = session.get(Contact, contact_id)
    if contact is None or contact.team_id != caller.team_id:
        raise NotFound(f"contact {contact_id} not found", "contact_id")
    return contact


def list_contacts(
    session: Session, caller: Caller, limit: int, offset: int, email: str | None = None
) -> list[Contact]:
    q = select(Contact).where(Contact.team_id == caller.team_id)
    if email:
        q = q.where(Contact.email == normalise_email(email))
    return list(session.scalars(q.order_by(Contact.id).limit(limit).offset(offset)))


def create_contact(session: Session, caller: Caller, data: dict[str, Any]) -> Contact:
    email = normalise_email(data["email"])
    if session.scalar(
        select(Contact.id).where(Contact.team_id == caller.team_id, Contact.email == email)
    ):
        raise Conflict(f"a contact with email {email} already exists", "email")
    contact = Contact(team_id=caller.team_id, email=email)
    for key in CONTACT_COLUMNS:
        if key in data and data[key] is not None:
            setattr(contact, key, data[key])
    session.add(contact)
    session.flush()
    return contact


def update_contact(
    session: Session, caller: Caller, contact_id: int, data: dict[str, Any]
) -> Contact:
    contact = get_contact(session, caller, contact_id)
    if "email" in data and data["email"] is not None:
        email = normalise_email(data["email"])
        clash = session.scalar(
            select(Contact.id).where(
                Contact.team_id == caller.team_id, Contact.email == email, Contact.id != contact.id
            )
        )
        if clash:
            raise Conflict(f"a contact with email {email} already exists", "email")
        contact.email = email
    for key in CONTACT_COLUMNS:
        if key in data:
            setattr(contact, key, data[key] if key != "custom_variables" else data[key] or {})
    session.flush()
    return contact


def delete_contact(session: Session, caller: Caller, contact_id: int) -> None:
    session.delete(get_contact(session, caller, contact_id))


# -- editing a contact from its panel -----------------------------------------------------
@dataclass(frozen=True)
class Edit:
    """What a save changed, and where: fields the ATS record holds (under the sequence's
    field mapping) are queued to update it; the others change in Outbound only."""

    changed: list[str]
    queued_to_ats: list[str] = field(default_factory=list)
    outbound_only: list[str] = field(default_factory=list)


def edit_contact(
    session: Session, caller: Caller, enrollment: Enrollment, data: dict[str, Any]
) -> Edit:
    """Update the enrollment's contact (the API's PATCH rules) and, when its ATS record is
    linked through a live connection, queue the sync engine's existing update (a refresh
    sync_contact job: mapped fields under their write policies, never a second record)."""
    contact = get_contact(session, caller, enrollment.contact_id)
    before = {key: getattr(contact, key) for key in ("email", *CONTACT_COLUMNS)}
    update_contact(session, caller, contact.id, data)
    changed = [key for key, old in before.items() if getattr(contact, key) != old]
    if not changed:
        return Edit([])
    held = _fields_the_ats_holds(enrollment, changed)
    if held and _queue_ats_update(session, enrollment):
        return Edit(changed, held, [k for k in changed if k not in held])
    return Edit(changed, [], changed)


def _fields_the_ats_holds(enrollment: Enrollment, changed: list[str]) -> list[str]:
    if enrollment.ats_record_id is None or not enrollment.sync_snapshot:
        return []
    sources = {
        str(m.get("source", "")) for m in enrollment.sync_snapshot.get("field_mapping") or []
    }
    custom = any(s.startswith("custom.") for s in sources)
    return [k for k in changed if k in sources or (k == "custom_variables" and custom)]


def _queue_ats_update(session: Session, enrollment: Enrollment) -> bool:
    snapshot = enrollment.sync_snapshot or {}
    conn = session.get(AtsConnection, snapshot.get("connection_id"))
    if conn is None or conn.status != "active" or conn.disconnected_at is not None:
        return False
    waiting = session.scalar(
        select(SyncJob.id)
        .where(
            SyncJob.enrollment_id == enrollment.id,
            SyncJob.kind == "sync_contact",
            SyncJob.status == "pending",
        )
        .limit(1)
    )
    if waiting is None:  # a sync still waiting reads the contact when it runs: one is enough
        enqueue(
            session,
            [
                job_row(
                    enrollment.team_id,
                    conn.id,
                    enrollment.contact_id,
                    enrollment.id,
                    "sync_contact",
                    {"refresh": True},
                )
            ],
        )
        enrollment.sync_state = "pending"
    return True
