"""The authorization endpoint and its consent page (RFC 6749 §4.1 with RFC 7636 PKCE).

A request the simulator cannot trust to send back (unknown client, a redirect URI that is not
registered exactly, an unknown tenant) gets an error page, never a redirect. Everything else
answers at the redirect URI with ``state`` echoed: a code after Allow, ``access_denied`` after
Cancel, or the request's error.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from outbound.simulators.oauth.context import Context
from outbound.simulators.oauth.pages import consent_page, error_page
from outbound.simulators.oauth.store import Client, OAuthError

CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43}")  # base64url(SHA-256), unpadded


def with_query(url: str, params: dict[str, Any]) -> str:
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    query += [(k, str(v)) for k, v in params.items() if v is not None]
    return urlunsplit(parts._replace(query=urlencode(query)))


def add_authorize_routes(api: FastAPI, ctx: Context) -> None:
    provider = ctx.provider
    consent_path = provider.authorize_path + "/consent"

    def page(status: int, error: str, description: str) -> HTMLResponse:
        return HTMLResponse(error_page(provider.title, status, error, description), status)

    def back(redirect_uri: str, state: str | None, **params: Any) -> RedirectResponse:
        return RedirectResponse(with_query(redirect_uri, {**params, "state": state}), 302)

    def client_and_redirect(
        request: Request, client_id: str, redirect_uri: str | None
    ) -> Client | HTMLResponse:
        try:
            ctx.check_tenant(request.path_params.get("tenant"))
        except OAuthError as exc:
            return page(400, exc.error, exc.description)
        client = ctx.store.clients.get(client_id)
        if client is None:
            return page(401, "invalid_client", "The OAuth client was not found.")
        if redirect_uri not in client.redirect_uris:
            return page(
                400,
                "redirect_uri_mismatch",
                f"The redirect URI in the request, {redirect_uri}, does not match the ones "
                "authorized for the OAuth client.",
            )
        return client

    @api.get(provider.authorize_path, response_model=None)
    async def authorize(request: Request) -> Response:
        q = request.query_params
        ctx.store.stats["authorize"] += 1
        redirect_uri = q.get("redirect_uri")
        client = client_and_redirect(request, q.get("client_id", ""), redirect_uri)
        if not isinstance(client, Client):
            return client
        assert redirect_uri is not None
        state = q.get("state")
        if q.get("response_type") != "code":
            return back(redirect_uri, state, error="unsupported_response_type")
        challenge, method = q.get("code_challenge"), q.get("code_challenge_method", "plain")
        if not challenge or method != "S256" or not CHALLENGE.fullmatch(challenge):
            return back(
                redirect_uri,
                state,
                error="invalid_request",
                error_description="PKCE is required: code_challenge with "
                "code_challenge_method=S256 (plain is refused)",
            )
        scope = " ".join(q.get("scope", "").split())
        if not scope:
            return back(redirect_uri, state, error="invalid_scope", error_description="no scope")
        pending = ctx.store.begin(
            client_id=client.client_id,
            redirect_uri=redirect_uri,
            scope=scope,
            state=state,
            code_challenge=challenge,
            nonce=q.get("nonce"),
            login_hint=q.get("login_hint"),
            access_type=q.get("access_type"),
            prompt=q.get("prompt"),
        )
        accounts = list(ctx.store.accounts.values())
        hinted = ctx.store.account(pending.login_hint or "")
        chosen = hinted or (accounts[0] if len(accounts) == 1 else None)
        action = provider.path(consent_path, request.path_params.get("tenant"))
        return HTMLResponse(
            consent_page(
                provider.title, client.name, action, pending.id, accounts, chosen, scope.split()
            )
        )

    @api.post(consent_path, response_model=None)
    async def consent(request: Request) -> Response:
        form = await request.form()
        try:
            pending = ctx.store.take_request(str(form.get("request_id", "")))
        except OAuthError as exc:
            return page(400, exc.error, exc.description)
        if form.get("action") != "allow":
            ctx.store.stats["consent:cancel"] += 1
            return back(
                pending.redirect_uri,
                pending.state,
                error="access_denied",
                error_description="The user declined to consent to access the app.",
            )
        account = ctx.store.account(str(form.get("account", "")))
        if account is None:
            return page(400, "invalid_request", "Choose an account to sign in with.")
        first = not ctx.store.has_live_refresh_token(pending.client_id, account.email)
        code = ctx.store.approve(
            pending,
            account.email,
            provider.code_prefix,
            with_refresh=provider.wants_refresh_token(pending, first),
        )
        ctx.store.stats["consent:allow"] += 1
        return back(pending.redirect_uri, pending.state, code=code.value, scope=pending.scope)
