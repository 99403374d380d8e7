"""Request bodies: framing, the stream API, flow control and 100-continue."""

from __future__ import annotations

import asyncio
import json
import select
import socket
import threading
import time

import pytest

from webkit.http import Exchange, Limits

POST_CL = b"POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n"
POST_CHUNKED = b"POST /upload HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"


def chunked(*parts: bytes) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"


@pytest.mark.parametrize("size", [1, 10, 65_536, 1_000_000])
def test_content_length_body_is_echoed(serve, handlers, size):
    server = serve(handlers.echo)
    body = bytes(range(256)) * (size // 256) + b"z" * (size % 256)
    c = server.client()
    c.send(POST_CL % size + body)
    resp = c.read_response()
    assert resp.status == 200
    assert resp.body == body
    c.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
    assert c.read_response().status == 200


def test_empty_content_length_body(serve, handlers):
    server = serve(handlers.info)
    info = server.request(POST_CL % 0).json()
    assert info["content_length"] == 0
    assert info["body"] == ""


@pytest.mark.parametrize("piece", [1, 7, 1000])
def test_content_length_body_split_across_many_writes(serve, handlers, piece):
    server = serve(handlers.echo)
    body = b"0123456789abcdef" * 256
    c = server.client()
    c.dribble(POST_CL % len(body) + body, piece)
    assert c.read_response().body == body


@pytest.mark.parametrize(
    ("encoded", "expected"),
    [
        pytest.param(chunked(b"hello", b" world"), b"hello world", id="two-chunks"),
        pytest.param(chunked(), b"", id="empty"),
        pytest.param(b"A\r\n0123456789\r\n0\r\n\r\n", b"0123456789", id="upper-hex-size"),
        pytest.param(b"0005\r\nhello\r\n0\r\n\r\n", b"hello", id="leading-zeros"),
        pytest.param(
            b'5;name=value\r\nhello\r\n6;a=b;c="q;d"\r\n world\r\n0;last\r\n\r\n',
            b"hello world",
            id="chunk-extensions",
        ),
        pytest.param(
            b"5\r\nhello\r\n0\r\nX-Trailer: yes\r\nX-Other: 2\r\n\r\n", b"hello", id="trailers"
        ),
        pytest.param(
            chunked(*[bytes([65 + i % 26]) for i in range(2000)]),
            bytes(65 + i % 26 for i in range(2000)),
            id="2000-one-byte-chunks",
        ),
        pytest.param(chunked(b"x" * 300_000), b"x" * 300_000, id="one-big-chunk"),
    ],
)
def test_chunked_body(serve, handlers, encoded, expected):
    server = serve(handlers.info)
    c = server.client()
    c.send(POST_CHUNKED + encoded)
    info = c.read_response().json()
    assert info["body"] == expected.decode()
    assert info["content_length"] is None
    c.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
    assert c.read_response().status == 200


@pytest.mark.parametrize("piece", [1, 3, 64])
def test_chunked_body_split_across_many_writes(serve, handlers, piece):
    server = serve(handlers.echo)
    parts = [b"beta" * 100, b"g", b"\r\n0\r\n\r\n"]
    c = server.client()
    c.dribble(POST_CHUNKED + b"5;ext=1\r\nalpha\r\n" + chunked(*parts), piece)
    assert c.read_response().body == b"alpha" + b"".join(parts)


def test_body_stream_api_over_the_wire(serve, handlers):
    async def handler(exchange: Exchange) -> None:
        body = exchange.body
        report = {
            "line": (await body.readline()).decode(),
            "exactly": (await body.readexactly(4)).decode(),
            "read3": (await body.read(3)).decode(),
            "chunks": [c.decode() async for c in body.iter_chunked(5)],
            "at_eof": body.at_eof(),
            "after": (await body.read()).decode(),
        }
        handlers.respond(exchange, body=json.dumps(report).encode())

    server = serve(handler)
    c = server.client()
    c.dribble(POST_CHUNKED + chunked(b"first line\nABCD", b"xyz0123456789", b"end"), 5)
    report = c.read_response().json()
    # iter_chunked(5) yields what has arrived, at most 5 bytes at a time.
    assert all(0 < len(chunk) <= 5 for chunk in report["chunks"])
    report["chunks"] = "".join(report["chunks"])
    assert report == {
        "line": "first line\n",
        "exactly": "ABCD",
        "read3": "xyz",
        "chunks": "0123456789end",
        "at_eof": True,
        "after": "",
    }


def test_readexactly_past_the_end_raises_incomplete_read(serve, handlers):
    async def handler(exchange: Exchange) -> None:
        try:
            await exchange.body.readexactly(10)
        except asyncio.IncompleteReadError as exc:
            handlers.respond(exchange, body=b"partial=" + exc.partial)

    server = serve(handler)
    assert server.request(POST_CL % 3 + b"abc").body == b"partial=abc"


# -- flow control --------------------------------------------------------------------------

# asyncio reads at most this much from a socket at once, so a stream can overshoot its
# high-water mark by up to one read before the socket is paused.
MAX_READ = 256 * 1024
FLOW = Limits(read_high_water=64 * 1024, read_low_water=16 * 1024)


class Sender(threading.Thread):
    """Sends bytes from a thread; a ``sendall`` that blocks is how back-pressure shows."""

    def __init__(self, sock: socket.socket, data: bytes) -> None:
        super().__init__(daemon=True)
        self.sock = sock
        self.data = data
        self.error: OSError | None = None
        self.finished = threading.Event()

    def run(self) -> None:
        try:
            self.sock.sendall(self.data)
        except OSError as exc:
            self.error = exc
        finally:
            self.finished.set()


def small_send_buffer(c) -> None:
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 * 1024)


def small_receive_buffer(exchange: Exchange) -> None:
    """Keep the kernel from absorbing the body (receive buffers autotune up to tens of MiB)."""
    exchange.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)


def test_slow_reader_pauses_the_socket_and_bounds_the_buffer(serve, handlers):
    size = 8 * 1024 * 1024  # well beyond what the (small) socket buffers can absorb
    gate = asyncio.Event()
    state: dict[str, object] = {}

    async def handler(exchange: Exchange) -> None:
        small_receive_buffer(exchange)
        body = exchange.body
        state["body"] = body
        await gate.wait()
        total, peak = 0, body.buffered
        # Slow at first, then quick so the test stays short.
        while chunk := await body.read(16 * 1024):
            total += len(chunk)
            peak = max(peak, body.buffered)
            if total < 1024 * 1024:
                await asyncio.sleep(0.001)
        handlers.respond(exchange, body=json.dumps({"total": total, "peak": peak}).encode())

    server = serve(handler, limits=FLOW)
    c = server.client()
    small_send_buffer(c)
    sender = Sender(c.sock, POST_CL % size + b"\0" * size)
    sender.start()

    async def snapshot() -> tuple[int, bool]:
        body = state["body"]
        return body.buffered, body.paused  # type: ignore[attr-defined]

    # Wait until the buffer stops growing: the server stopped reading.
    deadline = time.monotonic() + 5
    last = -1
    while time.monotonic() < deadline:
        time.sleep(0.05)
        if "body" not in state:
            continue
        buffered, paused = server.call(snapshot())
        if paused and buffered == last:
            break
        last = buffered
    buffered, paused = server.call(snapshot())
    assert paused
    assert FLOW.read_high_water < buffered <= FLOW.read_high_water + MAX_READ
    assert not sender.finished.is_set(), "the client could send it all: nothing pushed back"

    server.set_event(gate)
    resp = c.read_response()
    sender.join(5)
    assert sender.error is None
    report = resp.json()
    assert report["total"] == size
    assert report["peak"] <= FLOW.read_high_water + MAX_READ
    c.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
    assert c.read_response().status == 200


def test_unread_body_is_not_buffered_and_the_connection_closes(serve, handlers):
    size = 8 * 1024 * 1024
    bodies = []

    async def handler(exchange: Exchange) -> None:
        small_receive_buffer(exchange)
        bodies.append(exchange.body)
        await asyncio.sleep(0.2)  # give the client time to push as much as it can
        handlers.respond(exchange, body=b"ignored your body")

    server = serve(handler, limits=FLOW)
    c = server.client()
    small_send_buffer(c)
    sender = Sender(c.sock, POST_CL % size + b"\0" * size)
    sender.start()
    resp = c.read_response()
    assert resp.status == 200
    assert resp.body == b"ignored your body"
    # The rest of the body is never read: the only safe thing is to close (RFC 9112 §9.3).
    c.assert_closed()
    sender.join(5)
    assert sender.finished.is_set()
    # The server lingers (RFC 9112 §9.6): it reads and drops the rest instead of resetting
    # the connection, so the client finishes sending without an error.
    assert sender.error is None
    assert bodies[0].total_bytes <= FLOW.read_high_water + MAX_READ
    server.assert_serves()


def test_unread_small_body_also_closes(serve, handlers):
    server = serve(handlers.ok)
    c = server.client()
    c.send(POST_CL % 5 + b"hel")  # part of the body is still to come
    assert c.read_response().body == b"ok"
    c.assert_closed()


def test_fully_received_but_unread_body_keeps_the_connection(serve, handlers):
    async def handler(exchange: Exchange) -> None:
        await exchange.body.wait_eof()  # the body has arrived, the handler ignores its bytes
        handlers.respond(exchange, body=b"ok")

    server = serve(handler)
    c = server.client()
    c.send(POST_CL % 5 + b"hello")
    assert c.read_response().body == b"ok"
    c.send(POST_CHUNKED + chunked(b"abc"))
    assert c.read_response().body == b"ok"
    assert c.is_open()


# -- Expect: 100-continue --------------------------------------------------------------------

EXPECT = b"POST / HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n"
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


def readable(c, wait: float) -> bool:
    return bool(c.buf) or bool(select.select([c.sock], [], [], wait)[0])


def test_100_continue_is_sent_when_the_handler_reads(serve, handlers):
    read_now = asyncio.Event()

    async def handler(exchange: Exchange) -> None:
        await read_now.wait()
        await handlers.echo(exchange)

    server = serve(handler)
    c = server.client()
    c.send(EXPECT)
    assert not readable(c, 0.1), "100 Continue before the handler asked for the body"
    server.set_event(read_now)
    assert c.read_until(b"\r\n\r\n") == CONTINUE
    c.send(b"hello")
    resp = c.read_response()
    assert resp.status == 200
    assert resp.body == b"hello"
    c.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
    assert c.read_response().status == 200


def test_100_continue_is_sent_once_for_several_reads(serve, handlers):
    async def handler(exchange: Exchange) -> None:
        first = await exchange.body.read(2)
        rest = await exchange.body.read()
        handlers.respond(exchange, body=first + b"|" + rest)

    server = serve(handler)
    c = server.client()
    c.send(EXPECT)
    assert c.read_until(b"\r\n\r\n") == CONTINUE
    c.send(b"he")
    time.sleep(0.02)
    c.send(b"llo")
    resp = c.read_response()
    assert resp.status == 200
    assert resp.body.replace(b"|", b"") == b"hello"
    assert b"100 Continue" not in resp.head


def test_no_100_continue_when_the_handler_answers_without_reading(serve, handlers):
    async def handler(exchange: Exchange) -> None:
        handlers.respond(exchange, 417, b"no thanks")

    server = serve(handler)
    c = server.client()
    c.send(EXPECT)
    resp = c.read_response()
    assert resp.status == 417
    assert resp.head.startswith(b"HTTP/1.1 417 ")
    # The body may or may not follow now; the stream position is unknown, so it closes.
    c.assert_closed()
    server.assert_serves()


def test_no_100_continue_without_a_body(serve, handlers):
    server = serve(handlers.echo)
    c = server.client()
    c.send(b"POST / HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 0\r\n\r\n")
    resp = c.read_response()
    assert resp.head.startswith(b"HTTP/1.1 200 ")
    assert resp.body == b""


def test_100_continue_with_a_chunked_body(serve, handlers):
    server = serve(handlers.echo)
    c = server.client()
    c.send(
        b"POST / HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    assert c.read_until(b"\r\n\r\n") == CONTINUE
    c.send(chunked(b"abc", b"def"))
    assert c.read_response().body == b"abcdef"


def test_readers_larger_than_the_high_water_mark_do_not_stall(serve, handlers):
    size = 1_000_000  # far over FLOW.read_high_water: the socket pauses while it arrives

    async def handler(exchange: Exchange) -> None:
        head = await exchange.body.readexactly(size // 2)
        rest = await exchange.body.read()
        handlers.respond(exchange, body=b"%d %d" % (len(head), len(rest)))

    server = serve(handler, limits=FLOW)
    c = server.client()
    c.send(POST_CL % size + b"x" * size)
    assert c.read_response().body == b"%d %d" % (size // 2, size // 2)


def test_readline_longer_than_the_high_water_mark_is_refused(serve, handlers):
    async def handler(exchange: Exchange) -> None:
        try:
            await exchange.body.readline()
        except ValueError as exc:
            handlers.respond(exchange, 413, str(exc).encode())

    server = serve(handler, limits=FLOW)
    c = server.client()
    size = 1_000_000
    sender = Sender(c.sock, POST_CL % size + b"x" * size)
    sender.start()
    resp = c.read_response()
    assert resp.status == 413
    assert resp.body.startswith(b"Chunk too big")
    c.assert_closed()
    sender.join(5)
