"""The user's mailbox (verified against its servers before it is saved) and the team's
suppression list. Passwords have no output model at all."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter

from outbound.api.deps import BoxDep, CallerDep, DbDep, SessionDep, SettingsDep
from outbound.api.schemas import (
    MailboxIn,
    MailboxOut,
    MailboxSchedulePatch,
    OAuthProviderOut,
    OAuthStartOut,
    SuppressionIn,
    SuppressionOut,
)
from outbound.service import mailbox_oauth, mailboxes, outreach

router = APIRouter(tags=["mail"])


@router.get("/mailbox", response_model=MailboxOut)
def get_mailbox(session: SessionDep, caller: CallerDep) -> object:
    return mailboxes.require_mailbox(session, caller)


@router.put("/mailbox", response_model=MailboxOut)
def put_mailbox(
    body: MailboxIn, db: DbDep, caller: CallerDep, box: BoxDep, settings: SettingsDep
) -> object:
    """Connect (or change) your mailbox. Outbound logs in to SMTP and IMAP first and says
    which field is wrong when it cannot; nothing is saved unless both work."""
    values = body.model_dump(exclude={"smtp_password", "imap_password"})
    values["smtp_username"] = values["smtp_username"] or body.email
    passwords = {"smtp_password": body.smtp_password, "imap_password": body.imap_password}
    with db.session() as session:
        existing = mailboxes.get_mailbox(session, caller.user_id)
    change = mailboxes.plan_change(existing, caller, values, passwords, box, settings)
    # The servers can take seconds: no transaction (on SQLite, the write lock) is held meanwhile.
    mailboxes.verify(change.mailbox, change.secrets)
    with db.session() as session:
        return mailboxes.save_change(session, caller, change, box)


@router.patch("/mailbox", response_model=MailboxOut)
def patch_mailbox(body: MailboxSchedulePatch, session: SessionDep, caller: CallerDep) -> object:
    """Change when and how much to send; the servers and sign-in stay as they are."""
    return mailboxes.update_schedule(session, caller, body.model_dump())


@router.get("/mailbox/oauth/providers", response_model=list[OAuthProviderOut])
def oauth_providers(settings: SettingsDep) -> object:
    """The providers this server can connect a mailbox with (set up by its administrator)."""
    return [{"name": p.name, "title": p.title} for p in mailbox_oauth.available(settings)]


@router.post("/mailbox/oauth/{provider}", response_model=OAuthStartOut, status_code=201)
def start_oauth(
    provider: Literal["google", "microsoft"],
    db: DbDep,
    caller: CallerDep,
    box: BoxDep,
    settings: SettingsDep,
) -> object:
    """Begin connecting your mailbox with Google or Microsoft (OAuth 2.0 with PKCE). The
    mailbox is connected when the browser comes back from the provider: GET /mailbox then
    shows it, with `auth_kind` oauth and the address the provider vouched for."""
    url = mailbox_oauth.begin(db, caller, settings, box, provider)
    return {"authorization_url": url, "expires_in_seconds": mailbox_oauth.REQUEST_MINUTES * 60}


@router.delete("/mailbox", status_code=204)
def delete_mailbox(session: SessionDep, caller: CallerDep) -> None:
    mailboxes.delete_mailbox(session, caller)


@router.get("/suppressions", response_model=list[SuppressionOut])
def list_suppressions(session: SessionDep, caller: CallerDep) -> object:
    """Addresses nobody on the team will email: unsubscribed or bounced."""
    return outreach.list_suppressions(session, caller)


@router.post("/suppressions", response_model=SuppressionOut, status_code=201)
def add_suppression(body: SuppressionIn, session: SessionDep, caller: CallerDep) -> object:
    return outreach.add_suppression(session, caller, str(body.email))
