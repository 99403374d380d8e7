"""Graceful `HttpServer.shutdown`: idle connections close, in-flight requests finish."""

from __future__ import annotations

import asyncio
import threading
import time

from webkit.http import Exchange, encode_head, http_date, status_line

GET = b"GET %s HTTP/1.1\r\nHost: t\r\n\r\n"
WAIT = 5.0


async def tracked(server, count: int) -> int:
    """Wait until the server has accepted ``count`` connections (accept runs after connect)."""
    for _ in range(200):
        if len(server.http.connections) >= count:
            break
        await asyncio.sleep(0.005)
    return len(server.http.connections)


def test_idle_connections_are_closed(serve, handlers):
    server = serve(handlers.ok)
    used = [server.client() for _ in range(3)]
    for c in used:
        c.send(GET % b"/")
        assert c.read_response().status == 200
    silent = server.client()  # connected, never sent a byte
    assert server.call(tracked(server, 4)) == 4
    start = time.monotonic()
    server.call(server.http.shutdown(5.0))
    assert time.monotonic() - start < 1.0
    for c in [*used, silent]:
        c.assert_closed()
    assert server.http.connections == set()


def test_in_flight_request_completes_during_shutdown(serve, handlers):
    started = threading.Event()
    closing_seen: list[bool] = []

    async def handler(exchange: Exchange) -> None:
        started.set()
        await asyncio.sleep(0.3)
        closing_seen.append(exchange.server_closing)
        handlers.respond(exchange, body=b"finished " * 1000, close=exchange.server_closing)

    server = serve(handler)
    idle = server.client()
    busy = server.client()
    busy.send(GET % b"/")
    assert started.wait(WAIT)
    assert server.call(tracked(server, 2)) == 2
    shutdown = server.submit(server.http.shutdown(5.0))
    idle.assert_closed()  # at once, while the other request is still running
    assert not shutdown.done()
    resp = busy.read_response()
    assert resp.status == 200
    assert resp.body == b"finished " * 1000
    assert resp.header("Connection") == "close"
    busy.assert_closed()
    shutdown.result(WAIT)
    assert closing_seen == [True]
    assert server.http.connections == set()


def test_streamed_response_completes_during_shutdown(serve):
    started = threading.Event()
    parts = [b"part%d" % i for i in range(10)]

    async def handler(exchange: Exchange) -> None:
        head = encode_head(
            status_line((1, 1), 200, None),
            [("Transfer-Encoding", "chunked"), ("Date", http_date())],
        )
        exchange.write_head(head, chunked=True)
        started.set()
        for part in parts:
            await asyncio.sleep(0.02)
            exchange.write(part)
            await exchange.drain()
        exchange.write_eof()

    server = serve(handler)
    c = server.client()
    c.send(GET % b"/")
    assert started.wait(WAIT)
    shutdown = server.submit(server.http.shutdown(5.0))
    assert c.read_response().chunks == parts
    c.assert_closed()
    shutdown.result(WAIT)


def test_pipelined_requests_not_started_are_dropped(serve, handlers):
    started = threading.Event()

    async def handler(exchange: Exchange) -> None:
        started.set()
        await asyncio.sleep(0.1)
        await handlers.info(exchange)

    server = serve(handler)
    c = server.client()
    c.send(GET % b"/1" + GET % b"/2")
    assert started.wait(WAIT)
    shutdown = server.submit(server.http.shutdown(5.0))
    assert c.read_response().json()["target"] == "/1"
    # The client must retry /2 elsewhere, as after any close (RFC 9112 §9.3.1).
    c.assert_closed()
    shutdown.result(WAIT)


def test_head_in_progress_is_answered_then_closed(serve, handlers):
    server = serve(handlers.info)
    c = server.client()
    c.send(b"GET /late HTTP/1.1\r\n")
    server.call(asyncio.sleep(0.02))
    shutdown = server.submit(server.http.shutdown(5.0))
    time.sleep(0.05)
    c.send(b"Host: t\r\n\r\n")
    resp = c.read_response()
    assert resp.json()["target"] == "/late"
    assert resp.json()["keep_alive"] is False
    c.assert_closed()
    shutdown.result(WAIT)


def test_handler_over_the_timeout_is_cancelled(serve):
    started = threading.Event()
    cancelled = threading.Event()

    async def handler(exchange: Exchange) -> None:
        started.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    server = serve(handler)
    c = server.client()
    c.send(GET % b"/")
    assert started.wait(WAIT)
    start = time.monotonic()
    server.call(server.http.shutdown(0.2))
    assert time.monotonic() - start < 2.0
    assert cancelled.is_set()
    c.expect_error(503)
    assert server.http.connections == set()


def test_shutdown_without_connections_returns_at_once(serve, handlers):
    server = serve(handlers.ok)
    start = time.monotonic()
    server.call(server.http.shutdown(5.0))
    assert time.monotonic() - start < 0.5
