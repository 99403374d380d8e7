"""Response writing: one-piece answers, Content-Length and chunked streaming, Date."""

from __future__ import annotations

import asyncio
import email.utils
import re
import time

import pytest

from webkit.http import Exchange, encode_head, status_line

GET = b"GET / HTTP/1.1\r\nHost: t\r\n\r\n"
IMF_FIXDATE = re.compile(
    r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug"
    r"|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT"
)


def test_one_piece_response_is_sent_byte_for_byte(serve):
    async def handler(exchange: Exchange) -> None:
        head = encode_head(
            status_line((1, 1), 201, None),
            [("Content-Length", "7"), ("X-One", "1"), ("Date", "Sun, 06 Nov 1994 08:49:37 GMT")],
        )
        exchange.send(head, b"created")

    server = serve(handler)
    c = server.client()
    c.send(GET)
    expected = (
        b"HTTP/1.1 201 Created\r\nContent-Length: 7\r\nX-One: 1\r\n"
        b"Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n\r\ncreated"
    )
    assert c.sock.recv(len(expected) + 100) == expected


def test_date_header_is_an_imf_fixdate_of_now(serve, handlers):
    server = serve(handlers.ok)
    resp = server.request(GET)
    date = resp.header("Date")
    assert date is not None
    assert IMF_FIXDATE.fullmatch(date), date
    sent = email.utils.parsedate_to_datetime(date).timestamp()
    assert abs(sent - time.time()) < 5


def test_custom_reason_phrase(serve):
    async def handler(exchange: Exchange) -> None:
        exchange.send(
            encode_head(status_line((1, 1), 299, "Fine Indeed"), [("Content-Length", "0")])
        )

    server = serve(handler)
    c = server.client()
    c.send(GET)
    assert c.read_until(b"\r\n") == b"HTTP/1.1 299 Fine Indeed\r\n"


@pytest.mark.parametrize(
    "parts",
    [
        [b"hello", b" ", b"world"],
        [b"x" * 100_000, b"y"],
        [bytes([i % 251]) * (i + 1) for i in range(50)],
    ],
    ids=["small", "large", "many"],
)
def test_chunked_streaming_frames_each_write_as_a_chunk(serve, handlers, parts):
    server = serve(handlers.streaming(parts))
    c = server.client()
    c.send(GET)
    resp = c.read_response()
    assert resp.status == 200
    assert resp.header("Transfer-Encoding") == "chunked"
    assert resp.header("Content-Length") is None
    assert resp.header("Date") is not None
    assert resp.chunks == parts
    c.send(GET)
    assert c.read_response().chunks == parts
    assert c.buf == b""


def test_chunked_framing_on_the_wire(serve, handlers):
    server = serve(handlers.streaming([b"abc", b"0123456789abcdef"]))
    c = server.client()
    c.send(GET)
    c.read_until(b"\r\n\r\n")
    assert c._take(len(b"3\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\n\r\n")) == (
        b"3\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\n\r\n"
    )
    assert c.is_open()  # nothing more arrives, and the connection stays for the next request
    assert c.buf == b""


def test_empty_writes_send_no_chunk(serve):
    async def handler(exchange: Exchange) -> None:
        exchange.write_head(
            encode_head(status_line((1, 1), 200, None), [("Transfer-Encoding", "chunked")]),
            chunked=True,
        )
        exchange.write(b"")  # an empty chunk would read as the end of the body
        exchange.write(b"data")
        exchange.write_eof(b"last")

    server = serve(handler)
    resp = server.request(GET)
    assert resp.chunks == [b"data", b"last"]


def test_content_length_streaming(serve, handlers):
    parts = [b"a" * 70_000, b"b" * 70_000, b"c"]
    server = serve(handlers.streaming(parts, chunked=False))
    c = server.client()
    c.send(GET)
    resp = c.read_response()
    assert resp.header("Content-Length") == str(140_001)
    assert resp.header("Transfer-Encoding") is None
    assert resp.body == b"".join(parts)
    c.send(GET)
    assert c.read_response().body == b"".join(parts)


def test_large_streamed_response_to_a_slow_reader_is_drained(serve):
    total = 16 * 1024 * 1024
    piece = b"z" * 65536
    peak: list[int] = []

    async def handler(exchange: Exchange) -> None:
        exchange.write_head(
            encode_head(status_line((1, 1), 200, None), [("Content-Length", str(total))]),
            chunked=False,
        )
        transport = exchange.transport
        assert transport is not None
        for _ in range(total // len(piece)):
            exchange.write(piece)
            await exchange.drain()
            peak.append(transport.get_write_buffer_size())
        exchange.write_eof()

    server = serve(handler)
    c = server.client()
    c.send(GET)
    head = c.read_until(b"\r\n\r\n")
    assert b"Content-Length: %d" % total in head
    time.sleep(0.2)  # the server fills the socket and must wait in drain()
    received = len(c.buf)
    while received < total:
        data = c.sock.recv(1 << 20)
        assert data
        received += len(data)
    assert received == total
    # drain() kept the transport's buffer near its high-water mark (64 KiB by default).
    assert max(peak) <= 64 * 1024 + len(piece)


def test_write_eof_twice_is_harmless_and_write_after_it_fails(serve):
    errors: list[str] = []

    async def handler(exchange: Exchange) -> None:
        exchange.write_head(
            encode_head(status_line((1, 1), 200, None), [("Transfer-Encoding", "chunked")]),
            chunked=True,
        )
        exchange.write_eof(b"only")
        exchange.write_eof()
        try:
            exchange.write(b"more")
        except RuntimeError as exc:
            errors.append(str(exc))
        try:
            exchange.send(b"HTTP/1.1 200 OK\r\n\r\n")
        except RuntimeError as exc:
            errors.append(str(exc))

    server = serve(handler)
    c = server.client()
    c.send(GET)
    assert c.read_response().chunks == [b"only"]
    server.call(asyncio.sleep(0))  # the handler's last steps ran after its bytes went out
    assert errors == ["the response has already ended", "the response has already been started"]


def test_drain_returns_at_once_when_not_paused(serve, handlers):
    async def handler(exchange: Exchange) -> None:
        exchange.write_head(
            encode_head(status_line((1, 1), 200, None), [("Content-Length", "2")]), chunked=False
        )
        await asyncio.wait_for(exchange.drain(), 1)
        exchange.write_eof(b"ok")

    server = serve(handler)
    assert server.request(GET).body == b"ok"
