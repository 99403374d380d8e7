"""Application: typed storage, server options, signals, cleanup contexts, sub-apps, domains."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, MutableMapping

import pytest

from webkit import web

counter_key = web.AppKey("counter_key", int)
name_key = web.AppKey("name_key", str)


async def ok(request: web.Request) -> web.Response:
    return web.Response(text="ok")


# -- storage -----------------------------------------------------------------------------------


def test_app_is_a_mutable_mapping_with_typed_keys() -> None:
    app = web.Application()
    assert isinstance(app, MutableMapping)
    app[counter_key] = 1
    app[name_key] = "webkit"
    assert app[counter_key] == 1
    assert app.get(name_key) == "webkit"
    assert app.get(web.AppKey("missing", int)) is None
    assert app.get(web.AppKey("missing", int), 5) == 5
    assert len(app) == 2
    assert set(app) == {counter_key, name_key}
    assert counter_key in app
    del app[counter_key]
    assert counter_key not in app
    with pytest.raises(KeyError):
        app[counter_key]
    assert repr(counter_key) == "<AppKey(counter_key, type=int)>"
    assert repr(web.AppKey("untyped")) == "<AppKey(untyped, type=<<Unknown>>)>"
    assert repr(web.AppKey("app", web.Application)) == (
        "<AppKey(app, type=webkit.web.app.Application)>"
    )
    # An Application is truthy and hashable by identity even when empty.
    empty = web.Application()
    assert bool(empty)
    assert empty != web.Application()
    assert {empty: 1}[empty] == 1


def test_str_key_warns() -> None:
    app = web.Application()
    with pytest.warns(web.NotAppKeyWarning, match="AppKey"):
        app["plain"] = 1
    assert app["plain"] == 1


async def test_changing_state_after_start_warns(webkit_client) -> None:
    app = web.Application()
    app[counter_key] = 0
    await webkit_client(app)
    with pytest.warns(DeprecationWarning, match="started"):
        app[counter_key] = 1
    with pytest.warns(DeprecationWarning, match="started"):
        del app[counter_key]


def test_loop_argument_refused() -> None:
    loop = asyncio.new_event_loop()
    try:
        with pytest.raises(TypeError, match="loop"):
            web.Application(loop=loop)
    finally:
        loop.close()


# -- server options ----------------------------------------------------------------------------


async def test_handler_args_reach_the_server(webkit_client) -> None:
    app = web.Application(
        handler_args={
            "keepalive_timeout": 0.3,
            "max_line_size": 100,
            "timeout_ceil_threshold": 1,
        }
    )
    app.router.add_get("/{tail:.*}", ok)
    client = await webkit_client(app)
    runner = client.server.runner
    assert runner is not None
    assert runner.server is not None
    limits = runner.server.limits
    assert limits.keepalive_timeout == 0.3
    assert limits.max_line_size == 100
    assert limits.timeout_ceil_threshold == 1

    assert (await client.get("/" + "a" * 50)).status_code == 200
    assert (await client.get("/" + "a" * 200)).status_code == 414

    # keepalive_timeout: an idle keep-alive connection is closed by the server.
    reader, writer = await asyncio.open_connection("127.0.0.1", client.port)
    writer.write(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert await reader.readexactly(2) == b"ok"
    assert await asyncio.wait_for(reader.read(), timeout=5) == b""
    writer.close()
    await writer.wait_closed()


async def test_runner_kwargs_override_handler_args(webkit_server) -> None:
    app = web.Application(handler_args={"max_line_size": 100, "max_headers": 7})
    server = await webkit_server(app, max_line_size=300)
    limits = server.runner.server.limits
    assert limits.max_line_size == 300
    assert limits.max_headers == 7


async def test_unknown_handler_arg_is_refused() -> None:
    app = web.Application(handler_args={"no_such_option": 1})
    runner = web.AppRunner(app)
    with pytest.raises(TypeError, match="no_such_option"):
        await runner.setup()
    await runner.cleanup()


async def test_client_max_size(webkit_client) -> None:
    async def echo_size(request: web.Request) -> web.Response:
        return web.Response(text=str(len(await request.read())))

    app = web.Application(client_max_size=10)
    assert app.client_max_size == 10
    app.router.add_post("/", echo_size)
    client = await webkit_client(app)
    assert (await client.post("/", content=b"x" * 10)).text == "10"
    resp = await client.post("/", content=b"x" * 11)
    assert resp.status_code == 413
    assert "10" in resp.text


# -- signals -----------------------------------------------------------------------------------


async def test_lifecycle_signal_order() -> None:
    events: list[str] = []

    def recorder(label: str):
        async def record(app: web.Application) -> None:
            assert isinstance(app, web.Application)
            events.append(label)

        return record

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        events.append("ctx-start")
        yield
        events.append("ctx-cleanup")

    app = web.Application()
    app.on_startup.append(recorder("startup-1"))
    app.on_startup.append(recorder("startup-2"))
    app.cleanup_ctx.append(ctx)
    app.on_shutdown.append(recorder("shutdown-1"))
    app.on_shutdown.append(recorder("shutdown-2"))
    app.on_cleanup.append(recorder("cleanup-1"))
    app.on_cleanup.append(recorder("cleanup-2"))
    app.router.add_get("/", ok)

    runner = web.AppRunner(app)
    await runner.setup()
    assert events == ["ctx-start", "startup-1", "startup-2"]
    assert app.frozen
    await runner.cleanup()
    assert events == [
        "ctx-start",
        "startup-1",
        "startup-2",
        "shutdown-1",
        "shutdown-2",
        "ctx-cleanup",
        "cleanup-1",
        "cleanup-2",
    ]


def test_signal_handlers_must_be_async() -> None:
    app = web.Application()

    def sync_handler(app: web.Application) -> None:
        pass

    for signal in (app.on_startup, app.on_shutdown, app.on_cleanup, app.on_response_prepare):
        with pytest.raises(TypeError, match="must be an async function"):
            signal.append(sync_handler)
        with pytest.raises(TypeError, match="must be an async function"):
            signal.insert(0, sync_handler)
        with pytest.raises(TypeError, match="must be an async function"):
            signal.extend([sync_handler])
    assert len(app.on_startup) == 1  # only the cleanup_ctx runner


async def test_signals_frozen_after_start(webkit_client) -> None:
    async def handler(app: web.Application) -> None:
        pass

    app = web.Application()
    await webkit_client(app)
    for signal in (app.on_startup, app.on_shutdown, app.on_cleanup, app.on_response_prepare):
        assert signal.frozen
        with pytest.raises(RuntimeError, match="after the application has started"):
            signal.append(handler)
    with pytest.raises(RuntimeError, match="after the application has started"):
        app.cleanup_ctx.append(handler)  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="after the application has started"):
        app.middlewares.append(web.middleware(handler))  # type: ignore[arg-type]


async def test_on_response_prepare_adds_headers(webkit_client) -> None:
    seen: list[tuple[str, int]] = []

    async def on_prepare(request: web.Request, response: web.StreamResponse) -> None:
        seen.append((request.path, response.status))
        response.headers["My-Header"] = "value"

    async def streamed(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        assert response.headers["My-Header"] == "value"
        await response.write(b"chunk-1 ")
        await response.write(b"chunk-2")
        return response

    app = web.Application()
    app.on_response_prepare.append(on_prepare)
    app.router.add_get("/plain", ok)
    app.router.add_get("/stream", streamed)
    client = await webkit_client(app)

    resp = await client.get("/plain")
    assert resp.text == "ok"
    assert resp.headers["my-header"] == "value"
    resp = await client.get("/stream")
    assert resp.text == "chunk-1 chunk-2"
    assert resp.headers["my-header"] == "value"
    resp = await client.get("/missing")
    assert resp.status_code == 404
    assert resp.headers["my-header"] == "value"
    assert seen == [("/plain", 200), ("/stream", 200), ("/missing", 404)]


# -- cleanup contexts ----------------------------------------------------------------------------


async def test_cleanup_ctx_reverse_order_and_only_if_started() -> None:
    events: list[str] = []

    def ctx(label: str, *, fail_startup: bool = False):
        async def context(app: web.Application) -> AsyncIterator[None]:
            events.append(f"start {label}")
            if fail_startup:
                raise RuntimeError(f"startup {label} failed")
            yield
            events.append(f"cleanup {label}")

        return context

    app = web.Application()
    app.cleanup_ctx.append(ctx("pg"))
    app.cleanup_ctx.append(ctx("redis"))
    app.cleanup_ctx.append(ctx("broken", fail_startup=True))
    app.cleanup_ctx.append(ctx("never"))
    runner = web.AppRunner(app)
    with pytest.raises(RuntimeError, match="startup broken failed"):
        await runner.setup()
    assert events == ["start pg", "start redis", "start broken"]
    await runner.cleanup()
    # Cleanup runs iff startup finished, in reverse order.
    assert events == [
        "start pg",
        "start redis",
        "start broken",
        "cleanup redis",
        "cleanup pg",
    ]


async def test_cleanup_error_does_not_skip_others() -> None:
    events: list[str] = []

    def ctx(label: str, *, fail_cleanup: bool = False):
        async def context(app: web.Application) -> AsyncIterator[None]:
            yield
            events.append(f"cleanup {label}")
            if fail_cleanup:
                raise ValueError(f"cleanup {label} failed")

        return context

    async def on_cleanup(app: web.Application) -> None:
        events.append("on_cleanup")

    app = web.Application()
    app.cleanup_ctx.append(ctx("a"))
    app.cleanup_ctx.append(ctx("b", fail_cleanup=True))
    app.cleanup_ctx.append(ctx("c"))
    app.on_cleanup.append(on_cleanup)
    runner = web.AppRunner(app)
    await runner.setup()
    with pytest.raises(ValueError, match="cleanup b failed"):
        await runner.cleanup()
    assert events == ["cleanup c", "cleanup b", "cleanup a", "on_cleanup"]


async def test_several_cleanup_errors_are_all_reported() -> None:
    async def failing_ctx(app: web.Application) -> AsyncIterator[None]:
        yield
        raise ValueError("ctx cleanup failed")

    async def failing_cleanup(app: web.Application) -> None:
        raise KeyError("signal cleanup failed")

    app = web.Application()
    app.cleanup_ctx.append(failing_ctx)
    app.on_cleanup.append(failing_cleanup)
    runner = web.AppRunner(app)
    await runner.setup()
    with pytest.raises(web.CleanupError) as info:
        await runner.cleanup()
    assert [type(e) for e in info.value.exceptions] == [ValueError, KeyError]
    assert str(info.value.exceptions[0]) == "ctx cleanup failed"


async def test_cleanup_ctx_with_two_yields_is_reported() -> None:
    async def two_yields(app: web.Application) -> AsyncIterator[None]:
        yield
        yield

    app = web.Application()
    app.cleanup_ctx.append(two_yields)
    runner = web.AppRunner(app)
    await runner.setup()
    with pytest.raises(RuntimeError, match="more than one 'yield'"):
        await runner.cleanup()


async def test_cleanup_ctx_must_be_async_generator() -> None:
    async def not_a_generator(app: web.Application) -> None:
        return None

    app = web.Application()
    app.cleanup_ctx.append(not_a_generator)  # type: ignore[arg-type]
    runner = web.AppRunner(app)
    with pytest.raises(TypeError, match="async generator"):
        await runner.setup()
    await runner.cleanup()


# -- sub-applications --------------------------------------------------------------------------


async def test_subapp_middlewares_chain_and_url_for(webkit_client) -> None:
    calls: list[str] = []
    db_key = web.AppKey("db_key", str)
    admin_key = web.AppKey("admin_key", web.Application)

    @web.middleware
    async def app_mw(request: web.Request, handler):  # type: ignore[no-untyped-def]
        calls.append(f"app mw (request.app={request.app[name_key]})")
        return await handler(request)

    @web.middleware
    async def admin_mw(request: web.Request, handler):  # type: ignore[no-untyped-def]
        calls.append(f"admin mw (request.app={request.app[name_key]})")
        return await handler(request)

    async def resource(request: web.Request) -> web.Response:
        calls.append("handler")
        url = request.app.router["name"].url_for()
        return web.json_response(
            {
                "url": str(url),
                "app": request.app[name_key],
                "db": request.config_dict[db_key],
                "own": request.config_dict[name_key],
            }
        )

    async def main_handler(request: web.Request) -> web.Response:
        # The seed's explicit technique: the main app keeps the admin app under an AppKey.
        admin = request.app[admin_key]
        return web.Response(text=str(admin.router["name"].url_for()))

    admin = web.Application(middlewares=[admin_mw])
    admin[name_key] = "admin"
    admin.add_routes([web.get("/resource", resource, name="name")])
    app = web.Application(middlewares=[app_mw])
    app[name_key] = "main"
    app[db_key] = "the-db"
    app.router.add_get("/", main_handler)
    resource_obj = app.add_subapp("/admin/", admin)
    app[admin_key] = admin
    assert isinstance(resource_obj, web.PrefixedSubAppResource)
    assert str(admin.router["name"].url_for()) == "/admin/resource"

    client = await webkit_client(app)
    resp = await client.get("/admin/resource")
    assert resp.json() == {"url": "/admin/resource", "app": "admin", "db": "the-db", "own": "admin"}
    assert calls == [
        "app mw (request.app=main)",
        "admin mw (request.app=admin)",
        "handler",
    ]
    calls.clear()
    assert (await client.get("/")).text == "/admin/resource"
    assert calls == ["app mw (request.app=main)"]

    # 404 inside the prefix belongs to the sub-app: both middleware layers see it.
    calls.clear()
    assert (await client.get("/admin/nope")).status_code == 404
    assert calls == ["app mw (request.app=main)", "admin mw (request.app=admin)"]
    assert (await client.get("/adminx")).status_code == 404


async def test_subapp_registered_first_owns_its_prefix(webkit_client) -> None:
    sub = web.Application()
    sub.router.add_get("/inner", ok)
    app = web.Application()
    app.add_subapp("/sub", sub)
    app.router.add_get("/sub/outer", ok)
    client = await webkit_client(app)
    assert (await client.get("/sub/inner")).status_code == 200
    # Registered earlier, the sub-application answers for everything under its prefix.
    assert (await client.get("/sub/outer")).status_code == 404


async def test_subapp_root_routes(webkit_client) -> None:
    async def root(request: web.Request) -> web.Response:
        return web.Response(text=f"root of sub {request.path}")

    sub = web.Application()
    sub.router.add_get("", root, name="bare")
    sub.router.add_get("/", root, name="slash")
    app = web.Application()
    app.add_subapp("/sub", sub)
    client = await webkit_client(app)
    assert (await client.get("/sub")).text == "root of sub /sub"
    assert (await client.get("/sub/")).text == "root of sub /sub/"
    assert str(sub.router["bare"].url_for()) == "/sub"
    assert str(sub.router["slash"].url_for()) == "/sub/"


async def test_nested_subapps_three_levels(webkit_client) -> None:
    order: list[str] = []

    def mw(label: str):
        @web.middleware
        async def middleware(request: web.Request, handler):  # type: ignore[no-untyped-def]
            order.append(label)
            return await handler(request)

        return middleware

    async def leaf(request: web.Request) -> web.Response:
        return web.Response(text=f"{request.app[name_key]} {request.config_dict[counter_key]}")

    level3 = web.Application(middlewares=[mw("l3")])
    level3[name_key] = "level3"
    level3.router.add_get("/leaf", leaf, name="leaf")
    level2 = web.Application(middlewares=[mw("l2a"), mw("l2b")])
    level2.add_subapp("/c", level3)
    root = web.Application(middlewares=[mw("root")])
    root[counter_key] = 42
    root.add_subapp("/a/b", level2)
    assert str(level3.router["leaf"].url_for()) == "/a/b/c/leaf"

    client = await webkit_client(root)
    assert (await client.get("/a/b/c/leaf")).text == "level3 42"
    assert order == ["root", "l2a", "l2b", "l3"]


async def test_signals_reach_subapps_with_subapp_argument() -> None:
    seen: list[tuple[str, str]] = []

    def recorder(signal: str):
        async def record(app: web.Application) -> None:
            seen.append((signal, app[name_key]))

        return record

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        seen.append(("ctx-start", app[name_key]))
        yield
        seen.append(("ctx-cleanup", app[name_key]))

    main = web.Application()
    main[name_key] = "main"
    sub = web.Application()
    sub[name_key] = "sub"
    for app in (main, sub):
        app.on_startup.append(recorder("startup"))
        app.on_shutdown.append(recorder("shutdown"))
        app.on_cleanup.append(recorder("cleanup"))
    sub.cleanup_ctx.append(ctx)
    main.add_subapp("/sub", sub)

    runner = web.AppRunner(main)
    await runner.setup()
    await runner.cleanup()
    assert seen == [
        ("startup", "main"),
        ("ctx-start", "sub"),
        ("startup", "sub"),
        ("shutdown", "main"),
        ("shutdown", "sub"),
        ("cleanup", "main"),
        ("ctx-cleanup", "sub"),
        ("cleanup", "sub"),
    ]


async def test_on_response_prepare_reaches_both_apps(webkit_client) -> None:
    async def main_prepare(request: web.Request, response: web.StreamResponse) -> None:
        response.headers.add("X-Prepared", "main")

    async def sub_prepare(request: web.Request, response: web.StreamResponse) -> None:
        response.headers.add("X-Prepared", "sub")

    sub = web.Application()
    sub.on_response_prepare.append(sub_prepare)
    sub.router.add_get("/x", ok)
    main = web.Application()
    main.on_response_prepare.append(main_prepare)
    main.router.add_get("/x", ok)
    main.add_subapp("/sub", sub)
    client = await webkit_client(main)
    resp = await client.get("/sub/x")
    assert resp.headers.get_list("x-prepared") == ["main", "sub"]
    resp = await client.get("/x")
    assert resp.headers.get_list("x-prepared") == ["main"]


def test_subapp_rules() -> None:
    app = web.Application()
    sub = web.Application()
    for bad in ("", "/", "admin"):
        with pytest.raises(ValueError, match="prefix"):
            app.add_subapp(bad, web.Application())
    app.add_subapp("/one", sub)
    with pytest.raises(RuntimeError, match="only one parent"):
        web.Application().add_subapp("/two", sub)
    with pytest.raises(RuntimeError, match=r"\.url_for\(\) is not supported"):
        app.router.resources()[0].url_for()


async def test_subapp_after_start_is_refused(webkit_client) -> None:
    app = web.Application()
    await webkit_client(app)
    with pytest.raises(RuntimeError, match="started"):
        app.add_subapp("/late", web.Application())


# -- domains -----------------------------------------------------------------------------------


async def test_add_domain(webkit_client) -> None:
    def tagged(label: str):
        async def handler(request: web.Request) -> web.Response:
            return web.Response(text=f"{label} {request.host}")

        return handler

    api = web.Application()
    api.router.add_get("/", tagged("api"))
    wildcard = web.Application()
    wildcard.router.add_get("/", tagged("wildcard"))
    wildcard.router.add_post("/only-post", tagged("wildcard-post"))
    main = web.Application()
    resource = main.add_domain("api.example.com", api)
    assert isinstance(resource, web.DomainResource)
    main.add_domain("*.example.com", wildcard)
    main.router.add_get("/", tagged("main"))
    client = await webkit_client(main)

    async def get(host: str, path: str = "/", method: str = "GET") -> tuple[int, str]:
        resp = await client.request(method, path, headers={"Host": host})
        return resp.status_code, resp.text

    assert await get("api.example.com") == (200, "api api.example.com")
    assert await get("API.Example.COM") == (200, "api API.Example.COM")
    # The port is ignored.
    assert await get("api.example.com:8080") == (200, "api api.example.com:8080")
    assert await get("www.example.com") == (200, "wildcard www.example.com")
    assert await get("a.b.example.com:81") == (200, "wildcard a.b.example.com:81")
    assert await get("example.com") == (200, "main example.com")
    assert await get("other.org") == (200, "main other.org")
    assert await get("example.com.evil.org") == (200, "main example.com.evil.org")
    # The domain's application answers its own 404/405.
    assert (await get("api.example.com", "/missing"))[0] == 404
    resp = await client.get("/only-post", headers={"Host": "x.example.com"})
    assert resp.status_code == 405
    assert resp.headers["allow"] == "POST"


def test_add_domain_validation() -> None:
    app = web.Application()
    with pytest.raises(ValueError, match="domain"):
        app.add_domain("", web.Application())
    with pytest.raises(ValueError, match="host name"):
        app.add_domain("http://example.com", web.Application())
    with pytest.raises(TypeError, match="must be a str"):
        app.add_domain(b"example.com", web.Application())  # type: ignore[arg-type]
