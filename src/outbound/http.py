"""The one place that imports the HTTP client library, so a swap (httpx → httpx2) is one line."""

from __future__ import annotations

import httpx
from httpx import (
    AsyncClient,
    AsyncHTTPTransport,
    Request,
    Response,
    TimeoutException,
    TransportError,
)

__all__ = [
    "AsyncClient",
    "Request",
    "Response",
    "TimeoutException",
    "TransportError",
    "build_client",
]


def build_client(
    timeout: float = 10.0, transport: httpx.AsyncBaseTransport | None = None
) -> AsyncClient:
    # Several hundred requests may be in flight from one worker; keep connections pooled.
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=100)
    return AsyncClient(
        timeout=timeout,
        limits=limits,
        transport=transport or AsyncHTTPTransport(retries=0, limits=limits),
    )
