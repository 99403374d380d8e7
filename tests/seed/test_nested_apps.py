"""Seed: "Nested applications"."""

from __future__ import annotations

import pytest
from yarl import URL

from webkit import web


def tracing(log: list[str], name: str):  # type: ignore[no-untyped-def]
    @web.middleware
    async def middleware(request, handler):  # type: ignore[no-untyped-def]
        log.append(f"{name} in")
        response = await handler(request)
        log.append(f"{name} out")
        return response

    return middleware


def prepare_signal(log: list[str], name: str):  # type: ignore[no-untyped-def]
    async def on_prepare(request, response):  # type: ignore[no-untyped-def]
        log.append(f"{name} prepare")
        response.headers.add("X-Prepared-By", name)

    return on_prepare


async def test_parent_middlewares_first_and_prepare_to_both(webkit_client) -> None:
    log: list[str] = []

    async def something(request: web.Request) -> web.Response:
        log.append("handler")
        return web.Response(text="admin something")

    async def index(request: web.Request) -> web.Response:
        log.append("handler")
        return web.Response(text="index")

    app = web.Application(middlewares=[tracing(log, "app")])
    app.on_response_prepare.append(prepare_signal(log, "app"))
    app.router.add_get("/", index)
    admin = web.Application(middlewares=[tracing(log, "admin")])
    admin.on_response_prepare.append(prepare_signal(log, "admin"))
    admin.router.add_get("/something", something)
    app.add_subapp("/admin/", admin)
    client = await webkit_client(app)

    resp = await client.get("/admin/something")
    assert resp.text == "admin something"
    assert log == [
        "app in",
        "admin in",
        "handler",
        "admin out",
        "app out",
        "app prepare",
        "admin prepare",
    ]
    assert resp.headers.get_list("x-prepared-by") == ["app", "admin"]

    log.clear()
    resp = await client.get("/")
    assert log == ["app in", "handler", "app out", "app prepare"]
    assert resp.headers.get_list("x-prepared-by") == ["app"]

    # A 404 inside the sub-application's prefix is the sub-application's.
    log.clear()
    resp = await client.get("/admin/missing")
    assert resp.status_code == 404
    assert resp.headers.get_list("x-prepared-by") == ["app", "admin"]


async def test_lifecycle_signals_get_the_sub_application() -> None:
    received: list[tuple[str, str]] = []
    apps: dict[int, str] = {}

    def recorder(signal_name: str):  # type: ignore[no-untyped-def]
        async def record(app: web.Application) -> None:
            received.append((signal_name, apps[id(app)]))

        return record

    app = web.Application()
    admin = web.Application()
    tools = web.Application()
    apps.update({id(app): "app", id(admin): "admin", id(tools): "tools"})
    for one in (app, admin, tools):
        one.on_startup.append(recorder("startup"))
        one.on_shutdown.append(recorder("shutdown"))
        one.on_cleanup.append(recorder("cleanup"))
    admin.add_subapp("/tools/", tools)
    app.add_subapp("/admin/", admin)
    runner = web.AppRunner(app)
    await runner.setup()
    await runner.cleanup()
    for signal_name in ("startup", "shutdown", "cleanup"):
        got = [name for sig, name in received if sig == signal_name]
        assert sorted(got) == ["admin", "app", "tools"], (signal_name, received)


async def test_sub_application_url_reversing(webkit_client) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(text="resource")

    app = web.Application()
    admin = web.Application()
    admin.add_routes([web.get("/resource", handler, name="name")])

    app.add_subapp("/admin/", admin)

    url = admin.router["name"].url_for()
    assert url == URL("/admin/resource")
    client = await webkit_client(app)
    assert (await client.get(str(url))).text == "resource"


async def test_explicit_app_key_technique(webkit_client) -> None:
    async def handler_admin(request: web.Request) -> web.Response:
        return web.Response(text="admin resource")

    async def handler(request: web.Request):  # type: ignore[no-untyped-def]  # main app's handler
        admin = request.app[admin_key]
        url = admin.router["name"].url_for()
        return web.Response(text=str(url))

    app = web.Application()
    admin = web.Application()
    admin_key = web.AppKey("admin_key", web.Application)
    admin.add_routes([web.get("/resource", handler_admin, name="name")])

    app.add_subapp("/admin/", admin)
    app[admin_key] = admin
    app.router.add_get("/", handler)
    client = await webkit_client(app)
    url = (await client.get("/")).text
    assert url == "/admin/resource"
    assert (await client.get(url)).text == "admin resource"


async def test_third_level_nesting(webkit_client) -> None:
    log: list[str] = []
    seen_apps: list[str] = []

    async def handler(request: web.Request) -> web.Response:
        seen_apps.append(request.app["name"])
        return web.Response(text="deep")

    app = web.Application(middlewares=[tracing(log, "app")])
    admin = web.Application(middlewares=[tracing(log, "admin")])
    tools = web.Application(middlewares=[tracing(log, "tools")])
    for one, name in ((app, "app"), (admin, "admin"), (tools, "tools")):
        one.on_response_prepare.append(prepare_signal(log, name))
        with pytest.warns(web.NotAppKeyWarning):
            one["name"] = name
    tools.router.add_get("/page/{id}", handler, name="page")
    admin.add_subapp("/tools/", tools)
    app.add_subapp("/admin/", admin)
    client = await webkit_client(app)

    url = tools.router["page"].url_for(id="7")
    assert url == URL("/admin/tools/page/7")
    resp = await client.get(str(url))
    assert resp.text == "deep"
    assert seen_apps == ["tools"]
    assert log == [
        "app in",
        "admin in",
        "tools in",
        "tools out",
        "admin out",
        "app out",
        "app prepare",
        "admin prepare",
        "tools prepare",
    ]
    assert (await client.get("/admin/tools/other")).status_code == 404
    assert (await client.get("/tools/page/7")).status_code == 404
