"""Handlers that fail: exceptions, no answer, failures mid-response. The server goes on."""

from __future__ import annotations

import asyncio
import logging

import pytest

from webkit.http import Exchange, encode_head, status_line

GET = b"GET %s HTTP/1.1\r\nHost: t\r\n\r\n"


def claim_errors(server, count: int) -> list[logging.LogRecord]:
    """Take the error records the test expects the layer to have logged."""
    records = server.errors(logging.ERROR)
    assert len(records) == count, [r.getMessage() for r in records]
    server.log.records.clear()
    return records


def test_handler_exception_is_answered_500_without_details(serve, handlers):
    server = serve(handlers.boom)
    c = server.client()
    c.send(GET % b"/")
    resp = c.expect_error(500)
    for secret in (b"secret-internal-detail", b"Traceback", b"RuntimeError", b"conftest"):
        assert secret not in resp.head + resp.body
    server.call(asyncio.sleep(0))
    (record,) = claim_errors(server, 1)
    assert record.getMessage() == "Unhandled error in request handler"
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], RuntimeError)
    server.assert_serves()


def test_server_keeps_serving_after_handler_exceptions(serve, handlers):
    async def handler(exchange: Exchange) -> None:
        if exchange.target == "/boom":
            await handlers.boom(exchange)
        await handlers.ok(exchange)

    server = serve(handler)
    for _ in range(5):
        c = server.client()
        c.send(GET % b"/boom")
        c.expect_error(500)
        c = server.client()
        c.send(GET % b"/fine")
        assert c.read_response().body == b"ok"
    server.call(asyncio.sleep(0))
    claim_errors(server, 5)


def test_handler_returning_without_an_answer_is_500(serve, handlers):
    server = serve(handlers.silent)
    c = server.client()
    c.send(GET % b"/")
    resp = c.expect_error(500)
    assert b"without a response" in resp.body
    server.assert_serves()


def test_handler_cancelling_itself_is_500(serve):
    async def handler(exchange: Exchange) -> None:
        raise asyncio.CancelledError

    server = serve(handler)
    c = server.client()
    c.send(GET % b"/")
    c.expect_error(500)
    server.assert_serves()


def test_failure_after_the_head_cuts_the_response_short(serve, handlers):
    async def handler(exchange: Exchange) -> None:
        exchange.write_head(
            encode_head(status_line((1, 1), 200, None), [("Transfer-Encoding", "chunked")]),
            chunked=True,
        )
        exchange.write(b"partial")
        await exchange.drain()
        raise RuntimeError("secret-internal-detail")

    server = serve(handler)
    c = server.client()
    c.send(GET % b"/")
    # No 500 can follow a started response: the client learns of the failure from a body
    # that ends without its last chunk.
    with pytest.raises(EOFError):
        c.read_response()
    assert b"secret" not in c.buf
    server.call(asyncio.sleep(0))
    claim_errors(server, 1)
    server.assert_serves()


def test_failure_after_a_complete_answer_keeps_the_connection(serve, handlers):
    async def handler(exchange: Exchange) -> None:
        handlers.respond(exchange, body=b"done")
        raise RuntimeError("after the fact")

    server = serve(handler)
    c = server.client()
    c.send(GET % b"/1")
    assert c.read_response().body == b"done"
    c.send(GET % b"/2")
    assert c.read_response().body == b"done"
    server.call(asyncio.sleep(0))
    claim_errors(server, 2)


def test_failing_request_in_a_pipeline(serve, handlers):
    async def handler(exchange: Exchange) -> None:
        if exchange.target == "/2":
            raise RuntimeError("secret-internal-detail")
        await handlers.info(exchange)

    server = serve(handler)
    c = server.client()
    c.send(GET % b"/1" + GET % b"/2" + GET % b"/3")
    assert c.read_response().json()["target"] == "/1"
    c.expect_error(500)
    server.call(asyncio.sleep(0))
    claim_errors(server, 1)
    server.assert_serves()


def test_invalid_head_from_the_handler_is_refused_before_writing(serve):
    errors: list[str] = []

    async def handler(exchange: Exchange) -> None:
        try:
            encode_head(status_line((1, 1), 200, None), [("X-Evil", "a\r\nSet-Cookie: x=1")])
        except ValueError as exc:
            errors.append(str(exc))
        exchange.send(encode_head(status_line((1, 1), 200, None), [("Content-Length", "0")]))

    server = serve(handler)
    resp = server.request(GET % b"/")
    assert resp.status == 200
    assert resp.all("Set-Cookie") == []
    assert len(errors) == 1
    assert "X-Evil" in errors[0]


def test_silent_handler_before_a_malformed_request(serve, handlers):
    async def handler(exchange: Exchange) -> None:
        await asyncio.sleep(0.05)  # the malformed request behind it is parsed meanwhile

    server = serve(handler)
    c = server.client()
    c.send(GET % b"/1" + b"GET /2 HTTP/1.1\r\nHost: t\r\nBad Name: 1\r\n\r\n")
    # The first request gets its own answer, not the error meant for the second.
    assert b"without a response" in c.expect_error(500).body
    server.assert_serves()
