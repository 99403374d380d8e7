"""Seed: "Static file handling"."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from seedkit import close, connect, read_response

from webkit import web

SECRET = "outside the static root"


@pytest.fixture
def path_to_static_folder(tmp_path: Path) -> Path:
    (tmp_path / "secret.txt").write_text(SECRET)
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "page.txt").write_text("outside page")
    root = tmp_path / "static"
    root.mkdir()
    (root / "app.js").write_text("console.log('v1');")
    (root / "css").mkdir()
    (root / "css" / "site.css").write_text("body { color: red }")
    (root / "link_out.txt").symlink_to(tmp_path / "secret.txt")
    (root / "link_dir_out").symlink_to(tmp_path / "outside")
    (root / "link_in.js").symlink_to(root / "app.js")
    return root


async def test_web_static_in_add_routes(webkit_client, path_to_static_folder: Path) -> None:
    app = web.Application()
    app.add_routes([web.static("/prefix", path_to_static_folder)])
    client = await webkit_client(app)
    resp = await client.get("/prefix/app.js")
    assert resp.status_code == 200
    assert resp.text == "console.log('v1');"
    assert resp.headers["content-type"].startswith("text/javascript")
    resp = await client.get("/prefix/css/site.css")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/css")
    assert (await client.get("/prefix/missing.js")).status_code == 404
    assert (await client.head("/prefix/app.js")).status_code == 200


async def test_route_table_def_static(webkit_client, path_to_static_folder: Path) -> None:
    routes = web.RouteTableDef()
    routes.static("/prefix", path_to_static_folder)
    app = web.Application()
    app.add_routes(routes)
    client = await webkit_client(app)
    resp = await client.get("/prefix/app.js")
    assert resp.status_code == 200
    assert resp.text == "console.log('v1');"


async def test_directory_is_forbidden_by_default(webkit_client, path_to_static_folder) -> None:
    app = web.Application()
    app.add_routes([web.static("/prefix", path_to_static_folder)])
    client = await webkit_client(app)
    for path in ("/prefix/css", "/prefix/css/", "/prefix/", "/prefix"):
        assert (await client.get(path)).status_code == 403, path


async def test_show_index(webkit_client, path_to_static_folder: Path) -> None:
    app = web.Application()
    app.add_routes([web.static("/prefix", path_to_static_folder, show_index=True)])
    client = await webkit_client(app)
    resp = await client.get("/prefix/")
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "text/html; charset=utf-8"
    assert "Index of /" in resp.text
    assert '<a href="/prefix/app.js">app.js</a>' in resp.text
    assert '<a href="/prefix/css">css/</a>' in resp.text
    resp = await client.get("/prefix/css")
    assert resp.status_code == 200
    assert "Index of /css" in resp.text
    assert '<a href="/prefix/css/site.css">site.css</a>' in resp.text
    # Following a link from the index serves the file.
    assert (await client.get("/prefix/css/site.css")).text == "body { color: red }"


async def test_symlink_outside_root_is_404(webkit_client, path_to_static_folder: Path) -> None:
    app = web.Application()
    app.add_routes([web.static("/prefix", path_to_static_folder)])
    client = await webkit_client(app)
    assert (await client.get("/prefix/link_out.txt")).status_code == 404
    assert (await client.get("/prefix/link_dir_out/page.txt")).status_code == 404
    # A symlink that stays inside the static directory needs no option.
    resp = await client.get("/prefix/link_in.js")
    assert resp.status_code == 200
    assert resp.text == "console.log('v1');"


async def test_follow_symlinks(webkit_client, path_to_static_folder: Path) -> None:
    app = web.Application()
    app.add_routes([web.static("/prefix", path_to_static_folder, follow_symlinks=True)])
    client = await webkit_client(app)
    resp = await client.get("/prefix/link_out.txt")
    assert resp.status_code == 200
    assert resp.text == SECRET
    assert (await client.get("/prefix/link_dir_out/page.txt")).text == "outside page"
    # It follows symlinks out of the root; it does not allow climbing out with "..".
    reader, writer = await connect(client.port)
    writer.write(b"GET /prefix/../secret.txt HTTP/1.1\r\nHost: t\r\n\r\n")
    resp_raw = await read_response(reader)
    assert resp_raw.status in (403, 404)
    writer.write(b"GET /prefix/%2E%2E/secret.txt HTTP/1.1\r\nHost: t\r\n\r\n")
    resp_raw = await read_response(reader)
    assert resp_raw.status in (403, 404)
    await close(writer)


async def test_append_version(webkit_client, path_to_static_folder: Path) -> None:
    app = web.Application()
    app.add_routes(
        [web.static("/prefix", path_to_static_folder, append_version=True, name="static")]
    )
    client = await webkit_client(app)
    url = app.router["static"].url_for(filename="app.js")
    assert url.path == "/prefix/app.js"
    version = url.query["v"]
    assert version
    resp = await client.get(str(url))
    assert resp.status_code == 200
    assert resp.text == "console.log('v1');"

    # The version follows the content: a changed file gets a new URL (cache busting).
    js = path_to_static_folder / "app.js"
    before = js.stat().st_mtime_ns
    js.write_text("console.log('v2');")
    if js.stat().st_mtime_ns == before:  # a file system with coarse timestamps
        os.utime(js, ns=(before, before + 1_000_000_000))
    new_url = app.router["static"].url_for(filename="app.js")
    assert new_url.query["v"] != version
    assert (await client.get(str(new_url))).text == "console.log('v2');"
    # The version can be turned off per URL, and a missing file gets no version.
    assert "v" not in app.router["static"].url_for(filename="app.js", append_version=False).query
    assert "v" not in app.router["static"].url_for(filename="missing.js").query
