"""The values a step's {{variables}} take for one contact and sender: one definition for the
mail planner, the resume check and the step preview, so what a recruiter previews is what is
sent."""

from __future__ import annotations

from typing import Any, Protocol


class ContactFields(Protocol):
    first_name: str | None
    last_name: str | None
    email: str
    title: str | None
    company: str | None
    phone: str | None
    location: str | None
    linkedin_url: str | None
    custom_variables: Any


def template_values(contact: ContactFields, sender_name: str) -> dict[str, str | None]:
    full = " ".join(p for p in (contact.first_name, contact.last_name) if p) or None
    values: dict[str, str | None] = {
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "full_name": full,
        "email": contact.email,
        "title": contact.title,
        "company": contact.company,
        "phone": contact.phone,
        "location": contact.location,
        "linkedin_url": contact.linkedin_url,
        "sender_name": sender_name,
        "sender_first_name": sender_name.split()[0] if sender_name else None,
    }
    for key, value in (contact.custom_variables or {}).items():
        values.setdefault(key, None if value is None else str(value))
    return values
