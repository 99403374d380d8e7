"""Seed: "Signals"."""

from __future__ import annotations

import asyncio

import pytest
from seedkit import close, connect, read_response

from webkit import web


async def on_prepare(request, response):  # type: ignore[no-untyped-def]
    response.headers["My-Header"] = "value"


async def test_on_response_prepare_adds_header_to_every_response(webkit_client) -> None:
    async def plain(request: web.Request) -> web.Response:
        return web.Response(text="plain")

    async def streamed(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)  # headers are sent here: the signal runs first
        await response.write(b"part 1, ")
        await response.write(b"part 2")
        return response

    async def failing(request: web.Request) -> web.Response:
        raise web.HTTPConflict()

    app = web.Application()
    app.on_response_prepare.append(on_prepare)
    app.router.add_get("/plain", plain)
    app.router.add_get("/stream", streamed)
    app.router.add_get("/fail", failing)
    client = await webkit_client(app)

    resp = await client.get("/plain")
    assert resp.headers["my-header"] == "value"
    resp = await client.get("/stream")
    assert resp.text == "part 1, part 2"
    assert resp.headers["transfer-encoding"] == "chunked"
    assert resp.headers["my-header"] == "value"
    resp = await client.get("/fail")
    assert resp.status_code == 409
    assert resp.headers["my-header"] == "value"
    resp = await client.get("/no-such-route")
    assert resp.status_code == 404
    assert resp.headers["my-header"] == "value"


async def test_on_response_prepare_runs_after_default_headers(webkit_client) -> None:
    """The signal sees the computed headers and its changes reach the wire."""
    seen: list[tuple[str | None, str | None]] = []

    async def inspect_headers(request, response):  # type: ignore[no-untyped-def]
        seen.append((response.headers.get("Content-Type"), response.headers.get("Date")))
        response.headers["Content-Type"] = "text/x-changed"

    async def plain(request: web.Request) -> web.Response:
        return web.Response(text="x")

    app = web.Application()
    app.on_response_prepare.append(inspect_headers)
    app.router.add_get("/", plain)
    client = await webkit_client(app)
    reader, writer = await connect(client.port)
    writer.write(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
    resp = await read_response(reader)
    await close(writer)
    assert resp.headers["content-type"] == "text/x-changed"
    assert seen[0][0] == "text/plain; charset=utf-8"


class FakeEngine:
    """Stands in for SQLAlchemy's AsyncEngine."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.disposed = False

    async def dispose(self) -> None:
        await asyncio.sleep(0)
        self.disposed = True


async def create_async_engine(url: str) -> FakeEngine:
    await asyncio.sleep(0)
    return FakeEngine(url)


async def test_on_startup_on_cleanup_engine_example(webkit_client) -> None:
    pg_engine = web.AppKey("pg_engine", FakeEngine)

    async def create_pg(app):  # type: ignore[no-untyped-def]
        app[pg_engine] = await create_async_engine(
            "postgresql+asyncpg://postgre:@localhost:5432/postgre"
        )

    async def dispose_pg(app):  # type: ignore[no-untyped-def]
        await app[pg_engine].dispose()

    async def handler(request: web.Request) -> web.Response:
        return web.Response(text=request.app[pg_engine].url)

    app = web.Application()
    app.on_startup.append(create_pg)
    app.on_cleanup.append(dispose_pg)
    app.router.add_get("/", handler)
    client = await webkit_client(app)
    assert (await client.get("/")).text.startswith("postgresql+asyncpg://")
    engine = app[pg_engine]
    assert not engine.disposed
    await client.close()
    assert engine.disposed


async def test_handlers_run_sequentially_in_order() -> None:
    log: list[str] = []

    def make(name: str):  # type: ignore[no-untyped-def]
        async def handler(app: web.Application) -> None:
            log.append(f"{name} start")
            await asyncio.sleep(0.01 if name == "first" else 0)
            log.append(f"{name} end")

        return handler

    app = web.Application()
    for name in ("first", "second", "third"):
        app.on_startup.append(make(name))
    runner = web.AppRunner(app)
    await runner.setup()
    await runner.cleanup()
    assert log == [
        "first start",
        "first end",
        "second start",
        "second end",
        "third start",
        "third end",
    ]


async def test_a_failing_handler_stops_the_signal() -> None:
    log: list[str] = []

    async def fails(app: web.Application) -> None:
        log.append("fails")
        raise RuntimeError("boom")

    async def never(app: web.Application) -> None:
        log.append("never")

    app = web.Application()
    app.on_startup.append(fails)
    app.on_startup.append(never)
    runner = web.AppRunner(app)
    with pytest.raises(RuntimeError, match="boom"):
        await runner.setup()
    await runner.cleanup()
    assert log == ["fails"]


def test_non_async_handler_is_rejected() -> None:
    def sync_handler(app: web.Application) -> None:
        pass

    app = web.Application()
    for signal in (app.on_startup, app.on_shutdown, app.on_cleanup, app.on_response_prepare):
        with pytest.raises(TypeError, match="async"):
            signal.append(sync_handler)
    with pytest.raises(TypeError, match="async"):
        app.on_startup.insert(0, lambda app: None)
    assert list(app.on_response_prepare) == []
