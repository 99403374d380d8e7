"""Seed: "Handling error pages": custom 404 and 500 pages through a middleware (the way the
polls demo does it)."""

from __future__ import annotations

import logging

from webkit import web

log = logging.getLogger("seed.error_pages")


async def handle_404(request: web.Request) -> web.Response:
    return web.Response(status=404, text="<h1>Page not found</h1>", content_type="text/html")


async def handle_500(request: web.Request) -> web.Response:
    return web.Response(status=500, text="<h1>Something went wrong</h1>", content_type="text/html")


def create_error_middleware(overrides):  # type: ignore[no-untyped-def]
    @web.middleware
    async def error_middleware(request, handler):  # type: ignore[no-untyped-def]
        try:
            return await handler(request)
        except web.HTTPException as ex:
            override = overrides.get(ex.status)
            if override:
                return await override(request)
            raise
        except Exception:
            log.exception("Error handling request")
            return await overrides[500](request)

    return error_middleware


async def index(request: web.Request) -> web.Response:
    return web.Response(text="index")


async def broken(request: web.Request) -> web.Response:
    raise RuntimeError("database is on fire")


async def forbidden(request: web.Request) -> web.Response:
    raise web.HTTPForbidden()


async def gone(request: web.Request) -> web.Response:
    raise web.HTTPNotFound(text="no such question")


def make_app() -> web.Application:
    app = web.Application(middlewares=[create_error_middleware({404: handle_404, 500: handle_500})])
    app.router.add_get("/", index)
    app.router.add_get("/broken", broken)
    app.router.add_get("/forbidden", forbidden)
    app.router.add_get("/question/{id}", gone)
    return app


async def test_custom_404_page(webkit_client) -> None:
    client = await webkit_client(make_app())
    for path in ("/no/such/page", "/question/7"):
        resp = await client.get(path)
        assert resp.status_code == 404
        assert resp.headers["content-type"] == "text/html; charset=utf-8"
        assert resp.text == "<h1>Page not found</h1>"


async def test_custom_500_page(webkit_client, caplog) -> None:
    client = await webkit_client(make_app())
    with caplog.at_level(logging.ERROR):
        resp = await client.get("/broken")
    assert resp.status_code == 500
    assert resp.text == "<h1>Something went wrong</h1>"
    assert [r.getMessage() for r in caplog.records] == ["Error handling request"]
    # The connection and the server carry on.
    assert (await client.get("/")).text == "index"


async def test_other_errors_keep_their_default_page(webkit_client) -> None:
    client = await webkit_client(make_app())
    resp = await client.get("/forbidden")
    assert (resp.status_code, resp.text) == (403, "403: Forbidden")
    resp = await client.post("/")
    assert resp.status_code == 405
    assert resp.headers["allow"] == "GET, HEAD"
    assert (await client.get("/")).text == "index"
