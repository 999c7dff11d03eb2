"""The app factory: one provider (``google`` or ``microsoft``) with its seeded client and accounts.

Routes live beside this file (authorize, tokens, identity, admin); ``context.Context`` holds what
they share. Run it on a socket with ``outbound.simulators.server.ServerThread`` (tests) or
``python -m outbound.simulators.oauth`` (by hand, the demo).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from fastapi import FastAPI

from outbound.simulators.oauth.admin import add_admin_routes
from outbound.simulators.oauth.authorize import add_authorize_routes
from outbound.simulators.oauth.context import Context
from outbound.simulators.oauth.identity import add_identity_routes
from outbound.simulators.oauth.profiles import provider_for
from outbound.simulators.oauth.store import Account, Client, Lifetimes, OAuthStore
from outbound.simulators.oauth.tokens import add_token_routes

DEFAULT_CLIENT_ID = "outbound-local"
DEFAULT_CLIENT_SECRET = "outbound-local-secret"
DEFAULT_REDIRECT_URIS = (
    "http://127.0.0.1:8000/mailbox/oauth/callback",
    "http://localhost:8000/mailbox/oauth/callback",
)
DEFAULT_ACCOUNTS = (("olivia.owner@acme-staffing.test", "Olivia Owner"),)


def create_oauth_app(
    profile: str = "google",
    *,
    clients: Sequence[Client] | None = None,
    accounts: Iterable[tuple[str, str]] = DEFAULT_ACCOUNTS,
    redirect_uris: Sequence[str] = DEFAULT_REDIRECT_URIS,
    tenant_id: str | None = None,
    rotate_refresh_tokens: bool | None = None,
    access_token_seconds: float = 3599,
    public_url: str | None = None,
) -> FastAPI:
    """``clients`` defaults to one (DEFAULT_CLIENT_ID / _SECRET with ``redirect_uris``);
    ``accounts`` are (email, name) pairs; ``rotate_refresh_tokens`` defaults to the provider's
    habit (Google no, Microsoft yes); ``public_url`` fixes the issuer when behind a proxy."""
    provider = provider_for(profile, tenant_id)
    seeded_clients = list(
        clients or [Client(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, list(redirect_uris))]
    )
    seeded_accounts = list(accounts)
    rotate = (
        provider.rotates_refresh_tokens if rotate_refresh_tokens is None else rotate_refresh_tokens
    )

    def fresh_store() -> OAuthStore:
        store = OAuthStore(
            lifetimes=Lifetimes(access_token_seconds=access_token_seconds),
            rotate_refresh_tokens=rotate,
        )
        for client in seeded_clients:
            store.add_client(
                Client(
                    client.client_id, client.client_secret, list(client.redirect_uris), client.name
                )
            )
        for email, name in seeded_accounts:
            store.add_account(Account(email, name), provider.sub_of)
        return store

    api = FastAPI(
        title=f"OAuth provider simulator ({provider.title})",
        docs_url="/_admin/docs",
        openapi_url="/_admin/openapi.json",
    )
    ctx = Context(provider, fresh_store, public_url)
    add_identity_routes(api, ctx)
    add_authorize_routes(api, ctx)
    add_token_routes(api, ctx)
    add_admin_routes(api, ctx)
    api.state.oauth = ctx  # in-process tests may reach the store directly
    return api
