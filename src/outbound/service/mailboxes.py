"""Mailboxes: each user connects one (SMTP to send, IMAP or a local Maildir to read replies),
verified against the real servers before it is saved; passwords encrypted at rest.

Connecting is three steps, and the servers are never called inside a transaction (on SQLite
every transaction holds the write lock; a slow server would stall every other writer):
read the stored mailbox (one short transaction) and ``plan_change``; ``verify`` with no
transaction open; ``save_change`` (a second short transaction), which refuses if the mailbox
changed meanwhile.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from outbound.crypto import SecretBox
from outbound.mailclients import smtp
from outbound.mailclients.inbox import ImapConfig, ImapInbox, Inbox, InboxError, MaildirInbox
from outbound.service.caller import Caller
from outbound.service.errors import Conflict, Invalid, NotFound, ServiceError
from outbound.settings import Settings
from outbound.store.models import Mailbox, OutboundEmail

SETTABLE = (
    "email",
    "from_name",
    "smtp_host",
    "smtp_port",
    "smtp_security",
    "smtp_username",
    "inbound_kind",
    "imap_host",
    "imap_port",
    "imap_security",
    "imap_username",
    "imap_folder",
    "sent_folder",
    "maildir_path",
    "time_zone",
    "window_start",
    "window_end",
    "send_days",
    "daily_limit",
)


class MailboxUnreachable(ServiceError):
    status_code = 400


def smtp_config(mb: Mailbox, secrets: dict[str, Any], token: str | None = None) -> smtp.SmtpConfig:
    """``token``: the access token of a mailbox connected by OAuth (its login is XOAUTH2)."""
    if mb.auth_kind == "oauth":
        return smtp.SmtpConfig(
            mb.smtp_host, mb.smtp_port, mb.smtp_security, mb.email, "", oauth_token=token or ""
        )
    return smtp.SmtpConfig(
        mb.smtp_host, mb.smtp_port, mb.smtp_security, mb.smtp_username, secrets["smtp_password"]
    )


def inbox_for(mb: Mailbox, secrets: dict[str, Any], token: str | None = None) -> Inbox:
    if mb.inbound_kind == "maildir":
        assert mb.maildir_path is not None
        return MaildirInbox(mb.maildir_path, mb.sent_folder)
    assert mb.imap_host is not None and mb.imap_port is not None
    oauth = mb.auth_kind == "oauth"
    return ImapInbox(
        ImapConfig(
            mb.imap_host,
            mb.imap_port,
            mb.imap_security or "ssl",
            mb.email if oauth else (mb.imap_username or mb.email),
            "" if oauth else (secrets.get("imap_password") or secrets["smtp_password"]),
            mb.imap_folder,
            mb.sent_folder,
            oauth_token=(token or "") if oauth else None,
        )
    )


def _check(values: dict[str, Any], settings: Settings) -> None:
    try:
        ZoneInfo(values["time_zone"])
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise Invalid(f"unknown time zone {values['time_zone']!r}", "time_zone") from exc
    if values["inbound_kind"] == "maildir":
        if not settings.allow_maildir:
            raise Invalid("a local Maildir is not allowed on this server", "inbound_kind")
        if not values.get("maildir_path"):
            raise Invalid("maildir_path is required for a Maildir mailbox", "maildir_path")
    elif not values.get("imap_host"):
        raise Invalid("imap_host is required to read replies", "imap_host")


def verify(mb: Mailbox, secrets: dict[str, Any]) -> None:
    """Log in to both servers; a failure names the field to fix."""
    try:
        asyncio.run(smtp.verify(smtp_config(mb, secrets)))
    except smtp.AuthFailed as exc:
        raise MailboxUnreachable(exc.message, "smtp_password") from exc
    except smtp.SmtpFailure as exc:
        raise MailboxUnreachable(exc.message, "smtp_host") from exc
    inbox = inbox_for(mb, secrets)
    try:
        inbox.verify()
    except InboxError as exc:
        field = "maildir_path" if mb.inbound_kind == "maildir" else "imap_host"
        if exc.auth:
            field = "imap_password"
        elif "folder" in exc.message:
            field = "imap_folder"
        raise MailboxUnreachable(exc.message, field) from exc
    finally:
        inbox.close()


def get_mailbox(session: Session, user_id: int) -> Mailbox | None:
    return session.scalar(select(Mailbox).where(Mailbox.user_id == user_id))


def require_mailbox(session: Session, caller: Caller) -> Mailbox:
    mb = get_mailbox(session, caller.user_id)
    if mb is None:
        raise NotFound("no mailbox is connected", "mailbox")
    return mb


def build_mailbox(
    existing: Mailbox | None,
    caller: Caller,
    values: dict[str, Any],
    passwords: dict[str, str | None],
    box: SecretBox,
    settings: Settings,
) -> tuple[Mailbox, dict[str, Any]]:
    """An unsaved Mailbox with the new values (existing secrets kept where none are given)."""
    current: dict[str, Any] = {}
    secrets: dict[str, Any] = {}
    if existing is not None:
        current = {k: getattr(existing, k) for k in SETTABLE}
        # From OAuth to passwords: the provider's tokens are not kept beside the passwords.
        secrets = box.open(existing.secrets_encrypted) if existing.auth_kind != "oauth" else {}
    merged = {**current, **{k: v for k, v in values.items() if v is not None}}
    for key, value in passwords.items():
        if value is not None:
            secrets[key] = value
    if not secrets.get("smtp_password") and merged.get("smtp_username"):
        raise Invalid("smtp_password is required", "smtp_password")
    secrets.setdefault("smtp_password", "")
    _check(merged, settings)
    mb = Mailbox(user_id=caller.user_id, team_id=caller.team_id, **merged)
    return mb, secrets


@dataclass(frozen=True)
class MailboxChange:
    """A mailbox to verify, then save: the new settings (unsaved) with their secrets, and the
    stored mailbox they were built on (``version``; None: there was none)."""

    mailbox: Mailbox
    secrets: dict[str, Any]
    version: tuple[Any, ...] | None


def _version(mb: Mailbox | None) -> tuple[Any, ...] | None:
    """What a change is built on: the settings and the sealed secrets (not the worker's
    bookkeeping: status, IMAP position, leases, which move on their own)."""
    if mb is None:
        return None
    return (mb.id, bytes(mb.secrets_encrypted), *(getattr(mb, k) for k in SETTABLE))


def plan_change(
    existing: Mailbox | None,
    caller: Caller,
    values: dict[str, Any],
    passwords: dict[str, str | None],
    box: SecretBox,
    settings: Settings,
) -> MailboxChange:
    """The change to verify (no database access: ``existing`` was read beforehand)."""
    mb, secrets = build_mailbox(existing, caller, values, passwords, box, settings)
    return MailboxChange(mb, secrets, _version(existing))


def save_change(session: Session, caller: Caller, change: MailboxChange, box: SecretBox) -> Mailbox:
    """Save a verified change, unless the stored mailbox changed while it was being verified
    (another tab saved other settings, or it was removed): then nothing is saved, since the
    verified settings may rest on secrets that are no longer the stored ones."""
    current = get_mailbox(session, caller.user_id)
    if _version(current) != change.version:
        raise Conflict(
            "your mailbox was changed while these settings were being checked; nothing was "
            "saved: look at it again and retry",
            "mailbox",
        )
    return save_mailbox(session, caller, change.mailbox, change.secrets, box)


def save_mailbox(
    session: Session, caller: Caller, mb: Mailbox, secrets: dict[str, Any], box: SecretBox
) -> Mailbox:
    existing = get_mailbox(session, caller.user_id)
    target = existing or Mailbox(user_id=caller.user_id, team_id=caller.team_id)
    for key in SETTABLE:
        setattr(target, key, getattr(mb, key))
    target.next_slot_at = None  # planned under the old window: the planner plans again
    target.secrets_encrypted = box.seal(secrets)
    # Saved with passwords: a mailbox connected by OAuth before now logs in by password.
    target.auth_kind, target.oauth_provider = "password", None
    target.status = "active"
    target.status_reason = None
    if existing is None:
        session.add(target)
    session.flush()
    return target


def delete_mailbox(session: Session, caller: Caller) -> None:
    mb = require_mailbox(session, caller)
    busy = session.scalar(
        select(OutboundEmail.id).where(
            OutboundEmail.mailbox_id == mb.id, OutboundEmail.status == "sending"
        )
    )
    if busy is not None:
        raise Invalid("a message is being sent right now; try again in a minute", "mailbox")
    session.delete(mb)


SCHEDULE = ("from_name", "time_zone", "window_start", "window_end", "send_days", "daily_limit")


def update_schedule(session: Session, caller: Caller, values: dict[str, Any]) -> Mailbox:
    """When and how much to send (and the From name): what a mailbox connected by OAuth can
    change without connecting again. Only the given fields change."""
    mb = require_mailbox(session, caller)
    changes = {k: v for k, v in values.items() if k in SCHEDULE and v is not None}
    if "time_zone" in changes:
        try:
            ZoneInfo(changes["time_zone"])
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise Invalid(f"unknown time zone {changes['time_zone']!r}", "time_zone") from exc
    for key, value in changes.items():
        setattr(mb, key, value)
    mb.next_slot_at = None  # planned under the old window: the planner plans again
    session.flush()
    return mb
