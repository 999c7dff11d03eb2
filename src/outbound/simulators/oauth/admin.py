"""/_admin: what a test (or a Workspace / Entra admin) does to the provider from outside."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, FastAPI, HTTPException, Request
from pydantic import BaseModel, Field

from outbound.simulators.oauth.context import Context
from outbound.simulators.oauth.store import Account, Client, OAuthError


class AccountIn(BaseModel):
    email: str
    name: str = ""


class ClientIn(BaseModel):
    client_id: str
    client_secret: str
    redirect_uris: list[str]
    name: str = "Outbound"


class LifetimesIn(BaseModel):
    """Seconds; a shorter lifetime also shortens the tokens already issued (0: expired now)."""

    access_token_seconds: float | None = Field(None, ge=0)
    refresh_token_seconds: float | None = Field(None, ge=0)
    code_seconds: float | None = Field(None, ge=0)


class OptionsIn(BaseModel):
    rotate_refresh_tokens: bool | None = None


class GrantIn(BaseModel):
    """Tokens for an account without the browser flow (for mail and worker tests)."""

    email: str
    client_id: str | None = None
    scope: str | None = None
    refresh_token: bool = True


def add_admin_routes(api: FastAPI, ctx: Context) -> None:
    router = APIRouter(prefix="/_admin", tags=["admin"])
    provider = ctx.provider

    @router.get("/state")
    async def state(request: Request) -> dict[str, Any]:
        base = ctx.base(request)
        return {
            "profile": provider.name,
            "tenant_id": provider.tenant_id or None,
            "discovery": base + provider.discovery_paths[-1].replace("{tenant}", "common"),
            "mail_scopes": list(provider.mail_scopes),
            "rotate_refresh_tokens": ctx.store.rotate_refresh_tokens,
            "lifetimes": asdict(ctx.store.lifetimes),
            "accounts": len(ctx.store.accounts),
            "clients": len(ctx.store.clients),
            "tokens": len(ctx.store.tokens),
        }

    @router.get("/accounts")
    async def accounts() -> list[dict[str, Any]]:
        return [asdict(a) for a in ctx.store.accounts.values()]

    @router.post("/accounts", status_code=201)
    async def add_account(body: AccountIn) -> dict[str, Any]:
        name = body.name or body.email.split("@")[0].replace(".", " ").title()
        account = ctx.store.add_account(Account(body.email, name), provider.sub_of)
        return asdict(account)

    @router.post("/accounts/{email}/revoke")
    async def revoke_account(email: str) -> dict[str, int]:
        """Every grant of the account, as an admin signing the user out everywhere."""
        if ctx.store.account(email) is None:
            raise HTTPException(404, f"no account {email}")
        return {"revoked_grants": ctx.store.revoke_account(email)}

    @router.get("/clients")
    async def clients() -> list[dict[str, Any]]:
        return [asdict(c) for c in ctx.store.clients.values()]

    @router.post("/clients", status_code=201)
    async def add_client(body: ClientIn) -> dict[str, Any]:
        return asdict(ctx.store.add_client(Client(**body.model_dump())))

    @router.get("/tokens")
    async def tokens(
        email: str | None = None, kind: str | None = None, active: bool | None = None
    ) -> list[dict[str, Any]]:
        """Every token issued, values included: tests look for them where they must not be."""
        rows = ctx.store.token_rows()
        return [
            r
            for r in rows
            if (email is None or r["email"].lower() == email.lower())
            and (kind is None or r["kind"] == kind)
            and (active is None or r["active"] == active)
        ]

    @router.get("/grants")
    async def grants() -> list[dict[str, Any]]:
        return [asdict(g) for g in ctx.store.grants.values()]

    @router.post("/grants", status_code=201)
    async def mint_grant(body: GrantIn, request: Request) -> dict[str, Any]:
        store = ctx.store
        account = store.account(body.email)
        if account is None:
            raise HTTPException(404, f"no account {body.email}")
        client_id = body.client_id or next(iter(store.clients), "")
        if client_id not in store.clients:
            raise HTTPException(404, f"no client {client_id}")
        scope = body.scope or " ".join(("openid", "email", "profile", *provider.mail_scopes))
        grant = store.new_grant(client_id, account.email, scope, None)
        refresh = (
            store.mint(grant, "refresh", provider.refresh_prefix) if body.refresh_token else None
        )
        return ctx.token_response(request, grant, refresh=refresh)

    @router.get("/token-lifetime")
    async def get_lifetimes() -> dict[str, Any]:
        return asdict(ctx.store.lifetimes)

    @router.put("/token-lifetime")
    async def put_lifetimes(body: LifetimesIn) -> dict[str, Any]:
        changes = body.model_dump(exclude_unset=True)
        if changes.get("access_token_seconds", 0) is None:
            raise HTTPException(422, "access tokens always expire")
        shortened = ctx.store.set_lifetimes(**changes)
        return {**asdict(ctx.store.lifetimes), "shortened": shortened}

    @router.get("/options")
    async def get_options() -> dict[str, Any]:
        return {"rotate_refresh_tokens": ctx.store.rotate_refresh_tokens}

    @router.put("/options")
    async def put_options(body: OptionsIn) -> dict[str, Any]:
        if body.rotate_refresh_tokens is not None:
            ctx.store.rotate_refresh_tokens = body.rotate_refresh_tokens
        return {"rotate_refresh_tokens": ctx.store.rotate_refresh_tokens}

    @router.get("/stats")
    async def stats() -> dict[str, int]:
        return dict(ctx.store.stats)

    @router.post("/reset")
    async def reset() -> dict[str, str]:
        """The seeded clients and accounts, no tokens, default lifetimes and options."""
        ctx.reset()
        return {"status": "ok"}

    api.include_router(router)

    @api.exception_handler(OAuthError)
    async def _oauth_error(request: Request, exc: OAuthError) -> Any:
        return ctx.error(exc)
