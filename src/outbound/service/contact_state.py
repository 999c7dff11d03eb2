"""What Outbound knows of one contact in one ATS organisation: the contact's fields, the
settings frozen when it was added, its link to an ATS record and the create in the effect
ledger. The sync worker reads it before each job; the dry-run preview reads it too."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
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


def find_link(session: Session, contact_id: int, provider: str, org: str) -> AtsLink | None:
    return session.scalar(
        select(AtsLink).where(
            AtsLink.contact_id == contact_id, AtsLink.provider == provider, AtsLink.ats_org == org
        )
    )


def _create_intent_at(
    session: Session, contact_id: int, provider: str, org: str, link: AtsLink | None
) -> str | None:
    if link is not None and link.remote_id:
        # The create's "done" and the link's id commit together: a linked contact has no
        # unfinished create, so the jobs after the first one skip this query.
        return None
    began = session.scalar(
        select(AtsEffect.began_at).where(
            AtsEffect.provider == provider,
            AtsEffect.ats_org == org,
            AtsEffect.contact_id == contact_id,
            AtsEffect.effect == CREATE_EFFECT,
            AtsEffect.state == "intent",
        )
    )
    if began is None and link is not None and link.state == "creating" and link.intent_at:
        began = link.intent_at  # written before the ledger held creates (before 0007)
    return began.isoformat() if began is not None else None


def load_state(
    db: Database, connection_id: int, contact_id: int, enrollment_id: int | None
) -> ContactState | None:
    with db.read_session() as session:  # every job starts here: a read waits for no writer
        contact = session.get(Contact, contact_id)
        conn = session.get(AtsConnection, connection_id)
        if contact is None or conn is None:
            return None
        snapshot = None
        if enrollment_id is not None:
            enrollment = session.get(Enrollment, enrollment_id)
            if enrollment is None:
                return None  # removed from the sequence: nothing left to do
            snapshot = enrollment.sync_snapshot
        provider = snapshot["provider"] if snapshot else conn.provider
        org = snapshot["ats_org"] if snapshot else conn.ats_org
        link = find_link(session, contact_id, provider, org)
        return ContactState(
            contact={c: getattr(contact, c) for c in ("email", *CONTACT_COLUMNS)},
            enrollment_id=enrollment_id,
            snapshot=snapshot,
            link=None
            if link is None or not link.remote_id
            else LinkView(
                link.remote_id,
                link.state,
                link.created_by_us,
                list(link.attached_jobs or []),
                list(link.logged_events or []),
            ),
            provider=provider,
            org=org,
            owner_known=bool(conn.ats_user_id),
            connected=(conn.provider, conn.ats_org),
            create_intent_at=_create_intent_at(session, contact_id, provider, org, link),
        )
