"""Seed: "Background tasks" and "Complex Applications", run with ``run_app`` as written.

Redis is replaced by a small in-process pub/sub over an ``asyncio.Queue``, WebSockets by
objects that print what they are sent; a ``/publish`` route feeds the queue.
"""

from __future__ import annotations

import os
import signal

import httpx
import pytest

REDIS_EXAMPLE = """
import asyncio
from webkit import web


class PubSub:  # stands in for redis.asyncio's PubSub
    def __init__(self, queue):
        self._queue = queue

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        print("pubsub closed")

    async def subscribe(self, channel):
        print("subscribed to", channel)

    async def get_message(self, ignore_subscribe_messages=False):
        return await self._queue.get()


class FakeRedis:
    queue = None

    def pubsub(self):
        return PubSub(FakeRedis.queue)


class redis:
    @staticmethod
    def from_url(url):
        return FakeRedis()


class PrintingWebSocket:  # stands in for a connected web.WebSocketResponse
    def __init__(self, name):
        self.name = name

    async def send_str(self, data):
        print(self.name, "got", data)


async def listen_to_redis(app: web.Application):
    client = redis.from_url("redis://localhost:6379")
    channel = "news"
    async with client.pubsub() as pubsub:
        await pubsub.subscribe(channel)
        while True:
            try:
                msg = await pubsub.get_message(ignore_subscribe_messages=True)
                if msg is not None:
                    for ws in app["websockets"]:
                        await ws.send_str("{}: {}".format(channel, msg))
            except asyncio.CancelledError:
                break


async def background_tasks(app):
    app[redis_listener] = asyncio.create_task(listen_to_redis(app))

    yield

    app[redis_listener].cancel()
    await app[redis_listener]
    print("listener stopped")


async def publish(request):
    await FakeRedis.queue.put(request.query["msg"])
    return web.Response(text="published")


async def make_queue(app):
    FakeRedis.queue = asyncio.Queue()


app = web.Application()
app["websockets"] = [PrintingWebSocket("ws1"), PrintingWebSocket("ws2")]
app.on_startup.append(make_queue)
app.router.add_get("/publish", publish)
redis_listener = web.AppKey("redis_listener", asyncio.Task[None])
app.cleanup_ctx.append(background_tasks)
web.run_app(app)
print("run_app returned")
"""


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
async def test_cleanup_ctx_background_listener(start_app, sig) -> None:
    app = await start_app(
        "import warnings; warnings.simplefilter('ignore')  # app['websockets']: a str key\n"
        + REDIS_EXAMPLE
    )
    if "subscribed to news" not in app.lines:
        await app.wait_for("subscribed to news")
    async with httpx.AsyncClient() as client:
        for msg in ("hello", "world"):
            assert (await client.get(app.url + "/publish", params={"msg": msg})).text == (
                "published"
            )
            await app.wait_for(f"ws2 got news: {msg}")
    app.send_signal(sig)
    assert await app.finish() == 0, app.stderr
    assert app.output == [
        "subscribed to news",
        "ws1 got news: hello",
        "ws2 got news: hello",
        "ws1 got news: world",
        "ws2 got news: world",
        # Cleanup cancels the task; it leaves its loop and closes the pubsub, then the
        # cleanup context awaits it.
        "pubsub closed",
        "listener stopped",
        "run_app returned",
    ]
    assert "Traceback" not in app.stderr


COMPLEX_EXAMPLE = """
import asyncio
import sys
from contextlib import suppress

from webkit import web

command = [sys.executable, "-c", "import time; time.sleep(30)"]


async def other_long_task():
    print("other task started")
    try:
        while True:
            await asyncio.sleep(3600)
    except asyncio.CancelledError:
        print("other task cancelled")
        raise


async def run_other_task(_app):
    task = asyncio.create_task(other_long_task())

    yield

    task.cancel()
    with suppress(asyncio.CancelledError):
        await task  # Ensure any exceptions etc. are raised.


async def run_process(_app):
    proc = await asyncio.create_subprocess_exec(*command)
    print("child pid", proc.pid)

    yield

    if proc.returncode is None:
        proc.terminate()
    await proc.wait()
    print("child exited with", proc.returncode)


async def hello(request):
    return web.Response(text="hello")


app = web.Application()
app.router.add_get("/", hello)
app.cleanup_ctx.append(run_other_task)
app.cleanup_ctx.append(run_process)
web.run_app(app)
print("run_app returned")
"""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_complex_application_task_and_process(start_app) -> None:
    app = await start_app(COMPLEX_EXAMPLE)
    pid_line = next(line for line in app.lines if line.startswith("child pid"))
    pid = int(pid_line.split()[-1])
    assert alive(pid)
    async with httpx.AsyncClient() as client:
        assert (await client.get(app.url + "/")).text == "hello"
    app.send_signal(signal.SIGINT)
    assert await app.finish() == 0, app.stderr
    assert app.output == [
        "other task started",
        pid_line,
        # Cleanup contexts unwind in reverse: the process first, then the task.
        f"child exited with {-signal.SIGTERM}",
        "other task cancelled",
        "run_app returned",
    ]
    assert not alive(pid)  # terminated and reaped
    assert "Traceback" not in app.stderr
