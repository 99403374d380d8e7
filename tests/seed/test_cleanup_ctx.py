"""Seed: "Cleanup Context".

Cleanup code runs if and only if its startup code finished: also when a later context
fails, under ``AppRunner.cleanup()`` and under ``run_app`` alike (design.md §3.4).
"""

from __future__ import annotations

import asyncio
import signal

import pytest

from webkit import web


def context(log: list[str], name: str, *, fail_startup: bool = False):  # type: ignore[no-untyped-def]
    async def ctx(app: web.Application):  # type: ignore[no-untyped-def]
        log.append(f"{name} startup")
        await asyncio.sleep(0)
        if fail_startup:
            raise ConnectionError(f"{name} unreachable")
        yield
        log.append(f"{name} cleanup")

    ctx.__name__ = name
    return ctx


async def test_pg_engine_example() -> None:
    class Engine:
        disposed = False

        async def dispose(self) -> None:
            self.disposed = True

    async def create_async_engine(url: str) -> Engine:
        await asyncio.sleep(0)
        return Engine()

    async def pg_engine(app: web.Application):  # type: ignore[no-untyped-def]
        app[pg_engine] = await create_async_engine(  # type: ignore[index]
            "postgresql+asyncpg://postgre:@localhost:5432/postgre"
        )
        yield
        await app[pg_engine].dispose()  # type: ignore[index]

    app = web.Application()
    app.cleanup_ctx.append(pg_engine)
    runner = web.AppRunner(app)
    # The example keys the app with the function itself, which is not an AppKey.
    with pytest.warns(web.NotAppKeyWarning):
        await runner.setup()
    engine = app[pg_engine]  # type: ignore[index]
    assert not engine.disposed
    await runner.cleanup()
    assert engine.disposed


async def test_pairs_clean_up_in_reverse_order() -> None:
    log: list[str] = []
    app = web.Application()
    for name in ("pg", "redis", "queue"):
        app.cleanup_ctx.append(context(log, name))
    runner = web.AppRunner(app)
    await runner.setup()
    assert log == ["pg startup", "redis startup", "queue startup"]
    await runner.cleanup()
    assert log[3:] == ["queue cleanup", "redis cleanup", "pg cleanup"]


async def test_cleanup_iff_startup_finished_under_app_runner() -> None:
    log: list[str] = []
    app = web.Application()
    app.cleanup_ctx.append(context(log, "pg"))
    app.cleanup_ctx.append(context(log, "redis", fail_startup=True))
    app.cleanup_ctx.append(context(log, "queue"))
    runner = web.AppRunner(app)
    with pytest.raises(ConnectionError, match="redis unreachable"):
        await runner.setup()
    await runner.cleanup()
    # pg started, so it is cleaned up; redis failed and queue never started: neither is.
    assert log == ["pg startup", "redis startup", "pg cleanup"]


async def test_bare_signals_pitfall_for_contrast() -> None:
    """What cleanup_ctx fixes: on_cleanup runs dispose_pg although create_pg failed."""
    log: list[str] = []

    async def create_pg(app: web.Application) -> None:
        log.append("create_pg")
        raise ConnectionError("pg unreachable")

    async def create_redis(app: web.Application) -> None:
        log.append("create_redis")

    async def dispose_pg(app: web.Application) -> None:
        log.append("dispose_pg")

    async def dispose_redis(app: web.Application) -> None:
        log.append("dispose_redis")

    app = web.Application()
    app.on_startup.extend([create_pg, create_redis])
    app.on_cleanup.extend([dispose_pg, dispose_redis])
    runner = web.AppRunner(app)
    with pytest.raises(ConnectionError):
        await runner.setup()
    await runner.cleanup()
    assert log == ["create_pg", "dispose_pg", "dispose_redis"]


async def test_failing_cleanup_does_not_skip_the_others() -> None:
    log: list[str] = []

    async def broken(app: web.Application):  # type: ignore[no-untyped-def]
        yield
        raise RuntimeError("dispose failed")

    app = web.Application()
    app.cleanup_ctx.append(context(log, "pg"))
    app.cleanup_ctx.append(broken)
    runner = web.AppRunner(app)
    await runner.setup()
    with pytest.raises(RuntimeError, match="dispose failed"):
        await runner.cleanup()
    assert log == ["pg startup", "pg cleanup"]


async def test_more_than_one_yield_is_an_error() -> None:
    async def two_yields(app: web.Application):  # type: ignore[no-untyped-def]
        yield
        yield

    app = web.Application()
    app.cleanup_ctx.append(two_yields)
    runner = web.AppRunner(app)
    await runner.setup()
    with pytest.raises(RuntimeError, match="more than one 'yield'"):
        await runner.cleanup()


RUN_APP_CTX = """
import asyncio, os, sys
from webkit import web

FAIL = os.environ.get("FAIL_CTX", "")

def context(name):
    async def ctx(app):
        print(f"{name} startup")
        await asyncio.sleep(0)
        if name == FAIL:
            raise ConnectionError(f"{name} unreachable")
        yield
        print(f"{name} cleanup")
    return ctx

async def on_cleanup(app):
    print("on_cleanup")

async def hello(request):
    return web.Response(text="hello")

app = web.Application()
app.router.add_get("/", hello)
for name in ("pg", "redis", "queue"):
    app.cleanup_ctx.append(context(name))
app.on_cleanup.append(on_cleanup)
try:
    web.run_app(app)
except ConnectionError as exc:
    print(f"run_app raised: {exc}")
print("done")
"""


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
async def test_run_app_cleans_up_in_reverse(start_app, monkeypatch, sig) -> None:
    monkeypatch.delenv("FAIL_CTX", raising=False)
    app = await start_app(RUN_APP_CTX)
    app.send_signal(sig)
    assert await app.finish() == 0, app.stderr
    assert app.output == [
        "pg startup",
        "redis startup",
        "queue startup",
        "queue cleanup",
        "redis cleanup",
        "pg cleanup",
        "on_cleanup",
        "done",
    ]


async def test_run_app_cleanup_iff_startup_finished(start_app, monkeypatch) -> None:
    monkeypatch.setenv("FAIL_CTX", "redis")
    app = await start_app(RUN_APP_CTX, wait=False)
    assert await app.finish() == 0, app.stderr
    assert app.lines == [
        "pg startup",
        "redis startup",
        "pg cleanup",
        "on_cleanup",
        "run_app raised: redis unreachable",
        "done",
    ]
