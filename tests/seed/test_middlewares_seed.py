"""Seed: "Middlewares" (the wink middleware, execution order, error pages, factories)."""

from __future__ import annotations

import logging
import signal

import httpx

from webkit import web
from webkit.web import middleware


@middleware
async def wink(request, handler):  # type: ignore[no-untyped-def]
    resp = await handler(request)
    resp.text = resp.text + " wink"
    return resp


async def hello(request: web.Request) -> web.Response:
    return web.Response(text="Hello")


async def test_wink_middleware(webkit_client) -> None:
    app = web.Application(middlewares=[wink])
    app.router.add_get("/", hello)
    client = await webkit_client(app)
    resp = await client.get("/")
    assert resp.text == "Hello wink"
    assert resp.headers["content-length"] == str(len("Hello wink"))


async def test_two_middlewares_keyword_only(webkit_client) -> None:
    """``web.Application(middlewares=[middleware_1, middleware_2])``."""

    def tagging(tag: str):  # type: ignore[no-untyped-def]
        @middleware
        async def tag_it(request, handler):  # type: ignore[no-untyped-def]
            resp = await handler(request)
            resp.text = resp.text + tag
            return resp

        return tag_it

    app = web.Application(middlewares=[tagging(" 1"), tagging(" 2")])
    app.router.add_get("/", hello)
    client = await webkit_client(app)
    # middleware_2 is inner, so it appends first.
    assert (await client.get("/")).text == "Hello 2 1"


ORDER_EXAMPLE = """
from webkit import web

async def test(request):
    print('Handler function called')
    return web.Response(text="Hello")

@web.middleware
async def middleware1(request, handler):
    print('Middleware 1 called')
    response = await handler(request)
    print('Middleware 1 finished')
    return response

@web.middleware
async def middleware2(request, handler):
    print('Middleware 2 called')
    response = await handler(request)
    print('Middleware 2 finished')
    return response


app = web.Application(middlewares=[middleware1, middleware2])
app.router.add_get('/', test)
web.run_app(app)
"""


async def test_execution_order_example(start_app) -> None:
    app = await start_app(ORDER_EXAMPLE)
    async with httpx.AsyncClient() as client:
        resp = await client.get(app.url + "/")
    assert resp.text == "Hello"
    app.send_signal(signal.SIGINT)
    assert await app.finish() == 0, app.stderr
    assert app.output == [
        "Middleware 1 called",
        "Middleware 2 called",
        "Handler function called",
        "Middleware 2 finished",
        "Middleware 1 finished",
    ]


@web.middleware
async def error_middleware(request, handler):  # type: ignore[no-untyped-def]
    try:
        response = await handler(request)
        if response.status != 404:
            return response
        message = response.message
    except web.HTTPException as ex:
        if ex.status != 404:
            raise
        message = ex.reason
    return web.json_response({"error": message})


async def test_json_error_middleware_example(webkit_client) -> None:
    async def missing(request: web.Request) -> web.Response:
        raise web.HTTPNotFound()

    async def forbidden(request: web.Request) -> web.Response:
        raise web.HTTPForbidden()

    app = web.Application(middlewares=[error_middleware])
    app.router.add_get("/", hello)
    app.router.add_get("/missing", missing)
    app.router.add_get("/forbidden", forbidden)
    client = await webkit_client(app)

    resp = await client.get("/missing")
    # As written, the example answers the error document with the default status (200).
    assert resp.headers["content-type"] == "application/json; charset=utf-8"
    assert resp.json() == {"error": "Not Found"}
    # The router's own 404 reaches the middleware as an HTTPNotFound too.
    assert (await client.get("/no/such/route")).json() == {"error": "Not Found"}
    # Other HTTP errors are re-raised untouched; other responses pass through.
    resp = await client.get("/forbidden")
    assert resp.status_code == 403
    assert resp.text == "403: Forbidden"
    assert (await client.get("/")).text == "Hello"


def middleware_factory(text):  # type: ignore[no-untyped-def]
    @middleware
    async def sample_middleware(request, handler):  # type: ignore[no-untyped-def]
        resp = await handler(request)
        resp.text = resp.text + text
        return resp

    return sample_middleware


async def test_middleware_factory_example(webkit_client) -> None:
    app = web.Application(middlewares=[middleware_factory(" wink")])
    app.router.add_get("/", hello)
    client = await webkit_client(app)
    assert (await client.get("/")).text == "Hello wink"


async def test_non_http_exception_becomes_500_after_the_chain(webkit_client, caplog) -> None:
    passed_through: list[str] = []

    @web.middleware
    async def outer(request, handler):  # type: ignore[no-untyped-def]
        try:
            return await handler(request)
        except ZeroDivisionError:
            passed_through.append("outer saw ZeroDivisionError")
            raise

    async def broken(request: web.Request) -> web.Response:
        1 / 0  # noqa: B018
        return web.Response()

    app = web.Application(middlewares=[outer, wink])
    app.router.add_get("/", broken)
    client = await webkit_client(app)
    with caplog.at_level(logging.ERROR):
        resp = await client.get("/")
    assert resp.status_code == 500
    assert "500 Internal Server Error" in resp.text
    # The exception went through the whole chain as itself; only then became a 500.
    assert passed_through == ["outer saw ZeroDivisionError"]
    assert any(r.exc_info and r.exc_info[0] is ZeroDivisionError for r in caplog.records)


async def test_middleware_may_skip_the_handler(webkit_client) -> None:
    called: list[str] = []

    @web.middleware
    async def guard(request, handler):  # type: ignore[no-untyped-def]
        if request.path == "/admin":
            raise web.HTTPForbidden()
        if request.path == "/blocked":
            return web.Response(status=403, text="no entry")
        return await handler(request)

    async def handler(request: web.Request) -> web.Response:
        called.append(request.path)
        return web.Response(text="ok")

    app = web.Application(middlewares=[guard])
    for path in ("/admin", "/blocked", "/open"):
        app.router.add_get(path, handler)
    client = await webkit_client(app)
    assert (await client.get("/admin")).status_code == 403
    resp = await client.get("/blocked")
    assert (resp.status_code, resp.text) == (403, "no entry")
    assert (await client.get("/open")).text == "ok"
    assert called == ["/open"]
