"""Seed: "Graceful shutdown".

``run_app`` on SIGINT/SIGTERM: 1. stop listening, 2. close idle keep-alive connections (busy
ones after their response), 3. ``on_shutdown``, 4. give handlers and background tasks
``shutdown_timeout`` to finish, 5. cancel the handlers still running, 6. ``on_cleanup``,
7. cancel any remaining task. ``AppRunner.cleanup()`` does the same without steps 4 and 7.

"Background tasks" in step 4 are those started after startup (by handlers, as in the seed's
note on step 4). Tasks already running when startup finished are the application's own long
tasks (the seed's listener and "Complex Applications" examples run them forever and stop them
on cleanup); step 4 does not wait for them, or every shutdown would take shutdown_timeout.

The script's ``on_shutdown`` waits for a line on stdin: while it waits, the test checks from
outside that steps 1 and 2 have already happened.
"""

from __future__ import annotations

import asyncio
import signal

import pytest
from seedkit import close, connect, is_closed, read_response

from webkit import web

SCRIPT = """
import asyncio, os, sys
from webkit import web

SLOW = float(os.environ["SLOW"])  # how long the /slow handler takes
JOB = float(os.environ["JOB"])  # how long the task /spawn starts runs once shutdown begins

def say(*args):
    print(*args, flush=True)

async def hello(request):
    return web.Response(text="hello")

async def slow(request):
    say("slow started")
    try:
        await asyncio.sleep(SLOW)
    except asyncio.CancelledError:
        say("slow cancelled")
        raise
    say("slow finished")
    return web.Response(text="slow done")

shutting_down = web.AppKey("shutting_down", asyncio.Event)
tasks = web.AppKey("tasks", set)

async def job(app):
    try:
        await app[shutting_down].wait()
        await asyncio.sleep(JOB)
        say("spawned task finished")
    except asyncio.CancelledError:
        say("spawned task cancelled")
        raise

async def spawn(request):
    # A background task started by a handler, as in the seed's note on step 4.
    request.app[tasks].add(asyncio.create_task(job(request.app)))
    return web.Response(text="spawned")

async def forever():
    try:
        await asyncio.sleep(3600)
    except asyncio.CancelledError:
        say("startup task cancelled")
        raise

async def on_startup(app):
    app[shutting_down] = asyncio.Event()
    app[tasks] = {asyncio.create_task(forever())}

async def on_shutdown(app):
    say("on_shutdown")
    app[shutting_down].set()
    # The test looks at steps 1 and 2 from outside, then lets shutdown go on.
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    say("on_shutdown done")

async def on_cleanup(app):
    say("on_cleanup")

app = web.Application()
app.router.add_get("/", hello)
app.router.add_get("/slow", slow)
app.router.add_get("/spawn", spawn)
app.on_startup.append(on_startup)
app.on_shutdown.append(on_shutdown)
app.on_cleanup.append(on_cleanup)
web.run_app(app, shutdown_timeout=float(os.environ["SHUTDOWN_TIMEOUT"]))
say("run_app returned")
"""


async def start(start_app, *, slow: float, job: float, timeout: float):  # type: ignore[no-untyped-def]
    env = {"SLOW": str(slow), "JOB": str(job), "SHUTDOWN_TIMEOUT": str(timeout)}
    app = await start_app(SCRIPT, env=env, stdin=True)
    reader, writer = await connect(app.port)
    writer.write(b"GET /spawn HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    assert (await read_response(reader)).text == "spawned"
    await close(writer)
    return app


async def open_idle_keepalive(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await connect(port)
    writer.write(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
    resp = await read_response(reader)
    assert resp.text == "hello"
    assert resp.headers.get("connection") != "close"
    return reader, writer


async def check_steps_1_and_2(app, idle_reader) -> None:  # type: ignore[no-untyped-def]
    """Run while on_shutdown (step 3) waits: listening has stopped, idle connections are shut."""
    with pytest.raises(ConnectionRefusedError):
        await connect(app.port)
    assert await is_closed(idle_reader, 2.0)


async def expect_503_then_closed(reader: asyncio.StreamReader) -> None:
    """What webkit's HTTP layer answers for a handler cancelled at shutdown (aiohttp sends
    nothing): a 503 with ``Connection: close``, then the connection is closed (step 5)."""
    resp = await read_response(reader)
    assert resp.status == 503
    assert resp.headers["connection"] == "close"
    assert await is_closed(reader)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
async def test_run_app_steps_in_order_handlers_finish(start_app, sig) -> None:
    """shutdown_timeout=2: the 0.5 s handler and the task a handler spawned (1 s) complete;
    the task startup left running forever does not hold step 4 up: step 7 cancels it."""
    app = await start(start_app, slow=0.5, job=1.0, timeout=2)
    idle_reader, idle_writer = await open_idle_keepalive(app.port)
    busy_reader, busy_writer = await connect(app.port)
    busy_writer.write(b"GET /slow HTTP/1.1\r\nHost: t\r\n\r\n")
    await app.wait_for("slow started")

    app.send_signal(sig)
    await app.wait_for("on_shutdown")
    await check_steps_1_and_2(app, idle_reader)
    app.send_line("go")

    # The busy connection gets its whole response, then is closed.
    resp = await read_response(busy_reader)
    assert (resp.status, resp.text) == (200, "slow done")
    assert resp.headers["connection"] == "close"
    assert await is_closed(busy_reader)
    assert await app.finish() == 0, app.stderr
    await close(idle_writer)
    await close(busy_writer)

    lines = app.output
    assert lines[:2] == ["slow started", "on_shutdown"]
    order = [
        "on_shutdown",  # 3
        "on_shutdown done",
        "spawned task finished",  # 4 waited for the handler's task
        "on_cleanup",  # 6
        "startup task cancelled",  # 7
        "run_app returned",
    ]
    assert [line for line in lines if line in order] == order
    # The handler finished within step 4 too; no handler was cancelled.
    assert lines.index("slow finished") < lines.index("on_cleanup")
    assert "slow cancelled" not in lines
    assert "spawned task cancelled" not in lines
    # Step 4 ended when the spawned task did (1 s after on_shutdown started it), not at
    # shutdown_timeout (2 s), although the startup task was still running.
    until_cleanup = app.time_of("on_cleanup") - app.time_of("on_shutdown")
    assert 0.9 <= until_cleanup < 1.8, until_cleanup
    assert "Traceback" not in app.stderr


async def test_run_app_cancels_what_outlives_shutdown_timeout(start_app) -> None:
    """shutdown_timeout=0.5: the 10 s handler is cancelled in step 5; the 10 s task a handler
    spawned and the never-ending startup task are cancelled in step 7, after on_cleanup."""
    app = await start(start_app, slow=10, job=10, timeout=0.5)
    busy_reader, busy_writer = await connect(app.port)
    busy_writer.write(b"GET /slow HTTP/1.1\r\nHost: t\r\n\r\n")
    await app.wait_for("slow started")

    app.send_signal(signal.SIGTERM)
    await app.wait_for("on_shutdown")
    app.send_line("go")
    assert await app.finish() == 0, app.stderr
    # The client of the cancelled handler is told, then the connection is closed.
    await expect_503_then_closed(busy_reader)
    await close(busy_writer)

    lines = app.output
    assert lines[:5] == [
        "slow started",
        "on_shutdown",
        "on_shutdown done",
        "slow cancelled",  # step 5, after step 4 waited shutdown_timeout
        "on_cleanup",  # step 6
    ]
    # Step 7, in no particular order, and awaited before run_app returns.
    assert sorted(lines[5:7]) == ["spawned task cancelled", "startup task cancelled"]
    assert lines[7:] == ["run_app returned"]
    waited = app.time_of("slow cancelled") - app.time_of("on_shutdown done")
    assert 0.4 <= waited < 5, waited
    assert "Traceback" not in app.stderr


async def test_app_runner_cleanup_skips_steps_4_and_7(webkit_loop) -> None:
    """AppRunner.cleanup(): steps 1, 2, 3, 5, 6; running handlers are cancelled without the
    wait of step 4, and a background task is left running (no step 7)."""
    log: list[str] = []
    handler_started = asyncio.Event()

    async def hello(request: web.Request) -> web.Response:
        return web.Response(text="hello")

    async def slow(request: web.Request) -> web.Response:
        handler_started.set()
        try:
            await asyncio.sleep(0.5)
        except asyncio.CancelledError:
            log.append("slow cancelled")
            raise
        log.append("slow finished")
        return web.Response(text="slow done")

    async def background() -> None:
        await asyncio.sleep(3600)

    task_key = web.AppKey("task", asyncio.Task)

    async def on_startup(app: web.Application) -> None:
        app[task_key] = asyncio.create_task(background())

    async def on_shutdown(app: web.Application) -> None:
        log.append("on_shutdown")
        with pytest.raises(ConnectionRefusedError):  # step 1 came first
            await connect(port)
        assert await is_closed(idle_reader, 2.0)  # and so did step 2
        log.append("steps 1 and 2 done")

    async def on_cleanup(app: web.Application) -> None:
        log.append("on_cleanup")

    app = web.Application()
    app.router.add_get("/", hello)
    app.router.add_get("/slow", slow)
    app.on_startup.append(on_startup)
    app.on_shutdown.append(on_shutdown)
    app.on_cleanup.append(on_cleanup)
    runner = web.AppRunner(app, shutdown_timeout=2)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    idle_reader, idle_writer = await open_idle_keepalive(port)
    busy_reader, busy_writer = await connect(port)
    busy_writer.write(b"GET /slow HTTP/1.1\r\nHost: t\r\n\r\n")
    await handler_started.wait()

    started = asyncio.get_running_loop().time()
    await runner.cleanup()
    elapsed = asyncio.get_running_loop().time() - started
    assert log == ["on_shutdown", "steps 1 and 2 done", "slow cancelled", "on_cleanup"]
    assert elapsed < 0.45  # no step 4: the 0.5 s handler was not waited for
    await expect_503_then_closed(busy_reader)
    background_task = app[task_key]
    assert not background_task.done()  # no step 7 either
    background_task.cancel()
    await close(idle_writer)
    await close(busy_writer)
