"""Malformed and ambiguous requests: the exact status, the close, and a server that goes on.

Every case is sent whole and dribbled a few bytes at a time: the answer must not depend on how
the bytes were split into reads.
"""

from __future__ import annotations

import asyncio

import pytest

from webkit.http import Exchange, ProtocolError

H = b"Host: t\r\n"


def post(fields: bytes, body: bytes = b"", version: bytes = b"1.1") -> bytes:
    return b"POST / HTTP/" + version + b"\r\n" + fields + b"\r\n" + body


def get(line: bytes = b"GET / HTTP/1.1", fields: bytes = H) -> bytes:
    return line + b"\r\n" + fields + b"\r\n"


CHUNKED = H + b"Transfer-Encoding: chunked\r\n"

MALFORMED = [
    # -- message framing (RFC 9112 §6) ---------------------------------------------------
    (
        "cl-and-te",
        post(H + b"Content-Length: 3\r\nTransfer-Encoding: chunked\r\n", b"3\r\nabc\r\n0\r\n\r\n"),
        400,
    ),
    (
        "te-and-cl",
        post(H + b"Transfer-Encoding: chunked\r\nContent-Length: 3\r\n", b"3\r\nabc\r\n0\r\n\r\n"),
        400,
    ),
    ("duplicate-cl-same", post(H + b"Content-Length: 3\r\nContent-Length: 3\r\n", b"abc"), 400),
    (
        "duplicate-cl-different",
        post(H + b"Content-Length: 3\r\nContent-Length: 4\r\n", b"abcd"),
        400,
    ),
    ("cl-list", post(H + b"Content-Length: 3, 3\r\n", b"abc"), 400),
    ("cl-negative", post(H + b"Content-Length: -3\r\n", b"abc"), 400),
    ("cl-plus-sign", post(H + b"Content-Length: +3\r\n", b"abc"), 400),
    ("cl-non-numeric", post(H + b"Content-Length: three\r\n", b"abc"), 400),
    ("cl-hex", post(H + b"Content-Length: 0x3\r\n", b"abc"), 400),
    ("cl-empty", post(H + b"Content-Length: \r\n", b"abc"), 400),
    ("cl-overflow", post(H + b"Content-Length: 99999999999999999999999\r\n", b"abc"), 400),
    ("te-gzip", post(H + b"Transfer-Encoding: gzip\r\n", b"abc"), 400),
    ("te-identity", post(H + b"Transfer-Encoding: identity\r\n", b"abc"), 400),
    ("te-chunked-gzip", post(H + b"Transfer-Encoding: chunked, gzip\r\n", b"abc"), 400),
    (
        "te-two-fields-gzip-last",
        post(H + b"Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n", b"abc"),
        400,
    ),
    (
        "te-chunked-twice",
        post(H + b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", b"0\r\n\r\n"),
        400,
    ),
    (
        "te-chunked-twice-list",
        post(H + b"Transfer-Encoding: chunked, chunked\r\n", b"0\r\n\r\n"),
        400,
    ),
    ("te-empty", post(H + b"Transfer-Encoding: \r\n", b"0\r\n\r\n"), 400),
    ("te-gzip-chunked", post(H + b"Transfer-Encoding: gzip, chunked\r\n", b"0\r\n\r\n"), 501),
    (
        "te-two-fields-chunked-last",
        post(H + b"Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n", b"0\r\n\r\n"),
        501,
    ),
    (
        "te-in-http10",
        post(b"Transfer-Encoding: chunked\r\n", b"3\r\nabc\r\n0\r\n\r\n", b"1.0"),
        400,
    ),
    # -- chunked framing (RFC 9112 §7.1) ---------------------------------------------------
    ("chunk-size-not-hex", post(CHUNKED, b"zz\r\nabc\r\n0\r\n\r\n"), 400),
    ("chunk-size-negative", post(CHUNKED, b"-1\r\nabc\r\n0\r\n\r\n"), 400),
    ("chunk-size-overflow", post(CHUNKED, b"ffffffffffffffffff\r\nabc\r\n0\r\n\r\n"), 400),
    ("chunk-size-empty", post(CHUNKED, b"\r\nabc\r\n0\r\n\r\n"), 400),
    ("chunk-size-0x", post(CHUNKED, b"0x3\r\nabc\r\n0\r\n\r\n"), 400),
    ("chunk-data-too-long", post(CHUNKED, b"3\r\nabcd\r\n0\r\n\r\n"), 400),
    ("chunk-size-bare-lf", post(CHUNKED, b"3\nabc\r\n0\r\n\r\n"), 400),
    ("chunk-data-bare-lf", post(CHUNKED, b"3\r\nabc\n0\r\n\r\n"), 400),
    ("chunk-ext-control-char", post(CHUNKED, b"3;a=\x01\r\nabc\r\n0\r\n\r\n"), 400),
    # -- request line (RFC 9112 §3) --------------------------------------------------------
    ("method-bad-char", get(b"G@T / HTTP/1.1"), 400),
    ("method-nul", get(b"G\x00T / HTTP/1.1"), 400),
    ("method-non-ascii", get("GÉT / HTTP/1.1".encode()), 400),
    ("method-unknown-token", get(b"FOO / HTTP/1.1"), 501),
    ("method-unknown-long-token", get(b"FOOBARBAZQUUX / HTTP/1.1"), 501),
    ("method-lowercase", get(b"get / HTTP/1.1"), 501),  # methods are case-sensitive (§9.1)
    ("target-control-char", get(b"GET /a\x01b HTTP/1.1"), 400),
    ("target-nul", get(b"GET /a\x00b HTTP/1.1"), 400),
    ("target-del", get(b"GET /a\x7fb HTTP/1.1"), 400),
    ("target-tab", get(b"GET /a\tb HTTP/1.1"), 400),
    ("target-space", get(b"GET /a b HTTP/1.1"), 400),
    ("target-non-ascii", get("GET /é HTTP/1.1".encode()), 400),
    ("target-missing", get(b"GET HTTP/1.1"), 400),
    # Without a version the request line is HTTP/0.9's "simple request".
    ("version-missing", get(b"GET /"), 505),
    ("version-lowercase", get(b"GET / http/1.1"), 400),
    ("version-no-dot", get(b"GET / HTTP/11"), 400),
    ("version-one-digit", get(b"GET / HTTP/1"), 400),
    ("request-line-extra", get(b"GET / HTTP/1.1 extra"), 400),
    ("request-line-bare-cr", get(b"GET / HTTP/1.1\rX"), 400),
    # -- versions (RFC 9110 §6.2, §15.6.6) ------------------------------------------------
    ("http-2.0", get(b"GET / HTTP/2.0"), 505),
    ("http-0.9", get(b"GET / HTTP/0.9"), 505),
    ("http-1.2", get(b"GET / HTTP/1.2"), 505),
    ("http-1.9", get(b"GET / HTTP/1.9"), 505),
    ("http-3.1", get(b"GET / HTTP/3.1"), 505),
    ("http-9.9", get(b"GET / HTTP/9.9"), 505),
    # -- field lines (RFC 9112 §5, RFC 9110 §5.5) -----------------------------------------
    ("name-bad-char", get(fields=H + b"X(y): 1\r\n"), 400),
    ("name-space-inside", get(fields=H + b"X y: 1\r\n"), 400),
    ("name-non-ascii", get(fields=H + "Xé: 1\r\n".encode()), 400),
    ("name-empty", get(fields=H + b": 1\r\n"), 400),
    ("name-no-colon", get(fields=H + b"NoColon\r\n"), 400),
    ("space-before-colon", get(fields=H + b"X-A : 1\r\n"), 400),
    ("tab-before-colon", get(fields=H + b"X-A\t: 1\r\n"), 400),
    ("value-control-char", get(fields=H + b"X-A: a\x01b\r\n"), 400),
    ("value-nul", get(fields=H + b"X-A: a\x00b\r\n"), 400),
    ("value-del", get(fields=H + b"X-A: a\x7fb\r\n"), 400),
    ("value-escape", get(fields=H + b"X-A: \x1b[31m\r\n"), 400),
    ("obs-fold", get(fields=H + b"X-A: a\r\n  b\r\n"), 400),
    ("obs-fold-tab", get(fields=H + b"X-A: a\r\n\tb\r\n"), 400),
    ("whitespace-before-first-field", get(fields=b" " + H), 400),
    ("bare-cr-in-value", get(fields=H + b"X-A: a\rb\r\n"), 400),
    ("bare-cr-line-end", get(fields=H + b"X-A: a\r\r\n"), 400),
    ("bare-lf-everywhere", b"GET / HTTP/1.1\nHost: t\nX-A: a\n\n", 400),
    ("bare-lf-field", get(fields=b"Host: t\nX-A: a\r\n"), 400),
    ("bare-lf-end-of-head", b"GET / HTTP/1.1\r\nHost: t\r\n\n", 400),
    # -- Host (RFC 9112 §3.2) ------------------------------------------------------------
    ("host-missing", get(fields=b""), 400),
    ("host-missing-with-other-fields", get(fields=b"X-A: 1\r\n"), 400),
    ("host-twice", get(fields=b"Host: a\r\nHost: b\r\n"), 400),
    ("host-twice-same", get(fields=b"Host: a\r\nHost: a\r\n"), 400),
    ("host-twice-case", get(fields=b"Host: a\r\nhOST: a\r\n"), 400),
]


@pytest.fixture(params=["whole", "dribbled"])
def how(request):
    return request.param


def send(c, data: bytes, how: str) -> None:
    if how == "whole":
        c.send(data)
    else:
        c.dribble(data, 3)


@pytest.mark.parametrize(("data", "status"), [pytest.param(d, s, id=i) for i, d, s in MALFORMED])
def test_malformed_request(serve, handlers, how, data, status):
    server = serve(handlers.info)
    c = server.client()
    send(c, data, how)
    c.expect_error(status)
    server.assert_serves()


ACCEPTED = [
    ("http10-without-host", b"GET / HTTP/1.0\r\n\r\n", "/"),
    ("empty-host", get(fields=b"Host:\r\n"), "/"),
    ("obs-text-in-value", get(fields=H + b"X-A: caf\xe9 \xff\r\n"), "/"),
    ("leading-empty-lines", b"\r\n\r\n" + get(b"GET /lead HTTP/1.1"), "/lead"),
    ("te-case-insensitive", post(H + b"Transfer-Encoding: Chunked\r\n", b"0\r\n\r\n"), "/"),
    ("te-with-spaces", post(H + b"Transfer-Encoding:  chunked \r\n", b"0\r\n\r\n"), "/"),
    ("known-webdav-method", get(b"PROPFIND /dav HTTP/1.1"), "/dav"),
    ("absolute-form", get(b"GET http://t/abs?q HTTP/1.1"), "http://t/abs?q"),
    ("asterisk-form", get(b"OPTIONS * HTTP/1.1"), "*"),
    ("percent-encoded-target", get(b"GET /%E2%82%AC%20x HTTP/1.1"), "/%E2%82%AC%20x"),
    ("cl-leading-zeros", post(H + b"Content-Length: 003\r\n", b"abc"), "/"),
    ("value-tab-inside", get(fields=H + b"X-A: a\tb\r\n"), "/"),
]


@pytest.mark.parametrize(("data", "target"), [pytest.param(d, t, id=i) for i, d, t in ACCEPTED])
def test_accepted_edge_cases(serve, handlers, how, data, target):
    server = serve(handlers.info)
    c = server.client()
    send(c, data, how)
    resp = c.read_response()
    assert resp.status == 200, resp
    assert resp.json()["target"] == target


def test_http10_error_answer_and_version(serve, handlers):
    server = serve(handlers.info)
    c = server.client()
    c.send(b"GET / HTTP/1.0\r\nX(y): 1\r\n\r\n")
    resp = c.expect_error(400)
    assert resp.version == "HTTP/1.1"
    assert int(resp.header("Content-Length") or -1) == len(resp.body)
    assert resp.header("Date")
    server.assert_serves()


@pytest.mark.parametrize(
    ("bad", "status"),
    [
        (get(fields=H + b"X(y): 1\r\n"), 400),
        (get(b"G@T / HTTP/1.1"), 400),
        (get(b"GET / HTTP/2.0"), 505),
        (get(fields=b""), 400),
        (post(H + b"Content-Length: 1\r\nContent-Length: 2\r\n", b"ab"), 400),
        (post(CHUNKED, b"3\r\nabc\r\nzz\r\n"), 400),
    ],
    ids=["bad-field", "bad-method", "version", "no-host", "two-cl", "bad-chunk"],
)
@pytest.mark.parametrize("first_is_slow", [False, True], ids=["fast", "slow"])
def test_valid_requests_before_a_malformed_one_are_answered_first(
    serve, handlers, bad, status, first_is_slow
):
    async def handler(exchange: Exchange) -> None:
        if first_is_slow and exchange.target == "/1":
            await asyncio.sleep(0.1)
        await handlers.info(exchange)

    server = serve(handler)
    c = server.client()
    c.send(
        b"GET /1 HTTP/1.1\r\nHost: t\r\n\r\n"
        + b"POST /2 HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello"
        + bad
        + b"GET /never HTTP/1.1\r\nHost: t\r\n\r\n"
    )
    assert c.read_response().json()["target"] == "/1"
    second = c.read_response().json()
    assert (second["target"], second["body"]) == ("/2", "hello")
    c.expect_error(status)
    server.assert_serves()


def test_malformed_request_after_an_answered_one(serve, handlers):
    server = serve(handlers.info)
    c = server.client()
    c.send(b"GET /1 HTTP/1.1\r\nHost: t\r\n\r\n")
    assert c.read_response().status == 200
    c.send(b"GET /2 HTTP/1.1\r\nHost: t\r\nBad Name: 1\r\n\r\n")
    c.expect_error(400)
    server.assert_serves()


def test_unknown_method_split_across_reads_is_named(serve, handlers):
    server = serve(handlers.info)
    c = server.client()
    c.send(b"PROPFI")  # a prefix of a method llhttp knows, so the error comes with the next read
    server.call(asyncio.sleep(0.05))
    c.send(b"X / HTTP/1.1\r\nHost: t\r\n\r\n")
    assert b"'PROPFIX'" in c.expect_error(501).body
    server.assert_serves()


def test_bad_chunk_while_the_handler_is_not_reading(serve, handlers):
    server = serve(handlers.ok)
    c = server.client()
    c.send(post(CHUNKED, b"3\r\nabc\r\nzz\r\n"))
    # The handler answered without the body; its broken framing still ends the connection.
    resp = c.read_response()
    assert (resp.status, resp.body) == (200, b"ok")
    c.assert_closed()
    server.assert_serves()


def test_bad_chunk_caught_by_the_handler(serve, handlers):
    seen: list[ProtocolError] = []

    async def handler(exchange: Exchange) -> None:
        try:
            await exchange.body.read()
        except ProtocolError as exc:
            seen.append(exc)
            handlers.respond(exchange, 422, b"handled", close=True)

    server = serve(handler)
    c = server.client()
    c.send(post(CHUNKED, b"3\r\nabc\r\n"))
    server.call(asyncio.sleep(0.05))
    c.send(b"zz\r\n")
    resp = c.read_response()
    assert (resp.status, resp.body) == (422, b"handled")
    c.assert_closed()
    assert [exc.status for exc in seen] == [400]
