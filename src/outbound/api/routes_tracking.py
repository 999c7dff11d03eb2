"""Public endpoints a recipient's mail client or browser reaches: open pixel, click redirect,
unsubscribe (a page with a button, and RFC 8058 one-click POST). No sign-in; the opaque
per-email token is the only key, and an unknown token is a plain 404."""

from __future__ import annotations

import base64
import contextlib
import html

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from outbound.api.deps import SessionDep
from outbound.domain.text import text_problem
from outbound.service import outreach
from outbound.service.errors import NotFound

router = APIRouter(tags=["tracking"], include_in_schema=False)
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
NO_STORE = {"Cache-Control": "no-store, private"}


def _token(token: str) -> str:
    """A token as Outbound makes them, or an unknown link (a NUL would reach the database)."""
    if text_problem(token):
        raise NotFound("unknown link", "token")
    return token


@router.get("/t/o/{token}.gif")
def open_pixel(token: str, session: SessionDep) -> Response:
    # Always the pixel, even for an unknown token: a broken image tells nobody anything.
    with contextlib.suppress(NotFound):
        outreach.opened(session, _token(token))
    return Response(PIXEL, media_type="image/gif", headers=NO_STORE)


@router.get("/t/c/{token}/{index}")
def click(token: str, index: int, session: SessionDep) -> RedirectResponse:
    url = outreach.clicked(session, _token(token), index)
    return RedirectResponse(url, status_code=302, headers=NO_STORE)


PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Unsubscribe</title>
<style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem}}
button{{font-size:1rem;padding:.6rem 1.2rem}}</style></head><body>{content}</body></html>"""


@router.get("/u/{token}", response_class=HTMLResponse)
def unsubscribe_page(token: str) -> HTMLResponse:
    # A GET never unsubscribes: link scanners open every URL in a message.
    form = (
        "<h1>Unsubscribe</h1><p>Stop receiving these emails?</p>"
        f'<form method="post" action="/u/{html.escape(token)}">'
        '<button type="submit">Unsubscribe</button></form>'
    )
    return HTMLResponse(PAGE.format(content=form), headers=NO_STORE)


@router.post("/u/{token}", response_class=HTMLResponse)
def unsubscribe(token: str, session: SessionDep) -> HTMLResponse:
    """Both the page's button and RFC 8058 one-click (`List-Unsubscribe=One-Click`)."""
    address = outreach.unsubscribe(session, _token(token))
    done = f"<h1>Unsubscribed</h1><p>{html.escape(address)} will not be emailed again.</p>"
    return HTMLResponse(PAGE.format(content=done), headers=NO_STORE)
