"""Connection lifetime: keep-alive, pipelining, HTTP/1.0, Connection: close, HEAD, half-close."""

from __future__ import annotations

import asyncio

import pytest

from webkit.http import Exchange, Limits

GET = b"GET %s HTTP/1.1\r\nHost: example.test\r\n\r\n"


def test_keep_alive_serves_several_requests_on_one_socket(serve, handlers):
    server = serve(handlers.info)
    c = server.client()
    for i in range(5):
        c.send(GET % f"/r{i}?q={i}".encode())
        resp = c.read_response()
        assert resp.status == 200
        assert resp.version == "HTTP/1.1"
        assert resp.header("Connection") is None
        info = resp.json()
        assert info["target"] == f"/r{i}?q={i}"
        assert info["method"] == "GET"
        assert info["keep_alive"] is True
    assert c.is_open()


def test_request_head_reaches_the_handler_verbatim(serve, handlers):
    server = serve(handlers.info)
    resp = server.request(
        b"PUT /a/b%20c?x=1&y=%C3%A9 HTTP/1.1\r\n"
        b"Host: example.test:8080\r\n"
        b"X-Mixed-Case:  padded value \t\r\n"
        b"x-dup: 1\r\n"
        b"X-Dup: 2\r\n"
        b"Content-Length: 4\r\n"
        b"\r\n"
        b"data"
    )
    info = resp.json()
    assert info["method"] == "PUT"
    assert info["target"] == "/a/b%20c?x=1&y=%C3%A9"
    assert info["version"] == [1, 1]
    assert info["content_length"] == 4
    assert info["body"] == "data"
    # Names keep their case and order, values lose optional whitespace (RFC 9110 §5.5).
    assert info["headers"] == [
        ["Host", "example.test:8080"],
        ["X-Mixed-Case", "padded value"],
        ["x-dup", "1"],
        ["X-Dup", "2"],
        ["Content-Length", "4"],
    ]


def test_pipelined_requests_are_answered_in_order(serve, handlers):
    async def handler(exchange: Exchange) -> None:
        # The first request is the slowest: its answer must still come first.
        delay = {"/1": 0.15, "/2": 0.05}.get(exchange.target, 0)
        await asyncio.sleep(delay)
        await handlers.info(exchange)

    server = serve(handler)
    c = server.client()
    c.send(
        GET % b"/1"
        + b"POST /2 HTTP/1.1\r\nHost: example.test\r\nContent-Length: 11\r\n\r\nhello world"
        + b"POST /3 HTTP/1.1\r\nHost: example.test\r\nTransfer-Encoding: chunked\r\n\r\n"
        + b"3\r\nabc\r\n0\r\n\r\n"
        + GET % b"/4"
    )
    answers = [c.read_response().json() for _ in range(4)]
    assert [(a["method"], a["target"], a["body"]) for a in answers] == [
        ("GET", "/1", ""),
        ("POST", "/2", "hello world"),
        ("POST", "/3", "abc"),
        ("GET", "/4", ""),
    ]
    c.send(GET % b"/5")
    assert c.read_response().json()["target"] == "/5"


def test_many_pipelined_requests_beyond_the_queue_limit(serve, handlers):
    server = serve(handlers.info, limits=Limits(max_pipelined=2))
    c = server.client()
    c.send(b"".join(GET % f"/{i}".encode() for i in range(20)))
    assert [c.read_response().json()["target"] for _ in range(20)] == [f"/{i}" for i in range(20)]
    assert c.is_open()


def test_http10_without_keep_alive_is_closed_after_the_response(serve, handlers):
    server = serve(handlers.info)
    c = server.client()
    c.send(b"GET /old HTTP/1.0\r\n\r\n")
    resp = c.read_response()
    assert resp.status == 200
    assert resp.json()["version"] == [1, 0]
    assert resp.json()["keep_alive"] is False
    assert resp.header("Connection") == "close"
    c.assert_closed()


def test_http10_with_connection_keep_alive_stays_open(serve, handlers):
    server = serve(handlers.info)
    c = server.client()
    for i in range(3):
        c.send(f"GET /{i} HTTP/1.0\r\nConnection: keep-alive\r\n\r\n".encode())
        resp = c.read_response()
        assert resp.status == 200
        assert resp.json()["target"] == f"/{i}"
        assert resp.json()["keep_alive"] is True
        assert resp.header("Connection") == "keep-alive"
    c.send(b"GET /last HTTP/1.0\r\n\r\n")
    assert c.read_response().json()["target"] == "/last"
    c.assert_closed()


@pytest.mark.parametrize("value", ["close", "Close", "keep-alive, close"])
def test_connection_close_on_http11_closes_after_the_response(serve, handlers, value):
    server = serve(handlers.info)
    c = server.client()
    c.send(f"GET / HTTP/1.1\r\nHost: t\r\nConnection: {value}\r\n\r\n".encode())
    resp = c.read_response()
    assert resp.status == 200
    assert resp.json()["keep_alive"] is False
    c.assert_closed()


def test_connection_close_in_a_pipeline_drops_what_follows(serve, handlers):
    server = serve(handlers.info)
    c = server.client()
    c.send(GET % b"/1" + b"GET /2 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n" + GET % b"/3")
    assert c.read_response().json()["target"] == "/1"
    assert c.read_response().json()["target"] == "/2"
    c.assert_closed()


def test_head_writes_no_body_but_keeps_content_length(serve, handlers):
    async def handler(exchange: Exchange) -> None:
        handlers.respond(exchange, body=b"x" * 1234)

    server = serve(handler)
    c = server.client()
    c.send(b"HEAD / HTTP/1.1\r\nHost: t\r\n\r\n")
    resp = c.read_response(head=True)
    assert resp.status == 200
    assert resp.header("Content-Length") == "1234"
    # Had body bytes been written, they would be read here as the next response's start.
    c.send(GET % b"/")
    resp = c.read_response()
    assert resp.status == 200
    assert resp.body == b"x" * 1234
    assert c.buf == b""


def test_head_of_a_streamed_response_writes_no_chunks(serve, handlers):
    server = serve(handlers.streaming([b"one", b"two"]))
    c = server.client()
    c.send(b"HEAD / HTTP/1.1\r\nHost: t\r\n\r\n" + GET % b"/")
    head = c.read_response(head=True)
    assert head.status == 200
    assert head.header("Transfer-Encoding") == "chunked"
    resp = c.read_response()
    assert resp.chunks == [b"one", b"two"]
    assert c.buf == b""


def test_half_close_still_gets_the_response(serve, handlers):
    server = serve(handlers.sleeping(0.1, b"late answer"))
    c = server.client()
    c.send(GET % b"/")
    c.shutdown_write()
    resp = c.read_response()
    assert resp.status == 200
    assert resp.body == b"late answer"
    c.assert_closed()


def test_half_close_after_pipelined_requests_answers_them_all(serve, handlers):
    server = serve(handlers.info)
    c = server.client()
    c.send(
        GET % b"/1" + b"POST /2 HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc" + GET % b"/3"
    )
    c.shutdown_write()
    assert [c.read_response().json()["target"] for _ in range(3)] == ["/1", "/2", "/3"]
    c.assert_closed()


def test_half_close_with_a_truncated_body_fails_the_read(serve, handlers):
    seen: list[BaseException] = []

    async def handler(exchange: Exchange) -> None:
        try:
            await exchange.body.read()
        except OSError as exc:
            seen.append(exc)
            handlers.respond(exchange, 400, b"truncated")

    server = serve(handler)
    c = server.client()
    c.send(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc")
    c.shutdown_write()
    resp = c.read_response()
    assert resp.status == 400
    c.assert_closed()
    assert len(seen) == 1
    assert isinstance(seen[0], ConnectionResetError)


def test_idle_connection_closed_by_peer_is_forgotten(serve, handlers):
    server = serve(handlers.ok)
    c = server.client()
    c.send(GET % b"/")
    assert c.read_response().status == 200
    c.close()
    server.clients.remove(c)

    async def count() -> int:
        for _ in range(100):
            if not server.http.connections:
                break
            await asyncio.sleep(0.01)
        return len(server.http.connections)

    assert server.call(count()) == 0
