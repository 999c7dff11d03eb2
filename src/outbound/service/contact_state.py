"""What Outbound knows of one contact in one ATS organisation: the contact's fields, the
settings frozen when it was added, its link to an ATS record and the create in the effect
ledger. The sync worker reads it before each job; the dry-run preview reads it too."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Row, Table, select
from sqlalchemy.orm import Session

from outbound.service.contacts import CONTACT_COLUMNS
from outbound.store.db import Database
from outbound.store.models import AtsConnection, AtsEffect, AtsLink, Contact, Enrollment

# The ledger's name for creating the contact's record (one per organisation).
CREATE_EFFECT = "create"


@dataclass
class LinkView:
    remote_id: str | None
    state: str
    created_by_us: bool
    attached_jobs: list[str]
    logged_events: list[int]


@dataclass
class ContactState:
    contact: dict[str, Any]
    enrollment_id: int | None
    snapshot: dict[str, Any] | None
    link: LinkView | None
    provider: str
    org: str
    owner_known: bool = True  # False: the key's owner is learned from our first record
    # The ATS the job's connection opens now; differs from (provider, org) after a switch.
    connected: tuple[str, str] = ("", "")
    # When a try of ours began creating the record and never recorded the outcome (the
    # ledger's create intent): the create may have landed, so a match is ours, not a stranger.
    create_intent_at: str | None = None

    @property
    def moved(self) -> bool:
        """Added under another ATS or organisation than the one connected now."""
        return self.snapshot is not None and (self.provider, self.org) != self.connected


def load_state(
    db: Database, connection_id: int, contact_id: int, enrollment_id: int | None
) -> ContactState | None:
    return load_states(db, [StateKey(connection_id, contact_id, enrollment_id)])[0]


@dataclass(frozen=True)
class StateKey:
    """Which state a job needs: its connection, its contact and its enrollment (if any)."""

    connection_id: int
    contact_id: int
    enrollment_id: int | None


def load_states(db: Database, keys: list[StateKey]) -> list[ContactState | None]:
    """The states of many contacts in one read transaction and five queries, whatever their
    number: the worker reads a claimed batch's states at once instead of once per job (a
    read transaction and a thread hop each; a sixth of the worker's CPU in bench.run).
    None where the contact, the connection or the enrollment is gone."""
    if not keys:
        return []
    with db.read_session() as session:  # a read waits for no writer
        contacts = _rows_by_id(session, _contacts, {k.contact_id for k in keys})
        connections = _rows_by_id(session, _connections, {k.connection_id for k in keys})
        enrollment_ids = {k.enrollment_id for k in keys if k.enrollment_id is not None}
        enrollments = _rows_by_id(session, _enrollments, enrollment_ids)
        links = _links_of(session, {k.contact_id for k in keys})
        places = [_place(key, connections.get(key.connection_id), enrollments) for key in keys]
        unlinked = {
            (key.contact_id, *place[1:])
            for key, place in zip(keys, places, strict=True)
            if place is not None and _remote_id(links.get((key.contact_id, *place[1:]))) is None
        }
        intents = _create_intents(session, unlinked)
    states: list[ContactState | None] = []
    for key, place in zip(keys, places, strict=True):
        contact = contacts.get(key.contact_id)
        if contact is None or place is None:
            states.append(None)
            continue
        snapshot, provider, org = place
        link = links.get((key.contact_id, provider, org))
        began = intents.get((key.contact_id, provider, org))
        if began is None and link is not None and link.state == "creating" and link.intent_at:
            began = link.intent_at  # written before the ledger held creates (before 0007)
        conn = connections[key.connection_id]
        states.append(
            ContactState(
                contact={c: contact._mapping[c] for c in ("email", *CONTACT_COLUMNS)},
                enrollment_id=key.enrollment_id,
                snapshot=snapshot,
                link=_link_view(link),
                provider=provider,
                org=org,
                owner_known=bool(conn.ats_user_id),
                connected=(conn.provider, conn.ats_org),
                create_intent_at=None
                if _remote_id(link) is not None or began is None
                else began.isoformat(),
            )
        )
    return states


# Plain Core on the tables: this runs for every job the worker claims.
_contacts = cast(Table, Contact.__table__)
_connections = cast(Table, AtsConnection.__table__)
_enrollments = cast(Table, Enrollment.__table__)
_links = cast(Table, AtsLink.__table__)
_effects = cast(Table, AtsEffect.__table__)


def _rows_by_id(session: Session, table: Table, ids: set[int]) -> dict[int, Row[Any]]:
    if not ids:
        return {}
    rows = session.execute(select(table).where(table.c.id.in_(sorted(ids))))
    return {row.id: row for row in rows}


def _place(
    key: StateKey, conn: Row[Any] | None, enrollments: dict[int, Row[Any]]
) -> tuple[dict[str, Any] | None, str, str] | None:
    """The settings frozen at add time, and the ATS organisation the contact belongs to."""
    if conn is None:
        return None
    snapshot = None
    if key.enrollment_id is not None:
        enrollment = enrollments.get(key.enrollment_id)
        if enrollment is None:
            return None  # removed from the sequence: nothing left to do
        snapshot = enrollment.sync_snapshot
    if snapshot:
        return snapshot, snapshot["provider"], snapshot["ats_org"]
    return snapshot, conn.provider, conn.ats_org


def _links_of(session: Session, contact_ids: set[int]) -> dict[tuple[int, str, str], Row[Any]]:
    rows = session.execute(select(_links).where(_links.c.contact_id.in_(sorted(contact_ids))))
    return {(row.contact_id, row.provider, row.ats_org): row for row in rows}


def _create_intents(
    session: Session, wanted: set[tuple[int, str, str]]
) -> dict[tuple[int, str, str], datetime]:
    """When a try began creating the record and never recorded the outcome. Linked contacts
    are not asked: the create's "done" and the link's id commit together."""
    if not wanted:
        return {}
    rows = session.execute(
        select(
            _effects.c.contact_id, _effects.c.provider, _effects.c.ats_org, _effects.c.began_at
        ).where(
            _effects.c.contact_id.in_(sorted({contact_id for contact_id, _, _ in wanted})),
            _effects.c.effect == CREATE_EFFECT,
            _effects.c.state == "intent",
        )
    )
    found = {(r.contact_id, r.provider, r.ats_org): r.began_at for r in rows}
    return {place: began for place, began in found.items() if place in wanted}


def _remote_id(link: Row[Any] | None) -> str | None:
    return link.remote_id if link is not None and link.remote_id else None


def _link_view(link: Row[Any] | None) -> LinkView | None:
    if _remote_id(link) is None:
        return None
    assert link is not None
    return LinkView(
        link.remote_id,
        link.state,
        link.created_by_us,
        list(link.attached_jobs or []),
        list(link.logged_events or []),
    )
