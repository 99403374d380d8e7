"""Static files (basic): headers, directories, escaping the root, symlinks, 304, ranges."""

from __future__ import annotations

import asyncio
import email.utils
import math
import os
from pathlib import Path

import pytest

from webkit import web

SECRET = b"TOP-SECRET-CONTENT-0451"
HELLO = b"Hello, static world!\n"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """``tmp_path/root`` is served; ``tmp_path/secret.txt`` sits next to it."""
    (tmp_path / "secret.txt").write_bytes(SECRET)
    root = tmp_path / "root"
    root.mkdir()
    (root / "hello.txt").write_bytes(HELLO)
    (root / "style.css").write_text("body { color: red }")
    (root / "data.bin").write_bytes(bytes(range(256)) * 4)
    (root / "sub").mkdir()
    (root / "sub" / "inner.txt").write_text("inner")
    (root / "<script>&.txt").write_text("odd name")
    (root / "a b.txt").write_text("space")
    (root / "link_out.txt").symlink_to(tmp_path / "secret.txt")
    (root / "link_dir_out").symlink_to(tmp_path)
    (root / "link_in.txt").symlink_to(root / "hello.txt")
    return root


async def raw_get(port: int, target: bytes, extra: bytes = b"") -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        b"GET " + target + b" HTTP/1.1\r\nHost: t\r\nConnection: close\r\n" + extra + b"\r\n"
    )
    data = await asyncio.wait_for(reader.read(), timeout=10)
    writer.close()
    await writer.wait_closed()
    return int(data.split(b" ", 2)[1]), data


async def test_serves_files_with_headers(webkit_client, root: Path) -> None:
    app = web.Application()
    app.router.add_static("/static", root, name="static")
    client = await webkit_client(app)

    resp = await client.get("/static/hello.txt")
    assert resp.status_code == 200
    assert resp.content == HELLO
    assert resp.headers["content-type"] == "text/plain; charset=utf-8"
    assert resp.headers["content-length"] == str(len(HELLO))
    assert resp.headers["accept-ranges"] == "bytes"
    etag = resp.headers["etag"]
    assert etag.startswith('"')
    assert etag.endswith('"')
    assert len(etag) > 2
    st = (root / "hello.txt").stat()
    # Rounded up to the next second, as aiohttp does.
    expected = email.utils.formatdate(math.ceil(st.st_mtime), usegmt=True)
    assert resp.headers["last-modified"] == expected

    css = await client.get("/static/style.css")
    assert css.headers["content-type"] == "text/css; charset=utf-8"
    assert css.text == "body { color: red }"
    binary = await client.get("/static/data.bin")
    assert binary.headers["content-type"] == "application/octet-stream"
    assert binary.content == bytes(range(256)) * 4
    assert (await client.get("/static/sub/inner.txt")).text == "inner"
    assert (await client.get("/static/a%20b.txt")).text == "space"
    assert (await client.get("/static/link_in.txt")).content == HELLO

    head = await client.head("/static/hello.txt")
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == str(len(HELLO))
    assert head.headers["etag"] == etag

    assert (await client.get("/static/missing.txt")).status_code == 404
    assert (await client.get("/static/hello.txt/more")).status_code == 404
    resp = await client.post("/static/hello.txt")
    assert resp.status_code == 405
    assert resp.headers["allow"] == "GET, HEAD"
    assert str(app.router["static"].url_for(filename="a b.txt")) == "/static/a%20b.txt"


async def test_directory_is_forbidden_unless_show_index(webkit_client, root: Path) -> None:
    app = web.Application()
    app.router.add_static("/plain", root)
    app.router.add_static("/listed", root, show_index=True)
    client = await webkit_client(app)

    assert (await client.get("/plain/")).status_code == 403
    assert (await client.get("/plain")).status_code == 403
    assert (await client.get("/plain/sub")).status_code == 403

    resp = await client.get("/listed/")
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "text/html; charset=utf-8"
    page = resp.text
    assert "<title>Index of /</title>" in page
    assert '<a href="/listed/sub">sub/</a>' in page
    assert '<a href="/listed/hello.txt">hello.txt</a>' in page
    assert '<a href="/listed/a%20b.txt">a b.txt</a>' in page
    # Names are escaped: a file name cannot inject markup.
    assert "<script>" not in page
    assert "&lt;script&gt;&amp;.txt" in page
    assert '<a href="/listed/%3Cscript%3E%26.txt">' in page
    assert (await client.get("/listed")).text == page
    sub = await client.get("/listed/sub")
    assert "<title>Index of /sub</title>" in sub.text
    assert '<a href="/listed/sub/inner.txt">inner.txt</a>' in sub.text


TRAVERSALS = [
    b"/static/../secret.txt",
    b"/static/%2e%2e/secret.txt",
    b"/static/%2E%2E/secret.txt",
    b"/static/..%2fsecret.txt",
    b"/static/..%2Fsecret.txt",
    b"/static/%2e%2e%2fsecret.txt",
    b"/static/sub/..%2F..%2Fsecret.txt",
    b"/static/%2F..%2Fsecret.txt",
    b"/static/sub%2F..%2F..%2Fsecret.txt",
    b"/static/..%5Csecret.txt",
    b"/static/sub%5C..%5C..%5Csecret.txt",
    b"/static/%5C..%5Csecret.txt",
    b"/static//secret.txt",
    b"/static/%2Fsecret.txt",
    b"/static/hello.txt%00",
    b"/static/%00../secret.txt",
    b"/static/..%00/secret.txt",
    b"/static/link_out.txt",
    b"/static/link_dir_out/secret.txt",
]


async def test_nothing_outside_the_root_is_revealed(webkit_client, root: Path) -> None:
    app = web.Application()
    app.router.add_static("/static", root)
    client = await webkit_client(app)
    absolute = str(root.parent / "secret.txt").encode()
    targets = [*TRAVERSALS, b"/static/" + absolute, b"/static/%2F" + absolute.lstrip(b"/")]
    for target in targets:
        status, data = await raw_get(client.port, target)
        assert status in (400, 403, 404), (target, status)
        assert SECRET not in data, target
    # Symlinks leaving the root are 404 (the seed), not 403.
    assert (await raw_get(client.port, b"/static/link_out.txt"))[0] == 404
    assert (await raw_get(client.port, b"/static/link_dir_out/secret.txt"))[0] == 404
    # Still serving normally afterwards.
    assert (await client.get("/static/hello.txt")).content == HELLO


async def test_follow_symlinks_opt_in(webkit_client, root: Path) -> None:
    app = web.Application()
    app.router.add_static("/static", root, follow_symlinks=True)
    client = await webkit_client(app)
    assert (await client.get("/static/link_out.txt")).content == SECRET
    assert (await client.get("/static/link_dir_out/secret.txt")).content == SECRET
    # follow_symlinks does not open the door to ".." tricks.
    for target in TRAVERSALS[:17]:
        status, data = await raw_get(client.port, target)
        assert status in (400, 403, 404), (target, status)
        assert SECRET not in data, target


async def test_conditional_and_range_requests(webkit_client, root: Path) -> None:
    app = web.Application()
    app.router.add_static("/static", root)
    client = await webkit_client(app)
    first = await client.get("/static/hello.txt")
    etag = first.headers["etag"]
    last_modified = first.headers["last-modified"]

    resp = await client.get("/static/hello.txt", headers={"If-None-Match": etag})
    assert resp.status_code == 304
    assert resp.content == b""
    assert resp.headers["etag"] == etag
    resp = await client.get("/static/hello.txt", headers={"If-None-Match": '"other"'})
    assert resp.status_code == 200
    resp = await client.get("/static/hello.txt", headers={"If-Modified-Since": last_modified})
    assert resp.status_code == 304

    resp = await client.get("/static/hello.txt", headers={"Range": "bytes=0-4"})
    assert resp.status_code == 206
    assert resp.content == HELLO[:5]
    assert resp.headers["content-range"] == f"bytes 0-4/{len(HELLO)}"
    assert resp.headers["content-length"] == "5"
    resp = await client.get("/static/data.bin", headers={"Range": "bytes=-10"})
    assert resp.status_code == 206
    assert resp.content == (bytes(range(256)) * 4)[-10:]
    resp = await client.get("/static/hello.txt", headers={"Range": "bytes=500-"})
    assert resp.status_code == 416
    assert resp.headers["content-range"] == f"bytes */{len(HELLO)}"


async def test_append_version_and_route_table_static(webkit_client, root: Path) -> None:
    routes = web.RouteTableDef()
    routes.static("/assets", root, name="assets", append_version=True)
    app = web.Application()
    app.add_routes(routes)
    client = await webkit_client(app)
    url = app.router["assets"].url_for(filename="style.css")
    assert url.path == "/assets/style.css"
    version = url.query["v"]
    assert len(version) >= 8
    assert str(app.router["assets"].url_for(filename="style.css", append_version=False)) == (
        "/assets/style.css"
    )
    assert "v" not in app.router["assets"].url_for(filename="missing.css").query
    resp = await client.get(str(url))
    assert resp.text == "body { color: red }"
    # The version changes with the content.
    (root / "style.css").write_text("body { color: blue }")
    os.utime(root / "style.css", ns=(1, 1))
    assert app.router["assets"].url_for(filename="style.css").query["v"] != version


async def test_index_links_for_unicode_names(webkit_client, tmp_path: Path) -> None:
    root = tmp_path / "каталог"
    root.mkdir()
    (root / "файл.txt").write_text("x")
    app = web.Application()
    app.router.add_static("/статика", root, show_index=True)
    client = await webkit_client(app)
    page = (await client.get("/статика/")).text
    prefix = "/%D1%81%D1%82%D0%B0%D1%82%D0%B8%D0%BA%D0%B0"
    link = f'<a href="{prefix}/%D1%84%D0%B0%D0%B9%D0%BB.txt">файл.txt</a>'
    assert link in page
    assert (await client.get(f"{prefix}/%D1%84%D0%B0%D0%B9%D0%BB.txt")).text == "x"


def test_static_validation(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="does not exist"):
        web.static("/s", tmp_path / "nope").register(web.UrlDispatcher())
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="not a directory"):
        web.UrlDispatcher().add_static("/s", tmp_path / "file")
    with pytest.raises(ValueError, match="must not be '/'"):
        web.UrlDispatcher().add_static("/", tmp_path)
