"""web.FileResponse from handlers: headers, conditionals, ranges, HEAD, sendfile and fallbacks."""

from __future__ import annotations

import asyncio
import email.utils
import hashlib
import math
import os
import shutil
import ssl
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from webkit import web
from webkit.web import fileresponse

BODY = bytes(range(256)) * 8  # 2 KiB


@pytest.fixture
def files(tmp_path: Path) -> Path:
    (tmp_path / "data.bin").write_bytes(BODY)
    (tmp_path / "page.html").write_text("<p>hi</p>")
    (tmp_path / "notes.txt").write_text("notes")
    (tmp_path / "data.json").write_text("{}")
    (tmp_path / "logo.svg").write_text("<svg/>")
    (tmp_path / "archive.tar.gz").write_bytes(b"\x1f\x8b fake")
    (tmp_path / "blob.unknownext").write_bytes(b"?")
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "folder").mkdir()
    return tmp_path


def make_app(folder: Path, chunk_size: int = 256 * 1024) -> web.Application:
    async def serve(request: web.Request) -> web.StreamResponse:
        return web.FileResponse(folder / request.match_info["name"], chunk_size=chunk_size)

    app = web.Application()
    app.router.add_get("/f/{name}", serve)
    return app


async def raw(port: int, request: bytes) -> tuple[int, dict[str, str], bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    data = await asyncio.wait_for(reader.read(), timeout=10)
    writer.close()
    await writer.wait_closed()
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
    return int(lines[0].split(" ", 2)[1]), headers, body


async def test_headers_and_media_types(webkit_client: Callable[..., Any], files: Path) -> None:
    client = await webkit_client(make_app(files, chunk_size=1024))
    resp = await client.get("/f/data.bin")
    assert resp.status_code == 200
    assert resp.content == BODY
    assert resp.headers["content-length"] == str(len(BODY))
    assert resp.headers["accept-ranges"] == "bytes"
    etag = resp.headers["etag"]
    assert etag.startswith('"')
    assert not etag.startswith("W/")
    st = (files / "data.bin").stat()
    assert resp.headers["last-modified"] == email.utils.formatdate(
        math.ceil(st.st_mtime), usegmt=True
    )
    expected = {
        "page.html": "text/html; charset=utf-8",
        "notes.txt": "text/plain; charset=utf-8",
        "data.json": "application/json; charset=utf-8",
        "logo.svg": "image/svg+xml; charset=utf-8",
        "data.bin": "application/octet-stream",
        "blob.unknownext": "application/octet-stream",
        "archive.tar.gz": "application/gzip",
    }
    for name, ctype in expected.items():
        resp = await client.get(f"/f/{name}")
        assert resp.headers["content-type"] == ctype, name
        assert "content-encoding" not in resp.headers, name
    empty = await client.get("/f/empty.txt")
    assert (empty.status_code, empty.content, empty.headers["content-length"]) == (200, b"", "0")
    assert (await client.get("/f/missing.bin")).status_code == 404
    assert (await client.get("/f/folder")).status_code == 404
    # The ETag changes with the file.
    (files / "data.bin").write_bytes(BODY[::-1])
    os.utime(files / "data.bin", ns=(5 * 10**9, 5 * 10**9))
    assert (await client.get("/f/data.bin")).headers["etag"] != etag


async def test_head_sends_headers_only(webkit_client: Callable[..., Any], files: Path) -> None:
    client = await webkit_client(make_app(files))
    status, headers, body = await raw(
        client.port, b"HEAD /f/data.bin HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    )
    assert (status, body) == (200, b"")
    assert headers["content-length"] == str(len(BODY))
    assert "etag" in headers
    status, headers, body = await raw(
        client.port,
        b"HEAD /f/data.bin HTTP/1.1\r\nHost: t\r\nRange: bytes=0-9\r\nConnection: close\r\n\r\n",
    )
    assert (status, body) == (206, b"")
    assert headers["content-range"] == f"bytes 0-9/{len(BODY)}"
    # Keep-alive: a HEAD then a GET on one connection, the second answer intact.
    reader, writer = await asyncio.open_connection("127.0.0.1", client.port)
    writer.write(
        b"HEAD /f/notes.txt HTTP/1.1\r\nHost: t\r\n\r\n"
        b"GET /f/notes.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    )
    data = await asyncio.wait_for(reader.read(), timeout=10)
    writer.close()
    await writer.wait_closed()
    assert data.count(b"HTTP/1.1 200") == 2
    assert data.endswith(b"\r\n\r\nnotes")


async def test_conditional_requests(webkit_client: Callable[..., Any], files: Path) -> None:
    client = await webkit_client(make_app(files))
    first = await client.get("/f/data.bin")
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    mtime = math.ceil((files / "data.bin").stat().st_mtime)
    earlier = email.utils.formatdate(mtime - 60, usegmt=True)
    later = email.utils.formatdate(mtime + 60, usegmt=True)
    cases: list[tuple[dict[str, str], int]] = [
        ({"If-None-Match": etag}, 304),
        ({"If-None-Match": f'"x", {etag}'}, 304),
        ({"If-None-Match": f"W/{etag}"}, 304),  # weak comparison for If-None-Match
        ({"If-None-Match": "*"}, 304),
        ({"If-None-Match": '"other"'}, 200),
        ({"If-Modified-Since": modified}, 304),
        ({"If-Modified-Since": later}, 304),
        ({"If-Modified-Since": earlier}, 200),
        ({"If-Modified-Since": "not a date"}, 200),
        ({"If-None-Match": '"other"', "If-Modified-Since": modified}, 200),
        ({"If-Match": etag}, 200),
        ({"If-Match": "*"}, 200),
        ({"If-Match": '"other"'}, 412),
        ({"If-Match": f"W/{etag}"}, 412),  # strong comparison for If-Match
        ({"If-Unmodified-Since": modified}, 200),
        ({"If-Unmodified-Since": later}, 200),
        ({"If-Unmodified-Since": earlier}, 412),
        ({"If-Match": etag, "If-Unmodified-Since": earlier}, 200),
        ({"If-Match": '"other"', "If-None-Match": etag}, 412),
    ]
    for headers, status in cases:
        resp = await client.get("/f/data.bin", headers=headers)
        assert resp.status_code == status, headers
        if status == 200:
            assert resp.content == BODY
        else:
            assert resp.content == b"", headers
        if status == 304:
            assert resp.headers["etag"] == etag
            assert resp.headers["last-modified"] == modified
    head = await client.head("/f/data.bin", headers={"If-None-Match": etag})
    assert head.status_code == 304


async def test_ranges(webkit_client: Callable[..., Any], files: Path) -> None:
    client = await webkit_client(make_app(files))
    size = len(BODY)
    first = await client.get("/f/data.bin")
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    partial = {
        "bytes=0-4": (0, 4),
        "bytes=5-": (5, size - 1),
        "bytes=-10": (size - 10, size - 1),
        f"bytes=-{size * 3}": (0, size - 1),
        f"bytes=100-{size * 3}": (100, size - 1),
        f"bytes={size - 1}-{size - 1}": (size - 1, size - 1),
        "BYTES = 7-8": (7, 8),
    }
    for spec, (start, end) in partial.items():
        resp = await client.get("/f/data.bin", headers={"Range": spec})
        assert resp.status_code == 206, spec
        assert resp.content == BODY[start : end + 1], spec
        assert resp.headers["content-range"] == f"bytes {start}-{end}/{size}", spec
        assert resp.headers["content-length"] == str(end - start + 1), spec
    for spec in (f"bytes={size}-", f"bytes={size + 10}-{size + 20}", "bytes=-0"):
        resp = await client.get("/f/data.bin", headers={"Range": spec})
        assert resp.status_code == 416, spec
        assert resp.headers["content-range"] == f"bytes */{size}", spec
        assert resp.content == b""
    resp = await client.get("/f/empty.txt", headers={"Range": "bytes=0-"})
    assert (resp.status_code, resp.headers["content-range"]) == (416, "bytes */0")
    # Several ranges, or ranges this server does not take: the whole file, 200.
    whole = ("bytes=0-1,4-5", "bytes=0-1, -3", "items=0-4", "bytes=abc", "bytes=5-2",
             "bytes=+1-2", "bytes=1_0-20", "bytes=-", "bytes")  # fmt: skip
    for spec in whole:
        resp = await client.get("/f/data.bin", headers={"Range": spec})
        assert (resp.status_code, resp.content) == (200, BODY), spec
        assert "content-range" not in resp.headers
    # If-Range: the range only for the same strong validator.
    if_range = {etag: 206, modified: 206, '"stale"': 200, f"W/{etag}": 200,
                email.utils.formatdate(0, usegmt=True): 200, "garbage": 200}  # fmt: skip
    for value, status in if_range.items():
        resp = await client.get("/f/data.bin", headers={"Range": "bytes=0-9", "If-Range": value})
        assert resp.status_code == status, value
        assert resp.content == (BODY[:10] if status == 206 else BODY), value
    # Preconditions come before the range.
    resp = await client.get("/f/data.bin", headers={"Range": "bytes=0-9", "If-Match": '"x"'})
    assert resp.status_code == 412
    resp = await client.get("/f/data.bin", headers={"Range": "bytes=0-9", "If-None-Match": etag})
    assert resp.status_code == 304


async def test_open_failure_is_403_never_500(
    webkit_client: Callable[..., Any], files: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = os.open

    def refuse(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if str(path).endswith("data.bin"):
            raise PermissionError(13, "Permission denied", str(path))
        if str(path).endswith("page.html"):
            raise OSError(5, "Input/output error", str(path))
        return original(path, flags, *args, **kwargs)

    monkeypatch.setattr(fileresponse.os, "open", refuse)
    client = await webkit_client(make_app(files))
    assert (await client.get("/f/data.bin")).status_code == 403
    assert (await client.get("/f/page.html")).status_code == 404
    assert (await client.get("/f/" + "n" * 400)).status_code == 404
    assert (await client.get("/f/notes.txt")).text == "notes"


class _Recorder:
    def __init__(self) -> None:
        self.sendfile_calls = 0


@pytest.fixture
def big_files(tmp_path: Path) -> dict[str, bytes]:
    out = {}
    for name, size in (("one.bin", 1024 * 1024), ("ten.bin", 10 * 1024 * 1024)):
        payload = os.urandom(size)
        (tmp_path / name).write_bytes(payload)
        out[name] = payload
    return out


async def _fetch_hash(client: Any, path: str) -> tuple[int, str]:
    sha = hashlib.sha256()
    async with client.session.stream("GET", client.make_url(path).human_repr()) as resp:
        async for block in resp.aiter_raw():
            sha.update(block)
        return resp.status_code, sha.hexdigest()


@pytest.mark.parametrize("mode", ["sendfile", "no-sendfile"])
async def test_large_files_arrive_intact(
    webkit_client: Callable[..., Any], tmp_path: Path, big_files: dict[str, bytes],
    monkeypatch: pytest.MonkeyPatch, mode: str,
) -> None:  # fmt: skip
    loop = asyncio.get_running_loop()
    recorder = _Recorder()
    original = loop.sendfile

    async def sendfile(transport: Any, file: Any, offset: int = 0, count: int | None = None,
                       **kwargs: Any) -> int:  # fmt: skip
        recorder.sendfile_calls += 1
        if mode == "no-sendfile":  # an event loop without sendfile: the read-and-write path
            raise NotImplementedError
        return await original(transport, file, offset, count, **kwargs)

    monkeypatch.setattr(loop, "sendfile", sendfile)
    client = await webkit_client(make_app(tmp_path, chunk_size=64 * 1024))
    for name, payload in big_files.items():
        status, digest = await _fetch_hash(client, f"/f/{name}")
        assert status == 200
        assert digest == hashlib.sha256(payload).hexdigest(), name
    assert recorder.sendfile_calls == len(big_files)
    resp = await client.get("/f/ten.bin", headers={"Range": "bytes=5000000-5999999"})
    assert resp.status_code == 206
    assert resp.content == big_files["ten.bin"][5_000_000:6_000_000]


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make a test cert")
    folder = tmp_path_factory.mktemp("tls")
    key, cert = folder / "key.pem", folder / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1", "-addext",
         "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return key, cert


async def test_large_files_over_tls(
    tmp_path: Path, big_files: dict[str, bytes], certificate: tuple[Path, Path]
) -> None:
    """TLS transports have no zero-copy sendfile: the fallback must send every byte."""
    key, cert = certificate
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    runner = web.AppRunner(make_app(tmp_path), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_context)
    await site.start()
    try:
        port = runner.addresses[0][1]
        verify = ssl.create_default_context(cafile=str(cert))
        async with httpx.AsyncClient(verify=verify, timeout=10) as client:
            for name, payload in big_files.items():
                resp = await client.get(f"https://127.0.0.1:{port}/f/{name}")
                assert resp.status_code == 200
                assert hashlib.sha256(resp.content).digest() == hashlib.sha256(payload).digest()
            resp = await client.get(
                f"https://127.0.0.1:{port}/f/one.bin", headers={"Range": "bytes=-100"}
            )
            assert (resp.status_code, resp.content) == (206, big_files["one.bin"][-100:])
    finally:
        await runner.cleanup()
