"""Static directories: traversal, symlinks, indexes, versions, precompressed files, one hop."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from webkit import web
from webkit.web import fileresponse, static_files

SECRET = b"TOP-SECRET-0xC0FFEE-outside-the-root"
PASSWD_MARK = b"root:x:0:0"
HELLO = b"hello from the static root\n"
JS = b"console.log('identity');\n" * 40


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """``tmp_path/root`` is served; ``tmp_path/secret.txt`` sits right next to it."""
    (tmp_path / "secret.txt").write_bytes(SECRET)
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.txt").write_bytes(SECRET)
    root = tmp_path / "root"
    root.mkdir()
    (root / "hello.txt").write_bytes(HELLO)
    (root / "sub").mkdir()
    (root / "sub" / "inner.txt").write_bytes(b"inner")
    (root / "link_out.txt").symlink_to(tmp_path / "secret.txt")
    (root / "link_dir_out").symlink_to(tmp_path / "outside")
    (root / "link_in.txt").symlink_to(root / "hello.txt")
    (root / "link_sub").symlink_to(root / "sub")
    (root / "dangling.txt").symlink_to(root / "nowhere.txt")
    return root


async def raw(
    port: int, target: bytes, headers: bytes = b"", method: bytes = b"GET"
) -> tuple[int, dict[str, str], bytes, bytes]:
    """One request over a raw socket: status, headers (lower-case names), body, all bytes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        method
        + b" "
        + target
        + b" HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
        + headers
        + b"\r\n"
    )
    data = await asyncio.wait_for(reader.read(), timeout=10)
    writer.close()
    await writer.wait_closed()
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    parsed: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        parsed[name.strip().lower()] = value.strip()
    return int(lines[0].split(" ", 2)[1]), parsed, body, data


# Sent byte for byte: a client library would normalise most of these before sending.
TRAVERSALS = [
    b"/static/../secret.txt",
    b"/static/../../secret.txt",
    b"/static/../../../../../../../../etc/passwd",
    b"/static/sub/../../secret.txt",
    b"/static/./../secret.txt",
    b"/static/%2e%2e/secret.txt",
    b"/static/%2E%2E/secret.txt",
    b"/static/%2e%2E/secret.txt",
    b"/static/.%2e/secret.txt",
    b"/static/%2e/%2e%2e/secret.txt",
    b"/static/%2E%2E%2Fsecret.txt",
    b"/static/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    b"/static/%252e%252e/secret.txt",
    b"/static/%252e%252e%252fsecret.txt",
    b"/static/..%252fsecret.txt",
    b"/static/..%2fsecret.txt",
    b"/static/..%2Fsecret.txt",
    b"/static/sub/..%2f..%2fsecret.txt",
    b"/static/sub/..%2F..%2F..%2Fetc/passwd",
    b"/static/hello.txt/..%2f..%2fsecret.txt",
    b"/static/%2f..%2fsecret.txt",
    b"/static/%2F%2E%2E%2Fsecret.txt",
    b"/static/..\\secret.txt",
    b"/static/sub\\..\\..\\secret.txt",
    b"/static/..%5csecret.txt",
    b"/static/..%5Csecret.txt",
    b"/static/%5c..%5csecret.txt",
    b"/static/..%255csecret.txt",
    b"//etc/passwd",
    b"/static//etc/passwd",
    b"/static/%2fetc%2fpasswd",
    b"/static///etc/passwd",
    b"/static/hello.txt%00",
    b"/static/%00/../secret.txt",
    b"/static/..%00/secret.txt",
    b"/static/%00..%2fsecret.txt",
    b"/static/%c0%ae%c0%ae/secret.txt",
    b"/static/%c0%ae%c0%ae%c0%afsecret.txt",
    b"/static/%C0%AE%C0%AE%2Fsecret.txt",
    b"/static/%e0%80%ae%e0%80%ae/secret.txt",
    b"/static/..%c0%afsecret.txt",
    b"/static/%c1%9c..%c1%9csecret.txt",
    b"/static/%u002e%u002e/secret.txt",
    b"/static/.../secret.txt",
    b"/static/..../secret.txt",
    b"/static/....//secret.txt",
    b"/static/....//....//secret.txt",
    b"/static/..%20/secret.txt",
    b"/static/..;/secret.txt",
    b"/static/.. /secret.txt",
    b"/static/link_out.txt",
    b"/static/link_dir_out/secret.txt",
    b"/static/link_dir_out/%2e%2e/secret.txt",
    b"/static/link_sub/../../secret.txt",
    b"/static/?x=/../secret.txt",
    b"/static/#/../secret.txt",
    b"http://t/static/../secret.txt",
    b"/static/" + b"%2e%2e/" * 40 + b"secret.txt",
]


@pytest.mark.parametrize("follow_symlinks", [False, True])
async def test_no_request_reads_outside_the_root(
    webkit_client: Callable[..., Any], root: Path, follow_symlinks: bool
) -> None:
    app = web.Application()
    app.router.add_static("/static", root, follow_symlinks=follow_symlinks)
    client = await webkit_client(app)
    absolute = str(root.parent / "secret.txt").encode()
    targets = [
        *TRAVERSALS,
        b"/static/" + absolute,
        b"/static/%2F" + absolute.lstrip(b"/").replace(b"/", b"%2F"),
        b"/static/.." + absolute,
    ]
    if follow_symlinks:  # the opt-in serves symlinks leaving the root, and only those
        targets = [t for t in targets if b"link_" not in t]
    assert len(targets) >= 30
    for target in targets:
        status, _, _, data = await raw(client.port, target)
        assert status in (400, 403, 404), (target, status)
        assert SECRET not in data, target
        assert PASSWD_MARK not in data, target
    # The server still answers normally afterwards.
    assert (await client.get("/static/hello.txt")).content == HELLO


async def test_symlinks(webkit_client: Callable[..., Any], root: Path) -> None:
    app = web.Application()
    app.router.add_static("/static", root)
    app.router.add_static("/open", root, follow_symlinks=True)
    client = await webkit_client(app)
    # Symlinks that stay inside the root work.
    assert (await client.get("/static/link_in.txt")).content == HELLO
    assert (await client.get("/static/link_sub/inner.txt")).content == b"inner"
    # Leaving the root is a 404 (the seed), not 403; a dangling link is a 404 too.
    assert (await client.get("/static/link_out.txt")).status_code == 404
    assert (await client.get("/static/link_dir_out/secret.txt")).status_code == 404
    assert (await client.get("/static/dangling.txt")).status_code == 404
    assert (await client.get("/open/link_out.txt")).content == SECRET
    assert (await client.get("/open/link_dir_out/secret.txt")).content == SECRET
    assert (await client.get("/open/dangling.txt")).status_code == 404


async def test_directories_and_index(webkit_client: Callable[..., Any], root: Path) -> None:
    odd = "q?#%\"'<b>&.txt"
    (root / odd).write_bytes(b"odd")
    (root / "ü ñ.txt").write_bytes(b"unicode")
    app = web.Application()
    app.add_routes(
        [web.static("/plain", root), web.static("/listed", root, show_index=True, name="ls")]
    )
    client = await webkit_client(app)
    for target in ("/plain", "/plain/", "/plain/sub", "/plain/sub/", "/plain/link_sub"):
        assert (await client.get(target)).status_code == 403, target
    page = (await client.get("/listed/")).text
    assert "<b>" not in page
    assert "q?#%&quot;&#x27;&lt;b&gt;&amp;.txt</a>" in page
    href = "/listed/q%3F%23%25%22%27%3Cb%3E%26.txt"
    assert f'<a href="{href}">' in page
    assert '<a href="/listed/%C3%BC%20%C3%B1.txt">' in page
    assert '<a href="/listed/sub">sub/</a>' in page
    # Every link of the index serves what it names.
    assert (await client.get(href)).content == b"odd"
    assert (await client.get("/listed/%C3%BC%20%C3%B1.txt")).content == b"unicode"
    sub = await client.get("/listed/sub/")
    assert '<a href="/listed/sub/inner.txt">inner.txt</a>' in sub.text
    head = await client.head("/listed/")
    assert head.status_code == 200
    assert head.content == b""


async def test_append_version(webkit_client: Callable[..., Any], root: Path) -> None:
    (root / "app.js").write_bytes(JS)
    (root / "copy.js").write_bytes(JS)
    routes = web.RouteTableDef()
    routes.static("/assets", root, name="assets", append_version=True)
    app = web.Application()
    app.add_routes(routes)
    app.router.add_static("/plain", root, name="plain")
    client = await webkit_client(app)
    assets = app.router["assets"]
    url = assets.url_for(filename="app.js")
    version = url.query["v"]
    # A content hash: the same bytes give the same version under another name.
    assert assets.url_for(filename="copy.js").query["v"] == version
    assert assets.url_for(filename="hello.txt").query["v"] != version
    assert "v" not in app.router["plain"].url_for(filename="app.js").query
    assert app.router["plain"].url_for(filename="app.js", append_version=True).query["v"] == version
    for missing in ("nope.js", "sub", "link_out.txt", "../secret.txt"):
        assert "v" not in assets.url_for(filename=missing).query, missing
    resp = await client.get(str(url))
    assert resp.status_code == 200
    assert resp.content == JS
    (root / "app.js").write_bytes(JS + b"// changed\n")
    os.utime(root / "app.js", ns=(10**9, 10**9))
    assert assets.url_for(filename="app.js").query["v"] != version


@pytest.fixture
def compressed(root: Path, tmp_path: Path) -> dict[str, bytes]:
    bodies = {
        "identity": JS,
        "gzip": gzip.compress(JS, mtime=0),
        "br": b"BROTLI-STAND-IN" + JS[:20],
    }
    (root / "app.js").write_bytes(bodies["identity"])
    (root / "app.js.gz").write_bytes(bodies["gzip"])
    (root / "app.js.br").write_bytes(bodies["br"])
    (root / "only.css").write_bytes(b"body{}")
    (root / "only.css.gz").write_bytes(gzip.compress(b"body{}", mtime=0))
    (root / "leak.txt").write_bytes(b"identity of leak")
    (root / "leak.txt.gz").symlink_to(tmp_path / "secret.txt")
    (root / "dir.txt").write_bytes(b"plain")
    (root / "dir.txt.gz").mkdir()
    return bodies


@pytest.mark.parametrize(
    ("accept", "coding"),
    [
        (b"", "identity"),
        (b"gzip", "gzip"),
        (b"GZIP", "gzip"),
        (b"gzip, deflate", "gzip"),
        (b"br", "br"),
        (b"gzip, br", "br"),
        (b"br;q=0, gzip", "gzip"),
        (b"gzip;q=0", "identity"),
        (b"gzip; q=0.000", "identity"),
        (b"gzip;q=0, br;q=0", "identity"),
        (b"*", "br"),
        (b"*, br;q=0", "gzip"),
        (b"*;q=0", "identity"),
        (b"identity", "identity"),
        (b"x-gzip-not", "identity"),
        (b"brotli", "identity"),
    ],
)
async def test_precompressed_siblings(
    webkit_client: Callable[..., Any], root: Path, compressed: dict[str, bytes], accept: bytes,
    coding: str,
) -> None:  # fmt: skip
    app = web.Application()
    app.router.add_static("/static", root)
    client = await webkit_client(app)
    headers = b"Accept-Encoding: " + accept + b"\r\n" if accept else b""
    status, got, body, _ = await raw(client.port, b"/static/app.js", headers)
    assert status == 200
    assert body == compressed[coding]
    assert got["content-type"] == "text/javascript; charset=utf-8"
    assert got["content-length"] == str(len(compressed[coding]))
    _, identity, _, _ = await raw(client.port, b"/static/app.js")
    # Siblings exist, so every answer (the uncompressed one too) varies by Accept-Encoding.
    assert "Accept-Encoding" in got["vary"]
    if coding == "identity":
        assert "content-encoding" not in got
        assert got["etag"] == identity["etag"]
    else:
        assert got["content-encoding"] == coding
        assert got["etag"] != identity["etag"]
        # Conditionals and ranges work on the variant, with its own validator.
        etag = got["etag"].encode()
        status, _, body, _ = await raw(
            client.port, b"/static/app.js", headers + b"If-None-Match: " + etag + b"\r\n"
        )
        assert (status, body) == (304, b"")
        status, ranged, body, _ = await raw(
            client.port, b"/static/app.js", headers + b"Range: bytes=0-3\r\n"
        )
        assert (status, body) == (206, compressed[coding][:4])
        assert ranged["content-range"] == f"bytes 0-3/{len(compressed[coding])}"


async def test_precompressed_edge_cases(
    webkit_client: Callable[..., Any], root: Path, compressed: dict[str, bytes]
) -> None:
    app = web.Application()
    app.router.add_static("/static", root)
    client = await webkit_client(app)
    accept = b"Accept-Encoding: gzip, br\r\n"
    # Only a .gz sibling: the client asking for both gets gzip.
    status, got, body, _ = await raw(client.port, b"/static/only.css", accept)
    assert (status, got["content-encoding"], body) == (
        200,
        "gzip",
        gzip.compress(b"body{}", mtime=0),
    )
    # A sibling that is a symlink out of the root is ignored; so is a directory.
    status, got, body, data = await raw(client.port, b"/static/leak.txt", accept)
    assert (status, body) == (200, b"identity of leak")
    assert "content-encoding" not in got
    assert "vary" not in got
    assert SECRET not in data
    status, got, _, _ = await raw(client.port, b"/static/hello.txt", accept)
    assert (status, "vary" in got) == (200, False)
    status, got, body, _ = await raw(client.port, b"/static/dir.txt", accept)
    assert (status, body) == (200, b"plain")
    # The .gz file itself is gzip data, not gzip-coded content.
    status, got, body, _ = await raw(client.port, b"/static/app.js.gz")
    assert (status, body) == (200, compressed["gzip"])
    assert got["content-type"] == "application/gzip"
    assert "content-encoding" not in got
    # HEAD of a variant: its headers, no body.
    status, got, body, _ = await raw(client.port, b"/static/app.js", accept, method=b"HEAD")
    assert (status, body) == (200, b"")
    assert got["content-length"] == str(len(compressed["br"]))


async def test_vanishing_and_unopenable_files(
    webkit_client: Callable[..., Any], root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (root / "gone.txt").write_bytes(b"soon gone")
    (root / "denied.txt").write_bytes(b"no access")
    os.mkfifo(root / "fifo")
    unix = socket.socket(socket.AF_UNIX)
    unix.bind(str(root / "sock"))
    original_resolve = static_files.StaticHandler.resolve
    original_open = os.open

    def resolve_then_delete(self: static_files.StaticHandler, filename: str) -> Path:
        path = original_resolve(self, filename)
        if path.name == "gone.txt":
            path.unlink()  # removed after the checks, before the open
        return path

    def refuse(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if str(path).endswith("denied.txt"):
            raise PermissionError(13, "Permission denied", str(path))
        return original_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(static_files.StaticHandler, "resolve", resolve_then_delete)
    monkeypatch.setattr(fileresponse.os, "open", refuse)
    try:
        app = web.Application()
        app.router.add_static("/static", root)
        app.router.add_static("/open", root, follow_symlinks=True)
        client = await webkit_client(app)
        assert (await client.get("/static/gone.txt")).status_code == 404
        assert (await client.get("/static/denied.txt")).status_code == 403
        # A FIFO must not hang a worker thread; sockets are not files either.
        assert (await client.get("/static/fifo")).status_code == 404
        assert (await client.get("/static/sock")).status_code == 404
        long_name = "/" + "a" * 300 + ".txt"
        assert (await client.get("/static" + long_name)).status_code == 404
        assert (await client.get("/open" + long_name)).status_code == 404
        assert (await client.get("/static/hello.txt")).content == HELLO
    finally:
        unix.close()


@pytest.mark.skipif(
    hasattr(os, "geteuid") and os.geteuid() == 0,
    reason="root reads chmod 000 files; test_vanishing_and_unopenable_files covers EACCES",
)
async def test_chmod_000_is_forbidden(webkit_client: Callable[..., Any], root: Path) -> None:
    locked = root / "locked.txt"
    locked.write_bytes(b"locked")
    locked.chmod(0)
    app = web.Application()
    app.router.add_static("/static", root)
    client = await webkit_client(app)
    assert (await client.get("/static/locked.txt")).status_code == 403


class _Counter:
    """Counts the loop's executor hops and sendfile calls while installed."""

    def __init__(self, loop: asyncio.AbstractEventLoop, monkeypatch: pytest.MonkeyPatch) -> None:
        self.hops: list[Any] = []
        self.sendfiles: list[int] = []
        run_in_executor, sendfile = loop.run_in_executor, loop.sendfile

        def counting_executor(executor: Any, func: Any, *args: Any) -> Any:
            self.hops.append(func)
            return run_in_executor(executor, func, *args)

        async def counting_sendfile(transport: Any, file: Any, offset: int = 0,
                                    count: int | None = None, **kw: Any) -> int:  # fmt: skip
            self.sendfiles.append(count or 0)
            return await sendfile(transport, file, offset, count, **kw)

        monkeypatch.setattr(loop, "run_in_executor", counting_executor)
        monkeypatch.setattr(loop, "sendfile", counting_sendfile)


@pytest.mark.parametrize(
    ("name", "size", "accept", "extra", "sendfile"),
    [
        ("small.bin", 16 * 1024, b"", b"", False),
        ("small.bin", 16 * 1024, b"gzip", b"", False),
        ("small.bin", 16 * 1024, b"", b"Range: bytes=10-20\r\n", True),
        ("large.bin", 1024 * 1024, b"", b"", True),
        ("large.bin", 1024 * 1024, b"br, gzip", b"", True),
        ("sub", 0, b"", b"", False),
        ("missing.bin", 0, b"", b"", False),
    ],
)
async def test_one_executor_hop_per_request(
    webkit_client: Callable[..., Any], root: Path, monkeypatch: pytest.MonkeyPatch, name: str,
    size: int, accept: bytes, extra: bytes, sendfile: bool,
) -> None:  # fmt: skip
    payload = os.urandom(size)
    if size:
        (root / name).write_bytes(payload)
    app = web.Application()
    app.router.add_static("/static", root, show_index=True)
    client = await webkit_client(app)
    reader, writer = await asyncio.open_connection("127.0.0.1", client.port)
    counter = _Counter(asyncio.get_running_loop(), monkeypatch)
    headers = (b"Accept-Encoding: " + accept + b"\r\n" if accept else b"") + extra
    writer.write(
        b"GET /static/" + name.encode() + b" HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
        + headers + b"\r\n"
    )  # fmt: skip
    data = await asyncio.wait_for(reader.read(), timeout=10)
    monkeypatch.undo()
    writer.close()
    await writer.wait_closed()
    assert len(counter.hops) == 1, counter.hops
    assert bool(counter.sendfiles) is sendfile
    status = int(data.split(b" ", 2)[1])
    body = data.partition(b"\r\n\r\n")[2]
    if name == "missing.bin":
        assert status == 404
    elif name == "sub":
        assert status == 200
        assert b"inner.txt" in body
    elif extra:
        assert (status, body) == (206, payload[10:21])
    else:
        assert status == 200
        assert hashlib.sha256(body).digest() == hashlib.sha256(payload).digest()
