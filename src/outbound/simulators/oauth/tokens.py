"""The token endpoint (authorization_code and refresh_token grants), revocation (RFC 7009, Google
only: Microsoft has none) and introspection (RFC 7662, the simulator's own, for mail servers)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from outbound.simulators.oauth.context import NO_STORE, Context
from outbound.simulators.oauth.store import Client, OAuthError, TokenKind


def add_token_routes(api: FastAPI, ctx: Context) -> None:
    provider = ctx.provider

    def code_grant(request: Request, client: Client, form: Any) -> dict[str, Any]:
        store = ctx.store
        code = store.redeem(
            str(form.get("code", "")),
            client,
            form.get("redirect_uri"),
            str(form.get("code_verifier", "")),
        )
        grant = store.new_grant(
            client.client_id, code.email, code.request.scope, code.request.nonce
        )
        code.grant_id = grant.id
        refresh = (
            store.mint(grant, "refresh", provider.refresh_prefix) if code.with_refresh else None
        )
        return ctx.token_response(request, grant, refresh=refresh)

    def refresh_grant(request: Request, client: Client, form: Any) -> dict[str, Any]:
        store = ctx.store
        old = store.tokens.get(str(form.get("refresh_token", "")))
        if old is None or old.kind != "refresh" or old.client_id != client.client_id:
            raise OAuthError("invalid_grant", "The refresh token is not valid.", reason="bad_code")
        if not store.is_active(old):
            raise OAuthError(
                "invalid_grant", "Token has been expired or revoked.", reason="grant_revoked"
            )
        grant = store.grants[old.grant_id]
        scope = form.get("scope")
        if scope is not None and not set(str(scope).split()) <= set(grant.scope.split()):
            raise OAuthError("invalid_scope", "The scope asked for exceeds the grant.")
        refresh = None
        if store.rotate_refresh_tokens:  # the old one stops working: keep the new one
            old.revoked = True
            refresh = store.mint(grant, "refresh", provider.refresh_prefix)
        return ctx.token_response(
            request, grant, refresh=refresh, scope=" ".join(str(scope).split()) if scope else None
        )

    @api.post(provider.token_path)
    async def token(request: Request) -> JSONResponse:
        form = await request.form()
        grant_type = str(form.get("grant_type", ""))
        ctx.store.stats[f"token:{grant_type or 'none'}"] += 1
        try:
            ctx.check_tenant(request.path_params.get("tenant"))
            client = ctx.client_auth(request, form)
            if grant_type == "authorization_code":
                body = code_grant(request, client, form)
            elif grant_type == "refresh_token":
                body = refresh_grant(request, client, form)
            else:
                raise OAuthError("unsupported_grant_type", f"grant_type {grant_type!r}")
        except OAuthError as exc:
            ctx.store.stats[f"token:{grant_type or 'none'}:{exc.error}"] += 1
            basic = request.headers.get("authorization", "").lower().startswith("basic")
            challenge = {"WWW-Authenticate": 'Basic realm="token"'} if exc.status == 401 else {}
            return ctx.error(exc, challenge if basic else {})
        return JSONResponse(body, headers=NO_STORE)

    if provider.revoke_path is not None:

        @api.post(provider.revoke_path)
        async def revoke(request: Request) -> JSONResponse:
            """Google: no client auth; either token of a grant revokes the whole grant."""
            form = await request.form()
            value = str(form.get("token") or request.query_params.get("token") or "")
            ctx.store.stats["revoke"] += 1
            token = ctx.store.live(value)
            if token is None:
                return JSONResponse(
                    {"error": "invalid_token", "error_description": "Token expired or revoked"},
                    400,
                )
            ctx.store.revoke_grant(token.grant_id)
            return JSONResponse({})

    @api.post(provider.introspect_path)
    async def introspect(request: Request) -> JSONResponse:
        """RFC 7662 for a resource server (the test mail servers): any registered client's
        credentials, by Basic (e.g. in Dovecot's introspection_url) or in the form.

        Only access tokens are active, unless ``token_type_hint=refresh_token`` asks about a
        refresh token: a mail server must not take a refresh token for a bearer token, and
        Dovecot's passdb cannot check ``token_type`` itself."""
        form = await request.form()
        ctx.store.stats["introspect"] += 1
        try:
            ctx.client_auth(request, form)
        except OAuthError as exc:
            return ctx.error(exc, {"WWW-Authenticate": 'Basic realm="introspect"'})
        kind: TokenKind = "refresh" if form.get("token_type_hint") == "refresh_token" else "access"
        token = ctx.store.live(str(form.get("token", "")), kind)
        if token is None:
            return JSONResponse({"active": False}, headers=NO_STORE)
        account = ctx.store.account(token.email)
        body: dict[str, Any] = {
            "active": True,
            "scope": token.scope,
            "client_id": token.client_id,
            "username": token.email,
            "email": token.email,
            "sub": account.sub if account else "",
            "iat": int(token.issued_at),
            "iss": provider.issuer(ctx.base(request)),
            "token_type": "Bearer" if token.kind == "access" else "refresh_token",
        }
        if token.expires_at is not None:
            body["exp"] = int(token.expires_at)
        return JSONResponse(body, headers=NO_STORE)
