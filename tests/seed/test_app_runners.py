"""Seed: "Application runners": AppRunner + TCPSite, then ``await runner.cleanup()``.

The snippet's ``'localhost', 8080`` becomes 127.0.0.1 and a free port (the suite never binds
a fixed port or another interface).
"""

from __future__ import annotations

import asyncio

import httpx
import pytest
from seedkit import free_port

from webkit import web


async def hello(request: web.Request) -> web.Response:
    return web.Response(text="served by AppRunner")


async def test_app_runner_snippet_then_cleanup() -> None:
    events: list[str] = []

    async def on_startup(app: web.Application) -> None:
        events.append("startup")

    async def on_shutdown(app: web.Application) -> None:
        events.append("shutdown")

    async def on_cleanup(app: web.Application) -> None:
        events.append("cleanup")

    app = web.Application()
    app.router.add_get("/", hello)
    app.on_startup.append(on_startup)
    app.on_shutdown.append(on_shutdown)
    app.on_cleanup.append(on_cleanup)
    port = free_port()
    started = asyncio.Event()
    runner = web.AppRunner(app)

    async def main() -> None:
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", port)
        await site.start()
        started.set()

        while True:  # noqa: ASYNC110 (the seed's snippet)
            await asyncio.sleep(3600)  # sleep forever

    serving = asyncio.create_task(main())
    await asyncio.wait_for(started.wait(), 5)
    assert events == ["startup"]
    async with httpx.AsyncClient() as client:
        resp = await client.get(f"http://127.0.0.1:{port}/")
    assert resp.text == "served by AppRunner"

    # To stop serving call AppRunner.cleanup():
    await runner.cleanup()
    serving.cancel()
    with pytest.raises(asyncio.CancelledError):
        await serving
    assert events == ["startup", "shutdown", "cleanup"]
    with pytest.raises(httpx.ConnectError):
        async with httpx.AsyncClient() as client:
            await client.get(f"http://127.0.0.1:{port}/")


async def test_serving_on_several_ports() -> None:
    """ "For starting the application asynchronously or serving on multiple HOST/PORT"."""
    app = web.Application()
    app.router.add_get("/", hello)
    runner = web.AppRunner(app)
    await runner.setup()
    ports = [free_port(), free_port()]
    for port in ports:
        await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        assert sorted(addr[1] for addr in runner.addresses) == sorted(ports)
        async with httpx.AsyncClient() as client:
            for port in ports:
                assert (await client.get(f"http://127.0.0.1:{port}/")).status_code == 200
    finally:
        await runner.cleanup()
    async with httpx.AsyncClient() as client:
        for port in ports:
            with pytest.raises(httpx.ConnectError):
                await client.get(f"http://127.0.0.1:{port}/")
