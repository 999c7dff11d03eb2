"""The sync worker's HTTP client pools its connections and still notices one the server has
closed (outbound/http.py's network backend, which answers that question from the socket it
remembers): a request after the server's close goes out on a fresh connection instead of
failing, and a connection still open is reused."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from outbound.http import build_client

ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok"


@contextmanager
def http_server(close_after_answer: bool) -> Iterator[tuple[str, list[int]]]:
    """A bare HTTP/1.1 server announcing keep-alive (so the client pools the connection) that
    either closes each connection after one answer or keeps it; it counts connections."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(0.2)
    accepted: list[int] = []
    stop = threading.Event()

    def answer(conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5)
            while conn.recv(65536):
                conn.sendall(ANSWER)
                if close_after_answer:
                    return

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            accepted.append(1)
            threading.Thread(target=answer, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/", accepted
    finally:
        stop.set()
        thread.join(5)
        listener.close()


async def three_requests(url: str) -> list[int]:
    async with build_client(timeout=5) as client:
        codes = []
        for _ in range(3):
            codes.append((await client.get(url)).status_code)
            await asyncio.sleep(0.2)  # a server's close has reached this side by then
        return codes


def test_a_connection_the_server_closed_is_not_reused() -> None:
    with http_server(close_after_answer=True) as (url, accepted):
        assert asyncio.run(three_requests(url)) == [200, 200, 200]  # none failed
        assert len(accepted) == 3  # each on a fresh connection


def test_a_connection_still_open_is_reused() -> None:
    with http_server(close_after_answer=False) as (url, accepted):
        assert asyncio.run(three_requests(url)) == [200, 200, 200]
        assert len(accepted) == 1


def test_the_pool_uses_the_socket_keeping_backend() -> None:
    """httpx takes no network backend, so build_client sets it on httpx's pool: should a new
    httpx keep its pool elsewhere, this says so (the client would still work, more slowly)."""
    from outbound.http import SocketKeepingBackend

    client = build_client()
    pool = client._transport._pool  # type: ignore[attr-defined]
    assert isinstance(pool._network_backend, SocketKeepingBackend)
