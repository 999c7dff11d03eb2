"""Small ASGI middlewares around the whole app (REST API, web pages, tracking links):

- ``BodyLimit``: a request body larger than ``OUTBOUND_MAX_REQUEST_BYTES`` is answered 413
  before it is read. A Content-Length above the limit is refused before the app runs at all; a
  body without one (chunked) is counted as it streams in and cut off at the limit. A path with
  a control character in it (``/sync-batches/a%00b``) names nothing: 404, before any route
  hands it to the database (PostgreSQL cannot even compare text holding NUL).
- ``SecurityHeaders``: every answer says it may not be framed, sniffed or referred, with a
  Content-Security-Policy the pages satisfy (scripts and styles are local files: htmx is
  vendored; inline ``style`` attributes remain).
"""

from __future__ import annotations

import hmac
import json

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from outbound.domain.text import text_problem

# The pages: local scripts only. Inline styles are allowed (a few style="" attributes, and the
# indicator style htmx adds); images may be data: URIs.
PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; object-src 'none'"
)
# /docs: Swagger UI from this package's own files (api/static/swagger-ui), started with an
# inline script; nothing comes from elsewhere.
DOCS_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
DOCS_PATHS = ("/docs", "/redoc")
SECURITY_HEADERS = {
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "content-security-policy": PAGE_POLICY,
}


def security_headers(path: str) -> dict[str, str]:
    """The headers every answer carries (the 500 page sets them itself: it is sent outside
    the middlewares)."""
    if path.startswith(DOCS_PATHS):
        return {**SECURITY_HEADERS, "content-security-policy": DOCS_POLICY}
    return dict(SECURITY_HEADERS)


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = security_headers(scope.get("path", ""))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [
                    (name.encode(), value.encode())
                    for name, value in extra.items()
                    if name.encode() not in present
                ]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class _TooLarge(Exception):
    """Raised into the app when a streamed body passes the limit."""


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.strip().isdigit() and int(declared) > self.max_bytes:
            detail = f"the request body is larger than the limit of {self.max_bytes:,} bytes"
            await _answer(scope, send, 413, detail)  # the app never runs; the body is unread
            return
        if text_problem(scope.get("path", "")):
            await _answer(scope, send, 404, "not found")
            return

        received = 0
        cut_off = False
        started = False

        async def counted_receive() -> Message:
            nonlocal received, cut_off
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    cut_off = True
                    raise _TooLarge
            return message

        async def send_unless_cut_off(message: Message) -> None:
            nonlocal started
            if cut_off:
                return  # whatever the app makes of a body cut short: the answer is the 413
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, send_unless_cut_off)
        except Exception:
            if not cut_off:
                raise
        if cut_off and not started:
            detail = f"the request body is larger than the limit of {self.max_bytes:,} bytes"
            await _answer(scope, send, 413, detail)


async def _answer(scope: Scope, send: Send, status: int, detail: str) -> None:
    """An error in the app's words (outbound.api.errors): ErrorOut under /api/, else text."""
    if scope.get("path", "").startswith("/api/"):
        body = json.dumps({"detail": detail, "field": None}).encode()
        kind = b"application/json"
    else:
        body = (detail[:1].upper() + detail[1:] + ".").encode()
        kind = b"text/plain; charset=utf-8"
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", kind),
                (b"content-length", str(len(body)).encode()),
                # The body may be left unread: this connection cannot be reused.
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


LOOPBACK = frozenset({"127.0.0.1", "::1"})


def metrics_allowed(request: Request, token: str | None) -> bool:
    """With ``OUTBOUND_METRICS_TOKEN`` set, a scrape must bring it as a bearer token (compared
    in constant time); without one, only this host may scrape (a Prometheus beside Outbound).
    Anyone else gets a 404, as for a page that does not exist."""
    if token:
        sent = request.headers.get("authorization", "")
        return hmac.compare_digest(sent.encode(), f"Bearer {token}".encode())
    return request.client is not None and request.client.host in LOOPBACK
