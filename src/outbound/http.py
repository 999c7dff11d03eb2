"""The one place that imports the HTTP client library, so a swap (httpx → httpx2) is one line.

It also gives httpcore's connection pool a network backend that answers "has the server closed
this idle connection?" cheaply. Before each request the pool asks every pooled connection
whether it has expired; for an idle HTTP/1.1 connection that asks the stream
``get_extra_info("is_readable")``, which httpcore's anyio stream answers by looking the raw
socket up through anyio's typed attributes (a dict of lambdas built on every call) before
polling it. With a worker's 30 to 200 pooled connections that look-up was 16% of the sync worker's
busy CPU (py-spy, bench.run). The backend below wraps httpcore's own anyio backend and streams
(public classes) and only remembers each connection's socket: the check is one ``poll``."""

from __future__ import annotations

import select
import socket
import ssl
from collections.abc import Iterable
from typing import Any

import httpcore
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
    return AsyncClient(timeout=timeout, limits=limits, transport=transport or _pooled(limits))


def _pooled(limits: httpx.Limits) -> AsyncHTTPTransport:
    transport = AsyncHTTPTransport(retries=0, limits=limits)
    # httpx takes no network backend; its pool (httpcore's) does: set where httpx keeps it.
    # tests/test_http_pool.py fails should a new httpx keep it elsewhere.
    pool = getattr(transport, "_pool", None)
    if isinstance(pool, httpcore.AsyncConnectionPool) and hasattr(pool, "_network_backend"):
        pool._network_backend = SocketKeepingBackend()
    return transport


class SocketKeepingBackend(httpcore.AsyncNetworkBackend):
    """httpcore's anyio backend, with streams that remember their socket."""

    def __init__(self) -> None:
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        stream = await self._inner.connect_tcp(host, port, timeout, local_address, socket_options)
        return _SocketKeepingStream(stream)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        stream = await self._inner.connect_unix_socket(path, timeout, socket_options)
        return _SocketKeepingStream(stream)

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class _SocketKeepingStream(httpcore.AsyncNetworkStream):
    def __init__(self, inner: httpcore.AsyncNetworkStream) -> None:
        self._inner = inner
        self._socket: socket.socket | None = inner.get_extra_info("socket")

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._inner.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._inner.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        tls = await self._inner.start_tls(ssl_context, server_hostname, timeout)
        return _SocketKeepingStream(tls)

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable" and self._socket is not None and hasattr(select, "poll"):
            return _readable(self._socket)
        return self._inner.get_extra_info(info)


def _readable(sock: socket.socket) -> bool:
    """Readable or closed, as httpcore's own check: an idle connection that is readable can
    only be about to read the server's end of it."""
    fd = sock.fileno()
    if fd == -1:
        return True
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(0))
