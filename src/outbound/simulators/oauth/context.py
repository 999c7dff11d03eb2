"""What every route of the OAuth simulator shares: the store, the provider, client auth, tokens."""

from __future__ import annotations

import base64
import binascii
import secrets
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import unquote

from fastapi import Request
from fastapi.responses import JSONResponse

from outbound.simulators.oauth.idtoken import Signer
from outbound.simulators.oauth.profiles import Provider
from outbound.simulators.oauth.store import Client, Grant, OAuthError, OAuthStore, Token

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class Context:
    def __init__(
        self,
        provider: Provider,
        fresh_store: Callable[[], OAuthStore],
        public_url: str | None = None,
    ) -> None:
        self.provider = provider
        self.fresh_store = fresh_store
        self.store = fresh_store()
        self.public_url = public_url.rstrip("/") if public_url else None
        self.signer = Signer()

    def reset(self) -> None:
        self.store = self.fresh_store()

    def base(self, request: Request) -> str:
        """The simulator's own URL as the client reached it (random test ports included)."""
        return self.public_url or str(request.base_url).rstrip("/")

    def check_tenant(self, tenant: str | None) -> None:
        if not self.provider.tenant_ok(tenant):
            raise OAuthError(
                "invalid_request", f"Tenant '{tenant}' not found.", reason="unknown_tenant"
            )

    def error(self, exc: OAuthError, headers: Mapping[str, str] | None = None) -> JSONResponse:
        return JSONResponse(
            self.provider.error_body(exc), exc.status, headers={**NO_STORE, **(headers or {})}
        )

    # -- client authentication (RFC 6749 §2.3.1) -------------------------------------------
    def client_auth(self, request: Request, form: Mapping[str, Any]) -> Client:
        """client_secret_basic or client_secret_post, never both."""
        header = request.headers.get("authorization", "")
        # Empty fields count as absent: Dovecot sends Basic plus "client_id=&client_secret=".
        form_id, form_secret = form.get("client_id") or None, form.get("client_secret") or None
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "basic":
            try:
                raw = base64.b64decode(value.strip(), validate=True).decode()
            except (binascii.Error, UnicodeDecodeError) as exc:
                raise OAuthError(
                    "invalid_client", "Malformed Basic credentials.", 401, "bad_client"
                ) from exc
            cid, sep, secret = raw.partition(":")
            cid, secret = unquote(cid), unquote(secret)
            if not sep:
                raise OAuthError(
                    "invalid_client", "Malformed Basic credentials.", 401, "bad_client"
                )
            if form_secret is not None:
                raise OAuthError("invalid_request", "Use one client authentication method.")
            if form_id is not None and form_id != cid:
                raise OAuthError("invalid_request", "client_id differs from the Basic one.")
        elif form_id is not None and form_secret is not None:
            cid, secret = str(form_id), str(form_secret)
        else:
            raise OAuthError("invalid_client", "Client authentication is required.", 401)
        client = self.store.clients.get(cid)
        if client is None:
            raise OAuthError("invalid_client", "The OAuth client was not found.", 401)
        if not secrets.compare_digest(client.client_secret.encode(), secret.encode()):
            raise OAuthError("invalid_client", "Wrong client secret.", 401, "bad_client")
        return client

    # -- tokens --------------------------------------------------------------------------
    def token_response(
        self,
        request: Request,
        grant: Grant,
        *,
        refresh: Token | None,
        scope: str | None = None,
    ) -> dict[str, Any]:
        store, provider = self.store, self.provider
        access = store.mint(grant, "access", provider.access_prefix, scope)
        expires_in = max(0, int((access.expires_at or time.time()) - access.issued_at))
        body: dict[str, Any] = {
            "access_token": access.value,
            "token_type": "Bearer",
            "expires_in": expires_in,
            "scope": access.scope,
            **provider.token_extras(expires_in),
        }
        if refresh is not None:
            body["refresh_token"] = refresh.value
        granted = set(access.scope.split())
        account = store.account(grant.email)
        if "openid" in granted and account is not None:
            now = int(time.time())
            claims = {
                "iss": provider.issuer(self.base(request)),
                "aud": grant.client_id,
                "azp": grant.client_id,
                "iat": now,
                "nbf": now,
                "exp": now + 3600,
                **provider.id_token_claims(account, granted),
            }
            if grant.nonce:
                claims["nonce"] = grant.nonce
            body["id_token"] = self.signer.sign(claims)
        return body

    def bearer(self, request: Request) -> Token:
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        token = self.store.live(value.strip(), "access") if scheme.lower() == "bearer" else None
        if token is None:
            raise OAuthError(
                "invalid_token", "The access token is missing, expired or revoked.", 401
            )
        return token
