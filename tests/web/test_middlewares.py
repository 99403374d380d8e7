"""Middlewares: the seed's order, errors to 500, error pages, factories, normalize_path."""

from __future__ import annotations

import asyncio
import logging

import pytest

from webkit import web


async def raw_get(port: int, target: bytes) -> bytes:
    """The response head for a raw GET (for targets httpx would rewrite)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET " + target + b" HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    data = await asyncio.wait_for(reader.read(), timeout=10)
    writer.close()
    await writer.wait_closed()
    return data.split(b"\r\n\r\n", 1)[0] + b"\r\n"


async def hello(request: web.Request) -> web.Response:
    return web.Response(text="Hello")


async def test_seed_execution_order(webkit_client) -> None:
    printed: list[str] = []

    async def test(request: web.Request) -> web.Response:
        printed.append("Handler function called")
        return web.Response(text="Hello")

    @web.middleware
    async def middleware1(request: web.Request, handler):  # type: ignore[no-untyped-def]
        printed.append("Middleware 1 called")
        response = await handler(request)
        printed.append("Middleware 1 finished")
        return response

    @web.middleware
    async def middleware2(request: web.Request, handler):  # type: ignore[no-untyped-def]
        printed.append("Middleware 2 called")
        response = await handler(request)
        printed.append("Middleware 2 finished")
        return response

    app = web.Application(middlewares=[middleware1, middleware2])
    app.router.add_get("/", test)
    client = await webkit_client(app)
    assert (await client.get("/")).text == "Hello"
    assert printed == [
        "Middleware 1 called",
        "Middleware 2 called",
        "Handler function called",
        "Middleware 2 finished",
        "Middleware 1 finished",
    ]
    assert list(app.middlewares) == [middleware1, middleware2]


async def test_wink_and_factory(webkit_client) -> None:
    @web.middleware
    async def wink(request: web.Request, handler):  # type: ignore[no-untyped-def]
        resp = await handler(request)
        resp.text = resp.text + " wink"
        return resp

    def middleware_factory(text: str):  # type: ignore[no-untyped-def]
        @web.middleware
        async def sample_middleware(request: web.Request, handler):  # type: ignore[no-untyped-def]
            resp = await handler(request)
            resp.text = resp.text + text
            return resp

        return sample_middleware

    app = web.Application(middlewares=[wink, middleware_factory(" blink")])
    app.router.add_get("/", hello)
    client = await webkit_client(app)
    resp = await client.get("/")
    assert resp.text == "Hello blink wink"
    assert resp.headers["content-length"] == str(len("Hello blink wink"))


async def test_seed_error_middleware(webkit_client) -> None:
    @web.middleware
    async def error_middleware(request: web.Request, handler):  # type: ignore[no-untyped-def]
        try:
            response = await handler(request)
            if response.status != 404:
                return response
            message = response.text
        except web.HTTPException as ex:
            if ex.status != 404:
                raise
            message = ex.reason
        return web.json_response({"error": message})

    async def returns_404(request: web.Request) -> web.Response:
        return web.Response(status=404, text="gone fishing")

    async def raises_403(request: web.Request) -> web.Response:
        raise web.HTTPForbidden()

    app = web.Application(middlewares=[error_middleware])
    app.router.add_get("/", hello)
    app.router.add_get("/returns-404", returns_404)
    app.router.add_get("/forbidden", raises_403)
    client = await webkit_client(app)
    assert (await client.get("/")).text == "Hello"
    # Routing 404s go through the middleware too.
    resp = await client.get("/nowhere")
    assert resp.status_code == 200
    assert resp.json() == {"error": "Not Found"}
    assert (await client.get("/returns-404")).json() == {"error": "gone fishing"}
    resp = await client.get("/forbidden")
    assert resp.status_code == 403
    assert resp.text == "403: Forbidden"


async def test_405_goes_through_middlewares(webkit_client) -> None:
    seen: list[int] = []

    @web.middleware
    async def observe(request: web.Request, handler):  # type: ignore[no-untyped-def]
        try:
            return await handler(request)
        except web.HTTPException as exc:
            seen.append(exc.status)
            raise

    app = web.Application(middlewares=[observe])
    app.router.add_get("/", hello)
    client = await webkit_client(app)
    resp = await client.post("/")
    assert resp.status_code == 405
    assert resp.headers["allow"] == "GET, HEAD"
    assert seen == [405]


async def test_non_http_exceptions_become_500(webkit_client, caplog) -> None:
    @web.middleware
    async def broken(request: web.Request, handler):  # type: ignore[no-untyped-def]
        if request.path == "/mw-fails":
            raise ValueError("middleware bug")
        return await handler(request)

    async def handler_fails(request: web.Request) -> web.Response:
        raise KeyError("handler bug")

    app = web.Application(middlewares=[broken])
    app.router.add_get("/mw-fails", hello)
    app.router.add_get("/handler-fails", handler_fails)
    app.router.add_get("/", hello)
    client = await webkit_client(app)
    with caplog.at_level(logging.ERROR, logger="webkit.server"):
        for path in ("/mw-fails", "/handler-fails"):
            resp = await client.get(path)
            assert resp.status_code == 500, path
            assert resp.text == "500 Internal Server Error\n\nServer got itself in trouble"
    errors = [r for r in caplog.records if r.name == "webkit.server"]
    assert [type(r.exc_info[1]) for r in errors if r.exc_info] == [ValueError, KeyError]
    assert "GET /mw-fails" in errors[0].getMessage()
    # The server keeps serving.
    assert (await client.get("/")).text == "Hello"


async def test_500_traceback_only_in_debug(webkit_client) -> None:
    async def handler_fails(request: web.Request) -> web.Response:
        raise RuntimeError("visible in debug")

    app = web.Application(debug=True)
    app.router.add_get("/", handler_fails)
    client = await webkit_client(app)
    resp = await client.get("/")
    assert resp.status_code == 500
    assert "RuntimeError: visible in debug" in resp.text


async def test_middleware_short_circuits(webkit_client) -> None:
    calls: list[str] = []

    @web.middleware
    async def auth(request: web.Request, handler):  # type: ignore[no-untyped-def]
        if request.headers.get("Authorization") != "Bearer yes":
            raise web.HTTPUnauthorized(text="who are you?")
        return await handler(request)

    async def secret(request: web.Request) -> web.Response:
        calls.append("secret")
        return web.Response(text="secret")

    app = web.Application(middlewares=[auth])
    app.router.add_get("/", secret)
    client = await webkit_client(app)
    resp = await client.get("/")
    assert resp.status_code == 401
    assert resp.text == "who are you?"
    assert calls == []
    assert (await client.get("/", headers={"Authorization": "Bearer yes"})).text == "secret"


async def test_middleware_can_replace_the_request(webkit_client) -> None:
    @web.middleware
    async def rewrite(request: web.Request, handler):  # type: ignore[no-untyped-def]
        request["seen_by_mw"] = True
        return await handler(request.clone(headers={"X-Injected": "yes"}))

    async def show(request: web.Request) -> web.Response:
        return web.json_response(
            {
                "injected": request.headers.get("X-Injected"),
                "storage": request.get("seen_by_mw"),
                "match": dict(request.match_info),
            }
        )

    app = web.Application(middlewares=[rewrite])
    app.router.add_get("/{x}", show)
    client = await webkit_client(app)
    assert (await client.get("/val")).json() == {
        "injected": "yes",
        "storage": True,
        "match": {"x": "val"},
    }


async def test_old_style_middleware_refused_at_startup() -> None:
    async def old_style(app: web.Application, handler):  # type: ignore[no-untyped-def]
        return handler

    app = web.Application(middlewares=[old_style])  # type: ignore[list-item]
    runner = web.AppRunner(app)
    with pytest.raises(TypeError, match=r"must be decorated with @web.middleware"):
        await runner.setup()
    await runner.cleanup()


def test_middleware_decorator_marks_function() -> None:
    async def mw(request: web.Request, handler):  # type: ignore[no-untyped-def]
        return await handler(request)

    assert web.middleware(mw) is mw
    assert mw.__middleware_version__ == 1  # type: ignore[attr-defined]


# -- normalize_path_middleware -------------------------------------------------------------------


async def test_normalize_path_append_slash_and_merge(webkit_client) -> None:
    app = web.Application(middlewares=[web.normalize_path_middleware()])
    app.router.add_get("/dir/", hello)
    app.router.add_get("/a/b", hello)
    app.router.add_get("//evil.example/", hello)
    client = await webkit_client(app, follow_redirects=False)

    resp = await client.get("/dir")
    assert resp.status_code == 308
    assert resp.headers["location"] == "/dir/"
    resp = await client.get("/dir", params={"q": "1"})
    assert resp.headers["location"] == "/dir/?q=1"
    # Paths with "//" are sent raw (httpx would read "//a" as a host).
    for target, location in (
        (b"/a///b", b"/a/b"),
        (b"//a/b?x=1", b"/a/b?x=1"),
        (b"//dir", b"/dir/"),
    ):
        head = await raw_get(client.port, target)
        assert head.startswith(b"HTTP/1.1 308 "), target
        assert b"\r\nLocation: " + location + b"\r\n" in head, head
    # Never a protocol-relative Location, even when such a route exists.
    head = await raw_get(client.port, b"//evil.example")
    assert head.startswith(b"HTTP/1.1 404 "), head
    # Nothing resolves: the 404 stands.
    assert (await client.get("/nowhere")).status_code == 404
    assert (await client.get("/a/b")).status_code == 200


async def test_normalize_path_remove_slash(webkit_client) -> None:
    app = web.Application(
        middlewares=[
            web.normalize_path_middleware(
                append_slash=False, remove_slash=True, redirect_class=web.HTTPMovedPermanently
            )
        ]
    )
    app.router.add_get("/page", hello)
    client = await webkit_client(app, follow_redirects=False)
    resp = await client.get("/page/")
    assert resp.status_code == 301
    assert resp.headers["location"] == "/page"


def test_normalize_path_rejects_both_directions() -> None:
    with pytest.raises(ValueError, match="cannot both be True"):
        web.normalize_path_middleware(append_slash=True, remove_slash=True)
