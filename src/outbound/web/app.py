"""Mount the web app (server-rendered pages, htmx vendored as a static file) on the API app."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware

from outbound.settings import Settings
from outbound.web import (
    routes_add_people,
    routes_auth,
    routes_contact_panel,
    routes_contacts,
    routes_dashboard,
    routes_integrations,
    routes_mailbox,
    routes_sequences,
)
from outbound.web.session import SignInRequired, session_key

STATIC = Path(__file__).parent / "static"


def install(app: FastAPI, settings: Settings) -> None:
    app.add_middleware(
        SessionMiddleware,
        secret_key=session_key(settings.fernet_key),
        session_cookie="outbound_session",
        same_site="lax",
        https_only=(settings.public_url or "").startswith("https://"),
        max_age=14 * 24 * 3600,
    )
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    # routes_sequences first: its /sequences/new must win over the contacts page's
    # /sequences/{sequence_id}.
    for module in (
        routes_sequences,
        routes_add_people,
        routes_auth,
        routes_contact_panel,
        routes_contacts,
        routes_dashboard,
        routes_integrations,
        routes_mailbox,
    ):
        app.include_router(module.router)

    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, _: SignInRequired) -> Response:
        if request.headers.get("HX-Request"):
            return Response(status_code=401, headers={"HX-Redirect": "/login"})
        return RedirectResponse("/login", status_code=303)
