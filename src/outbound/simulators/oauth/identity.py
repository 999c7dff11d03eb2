"""OpenID Connect: the discovery document, the signing keys and the userinfo endpoint."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from outbound.simulators.oauth.context import Context
from outbound.simulators.oauth.store import OAuthError


def add_identity_routes(api: FastAPI, ctx: Context) -> None:
    provider = ctx.provider

    async def discovery(request: Request) -> JSONResponse:
        tenant = request.path_params.get("tenant")
        if tenant is not None and not provider.tenant_ok(tenant):
            return ctx.error(OAuthError("invalid_tenant", f"Tenant '{tenant}' not found.", 400))
        return JSONResponse(provider.discovery(ctx.base(request), tenant))

    for path in provider.discovery_paths:
        api.add_api_route(path, discovery, methods=["GET"])

    @api.get(provider.jwks_path)
    async def jwks() -> dict[str, Any]:
        return ctx.signer.jwks()

    @api.api_route(provider.userinfo_path, methods=["GET", "POST"])
    async def userinfo(request: Request) -> JSONResponse:
        ctx.store.stats["userinfo"] += 1
        try:
            token = ctx.bearer(request)
        except OAuthError as exc:
            return JSONResponse(
                {"error": exc.error, "error_description": exc.description},
                401,
                headers={"WWW-Authenticate": f'Bearer error="{exc.error}"'},
            )
        account = ctx.store.account(token.email)
        if account is None:  # removed by admin since: the token is as good as revoked
            return JSONResponse({"error": "invalid_token"}, 401)
        return JSONResponse(provider.userinfo(account, set(token.scope.split())))
