"""enable_compression(): Accept-Encoding negotiation, forced codings, streamed compression."""

from __future__ import annotations

import asyncio
import gzip
import zlib
from typing import Any

import pytest

from webkit import web
from webkit.web import ContentCoding

TEXT = ("All work and no play makes Jack a dull boy. " * 200).encode()


async def fetch(port: int, path: str, accept: str | None) -> tuple[dict[str, str], bytes]:
    """GET ``path`` with ``Accept-Encoding: accept``; the headers and the body as sent."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    extra = f"Accept-Encoding: {accept}\r\n" if accept is not None else ""
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{extra}\r\n".encode())
    data = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    await writer.wait_closed()
    head, _, body = data.partition(b"\r\n\r\n")
    headers = {}
    for line in head.decode("latin-1").split("\r\n")[1:]:
        name, _, value = line.partition(":")
        headers[name.lower()] = value.strip()
    if headers.get("transfer-encoding") == "chunked":
        body = dechunk(body)
    return headers, body


def dechunk(data: bytes) -> bytes:
    out = b""
    while True:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            return out
        out += data[:size]
        data = data[size + 2 :]


def decode(coding: str | None, body: bytes) -> bytes:
    if coding == "gzip":
        return gzip.decompress(body)
    if coding == "deflate":
        return zlib.decompress(body)
    assert coding is None
    return body


def compression_app() -> web.Application:
    async def whole(request: web.Request) -> web.Response:
        resp = web.Response(body=TEXT, content_type="text/plain")
        force = request.query.get("force")
        if force == "executor":
            resp = web.Response(body=TEXT, content_type="text/plain", zlib_executor_size=10)
            resp.enable_compression()
        elif force:
            resp.enable_compression(ContentCoding(force))
        else:
            resp.enable_compression()
        return resp

    async def streamed(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        resp.content_type = "text/plain"
        resp.enable_compression()
        await resp.prepare(request)
        for start in range(0, len(TEXT), 1000):
            await resp.write(TEXT[start : start + 1000])
        await resp.write_eof()
        return resp

    app = web.Application()
    app.router.add_get("/whole", whole)
    app.router.add_get("/streamed", streamed)
    return app


@pytest.mark.parametrize(
    ("accept", "coding"),
    [
        ("gzip", "gzip"),
        ("deflate", "deflate"),
        ("GZIP", "gzip"),
        ("gzip, deflate, br", "deflate"),  # equal weights: deflate first, as aiohttp
        ("gzip;q=1.0, deflate;q=0.5", "gzip"),
        ("deflate;q=0, gzip", "gzip"),
        ("gzip;q=0", None),
        ("*", "deflate"),
        ("*;q=0.1, gzip;q=0.5", "gzip"),
        ("br, zstd", None),
        ("identity", None),
        ("", None),
        (None, None),
    ],
)
async def test_negotiated_coding_for_a_response(webkit_client, accept: Any, coding: Any) -> None:
    client = await webkit_client(compression_app())
    headers, body = await fetch(client.port, "/whole", accept)
    assert headers.get("content-encoding") == coding
    assert decode(coding, body) == TEXT
    assert "transfer-encoding" not in headers
    assert headers["content-length"] == str(len(body))
    if coding is not None:
        assert headers["vary"] == "Accept-Encoding"
        assert len(body) < len(TEXT) // 10


async def test_forced_coding_ignores_accept_encoding(webkit_client) -> None:
    client = await webkit_client(compression_app())
    headers, body = await fetch(client.port, "/whole?force=gzip", None)
    assert headers["content-encoding"] == "gzip"
    assert gzip.decompress(body) == TEXT
    headers, body = await fetch(client.port, "/whole?force=deflate", "gzip")
    assert headers["content-encoding"] == "deflate"
    assert zlib.decompress(body) == TEXT
    headers, body = await fetch(client.port, "/whole?force=identity", "gzip, deflate")
    assert "content-encoding" not in headers
    assert body == TEXT


async def test_large_body_compressed_in_the_executor(webkit_client) -> None:
    client = await webkit_client(compression_app())
    headers, body = await fetch(client.port, "/whole?force=executor", "gzip")
    assert headers["content-encoding"] == "gzip"
    assert gzip.decompress(body) == TEXT


async def test_streamed_response_is_compressed_and_chunked(webkit_client) -> None:
    client = await webkit_client(compression_app())
    for accept, coding in (("gzip", "gzip"), ("deflate", "deflate"), (None, None)):
        headers, body = await fetch(client.port, "/streamed", accept)
        assert headers.get("content-encoding") == coding
        assert headers["transfer-encoding"] == "chunked"
        assert "content-length" not in headers
        assert decode(coding, body) == TEXT


async def test_httpx_sees_the_decompressed_body(webkit_client) -> None:
    client = await webkit_client(compression_app())
    resp = await client.get("/streamed", headers={"Accept-Encoding": "gzip"})
    assert resp.headers["content-encoding"] == "gzip"
    assert resp.content == TEXT
