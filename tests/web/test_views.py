"""Class-based views: one method per verb, 405 with Allow, HEAD through get."""

from __future__ import annotations

import pytest

from webkit import web


class ItemView(web.View):
    async def get(self) -> web.Response:
        return web.Response(
            text=f"get {self.request.match_info['id']}",
            headers={"X-Method": self.request.method},
        )

    async def post(self) -> web.Response:
        data = await self.request.text()
        return web.Response(text=f"post {data}", status=201)

    async def delete(self) -> web.Response:
        return web.Response(status=204)


class PostOnly(web.View):
    async def post(self) -> web.Response:
        return web.Response(text="posted")


class WithHead(web.View):
    async def get(self) -> web.Response:
        return web.Response(text="full body")

    async def head(self) -> web.Response:
        return web.Response(headers={"X-Own-Head": "1"})


async def test_view_dispatches_by_method(webkit_client) -> None:
    app = web.Application()
    app.router.add_view("/items/{id}", ItemView)
    client = await webkit_client(app)

    resp = await client.get("/items/3")
    assert resp.status_code == 200
    assert resp.text == "get 3"
    resp = await client.post("/items/3", content=b"payload")
    assert resp.status_code == 201
    assert resp.text == "post payload"
    resp = await client.delete("/items/3")
    assert resp.status_code == 204
    assert resp.content == b""


async def test_missing_method_is_405_with_allow(webkit_client) -> None:
    app = web.Application()
    app.router.add_view("/items/{id}", ItemView)
    app.router.add_view("/post-only", PostOnly)
    client = await webkit_client(app)

    resp = await client.put("/items/3")
    assert resp.status_code == 405
    assert resp.headers["allow"] == "DELETE, GET, HEAD, POST"
    resp = await client.request("PROPFIND", "/items/3")
    assert resp.status_code == 405
    assert resp.headers["allow"] == "DELETE, GET, HEAD, POST"

    resp = await client.get("/post-only")
    assert resp.status_code == 405
    assert resp.headers["allow"] == "POST"
    resp = await client.head("/post-only")
    assert resp.status_code == 405
    assert resp.headers["allow"] == "POST"


async def test_head_uses_get_unless_defined(webkit_client) -> None:
    app = web.Application()
    app.router.add_view("/items/{id}", ItemView)
    app.router.add_view("/own-head", WithHead)
    client = await webkit_client(app)

    resp = await client.head("/items/9")
    assert resp.status_code == 200
    assert resp.headers["x-method"] == "HEAD"
    assert resp.headers["content-length"] == str(len("get 9"))
    assert resp.content == b""
    resp = await client.head("/own-head")
    assert resp.headers["x-own-head"] == "1"
    assert resp.content == b""


def test_web_view_is_the_route_def_function(tmp_path) -> None:
    # Module names must never shadow the functions web.view and web.static, even once a
    # static resource (which imports the static-files module) exists.
    web.UrlDispatcher().add_static("/s", tmp_path)
    definition = web.view("/v", PostOnly)
    assert isinstance(definition, web.RouteDef)
    assert definition.method == "*"
    assert isinstance(web.static("/s", tmp_path), web.StaticDef)


async def test_view_registration_forms(webkit_client) -> None:
    routes = web.RouteTableDef()

    @routes.view("/decorated", name="decorated")
    class Decorated(web.View):
        async def get(self) -> web.Response:
            return web.Response(text="decorated")

    app = web.Application()
    app.add_routes(routes)
    app.add_routes([web.view("/def", PostOnly, name="post_only")])
    app.router.add_route("*", "/star", ItemView)
    # A view may also be routed for one method only.
    app.router.add_get("/get-only/{id}", ItemView)
    client = await webkit_client(app)

    assert (await client.get("/decorated")).text == "decorated"
    assert (await client.post("/def")).text == "posted"
    assert str(app.router["post_only"].url_for()) == "/def"
    resp = await client.delete("/star", params={"x": "1"})
    assert resp.status_code == 204
    assert (await client.get("/get-only/5")).text == "get 5"
    resp = await client.post("/get-only/5")
    assert resp.status_code == 405
    assert resp.headers["allow"] == "GET, HEAD"


async def test_view_exceptions_and_request_access(webkit_client) -> None:
    class Guarded(web.View):
        async def get(self) -> web.Response:
            if "token" not in self.request.query:
                raise web.HTTPForbidden(text="no token")
            return web.Response(text=self.request.query["token"])

    app = web.Application()
    app.router.add_view("/guarded", Guarded)
    client = await webkit_client(app)
    resp = await client.get("/guarded")
    assert resp.status_code == 403
    assert resp.text == "no token"
    assert (await client.get("/guarded", params={"token": "t1"})).text == "t1"


def test_view_is_an_abstract_view() -> None:
    from webkit.abc import AbstractView

    assert issubclass(ItemView, AbstractView)
    assert issubclass(web.View, AbstractView)


async def test_sync_handlers_are_wrapped_with_a_warning(webkit_client) -> None:
    def sync_handler(request: web.Request) -> web.Response:
        return web.Response(text="sync")

    class NotAView:
        def __init__(self, request: web.Request) -> None:
            pass

    app = web.Application()
    with pytest.warns(DeprecationWarning, match="not an async function"):
        app.router.add_get("/sync", sync_handler)
    with pytest.warns(DeprecationWarning, match="not an async function"):
        app.router.add_view("/not-a-view", NotAView)
    client = await webkit_client(app)
    assert (await client.get("/sync")).text == "sync"
    # The wrapped class returns no response: a 500, not a crash.
    assert (await client.get("/not-a-view")).status_code == 500
