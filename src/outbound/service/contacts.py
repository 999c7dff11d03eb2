"""Contacts: one row per email address per team."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from outbound.service.caller import Caller
from outbound.service.errors import Conflict, NotFound
from outbound.store.models import Contact

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
