"""Seed: "Passing a coroutine into run_app and Gunicorn" (run_app part; Gunicorn is covered
in tests/web/test_worker.py).

``web.run_app(app_factory())`` awaits the coroutine before making the app, on the loop that
then serves it, so async set-up (``await pre_init()``) can happen first.
"""

from __future__ import annotations

import signal

import httpx
import pytest

FACTORY_EXAMPLE = """
import asyncio
from webkit import web

state = {}

async def pre_init():
    await asyncio.sleep(0.01)  # e.g. connect to a database
    state["loop"] = asyncio.get_running_loop()
    print("pre_init done")

async def handler(request):
    same = asyncio.get_running_loop() is state["loop"]
    return web.Response(text=f"made by the factory, same loop: {same}")

async def app_factory():
    await pre_init()
    app = web.Application()
    app.router.add_get("/", handler)
    print("app made")
    return app

web.run_app(app_factory())
print("run_app returned")
"""


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
async def test_run_app_awaits_the_factory_first(start_app, sig: signal.Signals) -> None:
    app = await start_app(FACTORY_EXAMPLE)
    # The factory ran (pre_init first) before the server started listening.
    assert app.lines[:3] == [
        "pre_init done",
        "app made",
        f"======== Running on http://127.0.0.1:{app.port} ========",
    ]
    async with httpx.AsyncClient() as client:
        resp = await client.get(app.url + "/")
    assert resp.status_code == 200
    assert resp.text == "made by the factory, same loop: True"
    app.send_signal(sig)
    assert await app.finish() == 0, app.stderr
    assert app.output == ["pre_init done", "app made", "run_app returned"]


async def test_failing_factory_raises_from_run_app(start_app) -> None:
    app = await start_app(
        """
        from webkit import web

        async def pre_init():
            raise ConnectionError("database unreachable")

        async def app_factory():
            await pre_init()
            return web.Application()

        try:
            web.run_app(app_factory())
        except ConnectionError as exc:
            print("run_app raised:", exc)
        """,
        wait=False,
    )
    assert await app.finish() == 0, app.stderr
    assert app.lines == ["run_app raised: database unreachable"]


async def test_factory_must_return_an_application(start_app) -> None:
    app = await start_app(
        """
        from webkit import web

        async def app_factory():
            return "not an app"

        try:
            web.run_app(app_factory())
        except TypeError as exc:
            print("TypeError:", exc)
        """,
        wait=False,
    )
    assert await app.finish() == 0, app.stderr
    assert len(app.lines) == 1
    assert app.lines[0].startswith("TypeError: the app factory must return an Application")
