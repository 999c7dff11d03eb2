"""The OAuth 2.0 client side of a mail provider (issue 18), on Authlib's httpx client: the
authorization URL with PKCE (S256) and state, the code exchange, refreshing, and the person's
address from the ID token (verified against the provider's published keys).

The address comes from the ID token, not the userinfo endpoint: Microsoft's userinfo lives on
Graph, and the access token Outbound holds is for Outlook's SMTP and IMAP, which Graph refuses.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx
from authlib.common.security import generate_token
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.httpx_client import OAuth2Client
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from outbound.domain.mail_providers import OAuthMailProvider

TIMEOUT = 20.0


class OAuthFailure(Exception):
    """The provider could not be reached or answered something unusable (retry later)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class GrantRevoked(OAuthFailure):
    """The refresh token no longer works (revoked, expired, password changed): only the person
    can fix it, by connecting the mailbox again."""


@dataclass(frozen=True)
class Tokens:
    access_token: str
    expires_at: float  # epoch seconds
    refresh_token: str | None  # None: the provider kept the one we hold
    id_token: str | None = None


@dataclass(frozen=True)
class Identity:
    email: str
    name: str


def new_state() -> str:
    return generate_token(40)


def new_verifier() -> str:
    return generate_token(64)  # RFC 7636: 43-128 characters


class OAuthApp:
    """One provider as configured on this server: its discovery document is fetched once."""

    def __init__(
        self,
        provider: OAuthMailProvider,
        client_id: str,
        client_secret: str,
        discovery_url: str,
        redirect_uri: str,
    ) -> None:
        self.provider = provider
        self.client_id = client_id
        self.client_secret = client_secret
        self.discovery_url = discovery_url
        self.redirect_uri = redirect_uri
        self._metadata: dict[str, Any] | None = None

    def _client(self) -> OAuth2Client:
        return OAuth2Client(
            self.client_id,
            self.client_secret,
            scope=self.provider.scope,
            redirect_uri=self.redirect_uri,
            code_challenge_method="S256",
            timeout=TIMEOUT,
        )

    def metadata(self) -> dict[str, Any]:
        if self._metadata is None:
            try:
                answer = httpx.get(self.discovery_url, timeout=TIMEOUT)
                answer.raise_for_status()
                self._metadata = dict(answer.json())
            except (httpx.HTTPError, ValueError) as exc:
                raise OAuthFailure(f"cannot reach {self.provider.title}: {exc}") from exc
        return self._metadata

    def authorization_url(self, state: str, verifier: str) -> str:
        with self._client() as client:
            url, _ = client.create_authorization_url(
                self.metadata()["authorization_endpoint"],
                state=state,
                code_verifier=verifier,
                **self.provider.authorize_params,
            )
        return str(url)

    def exchange(self, code: str, verifier: str) -> Tokens:
        return self._token_call(grant_type="authorization_code", code=code, code_verifier=verifier)

    def refresh(self, refresh_token: str) -> Tokens:
        return self._token_call(grant_type="refresh_token", refresh_token=refresh_token)

    def _token_call(self, **body: str) -> Tokens:
        endpoint = self.metadata()["token_endpoint"]
        try:
            with self._client() as client:
                if body["grant_type"] == "refresh_token":
                    token = client.refresh_token(endpoint, refresh_token=body["refresh_token"])
                else:
                    token = client.fetch_token(endpoint, **body)
        except OAuthError as exc:
            words = exc.description or exc.error
            if exc.error in ("invalid_grant", "unauthorized_client", "invalid_client"):
                raise GrantRevoked(f"{self.provider.title} refused: {words}") from exc
            raise OAuthFailure(f"{self.provider.title} answered: {words}") from exc
        except (httpx.HTTPError, ValueError) as exc:
            raise OAuthFailure(f"cannot reach {self.provider.title}: {exc}") from exc
        expires_in = float(token.get("expires_in") or 3600)
        return Tokens(
            access_token=str(token["access_token"]),
            expires_at=time.time() + expires_in,
            refresh_token=token.get("refresh_token"),
            id_token=token.get("id_token"),
        )

    def identity(self, id_token: str | None) -> Identity:
        """The person's address and name from the ID token, its signature and audience
        checked against the provider's keys."""
        if not id_token:
            raise OAuthFailure(f"{self.provider.title} sent no ID token: is 'openid' allowed?")
        try:
            keys = httpx.get(self.metadata()["jwks_uri"], timeout=TIMEOUT).json()
            token = jwt.decode(id_token, KeySet.import_key_set(keys))
        except (httpx.HTTPError, ValueError, JoseError) as exc:
            raise OAuthFailure(f"{self.provider.title}'s ID token does not verify: {exc}") from exc
        claims = token.claims
        if claims.get("aud") != self.client_id or float(claims.get("exp", 0)) < time.time():
            raise OAuthFailure(f"{self.provider.title}'s ID token is not for this server")
        email = str(claims.get("email") or claims.get("preferred_username") or "")
        if "@" not in email:
            raise OAuthFailure(f"{self.provider.title} did not say which address this is")
        return Identity(email.lower(), str(claims.get("name") or ""))


def s256_challenge(verifier: str) -> str:
    return str(create_s256_code_challenge(verifier))
