"""Clients that go away: reads and writes fail with ConnectionResetError, optional cancellation."""

from __future__ import annotations

import asyncio
import socket
import struct
import threading

import pytest

from webkit.http import Exchange, encode_head, status_line

WAIT = 5.0


def hang_up(c, how: str) -> None:
    """Close the client socket: ``fin`` is an orderly close, ``rst`` an abortive one."""
    if how == "rst":
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    c.close()


class Outcome:
    """What a handler saw, reported across threads."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.done = threading.Event()
        self.error: BaseException | None = None
        self.cancelled = False

    def wait(self) -> None:
        assert self.done.wait(WAIT), "the handler did not finish"


async def wait_gone(exchange: Exchange) -> None:
    # The layer offers no event for this; polling keeps the test independent of its internals.
    while not exchange.peer_gone:  # noqa: ASYNC110
        await asyncio.sleep(0.005)


async def connections_gone(server) -> int:
    for _ in range(200):
        if not server.http.connections:
            break
        await asyncio.sleep(0.01)
    return len(server.http.connections)


@pytest.mark.parametrize("how", ["fin", "rst"])
def test_disconnect_mid_body_fails_the_read(serve, how):
    outcome = Outcome()

    async def handler(exchange: Exchange) -> None:
        outcome.started.set()
        try:
            await exchange.body.read()
        except OSError as exc:
            outcome.error = exc
        finally:
            outcome.done.set()

    server = serve(handler)
    c = server.client()
    c.send(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n" + b"x" * 10)
    assert outcome.started.wait(WAIT)
    hang_up(c, how)
    outcome.wait()
    assert isinstance(outcome.error, ConnectionResetError)
    assert server.call(connections_gone(server)) == 0
    server.assert_serves()


@pytest.mark.parametrize("how", ["fin", "rst"])
def test_disconnect_mid_chunked_body_fails_iteration(serve, how):
    outcome = Outcome()
    pieces: list[bytes] = []

    async def handler(exchange: Exchange) -> None:
        try:
            async for piece in exchange.body.iter_any():
                pieces.append(piece)
                outcome.started.set()
        except OSError as exc:
            outcome.error = exc
        finally:
            outcome.done.set()

    server = serve(handler)
    c = server.client()
    c.send(b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n")
    assert outcome.started.wait(WAIT)
    hang_up(c, how)
    outcome.wait()
    assert pieces == [b"abc"]
    assert isinstance(outcome.error, ConnectionResetError)


HEAD_CHUNKED = encode_head(status_line((1, 1), 200, None), [("Transfer-Encoding", "chunked")])


async def send_whole(exchange: Exchange) -> list[str]:
    try:
        exchange.send(HEAD_CHUNKED, b"late")
    except ConnectionResetError:
        return ["send"]
    return []


async def stream(exchange: Exchange) -> list[str]:
    raised = []
    try:
        exchange.write_head(HEAD_CHUNKED, chunked=True)
    except ConnectionResetError:
        raised.append("write_head")
    try:
        exchange.write(b"late")
    except ConnectionResetError:
        raised.append("write")
    try:
        await exchange.drain()
    except ConnectionResetError:
        raised.append("drain")
    exchange.write_eof()  # ending a response nobody receives is not an error
    return raised


@pytest.mark.parametrize(
    ("answer", "expected"),
    [(send_whole, ["send"]), (stream, ["write_head", "write", "drain"])],
    ids=["send", "stream"],
)
def test_writes_after_disconnect_raise(serve, answer, expected):
    outcome = Outcome()
    raised: list[str] = []

    async def handler(exchange: Exchange) -> None:
        outcome.started.set()
        await wait_gone(exchange)
        raised.extend(await answer(exchange))
        outcome.done.set()

    server = serve(handler)
    c = server.client()
    c.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
    assert outcome.started.wait(WAIT)
    hang_up(c, "rst")
    outcome.wait()
    assert raised == expected
    assert server.call(connections_gone(server)) == 0
    server.assert_serves()


@pytest.mark.parametrize("how", ["fin", "rst"])
def test_streaming_to_a_gone_client_stops_with_connection_reset(serve, how):
    outcome = Outcome()

    async def handler(exchange: Exchange) -> None:
        exchange.write_head(
            encode_head(status_line((1, 1), 200, None), [("Transfer-Encoding", "chunked")]),
            chunked=True,
        )
        try:
            for _ in range(100_000):
                exchange.write(b"x" * 4096)
                await exchange.drain()
                outcome.started.set()
                await asyncio.sleep(0)
        except ConnectionResetError as exc:
            outcome.error = exc
        finally:
            outcome.done.set()

    server = serve(handler)
    c = server.client()
    c.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
    assert outcome.started.wait(WAIT)
    hang_up(c, how)
    outcome.wait()
    assert isinstance(outcome.error, ConnectionResetError)
    server.assert_serves()


def test_handler_cancellation_on_disconnect(serve, handlers):
    outcome = Outcome()

    async def handler(exchange: Exchange) -> None:
        outcome.started.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            outcome.cancelled = True
            raise
        finally:
            outcome.done.set()

    server = serve(handler, handler_cancellation=True)
    c = server.client()
    c.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
    assert outcome.started.wait(WAIT)
    hang_up(c, "rst")
    outcome.wait()
    assert outcome.cancelled
    assert server.call(connections_gone(server)) == 0
    server.assert_serves()


def test_without_handler_cancellation_the_handler_runs_on(serve, handlers):
    outcome = Outcome()

    async def handler(exchange: Exchange) -> None:
        outcome.started.set()
        try:
            await wait_gone(exchange)
            await asyncio.sleep(0.05)  # not cancelled: it carries on after the disconnect
            handlers.respond(exchange, body=b"nobody listens")
        except ConnectionResetError as exc:
            outcome.error = exc
        finally:
            outcome.done.set()

    server = serve(handler)
    c = server.client()
    c.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
    assert outcome.started.wait(WAIT)
    hang_up(c, "rst")
    outcome.wait()
    assert isinstance(outcome.error, ConnectionResetError)


def test_disconnect_with_pipelined_requests_waiting(serve, handlers):
    started: list[str] = []
    outcome = Outcome()

    async def handler(exchange: Exchange) -> None:
        started.append(exchange.target)
        outcome.started.set()
        await wait_gone(exchange)
        outcome.done.set()

    server = serve(handler)
    c = server.client()
    c.send(b"".join(b"GET /%d HTTP/1.1\r\nHost: t\r\n\r\n" % i for i in range(3)))
    assert outcome.started.wait(WAIT)
    hang_up(c, "rst")
    outcome.wait()
    assert server.call(connections_gone(server)) == 0
    assert started == ["/0"]  # the queued requests of a gone client are dropped
