"""Contacts (one per email address per team)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from outbound.api.deps import CallerDep, SessionDep
from outbound.api.schemas import (
    MAX_EMAIL,
    MAX_ID,
    ContactIn,
    ContactOut,
    ContactPatch,
    DbId,
    Line,
)
from outbound.service import contacts

router = APIRouter(tags=["contacts"])


@router.get("/contacts", response_model=list[ContactOut])
def list_contacts(
    session: SessionDep,
    caller: CallerDep,
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=MAX_ID),
    email: Annotated[
        Line | None, Query(max_length=MAX_EMAIL, description="Only the contact with this email")
    ] = None,
) -> object:
    return contacts.list_contacts(session, caller, limit, offset, email)


@router.post("/contacts", response_model=ContactOut, status_code=201)
def create_contact(body: ContactIn, session: SessionDep, caller: CallerDep) -> object:
    return contacts.create_contact(session, caller, body.model_dump())


@router.get("/contacts/{contact_id}", response_model=ContactOut)
def get_contact(contact_id: DbId, session: SessionDep, caller: CallerDep) -> object:
    return contacts.get_contact(session, caller, contact_id)


@router.patch("/contacts/{contact_id}", response_model=ContactOut)
def patch_contact(
    contact_id: DbId, body: ContactPatch, session: SessionDep, caller: CallerDep
) -> object:
    """Only the fields sent change: `null` empties a field the answer can show as null; for
    `email` and `custom_variables` (send {} to remove them all) it is refused."""
    return contacts.update_contact(session, caller, contact_id, body.model_dump(exclude_unset=True))


@router.delete("/contacts/{contact_id}", status_code=204)
def delete_contact(contact_id: DbId, session: SessionDep, caller: CallerDep) -> None:
    contacts.delete_contact(session, caller, contact_id)
