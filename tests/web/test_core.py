"""Core framework behaviour over real TCP (httpx through the pytest plugin)."""

from __future__ import annotations

import json

from webkit import web


async def hello(request: web.Request) -> web.Response:
    return web.Response(text="Hello, World!")


async def test_plain_route(webkit_client) -> None:
    app = web.Application()
    app.router.add_get("/", hello)
    client = await webkit_client(app)
    resp = await client.get("/")
    assert resp.status_code == 200
    assert resp.text == "Hello, World!"
    assert resp.headers["content-type"] == "text/plain; charset=utf-8"
    assert resp.headers["content-length"] == "13"
    assert "date" in resp.headers
    assert resp.headers["server"].startswith("webkit/")


async def test_404_and_405_with_allow(webkit_client) -> None:
    app = web.Application()
    app.router.add_get("/", hello)
    app.router.add_post("/", hello)
    client = await webkit_client(app)
    assert (await client.get("/missing")).status_code == 404
    resp = await client.put("/")
    assert resp.status_code == 405
    assert resp.headers["allow"] == "GET, HEAD, POST"


async def test_json_roundtrip(webkit_client) -> None:
    async def handler(request: web.Request) -> web.Response:
        data = await request.json()
        return web.json_response({"got": data})

    app = web.Application()
    app.router.add_post("/", handler)
    client = await webkit_client(app)
    resp = await client.post("/", json={"a": [1, 2]})
    assert resp.status_code == 200
    assert resp.json() == {"got": {"a": [1, 2]}}
    bad = await client.post("/", content=b"{nope", headers={"content-type": "application/json"})
    assert bad.status_code == 400
    assert "Invalid JSON" in bad.text
    null = await client.post("/", content=b"null", headers={"content-type": "application/json"})
    assert json.loads(null.text) == {"got": None}
