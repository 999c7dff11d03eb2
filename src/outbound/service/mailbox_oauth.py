"""Mailboxes connected with Google or Microsoft by OAuth 2.0 (issue 18).

Connecting: ``begin`` stores the request (the state's hash, the PKCE verifier encrypted) and
answers the provider's authorization URL; the provider sends the browser back to the callback,
where ``finish`` takes the request (once), exchanges the code, reads the address from the ID
token, logs in to SMTP and IMAP with XOAUTH2, and saves the mailbox with its refresh token
encrypted like every other secret. No transaction is open while a provider or mail server is
called.

Sending and reading: ``access_token`` hands the workers a live access token, refreshing it
shortly before it expires. A refresh the provider refuses (the grant was revoked or expired)
marks the mailbox "reconnect_needed": the planner plans nothing for it and held sends wait,
neither failed nor sent, until the person connects it again.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast
from urllib.parse import urlsplit

from sqlalchemy import CursorResult, delete, select, update

from outbound.crypto import SecretBox
from outbound.domain.mail_providers import MAIL_PROVIDERS, OAuthMailProvider, parse_server
from outbound.mailclients import smtp
from outbound.mailclients.inbox import ImapConfig, ImapInbox, Inbox, InboxError, MaildirInbox
from outbound.mailclients.oauth import (
    GrantRevoked,
    Identity,
    OAuthApp,
    OAuthFailure,
    Tokens,
    new_state,
    new_verifier,
)
from outbound.service.caller import Caller
from outbound.service.errors import Forbidden, Invalid, ServiceError
from outbound.service.mailboxes import get_mailbox
from outbound.settings import Settings
from outbound.store.db import Database
from outbound.store.models import Mailbox, MailboxOAuthRequest, User, utcnow

REQUEST_MINUTES = 15  # how long a begun connection may take to come back
REFRESH_MARGIN_SECONDS = 120  # refresh this long before the access token expires
RECONNECT = "reconnect_needed"


class OAuthUnavailable(ServiceError):
    status_code = 502


class MailboxAccessLost(Exception):
    """The provider no longer lets Outbound use this mailbox: the person must reconnect."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Connected:
    email: str
    provider: str
    return_to: str


# -- configuration -------------------------------------------------------------------------
def _client_of(settings: Settings, name: str) -> tuple[str, str, str] | None:
    provider = MAIL_PROVIDERS[name]
    client_id = getattr(settings, f"{name}_client_id")
    secret = getattr(settings, f"{name}_client_secret")
    if not client_id or secret is None:
        return None
    discovery = getattr(settings, f"{name}_discovery_url") or provider.discovery_url
    return client_id, secret.get_secret_value(), discovery


def sign_in_origin(settings: Settings, name: str) -> str:
    """Where the provider's sign-in page is (scheme://host[:port]): its discovery document's
    origin, which for Google and Microsoft (and the simulator) is the sign-in page's too."""
    client = _client_of(settings, name)
    url = urlsplit(client[2] if client else MAIL_PROVIDERS[name].discovery_url)
    return f"{url.scheme}://{url.netloc}"


def available(settings: Settings) -> list[OAuthMailProvider]:
    """The providers this server is registered with (a client id and secret configured)."""
    return [p for name, p in MAIL_PROVIDERS.items() if _client_of(settings, name) is not None]


_apps: dict[tuple[str, ...], OAuthApp] = {}


def oauth_app(settings: Settings, name: str) -> OAuthApp:
    provider = MAIL_PROVIDERS.get(name)
    client = _client_of(settings, name) if provider is not None else None
    if provider is None or client is None:
        raise Invalid(f"this server is not set up to connect {name} mailboxes", "provider")
    key = (name, *client, settings.resolved_oauth_redirect_url)
    if key not in _apps:  # one per configuration: the discovery document is fetched once
        _apps[key] = OAuthApp(provider, *client, settings.resolved_oauth_redirect_url)
    return _apps[key]


def _servers(settings: Settings, provider: OAuthMailProvider, email: str) -> dict[str, Any]:
    smtp_server = (
        parse_server(settings.oauth_smtp_server) if settings.oauth_smtp_server else provider.smtp
    )
    imap_server = (
        parse_server(settings.oauth_imap_server) if settings.oauth_imap_server else provider.imap
    )
    sending = {
        "smtp_host": smtp_server.host,
        "smtp_port": smtp_server.port,
        "smtp_security": smtp_server.security,
    }
    if settings.oauth_inbound_maildir is not None and settings.allow_maildir:
        maildir = settings.oauth_inbound_maildir / email.lower()
        return {
            **sending,
            "inbound_kind": "maildir",
            "maildir_path": str(maildir.resolve()),
            "imap_host": None,
            "imap_port": None,
            "imap_security": None,
            "sent_folder": None,
        }
    return {
        **sending,
        "inbound_kind": "imap",
        "imap_host": imap_server.host,
        "imap_port": imap_server.port,
        "imap_security": imap_server.security,
        # Outbound looks for an uncertain send in the Sent folder; the local servers have none.
        "sent_folder": None if settings.oauth_imap_server else provider.sent_folder,
    }


def _hash(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


# -- connecting ----------------------------------------------------------------------------
def begin(
    db: Database,
    caller: Caller,
    settings: Settings,
    box: SecretBox,
    provider: str,
    return_to: str = "/mailbox",
) -> str:
    """The provider's authorization URL for this person; the request waits for the callback."""
    app = oauth_app(settings, provider)
    state, verifier = new_state(), new_verifier()
    try:
        url = app.authorization_url(state, verifier)  # may fetch discovery: no transaction
    except OAuthFailure as exc:
        raise OAuthUnavailable(exc.message, "provider") from exc
    now = utcnow()
    with db.session() as session:
        session.execute(
            delete(MailboxOAuthRequest).where(
                MailboxOAuthRequest.user_id == caller.user_id,
                MailboxOAuthRequest.expires_at < now,
            )
        )
        session.add(
            MailboxOAuthRequest(
                state_hash=_hash(state),
                user_id=caller.user_id,
                provider=provider,
                verifier_encrypted=box.seal({"verifier": verifier}),
                return_to=return_to,
                expires_at=now + timedelta(minutes=REQUEST_MINUTES),
            )
        )
    return url


def _take_request(db: Database, state: str, user_id: int) -> MailboxOAuthRequest:
    """The request this state belongs to, removed: a callback works once, and only in a
    browser signed in as the person who began it. Otherwise anyone could send someone a
    genuine consent link begun on their own account and receive that person's mailbox."""
    with db.session() as session:
        request = session.scalar(
            select(MailboxOAuthRequest).where(MailboxOAuthRequest.state_hash == _hash(state))
        )
        if request is None or request.expires_at < utcnow():
            raise Invalid(
                "this sign-in link was already used or has expired: connect the mailbox again",
                "state",
            )
        session.delete(request)
        session.flush()  # the delete is sent before the object leaves the session
        if request.user_id != user_id:
            session.commit()  # used up all the same: a forwarded link works for nobody
            raise Forbidden(
                "this link to connect a mailbox was begun by another Outbound account: "
                "nothing was connected; sign in as yourself and connect your own mailbox",
                "state",
            )
        session.expunge(request)
        return request


def finish(
    db: Database,
    box: SecretBox,
    settings: Settings,
    caller: Caller,
    state: str,
    code: str | None,
    error: str | None,
) -> Connected:
    """The callback, for the signed-in ``caller``: the code exchanged, the address read, both
    servers checked, saved."""
    request = _take_request(db, state, caller.user_id)
    provider = MAIL_PROVIDERS[request.provider]
    if error or not code:
        why = "you cancelled" if error == "access_denied" else f"{provider.title} said {error}"
        raise Invalid(f"The mailbox was not connected: {why}.", "provider")
    app = oauth_app(settings, request.provider)
    verifier = box.open(request.verifier_encrypted)["verifier"]
    try:
        tokens = app.exchange(code, verifier)
        identity = app.identity(tokens.id_token)
    except OAuthFailure as exc:
        raise OAuthUnavailable(f"The mailbox was not connected: {exc.message}", "provider") from exc
    if not tokens.refresh_token:
        raise Invalid(
            f"{provider.title} did not give Outbound lasting access to {identity.email}: remove "
            f"Outbound from the account's connected apps and connect again",
            "provider",
        )
    servers = _servers(settings, provider, identity.email)
    _verify(servers, identity, tokens.access_token)
    with db.session() as session:
        _save(session, box, request, provider, servers, identity, tokens)
    return Connected(identity.email, provider.title, request.return_to)


def _verify(servers: dict[str, Any], identity: Identity, token: str) -> None:
    """Log in to both servers with the new token, as a password mailbox is checked."""
    try:
        asyncio.run(smtp.verify(_smtp(servers, identity.email, token)))
    except smtp.SmtpFailure as exc:
        raise OAuthUnavailable(f"The mailbox was not connected: {exc.message}", "smtp") from exc
    inbox: Inbox
    if servers["inbound_kind"] == "maildir":
        inbox = MaildirInbox(servers["maildir_path"], None)
    else:
        inbox = ImapInbox(_imap(servers, identity.email, token, "INBOX", None))
    try:
        inbox.verify()
    except InboxError as exc:
        raise OAuthUnavailable(f"The mailbox was not connected: {exc.message}", "imap") from exc
    finally:
        inbox.close()


def _save(
    session: Any,
    box: SecretBox,
    request: MailboxOAuthRequest,
    provider: OAuthMailProvider,
    servers: dict[str, Any],
    identity: Identity,
    tokens: Tokens,
) -> Mailbox:
    user = session.get(User, request.user_id)
    if user is None:
        raise Invalid("the account that began connecting this mailbox is gone", "state")
    mb = get_mailbox(session, request.user_id)
    if mb is None:
        mb = Mailbox(user_id=user.id, team_id=user.team_id, from_name=identity.name or user.name)
        session.add(mb)
    elif mb.email != identity.email:
        # Another address: its inbox is another inbox, read from its start.
        mb.imap_uidvalidity, mb.imap_last_uid = None, 0
    mb.email = identity.email
    mb.smtp_username = identity.email
    mb.imap_username = identity.email
    mb.imap_folder = "INBOX"
    mb.maildir_path = None
    for key, value in servers.items():  # (a Maildir path replaces it in the demo)
        setattr(mb, key, value)
    mb.auth_kind, mb.oauth_provider = "oauth", provider.name
    mb.secrets_encrypted = box.seal(_secrets(tokens, tokens.refresh_token))
    mb.status, mb.status_reason = "active", None
    session.flush()
    return mb


def _secrets(tokens: Tokens, refresh_token: str | None) -> dict[str, Any]:
    return {
        "refresh_token": refresh_token,
        "access_token": tokens.access_token,
        "access_expires_at": tokens.expires_at,
    }


def _smtp(servers: dict[str, Any], email: str, token: str) -> smtp.SmtpConfig:
    return smtp.SmtpConfig(
        servers["smtp_host"],
        servers["smtp_port"],
        servers["smtp_security"],
        email,
        "",
        oauth_token=token,
    )


def _imap(
    servers: dict[str, Any], email: str, token: str, folder: str, sent: str | None
) -> ImapConfig:
    return ImapConfig(
        servers["imap_host"],
        servers["imap_port"],
        servers["imap_security"],
        email,
        "",
        folder,
        sent,
        oauth_token=token,
    )


# -- tokens for the workers ------------------------------------------------------------------
def access_token(
    db: Database, box: SecretBox, settings: Settings, mailbox_id: int, force: bool = False
) -> str:
    """A live access token for the mailbox, refreshed when it is about to expire (or when a
    server refused it: ``force``). Raises MailboxAccessLost when the grant is gone."""
    with db.read_session() as session:
        mb = session.get(Mailbox, mailbox_id)
        if mb is None or mb.auth_kind != "oauth" or mb.oauth_provider is None:
            raise MailboxAccessLost("the mailbox is no longer connected")
        sealed, provider = bytes(mb.secrets_encrypted), mb.oauth_provider
        email = mb.email
    secrets = box.open(sealed)
    fresh = float(secrets.get("access_expires_at") or 0) - REFRESH_MARGIN_SECONDS > time.time()
    if fresh and not force:
        return str(secrets["access_token"])
    title = MAIL_PROVIDERS[provider].title
    try:
        tokens = oauth_app(settings, provider).refresh(str(secrets.get("refresh_token") or ""))
    except GrantRevoked as exc:
        if _changed_since(db, mailbox_id, sealed):  # reconnected or refreshed meanwhile
            return access_token(db, box, settings, mailbox_id)
        reason = (
            f"Reconnect your mailbox: {title} no longer lets Outbound use {email} "
            f"(access was removed or has expired)."
        )
        mark_reconnect_needed(db, mailbox_id, sealed, reason)
        raise MailboxAccessLost(reason) from exc
    except OAuthFailure as exc:  # the provider is unreachable: the send retries later
        raise OAuthUnavailable(exc.message, "provider") from exc
    # Microsoft sends a new refresh token every time; Google keeps the one we hold.
    kept = tokens.refresh_token or secrets.get("refresh_token")
    with db.session() as session:
        saved = session.execute(  # compare-and-set: the secrets we refreshed from
            update(Mailbox)
            .where(Mailbox.id == mailbox_id, Mailbox.secrets_encrypted == sealed)
            .values(secrets_encrypted=box.seal(_secrets(tokens, kept)))
        )
    if (
        cast(CursorResult[Any], saved).rowcount == 0
    ):  # another worker refreshed (or the person reconnected) first
        return access_token(db, box, settings, mailbox_id)
    return tokens.access_token


def _changed_since(db: Database, mailbox_id: int, sealed: bytes) -> bool:
    with db.read_session() as session:
        mb = session.get(Mailbox, mailbox_id)
        return mb is not None and bytes(mb.secrets_encrypted) != sealed


def mark_reconnect_needed(db: Database, mailbox_id: int, sealed: bytes, reason: str) -> None:
    """Only the grant that failed: a mailbox reconnected meanwhile stays as it is."""
    with db.session() as session:
        session.execute(
            update(Mailbox)
            .where(Mailbox.id == mailbox_id, Mailbox.secrets_encrypted == sealed)
            .values(status=RECONNECT, status_reason=reason)
        )
