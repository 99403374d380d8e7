"""Seed: "ContextVars support".

The example runs as written in its own process (only the address is substituted): ``init``
runs inside run_app's task, so its change is seen by ``on_startup`` and not by the module's
final ``print``; each request gets a copy of the context as it was after startup, and the
handler's own change stays in that copy, so ``on_cleanup`` still sees ``on_startup``.
"""

from __future__ import annotations

import signal

import httpx
import pytest

EXAMPLE = """
from contextvars import ContextVar

from webkit import web

VAR = ContextVar('VAR', default='default')


async def coro():
    return VAR.get()


async def handler(request):
    var = VAR.get()
    VAR.set('handler')
    ret = await coro()
    return web.Response(text='\\n'.join([var,
                                        ret]))


async def on_startup(app):
    print('on_startup', VAR.get())
    VAR.set('on_startup')


async def on_cleanup(app):
    print('on_cleanup', VAR.get())
    VAR.set('on_cleanup')


async def init():
    print('init', VAR.get())
    VAR.set('init')
    app = web.Application()
    app.router.add_get('/', handler)

    app.on_startup.append(on_startup)
    app.on_cleanup.append(on_cleanup)
    return app


web.run_app(init())
print('done', VAR.get())
"""


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
async def test_contextvars_example(start_app, sig: signal.Signals) -> None:
    app = await start_app(EXAMPLE)
    async with httpx.AsyncClient() as client:
        first = await client.get(app.url + "/")
        # A second request starts from the startup context again, not from the first
        # handler's change.
        second = await client.get(app.url + "/")
    app.send_signal(sig)
    code = await app.finish()
    assert code == 0, app.stderr
    assert first.status_code == 200
    assert first.text == "on_startup\nhandler"
    assert second.text == "on_startup\nhandler"
    assert app.output == [
        "init default",
        "on_startup init",
        "on_cleanup on_startup",
        "done default",
    ]
    assert "Traceback" not in app.stderr
