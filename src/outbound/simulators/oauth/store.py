"""The provider's state: registered clients, accounts, pending consents, codes, grants, tokens.

A grant is one account's consent to one client; every token hangs off a grant, so revoking the
grant (the user removing the app, or a Workspace admin signing the user out) kills them all.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

TokenKind = Literal["access", "refresh"]
VERIFIER = re.compile(r"[A-Za-z0-9\-._~]{43,128}")  # RFC 7636 §4.1


class OAuthError(Exception):
    """An RFC 6749 error: ``error`` is the registered code, ``description`` for people."""

    def __init__(self, error: str, description: str, status: int = 400, reason: str = "") -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description
        self.status = status
        self.reason = reason  # a key each provider profile words its own way (profiles.py)


@dataclass
class Client:
    client_id: str
    client_secret: str
    redirect_uris: list[str]
    name: str = "Outbound"


@dataclass
class Account:
    email: str
    name: str
    sub: str = ""

    @property
    def given_name(self) -> str:
        return self.name.split(" ")[0]

    @property
    def family_name(self) -> str:
        return self.name.split(" ", 1)[1] if " " in self.name else ""


@dataclass
class AuthorizationRequest:
    """What the client asked for at the authorization endpoint, kept until the user answers."""

    id: str
    client_id: str
    redirect_uri: str
    scope: str
    state: str | None
    code_challenge: str
    nonce: str | None
    login_hint: str | None
    access_type: str | None  # Google: "offline" for a refresh token
    prompt: str | None
    created_at: float


@dataclass
class Code:
    value: str
    request: AuthorizationRequest
    email: str
    expires_at: float
    with_refresh: bool  # decided at consent: the provider's rule (profiles.py)
    used: bool = False
    grant_id: str | None = None


@dataclass
class Grant:
    id: str
    client_id: str
    email: str
    scope: str
    nonce: str | None
    created_at: float
    revoked_at: float | None = None


@dataclass
class Token:
    value: str
    kind: TokenKind
    grant_id: str
    client_id: str
    email: str
    scope: str
    issued_at: float
    expires_at: float | None  # None: until revoked
    revoked: bool = False


@dataclass
class Lifetimes:
    access_token_seconds: float = 3599
    refresh_token_seconds: float | None = None  # None: until revoked (both providers' default)
    code_seconds: float = 60  # single use as well
    consent_seconds: float = 600  # an unanswered consent page goes stale


def b64_digest(data: bytes) -> str:
    """base64url of SHA-256, unpadded: a PKCE S256 challenge, or a stable opaque id."""
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def s256(verifier: str) -> str:
    return b64_digest(verifier.encode("ascii"))


def _now() -> float:
    return time.time()


@dataclass
class OAuthStore:
    clients: dict[str, Client] = field(default_factory=dict)
    accounts: dict[str, Account] = field(default_factory=dict)  # by lower-case email
    requests: dict[str, AuthorizationRequest] = field(default_factory=dict)
    codes: dict[str, Code] = field(default_factory=dict)
    grants: dict[str, Grant] = field(default_factory=dict)
    tokens: dict[str, Token] = field(default_factory=dict)
    lifetimes: Lifetimes = field(default_factory=Lifetimes)
    rotate_refresh_tokens: bool = False
    stats: Counter[str] = field(default_factory=Counter)

    # -- registration --------------------------------------------------------------------
    def add_client(self, client: Client) -> Client:
        self.clients[client.client_id] = client
        return client

    def add_account(self, account: Account, sub_of: Any) -> Account:
        if not account.sub:
            account.sub = sub_of(account.email)
        self.accounts[account.email.lower()] = account
        return account

    def account(self, email: str) -> Account | None:
        return self.accounts.get(email.lower())

    # -- authorization -------------------------------------------------------------------
    def begin(self, **fields: Any) -> AuthorizationRequest:
        request = AuthorizationRequest(id=secrets.token_urlsafe(16), created_at=_now(), **fields)
        self.requests[request.id] = request
        return request

    def take_request(self, request_id: str) -> AuthorizationRequest:
        """The pending consent, once: a second answer to the same page is refused."""
        request = self.requests.pop(request_id, None)
        if request is None or _now() - request.created_at > self.lifetimes.consent_seconds:
            raise OAuthError(
                "invalid_request", "This consent page has expired; start again.", reason="stale"
            )
        return request

    def approve(
        self, request: AuthorizationRequest, email: str, prefix: str, with_refresh: bool
    ) -> Code:
        code = Code(
            value=prefix + secrets.token_urlsafe(32),
            request=request,
            email=email,
            expires_at=_now() + self.lifetimes.code_seconds,
            with_refresh=with_refresh,
        )
        self.codes[code.value] = code
        return code

    def redeem(self, value: str, client: Client, redirect_uri: str | None, verifier: str) -> Code:
        """The code for ``client``, used up; a replayed code also revokes what it bought."""
        code = self.codes.get(value)
        if code is None or code.request.client_id != client.client_id:
            raise OAuthError(
                "invalid_grant", "The authorization code is not valid.", reason="bad_code"
            )
        if code.used:
            # RFC 6749 §4.1.2: a code used twice revokes the tokens issued for it.
            if code.grant_id is not None:
                self.revoke_grant(code.grant_id)
            raise OAuthError(
                "invalid_grant", "The authorization code was already used.", reason="code_reused"
            )
        if _now() >= code.expires_at:
            raise OAuthError(
                "invalid_grant", "The authorization code has expired.", reason="code_expired"
            )
        if redirect_uri != code.request.redirect_uri:
            raise OAuthError(
                "invalid_grant",
                "redirect_uri does not match the authorization.",
                reason="redirect_mismatch",
            )
        if not verifier:
            raise OAuthError(
                "invalid_request", "code_verifier is required (PKCE).", reason="no_verifier"
            )
        if not VERIFIER.fullmatch(verifier) or not secrets.compare_digest(
            s256(verifier), code.request.code_challenge
        ):
            raise OAuthError(
                "invalid_grant",
                "The code_verifier does not match the challenge.",
                reason="pkce_mismatch",
            )
        code.used = True
        return code

    def has_live_refresh_token(self, client_id: str, email: str) -> bool:
        """Whether the account already gave this client offline access that still holds."""
        return any(
            t.kind == "refresh"
            and t.client_id == client_id
            and t.email.lower() == email.lower()
            and self.is_active(t)
            for t in self.tokens.values()
        )

    def new_grant(self, client_id: str, email: str, scope: str, nonce: str | None) -> Grant:
        grant = Grant(
            id=secrets.token_hex(8),
            client_id=client_id,
            email=email,
            scope=scope,
            nonce=nonce,
            created_at=_now(),
        )
        self.grants[grant.id] = grant
        return grant

    # -- tokens --------------------------------------------------------------------------
    def mint(self, grant: Grant, kind: TokenKind, prefix: str, scope: str | None = None) -> Token:
        now = _now()
        seconds = (
            self.lifetimes.access_token_seconds
            if kind == "access"
            else self.lifetimes.refresh_token_seconds
        )
        token = Token(
            value=prefix + secrets.token_urlsafe(48 if kind == "access" else 36),
            kind=kind,
            grant_id=grant.id,
            client_id=grant.client_id,
            email=grant.email,
            scope=scope or grant.scope,
            issued_at=now,
            expires_at=None if seconds is None else now + seconds,
        )
        self.tokens[token.value] = token
        return token

    def is_active(self, token: Token) -> bool:
        grant = self.grants.get(token.grant_id)
        return (
            not token.revoked
            and grant is not None
            and grant.revoked_at is None
            and (token.expires_at is None or _now() < token.expires_at)
        )

    def live(self, value: str, kind: TokenKind | None = None) -> Token | None:
        token = self.tokens.get(value)
        if token is None or (kind is not None and token.kind != kind):
            return None
        return token if self.is_active(token) else None

    def revoke_grant(self, grant_id: str) -> None:
        grant = self.grants.get(grant_id)
        if grant is not None and grant.revoked_at is None:
            grant.revoked_at = _now()
        for token in self.tokens.values():
            if token.grant_id == grant_id:
                token.revoked = True

    def revoke_account(self, email: str) -> int:
        """Every grant of the account, as a Workspace / Entra admin signing the user out."""
        ids = [
            g.id
            for g in self.grants.values()
            if g.email.lower() == email.lower() and g.revoked_at is None
        ]
        for grant_id in ids:
            self.revoke_grant(grant_id)
        return len(ids)

    def set_lifetimes(self, **changes: Any) -> int:
        """New lifetimes; issued tokens are shortened to them too. Returns how many were."""
        self.lifetimes = Lifetimes(**{**asdict(self.lifetimes), **changes})
        shortened = 0
        for token in self.tokens.values():
            seconds = (
                self.lifetimes.access_token_seconds
                if token.kind == "access"
                else self.lifetimes.refresh_token_seconds
            )
            if seconds is None:
                continue
            limit = token.issued_at + seconds
            if token.expires_at is None or limit < token.expires_at:
                token.expires_at = limit
                shortened += 1
        return shortened

    def token_rows(self) -> list[dict[str, Any]]:
        return [{**asdict(t), "active": self.is_active(t)} for t in self.tokens.values()]
