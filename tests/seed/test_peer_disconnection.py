"""Seed: "Peer disconnection".

Default mode: once the client is gone, the handler's next read or write raises OSError
(ConnectionResetError); the server logs nothing at ERROR level and keeps serving.
``handler_cancellation=True`` (an `AppRunner`/`run_app` parameter) cancels the handler
instead; the seed's unsafe and safe ``asyncio.shield`` examples then behave as it says.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
import struct

import httpx
import pytest
from seedkit import close, connect, poll

from webkit import web

POST_HEAD = b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n"


def reset(writer: asyncio.StreamWriter) -> None:
    """Close abortively (RST), as a client that drops the connection with data unread."""
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.close()


async def hello(request: web.Request) -> web.Response:
    return web.Response(text="still serving")


class Seen:
    """What a handler observed, plus events the test waits on."""

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.done = asyncio.Event()
        self.events: list[str] = []
        self.error: BaseException | None = None


def errors_logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


# -- raise on read/write (default) ------------------------------------------------------------


@pytest.mark.parametrize("how", ["fin", "rst"])
async def test_pending_text_raises_oserror_when_peer_leaves(webkit_client, caplog, how) -> None:
    """The seed's snippet: ``await request.text()`` raises OSError when the client is gone."""
    seen = Seen()

    async def handler(request: web.Request) -> web.Response:
        seen.started.set()
        try:
            text = await request.text()
        except OSError as exc:
            # disconnected
            seen.error = exc
            seen.done.set()
            raise
        return web.Response(text=text)

    app = web.Application()
    app.router.add_post("/", handler)
    app.router.add_get("/", hello)
    client = await webkit_client(app)
    caplog.set_level(logging.DEBUG)
    _reader, writer = await connect(client.port)
    writer.write(POST_HEAD + b"x" * 10)
    await seen.started.wait()
    if how == "rst":
        reset(writer)
    else:
        await close(writer)
    await asyncio.wait_for(seen.done.wait(), 5)
    assert isinstance(seen.error, ConnectionResetError)
    assert (await client.get("/")).text == "still serving"
    assert errors_logged(caplog) == []


async def test_read_after_disconnect_raises_oserror(webkit_client, caplog) -> None:
    """A *subsequent* ``content.read()``, made after the client left, raises too."""
    seen = Seen()
    release = asyncio.Event()

    async def handler(request: web.Request) -> web.Response:
        seen.started.set()
        await release.wait()
        try:
            await request.content.read()
        except OSError as exc:
            seen.error = exc
        seen.done.set()
        return web.Response(text="nobody reads this")

    app = web.Application()
    app.router.add_post("/", handler)
    app.router.add_get("/", hello)
    client = await webkit_client(app)
    caplog.set_level(logging.DEBUG)
    _reader, writer = await connect(client.port)
    writer.write(POST_HEAD + b"x" * 10)
    await seen.started.wait()
    reset(writer)
    server = client.server.runner.server  # type: ignore[union-attr]
    await poll(lambda: not server.connections)
    release.set()
    await asyncio.wait_for(seen.done.wait(), 5)
    assert isinstance(seen.error, ConnectionResetError)
    assert (await client.get("/")).text == "still serving"
    assert errors_logged(caplog) == []


async def test_write_after_disconnect_raises_oserror(webkit_client, caplog) -> None:
    seen = Seen()
    release = asyncio.Event()

    async def handler(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        await resp.prepare(request)
        await resp.write(b"first part")
        seen.started.set()
        await release.wait()
        try:
            await resp.write(b"second part")
        except OSError as exc:
            seen.error = exc
            seen.done.set()
            raise
        return resp

    app = web.Application()
    app.router.add_get("/stream", handler)
    app.router.add_get("/", hello)
    client = await webkit_client(app)
    caplog.set_level(logging.DEBUG)
    _reader, writer = await connect(client.port)
    writer.write(b"GET /stream HTTP/1.1\r\nHost: t\r\n\r\n")
    await seen.started.wait()
    # The response is left unread: the client's close resets the connection.
    reset(writer)
    server = client.server.runner.server  # type: ignore[union-attr]
    await poll(lambda: not server.connections)  # the server noticed the disconnect
    release.set()
    await asyncio.wait_for(seen.done.wait(), 5)
    assert isinstance(seen.error, ConnectionResetError)
    assert (await client.get("/")).text == "still serving"
    assert errors_logged(caplog) == []


async def test_default_mode_does_not_cancel_the_handler(webkit_client) -> None:
    """Without handler cancellation the handler runs on to its end after a disconnect."""
    seen = Seen()
    release = asyncio.Event()

    async def handler(request: web.Request) -> web.Response:
        seen.started.set()
        await release.wait()
        seen.events.append("finished")
        seen.done.set()
        return web.Response(text="late")

    app = web.Application()
    app.router.add_get("/slow", handler)
    client = await webkit_client(app)
    _reader, writer = await connect(client.port)
    writer.write(b"GET /slow HTTP/1.1\r\nHost: t\r\n\r\n")
    await seen.started.wait()
    reset(writer)
    server = client.server.runner.server  # type: ignore[union-attr]
    await poll(lambda: not server.connections)
    release.set()
    await asyncio.wait_for(seen.done.wait(), 5)
    assert seen.events == ["finished"]


# -- web handler cancellation ---------------------------------------------------------------


@pytest.mark.parametrize("how", ["fin", "rst"])
async def test_handler_cancellation_cancels_on_disconnect(webkit_client, caplog, how) -> None:
    seen = Seen()

    async def handler(request: web.Request) -> web.Response:
        seen.started.set()
        try:
            await asyncio.sleep(30)  # fetching data from a slow database
        except asyncio.CancelledError:
            seen.events.append("cancelled")
            seen.done.set()
            raise
        return web.Response(text="never")

    app = web.Application()
    app.router.add_get("/slow", handler)
    app.router.add_get("/", hello)
    client = await webkit_client(app, handler_cancellation=True)
    caplog.set_level(logging.DEBUG)
    _reader, writer = await connect(client.port)
    writer.write(b"GET /slow HTTP/1.1\r\nHost: t\r\n\r\n")
    await seen.started.wait()
    if how == "rst":
        reset(writer)
    else:
        await close(writer)
    await asyncio.wait_for(seen.done.wait(), 5)
    assert seen.events == ["cancelled"]
    assert (await client.get("/")).text == "still serving"
    assert errors_logged(caplog) == []


async def test_handler_cancellation_keeps_finished_requests_alone(webkit_client) -> None:
    """A client that stays connected gets its answer; cancellation is about leaving."""

    async def handler(request: web.Request) -> web.Response:
        await asyncio.sleep(0.05)
        return web.Response(text="done")

    app = web.Application()
    app.router.add_get("/", handler)
    client = await webkit_client(app, handler_cancellation=True)
    for _ in range(3):
        assert (await client.get("/")).text == "done"


RUN_APP_CANCELLATION = """
import asyncio
from webkit import web

async def handler(request):
    print("handler started", flush=True)
    try:
        await asyncio.sleep(30)
    except asyncio.CancelledError:
        print("handler cancelled", flush=True)
        raise
    return web.Response(text="never")

async def hello(request):
    return web.Response(text="hello")

app = web.Application()
app.router.add_get("/slow", handler)
app.router.add_get("/", hello)
web.run_app(app, handler_cancellation=True)
print("run_app returned", flush=True)
"""


async def test_run_app_handler_cancellation(start_app) -> None:
    app = await start_app(RUN_APP_CANCELLATION)
    _reader, writer = await connect(app.port)
    writer.write(b"GET /slow HTTP/1.1\r\nHost: t\r\n\r\n")
    await app.wait_for("handler started")
    await close(writer)
    await app.wait_for("handler cancelled")
    async with httpx.AsyncClient() as client:
        assert (await client.get(app.url + "/")).text == "hello"
    app.send_signal(signal.SIGINT)
    assert await app.finish() == 0, app.stderr
    assert app.output == ["handler started", "handler cancelled", "run_app returned"]
    assert "Traceback" not in app.stderr
    assert "Error" not in app.stderr


# -- the seed's asyncio.shield examples ---------------------------------------------------------


class Storage:
    """Fake Redis and Postgres: each write waits until the test lets it finish."""

    def __init__(self) -> None:
        self.log: list[str] = []
        self.redis_started = asyncio.Event()
        self.redis_release = asyncio.Event()
        self.postgres_done = asyncio.Event()

    async def write_to_redis(self, request: web.Request) -> None:
        self.log.append("redis started")
        self.redis_started.set()
        await self.redis_release.wait()
        self.log.append("redis written")

    async def write_to_postgres(self, request: web.Request) -> None:
        await asyncio.sleep(0)
        self.log.append("postgres written")
        self.postgres_done.set()


def observe_cancellation(log: list[str]):  # type: ignore[no-untyped-def]
    """A middleware noting that the handler was cancelled (keeps the seed's handler as is)."""

    @web.middleware
    async def observer(request: web.Request, handler):  # type: ignore[no-untyped-def]
        try:
            return await handler(request)
        except asyncio.CancelledError:
            log.append("handler cancelled")
            raise

    return observer


async def disconnect_during_redis(client, storage: Storage) -> None:  # type: ignore[no-untyped-def]
    _reader, writer = await connect(client.port)
    writer.write(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n")
    await storage.redis_started.wait()
    await close(writer)
    await poll(lambda: "handler cancelled" in storage.log)
    storage.redis_release.set()


async def test_unsafe_shield_example_loses_the_postgres_write(webkit_client) -> None:
    storage = Storage()
    write_to_redis, write_to_postgres = storage.write_to_redis, storage.write_to_postgres

    async def handler(request):  # type: ignore[no-untyped-def]
        await asyncio.shield(write_to_redis(request))
        await asyncio.shield(write_to_postgres(request))
        return web.Response(text="OK")

    app = web.Application(middlewares=[observe_cancellation(storage.log)])
    app.router.add_post("/", handler)
    client = await webkit_client(app, handler_cancellation=True)
    await disconnect_during_redis(client, storage)
    await poll(lambda: "redis written" in storage.log)
    for _ in range(10):  # give a postgres write every chance to (wrongly) happen
        await asyncio.sleep(0)
    assert storage.log == ["redis started", "handler cancelled", "redis written"]


async def test_safe_shield_example_writes_both(webkit_client) -> None:
    storage = Storage()
    write_to_redis, write_to_postgres = storage.write_to_redis, storage.write_to_postgres

    async def write_data(request):  # type: ignore[no-untyped-def]
        await write_to_redis(request)
        await write_to_postgres(request)

    async def handler(request):  # type: ignore[no-untyped-def]
        await asyncio.shield(write_data(request))
        return web.Response(text="OK")

    app = web.Application(middlewares=[observe_cancellation(storage.log)])
    app.router.add_post("/", handler)
    client = await webkit_client(app, handler_cancellation=True)
    await disconnect_during_redis(client, storage)
    await asyncio.wait_for(storage.postgres_done.wait(), 5)
    assert storage.log == [
        "redis started",
        "handler cancelled",
        "redis written",
        "postgres written",
    ]
    # Without a disconnect the same handler answers OK.
    storage.redis_release.set()
    assert (await client.post("/")).text == "OK"


async def test_create_task_then_await_example(webkit_client) -> None:
    async def get_some_data() -> str:
        await asyncio.sleep(0.01)
        return "some data"

    async def handler(request):  # type: ignore[no-untyped-def]
        t = asyncio.create_task(get_some_data())
        await asyncio.sleep(0)  # Do some other things, while data is being fetched.
        data = await t
        return web.Response(text=data)

    app = web.Application()
    app.router.add_get("/", handler)
    for cancellation in (False, True):
        client = await webkit_client(app, handler_cancellation=cancellation)
        resp = await client.get("/")
        assert resp.status_code == 200
        assert resp.text == "some data"


async def test_create_task_is_cancelled_with_its_handler(webkit_client) -> None:
    """Awaited inside the handler, the task goes down with a cancelled handler: nothing leaks."""
    log: list[str] = []
    started = asyncio.Event()

    async def get_some_data() -> str:
        started.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            log.append("fetch cancelled")
            raise
        return "never"

    async def handler(request):  # type: ignore[no-untyped-def]
        t = asyncio.create_task(get_some_data())
        data = await t
        return web.Response(text=data)

    app = web.Application()
    app.router.add_get("/", handler)
    client = await webkit_client(app, handler_cancellation=True)
    _reader, writer = await connect(client.port)
    writer.write(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
    await started.wait()
    await close(writer)
    await poll(lambda: log == ["fetch cancelled"])


# -- the aiojobs-style examples (webkit.web.jobs) -----------------------------------------------


async def test_spawn_example_runs_on_after_the_response(webkit_client) -> None:
    from webkit.web.jobs import setup, spawn

    log: list[str] = []
    release = asyncio.Event()

    async def write_data() -> None:
        await release.wait()
        log.append("data written")

    async def handler(request):  # type: ignore[no-untyped-def]
        await spawn(request, write_data())
        return web.Response()

    app = web.Application()
    setup(app)
    app.router.add_get("/", handler)
    client = await webkit_client(app, handler_cancellation=True)
    resp = await client.get("/")
    assert (resp.status_code, resp.content) == (200, b"")
    assert log == []  # the response did not wait for the job
    release.set()
    await poll(lambda: log == ["data written"])


async def test_atomic_example_is_not_interrupted_by_a_disconnect(webkit_client) -> None:
    from webkit.web.jobs import atomic, setup

    log: list[str] = []
    writing = asyncio.Event()
    release = asyncio.Event()

    async def write_to_db() -> None:
        writing.set()
        await release.wait()
        log.append("db written")

    @atomic
    async def handler(request):  # type: ignore[no-untyped-def]
        await write_to_db()
        return web.Response()

    app = web.Application(middlewares=[observe_cancellation(log)])
    setup(app)
    app.router.add_post("/", handler)
    client = await webkit_client(app, handler_cancellation=True)
    _reader, writer = await connect(client.port)
    writer.write(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n")
    await writing.wait()
    await close(writer)
    await poll(lambda: "handler cancelled" in log)  # the request's task is cancelled...
    release.set()
    await poll(lambda: "db written" in log)  # ...but the handler ran to its end
    assert log == ["handler cancelled", "db written"]
