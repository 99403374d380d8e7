"""Responses on the wire: StreamResponse framing, status, headers, bodies, HEAD, 204/304."""

from __future__ import annotations

import asyncio
import datetime
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from webkit import web
from webkit.web import ContentCoding

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# -- raw HTTP helpers ----------------------------------------------------------------------------


class RawResponse:
    def __init__(self, status_line: bytes, headers: list[tuple[str, str]], body: bytes) -> None:
        self.status_line = status_line
        self.headers = headers
        self.body = body

    @property
    def status(self) -> int:
        return int(self.status_line.split(b" ", 2)[1])

    def header(self, name: str) -> str | None:
        values = self.all(name)
        return values[0] if values else None

    def all(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key.lower() == name.lower()]


async def read_response(
    reader: asyncio.StreamReader, *, head: bool = False, raw_chunks: bool = False
) -> RawResponse:
    """Read one response, framed as RFC 9112 §6.3 says (chunks kept if ``raw_chunks``)."""
    block = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    lines = block[:-4].split(b"\r\n")
    headers = []
    for line in lines[1:]:
        name, _, value = line.decode("latin-1").partition(":")
        headers.append((name, value.strip()))
    response = RawResponse(lines[0], headers, b"")
    if head or response.status in (204, 304) or 100 <= response.status < 200:
        return response
    if response.header("Transfer-Encoding") == "chunked":
        parts = []
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.strip(), 16)
            data = await reader.readexactly(size + 2)
            parts.append(size_line + data if raw_chunks else data[:-2])
            if size == 0:
                break
        response.body = b"".join(parts)
    elif response.header("Content-Length") is not None:
        response.body = await reader.readexactly(int(response.header("Content-Length") or 0))
    else:
        response.body = await asyncio.wait_for(reader.read(), 10)
    return response


async def exchange(
    port: int, request: bytes, *, head: bool = False, raw_chunks: bool = False
) -> tuple[RawResponse, bytes]:
    """One request; returns the response and whatever else arrived before the server closed."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        response = await read_response(reader, head=head, raw_chunks=raw_chunks)
        rest = await asyncio.wait_for(reader.read(), 10)
        return response, rest
    finally:
        writer.close()
        await writer.wait_closed()


def get(path: str = "/", version: str = "1.1", method: str = "GET", extra: str = "") -> bytes:
    host = "Host: test\r\n" if version == "1.1" else ""
    close = "Connection: close\r\n" if version == "1.1" else ""
    return f"{method} {path} HTTP/{version}\r\n{host}{close}{extra}\r\n".encode()


async def serve(webkit_client: Any, handler: Handler, path: str = "/") -> Any:
    app = web.Application()
    app.router.add_route("*", path, handler)
    return await webkit_client(app)


# -- StreamResponse ---------------------------------------------------------------------------


async def test_stream_response_is_chunked_on_the_wire(webkit_client) -> None:
    errors: list[type[BaseException]] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        resp.content_type = "text/plain"
        try:
            await resp.write(b"too early")
        except RuntimeError:
            errors.append(RuntimeError)
        assert not resp.prepared
        await resp.prepare(request)
        assert resp.prepared
        await resp.prepare(request)  # a second prepare does nothing
        await resp.write(b"hello")
        await resp.write(b", world!")
        await resp.drain()
        try:
            await resp.write("text")  # type: ignore[arg-type]
        except TypeError:
            errors.append(TypeError)
        await resp.write_eof(b"tail")
        try:
            await resp.write(b"late")
        except RuntimeError:
            errors.append(RuntimeError)
        assert resp.body_length == 17
        return resp

    client = await serve(webkit_client, handler)
    response, rest = await exchange(client.port, get(), raw_chunks=True)
    assert response.status_line == b"HTTP/1.1 200 OK"
    assert response.header("Transfer-Encoding") == "chunked"
    assert response.header("Content-Length") is None
    assert response.header("Content-Type") == "text/plain"
    assert response.body == b"5\r\nhello\r\n8\r\n, world!\r\n4\r\ntail\r\n0\r\n\r\n"
    assert rest == b""
    assert errors == [RuntimeError, TypeError, RuntimeError]


async def test_enable_chunked_encoding_and_its_conflict_with_content_length(
    webkit_client,
) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
        resp.enable_chunked_encoding()
        assert resp.chunked
        with pytest.raises(RuntimeError):
            resp.content_length = 3
        await resp.prepare(request)
        await resp.write(b'{"n": 1}\n')
        await resp.write_eof()
        return resp

    client = await serve(webkit_client, handler)
    response, _ = await exchange(client.port, get(), raw_chunks=True)
    assert response.header("Transfer-Encoding") == "chunked"
    assert response.body == b'9\r\n{"n": 1}\n\r\n0\r\n\r\n'
    resp = web.StreamResponse()
    resp.content_length = 3
    with pytest.raises(RuntimeError):
        resp.enable_chunked_encoding()


async def test_content_length_means_no_chunking(webkit_client) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        resp.content_length = 11
        assert resp.content_length == 11
        await resp.prepare(request)
        await resp.write(b"hello ")
        await resp.write(b"world")
        await resp.write_eof()
        return resp

    client = await serve(webkit_client, handler)
    response, _ = await exchange(client.port, get())
    assert response.header("Content-Length") == "11"
    assert response.header("Transfer-Encoding") is None
    assert response.body == b"hello world"


async def test_http10_client_gets_no_chunking_and_a_closed_connection(webkit_client) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        await resp.prepare(request)
        await resp.write(b"streamed ")
        await resp.write(b"to 1.0")
        return resp

    client = await serve(webkit_client, handler)
    reader, writer = await asyncio.open_connection("127.0.0.1", client.port)
    writer.write(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    data = await asyncio.wait_for(reader.read(), 10)  # returns only once the server closes
    writer.close()
    await writer.wait_closed()
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.0 200 OK\r\n")
    assert b"transfer-encoding" not in head.lower()
    assert b"content-length" not in head.lower()
    assert b"keep-alive" not in head.lower()
    assert body == b"streamed to 1.0"


async def test_http10_keep_alive_with_a_known_length(webkit_client) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(text="short")

    client = await serve(webkit_client, handler)
    reader, writer = await asyncio.open_connection("127.0.0.1", client.port)
    try:
        for _ in range(2):
            writer.write(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            response = await read_response(reader)
            assert response.header("Connection") == "keep-alive"
            assert response.body == b"short"
    finally:
        writer.close()
        await writer.wait_closed()


# -- status, reason and headers -------------------------------------------------------------


async def test_status_and_custom_reason_on_the_wire(webkit_client) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        kind = request.query["kind"]
        if kind == "reason":
            return web.Response(status=299, reason="Fine Thanks", text="x")
        if kind == "teapot":
            return web.Response(status=418)
        resp = web.StreamResponse()
        resp.set_status(202, "Queued For Later")
        await resp.prepare(request)
        with pytest.raises(RuntimeError):
            resp.set_status(500)
        assert (resp.status, resp.reason) == (202, "Queued For Later")
        return resp

    client = await serve(webkit_client, handler)
    response, _ = await exchange(client.port, get("/?kind=reason"))
    assert response.status_line == b"HTTP/1.1 299 Fine Thanks"
    response, _ = await exchange(client.port, get("/?kind=teapot"))
    assert response.status_line == b"HTTP/1.1 418 I'm a Teapot"
    response, _ = await exchange(client.port, get("/?kind=stream"))
    assert response.status_line == b"HTTP/1.1 202 Queued For Later"


def test_status_and_reason_validation() -> None:
    resp = web.StreamResponse(status=201)
    assert (resp.status, resp.reason) == (201, "Created")
    resp.set_status(404)
    assert (resp.status, resp.reason) == (404, "Not Found")
    with pytest.raises(ValueError):
        web.Response(reason="two\r\nlines")
    with pytest.raises(ValueError):
        web.Response(status=42)


async def test_headers_on_the_wire(webkit_client) -> None:
    async def handler(request: web.Request) -> web.Response:
        resp = web.Response(text="h", headers={"X-One": "1"})
        resp.headers.add("X-Multi", "a")
        resp.headers.add("x-multi", "b")
        resp.headers["Cache-Control"] = "no-store"
        return resp

    client = await serve(webkit_client, handler)
    resp = await client.get("/")
    assert resp.headers["x-one"] == "1"
    assert resp.headers.get_list("x-multi") == ["a", "b"]
    assert resp.headers["cache-control"] == "no-store"
    assert resp.headers["content-length"] == "1"


async def test_header_with_newline_is_a_500_without_injection(webkit_client) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        where = request.query["where"]
        if where == "value":
            return web.Response(text="x", headers={"X-Bad": "a\r\nX-Injected: 1"})
        if where == "name":
            resp = web.Response(text="x")
            resp.headers["X-Bad\r\nX-Injected"] = "1"
            return resp
        stream = web.StreamResponse()
        stream.headers["X-Bad"] = "a\nX-Injected: 1"
        await stream.prepare(request)
        return stream

    client = await serve(webkit_client, handler)
    for where in ("value", "name", "stream"):
        reader, writer = await asyncio.open_connection("127.0.0.1", client.port)
        writer.write(get(f"/?where={where}"))
        data = await asyncio.wait_for(reader.read(), 10)
        writer.close()
        await writer.wait_closed()
        assert data.startswith(b"HTTP/1.1 500 Internal Server Error\r\n"), where
        assert b"X-Injected" not in data
        assert data.count(b"HTTP/1.1 ") == 1


# -- content type, charset, length, dates and etags --------------------------------------------


def test_content_type_and_charset_properties() -> None:
    resp = web.StreamResponse()
    assert resp.content_type == "application/octet-stream"
    assert resp.charset is None
    with pytest.raises(RuntimeError):
        resp.charset = "utf-8"  # octet-stream has no charset
    resp.content_type = "text/html"
    assert resp.headers["Content-Type"] == "text/html"
    resp.charset = "UTF-8"
    assert resp.headers["Content-Type"] == "text/html; charset=utf-8"
    assert resp.charset == "utf-8"
    resp.content_type = "text/plain"  # the charset is kept
    assert resp.headers["Content-Type"] == "text/plain; charset=utf-8"
    resp.charset = None
    assert resp.headers["Content-Type"] == "text/plain"
    resp.headers["Content-Type"] = 'application/json; charset="latin-1"'
    assert (resp.content_type, resp.charset) == ("application/json", "latin-1")


def test_content_length_property() -> None:
    resp = web.StreamResponse()
    assert resp.content_length is None
    resp.content_length = 42
    assert resp.headers["Content-Length"] == "42"
    resp.content_length = None
    assert "Content-Length" not in resp.headers
    body = web.Response(body=b"abc")
    assert body.content_length == 3
    assert web.Response().content_length == 0
    with pytest.raises(RuntimeError):
        body.content_length = 10


def test_last_modified() -> None:
    resp = web.StreamResponse()
    assert resp.last_modified is None
    resp.last_modified = 0
    assert resp.headers["Last-Modified"] == "Thu, 01 Jan 1970 00:00:00 GMT"
    assert resp.last_modified == datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
    resp.last_modified = 1500000000.2  # rounded up to the next second
    assert resp.headers["Last-Modified"] == "Fri, 14 Jul 2017 02:40:01 GMT"
    resp.last_modified = datetime.datetime(2020, 2, 29, 12, 30, 5, tzinfo=datetime.UTC)
    assert resp.headers["Last-Modified"] == "Sat, 29 Feb 2020 12:30:05 GMT"
    resp.last_modified = "Mon, 01 Jan 2001 00:00:00 GMT"
    assert resp.headers["Last-Modified"] == "Mon, 01 Jan 2001 00:00:00 GMT"
    assert resp.last_modified == datetime.datetime(2001, 1, 1, tzinfo=datetime.UTC)
    resp.last_modified = "not a date"
    assert resp.last_modified is None
    resp.last_modified = None
    assert "Last-Modified" not in resp.headers
    with pytest.raises(TypeError):
        resp.last_modified = [2020]  # type: ignore[assignment]


def test_etag() -> None:
    resp = web.StreamResponse()
    assert resp.etag is None
    resp.etag = "abc"
    assert resp.headers["ETag"] == '"abc"'
    assert resp.etag == web.ETag(value="abc", is_weak=False)
    resp.etag = web.ETag(value="v2", is_weak=True)
    assert resp.headers["ETag"] == 'W/"v2"'
    assert resp.etag == web.ETag(value="v2", is_weak=True)
    resp.etag = "*"
    assert resp.headers["ETag"] == "*"
    assert resp.etag == web.ETag(value="*")
    resp.etag = "caf\xe9"  # obs-text is allowed
    assert resp.headers["ETag"] == '"caf\xe9"'
    resp.etag = None
    assert "ETag" not in resp.headers
    for bad in ('with"quote', "with space", "tab\there", "nl\n"):
        with pytest.raises(ValueError):
            resp.etag = bad
    with pytest.raises(ValueError):
        resp.etag = 5  # type: ignore[assignment]
    resp.headers["ETag"] = "unquoted"
    assert resp.etag is None


async def test_last_modified_and_etag_on_the_wire(webkit_client) -> None:
    async def handler(request: web.Request) -> web.Response:
        resp = web.Response(text="x")
        resp.last_modified = datetime.datetime(2021, 6, 1, 8, 0, tzinfo=datetime.UTC)
        resp.etag = web.ETag("rev-7", is_weak=True)
        return resp

    client = await serve(webkit_client, handler)
    resp = await client.get("/")
    assert resp.headers["last-modified"] == "Tue, 01 Jun 2021 08:00:00 GMT"
    assert resp.headers["etag"] == 'W/"rev-7"'


# -- Response arguments and json_response ---------------------------------------------------------


def test_response_arguments() -> None:
    text = web.Response(text="héllo")
    assert text.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert (text.body, text.text, text.charset) == ("héllo".encode(), "héllo", "utf-8")
    html = web.Response(text="é", content_type="text/html", charset="latin-1")
    assert html.headers["Content-Type"] == "text/html; charset=latin-1"
    assert html.body == b"\xe9"
    raw = web.Response(body=b"\x00\x01")
    assert "Content-Type" not in raw.headers  # filled in as octet-stream when sent
    assert raw.text == "\x00\x01"
    png = web.Response(body=b"\x89PNG", content_type="image/png")
    assert png.headers["Content-Type"] == "image/png"
    only_charset = web.Response(body=b"x", charset="utf-8")  # ignored without content_type
    assert "Content-Type" not in only_charset.headers
    from_header = web.Response(text="é", headers={"Content-Type": "text/csv; charset=latin-1"})
    assert (from_header.headers["Content-Type"], from_header.body) == (
        "text/csv; charset=latin-1",
        b"\xe9",
    )
    str_body = web.Response(body="é")  # aiohttp accepts a str body: UTF-8 text
    assert (str_body.body, str_body.headers["Content-Type"]) == (
        b"\xc3\xa9",
        "text/plain; charset=utf-8",
    )
    json_body = web.Response(body='{"a": "é"}', content_type="application/json")
    assert (json_body.body, json_body.headers["Content-Type"]) == (
        '{"a": "é"}'.encode(),
        "application/json",
    )
    empty = web.Response()
    assert (empty.body, empty.text, empty.status) == (None, None, 200)
    later = web.Response()
    later.text = "set later"
    assert (later.body, later.headers["Content-Type"]) == (
        b"set later",
        "text/plain; charset=utf-8",
    )
    later.body = bytearray(b"bytes")
    assert later.body == b"bytes"


def test_response_argument_errors() -> None:
    with pytest.raises(ValueError, match="body and text"):
        web.Response(body=b"x", text="y")
    with pytest.raises(ValueError, match="Content-Type"):
        web.Response(text="x", headers={"Content-Type": "text/html"}, content_type="text/plain")
    with pytest.raises(ValueError, match="Content-Type"):
        web.Response(body=b"x", headers={"Content-Type": "text/html"}, charset="utf-8")
    with pytest.raises(ValueError, match="charset"):
        web.Response(text="x", content_type="text/html; charset=utf-8")
    with pytest.raises(TypeError):
        web.Response(text=b"bytes")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        web.Response(body=123)  # type: ignore[arg-type]
    resp = web.Response()
    with pytest.raises(TypeError):
        resp.text = b"x"  # type: ignore[assignment]
    with pytest.raises(TypeError):
        resp.body = 1.5  # type: ignore[assignment]


def test_json_response() -> None:
    resp = web.json_response({"a": [1, "é"]})
    assert resp.body == b'{"a": [1, "\\u00e9"]}'
    assert resp.headers["Content-Type"] == "application/json; charset=utf-8"
    assert resp.content_type == "application/json"
    assert resp.status == 200
    assert web.json_response(None).body == b"null"
    assert web.json_response().body is None
    text = web.json_response(text='["t"]', status=201, reason="Made")
    assert (text.body, text.status, text.reason) == (b'["t"]', 201, "Made")
    body = web.json_response(body=b'{"b": 1}', headers={"X-A": "1"})
    assert (body.body, body.headers["Content-Type"], body.headers["X-A"]) == (
        b'{"b": 1}',
        "application/json",
        "1",
    )
    custom = web.json_response({"k": 1}, dumps=lambda data: json.dumps(data, separators=(",", ":")))
    assert custom.body == b'{"k":1}'
    problem = web.json_response({"e": 1}, content_type="application/problem+json", status=422)
    assert problem.headers["Content-Type"] == "application/problem+json; charset=utf-8"
    assert problem.status == 422
    with pytest.raises(ValueError):
        web.json_response({"a": 1}, text="{}")
    with pytest.raises(ValueError):
        web.json_response({"a": 1}, body=b"{}")


async def test_json_response_on_the_wire(webkit_client) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.json_response({"ok": True, "n": [1, 2]}, status=201)

    client = await serve(webkit_client, handler)
    resp = await client.get("/")
    assert resp.status_code == 201
    assert resp.headers["content-type"] == "application/json; charset=utf-8"
    assert resp.headers["content-length"] == str(len(resp.content))
    assert resp.json() == {"ok": True, "n": [1, 2]}


def test_responses_are_mutable_mappings() -> None:
    resp = web.Response()
    assert len(resp) == 0
    assert list(resp) == []
    resp["user"] = "alice"
    resp["n"] = 2
    assert (resp["user"], len(resp), sorted(resp)) == ("alice", 2, ["n", "user"])
    del resp["n"]
    assert dict(resp) == {"user": "alice"}
    with pytest.raises(KeyError):
        resp["missing"]
    assert resp.get("missing", 0) == 0
    # Identity semantics, as aiohttp: two empty responses are not equal, and stay hashable.
    assert web.Response() != web.Response()
    assert len({resp, resp}) == 1
    assert bool(web.StreamResponse())


# -- HEAD, 204 and 304 ---------------------------------------------------------------------------


async def test_head_has_headers_but_no_body(webkit_client) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        if request.query.get("stream"):
            resp = web.StreamResponse()
            resp.content_length = 6
            await resp.prepare(request)
            await resp.write(b"stream")
            return resp
        return web.Response(text="Hello, World!")

    client = await serve(webkit_client, handler)
    response, rest = await exchange(client.port, get(method="HEAD"), head=True)
    assert response.status == 200
    assert response.header("Content-Length") == "13"
    assert response.header("Content-Type") == "text/plain; charset=utf-8"
    assert rest == b""  # nothing after the head
    response, rest = await exchange(client.port, get("/?stream=1", method="HEAD"), head=True)
    assert response.header("Content-Length") == "6"
    assert rest == b""


async def test_204_and_304_have_no_body_and_no_content_length(webkit_client) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        status = int(request.query["s"])
        if request.query.get("stream"):
            resp = web.StreamResponse(status=status)
            await resp.prepare(request)
            return resp
        return web.Response(status=status, text="dropped")

    client = await serve(webkit_client, handler)
    reader, writer = await asyncio.open_connection("127.0.0.1", client.port)
    try:
        # Pipelined on one connection: a stray body would be read as the next response.
        writer.write(
            b"GET /?s=204 HTTP/1.1\r\nHost: x\r\n\r\n"
            b"GET /?s=304 HTTP/1.1\r\nHost: x\r\n\r\n"
            b"GET /?s=204&stream=1 HTTP/1.1\r\nHost: x\r\n\r\n"
            b"GET /?s=200 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        for status in (204, 304, 204):
            response = await read_response(reader)
            assert response.status == status
            assert response.header("Content-Length") is None
            assert response.header("Transfer-Encoding") is None
        last = await read_response(reader)
        assert (last.status, last.body) == (200, b"dropped")
        assert await asyncio.wait_for(reader.read(), 10) == b""
    finally:
        writer.close()
        await writer.wait_closed()


async def test_force_close_and_keep_alive(webkit_client) -> None:
    async def handler(request: web.Request) -> web.Response:
        resp = web.Response(text="bye")
        assert resp.keep_alive is None
        if request.query.get("close"):
            resp.force_close()
            assert resp.keep_alive is False
        return resp

    client = await serve(webkit_client, handler)
    reader, writer = await asyncio.open_connection("127.0.0.1", client.port)
    try:
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /?close=1 HTTP/1.1\r\nHost: x\r\n\r\n")
        first = await read_response(reader)
        assert first.header("Connection") is None
        second = await read_response(reader)
        assert second.header("Connection") == "close"
        assert await asyncio.wait_for(reader.read(), 10) == b""
    finally:
        writer.close()
        await writer.wait_closed()


def test_compression_arguments() -> None:
    resp = web.StreamResponse()
    assert resp.compression is False
    resp.enable_compression()
    assert resp.compression is True
    resp.enable_compression(ContentCoding.gzip)
    with pytest.raises(TypeError):
        resp.enable_compression(force="gzip")  # type: ignore[arg-type]
