"""Background jobs (webkit.web.jobs): the seed's "Peer disconnection" section without aiojobs."""

from __future__ import annotations

import asyncio
import contextvars
import gc
import logging
from collections.abc import Callable

import pytest

from webkit import web
from webkit.web.jobs import (
    SCHEDULER_KEY,
    Job,
    Scheduler,
    atomic,
    get_scheduler,
    get_scheduler_from_app,
    setup,
    spawn,
)

RAW_GET = b"GET / HTTP/1.1\r\nHost: test\r\n\r\n"
RAW_POST = b"POST / HTTP/1.1\r\nHost: test\r\nContent-Length: 0\r\n\r\n"


async def until(predicate: Callable[[], bool], timeout: float = 2.0) -> None:
    """Poll ``predicate`` (for state with no event to wait on) until true or fail."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.005)


async def send_and_disconnect(port: int, raw: bytes, started: asyncio.Event) -> None:
    """Send a request, wait until its handler is inside the work, then drop the connection."""
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(raw)
    await writer.drain()
    await asyncio.wait_for(started.wait(), 2)
    writer.close()
    await writer.wait_closed()


def cancellation_probe(cancelled: asyncio.Event) -> web.Middleware:
    """A middleware that notes when the request's task is cancelled (the client left)."""

    @web.middleware
    async def probe(request: web.Request, handler: web.Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    return probe


# -- spawn from a handler -------------------------------------------------------------------


async def test_seed_spawn_example_job_completes_after_response(webkit_client) -> None:
    gate, written = asyncio.Event(), asyncio.Event()
    jobs: list[Job[None]] = []

    async def write_data() -> None:
        await gate.wait()
        written.set()

    async def handler(request: web.Request) -> web.Response:
        jobs.append(await spawn(request, write_data()))
        return web.Response()

    app = web.Application()
    setup(app)
    app.router.add_get("/", handler)
    client = await webkit_client(app)

    resp = await client.get("/")
    assert resp.status_code == 200
    (job,) = jobs
    assert job.active
    assert not written.is_set()  # the response went out while the job still runs
    scheduler = app[SCHEDULER_KEY]
    assert list(scheduler) == [job]
    assert len(scheduler) == 1
    assert job in scheduler
    gate.set()
    assert await job.wait(timeout=1) is None
    assert written.is_set()
    assert job.closed
    assert len(scheduler) == 0


async def test_limit_and_pending_limit_through_requests(webkit_client) -> None:
    gate = asyncio.Event()
    running = peak = finished = 0

    async def work() -> None:
        nonlocal running, peak, finished
        running += 1
        peak = max(peak, running)
        try:
            await gate.wait()
        finally:
            running -= 1
            finished += 1

    async def handler(request: web.Request) -> web.Response:
        await spawn(request, work())
        return web.Response(text="spawned")

    app = web.Application()
    setup(app, limit=2, pending_limit=2)
    app.router.add_get("/", handler)
    client = await webkit_client(app)
    scheduler = get_scheduler_from_app(app)

    requests = [asyncio.create_task(client.get("/")) for _ in range(6)]
    # Two run, two wait in the queue, and the last two requests wait inside spawn().
    await until(lambda: sum(r.done() for r in requests) == 4)
    assert (scheduler.active_count, scheduler.pending_count) == (2, 2)
    await asyncio.sleep(0.05)
    assert sum(r.done() for r in requests) == 4
    assert running == 2

    gate.set()
    responses = await asyncio.gather(*requests)
    assert [r.text for r in responses] == ["spawned"] * 6
    await until(lambda: finished == 6)
    assert peak == 2
    assert len(scheduler) == 0


# -- the Scheduler on its own ---------------------------------------------------------------


async def test_scheduler_limits_queue_and_waiting_spawn() -> None:
    scheduler = Scheduler(limit=2, pending_limit=1)
    turns = asyncio.Semaphore(0)  # each release lets exactly one job finish
    order: list[int] = []

    async def work(n: int) -> int:
        await turns.acquire()
        order.append(n)
        return n

    first = await scheduler.spawn(work(1))
    second = await scheduler.spawn(work(2))
    third = await scheduler.spawn(work(3))
    assert (first.active, second.active, third.pending) == (True, True, True)
    assert (scheduler.active_count, scheduler.pending_count) == (2, 1)
    fourth_spawn = asyncio.create_task(scheduler.spawn(work(4)))
    await asyncio.sleep(0.01)
    assert not fourth_spawn.done()  # the queue is full: spawn() waits

    counts = []
    for finished in range(1, 5):
        turns.release()
        await until(lambda n=finished: len(order) == n)
        await asyncio.sleep(0)
        counts.append((scheduler.active_count, scheduler.pending_count))
    # One job ends at a time: the queued one starts, the waiting spawn() enters the queue.
    assert counts == [(2, 1), (2, 0), (1, 0), (0, 0)]
    fourth = fourth_spawn.result()
    assert [await job.wait(timeout=1) for job in (first, second, third, fourth)] == [1, 2, 3, 4]
    assert order == [1, 2, 3, 4]
    await scheduler.close()


async def test_a_cancelled_waiter_leaves_the_job_and_other_waiters_alone() -> None:
    scheduler = Scheduler()
    gate = asyncio.Event()

    async def work() -> str:
        await gate.wait()
        return "done"

    job = await scheduler.spawn(work())
    leaving = asyncio.create_task(job.wait())
    staying = asyncio.create_task(job.wait())
    await asyncio.sleep(0)
    leaving.cancel()
    with pytest.raises(asyncio.CancelledError):
        await leaving
    gate.set()
    assert await asyncio.wait_for(staying, 1) == "done"
    await scheduler.close()


async def test_pending_job_runs_in_the_spawners_context() -> None:
    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")
    scheduler = Scheduler(limit=1)
    gate = asyncio.Event()

    async def read() -> str:
        await gate.wait()
        return var.get()

    var.set("first")
    first = await scheduler.spawn(read())
    var.set("second")
    second = await scheduler.spawn(read())
    assert second.pending
    gate.set()
    assert await first.wait(timeout=1) == "first"
    assert await second.wait(timeout=1) == "second"
    await scheduler.close()


async def test_cancelled_spawn_discards_its_coroutine() -> None:
    scheduler = Scheduler(limit=1, pending_limit=0)
    gate = asyncio.Event()
    ran: list[str] = []

    async def work(name: str) -> None:
        ran.append(name)
        await gate.wait()

    await scheduler.spawn(work("a"))
    waiting = asyncio.create_task(scheduler.spawn(work("b")))
    await asyncio.sleep(0.01)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    later = asyncio.create_task(scheduler.spawn(work("c")))
    await asyncio.sleep(0)
    gate.set()
    await (await asyncio.wait_for(later, 1)).wait(timeout=1)
    assert ran == ["a", "c"]  # "b" was closed, never run (and no "never awaited" warning)
    await scheduler.close()


async def test_close_drops_pending_refuses_waiting_spawns_and_cancels_active() -> None:
    scheduler = Scheduler(limit=1, pending_limit=1)
    cancelled = asyncio.Event()

    async def forever() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    active = await scheduler.spawn(forever())
    pending = await scheduler.spawn(forever())
    waiting = asyncio.create_task(scheduler.spawn(forever()))
    await asyncio.sleep(0)
    await scheduler.close()
    assert scheduler.closed
    assert cancelled.is_set()
    assert active.closed
    assert pending.closed
    with pytest.raises(RuntimeError, match="closed"):
        await waiting
    with pytest.raises(asyncio.CancelledError):
        await active.wait()
    with pytest.raises(RuntimeError, match="closed"):
        await scheduler.spawn(forever())


async def test_job_close_and_wait_timeout() -> None:
    scheduler = Scheduler(limit=1)

    async def forever() -> None:
        await asyncio.Event().wait()

    running = await scheduler.spawn(forever())
    queued = await scheduler.spawn(forever())
    await queued.close()  # never started: dropped from the queue
    assert queued.closed
    assert scheduler.pending_count == 0
    with pytest.raises(TimeoutError):
        await running.wait(timeout=0.02)
    assert running.closed  # a timed-out wait closes the job
    assert len(scheduler) == 0
    await scheduler.close()


async def test_job_close_times_out_on_a_job_that_ignores_cancellation(caplog) -> None:
    scheduler = Scheduler(close_timeout=0.02)
    release = asyncio.Event()

    async def stubborn() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            await release.wait()  # cleanup that takes longer than close_timeout

    job = await scheduler.spawn(stubborn())
    await asyncio.sleep(0)
    with pytest.raises(TimeoutError):
        await job.close()
    with caplog.at_level(logging.ERROR, logger="webkit.web.jobs"):
        await scheduler.close()
    assert "still running" in caplog.text
    release.set()
    await job.wait(timeout=1)


def test_scheduler_validates_its_options() -> None:
    with pytest.raises(ValueError, match="limit"):
        Scheduler(limit=0)
    with pytest.raises(ValueError, match="pending_limit"):
        Scheduler(pending_limit=-1)
    with pytest.raises(ValueError, match="close_timeout"):
        Scheduler(close_timeout=-1)
    defaults = Scheduler()
    assert (defaults.limit, defaults.pending_limit, defaults.close_timeout) == (100, 10000, 0.1)


# -- exceptions are reported, never swallowed -----------------------------------------------


async def test_job_exception_is_logged_with_traceback(webkit_client, caplog) -> None:
    async def fails() -> None:
        raise ValueError("disk full")

    async def handler(request: web.Request) -> web.Response:
        await spawn(request, fails())
        return web.Response()

    app = web.Application()
    setup(app)
    app.router.add_get("/", handler)
    client = await webkit_client(app)

    with caplog.at_level(logging.ERROR, logger="webkit.web.jobs"):
        assert (await client.get("/")).status_code == 200
        await until(lambda: any(r.name == "webkit.web.jobs" for r in caplog.records))
    (record,) = [r for r in caplog.records if r.name == "webkit.web.jobs"]
    assert record.levelno == logging.ERROR
    assert "Job processing failed" in record.getMessage()
    assert "fails" in record.getMessage()  # the job is named
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], ValueError)
    assert 'raise ValueError("disk full")' in caplog.text  # the traceback

    caplog.clear()
    with caplog.at_level(logging.ERROR, logger="asyncio"):
        gc.collect()
    assert "never retrieved" not in caplog.text


async def test_custom_exception_handler_and_waiters_receive_the_exception() -> None:
    seen: list[tuple[Scheduler, dict[str, object]]] = []
    scheduler = Scheduler(exception_handler=lambda s, context: seen.append((s, context)))

    async def fails() -> None:
        await asyncio.sleep(0)
        raise KeyError("gone")

    waited = await scheduler.spawn(fails())
    with pytest.raises(KeyError):
        await waited.wait()
    assert seen == []  # delivered to the waiter: not reported a second time

    orphan = await scheduler.spawn(fails())
    await until(lambda: orphan.closed)
    ((source, context),) = seen
    assert source is scheduler
    assert context["job"] is orphan
    assert isinstance(context["exception"], KeyError)
    await scheduler.close()


async def test_exception_after_the_waiter_left_is_reported(caplog) -> None:
    scheduler = Scheduler()
    gate = asyncio.Event()

    async def fails_later() -> None:
        await gate.wait()
        raise RuntimeError("after the client left")

    job = await scheduler.spawn(fails_later())
    waiter = asyncio.create_task(job.wait())
    await asyncio.sleep(0)
    waiter.cancel()  # a handler cancelled while it waits (shielded: the job goes on)
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert job.active
    with caplog.at_level(logging.ERROR, logger="webkit.web.jobs"):
        gate.set()
        await until(lambda: job.closed)
    assert "after the client left" in caplog.text
    await scheduler.close()


async def test_exception_reported_when_the_waiter_is_cancelled_as_the_job_fails(
    caplog,
) -> None:
    scheduler = Scheduler()
    gate = asyncio.Event()

    async def fails() -> None:
        await gate.wait()
        raise RuntimeError("nobody got this")

    job = await scheduler.spawn(fails())
    waiter = asyncio.create_task(job.wait())
    await asyncio.sleep(0)
    gate.set()
    for _ in range(100):  # one loop step at a time, so the waiter has not woken up yet
        if job.closed:
            break
        await asyncio.sleep(0)
    assert job.closed
    assert not waiter.done()
    with caplog.at_level(logging.ERROR, logger="webkit.web.jobs"):
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
    assert "nobody got this" in caplog.text
    await scheduler.close()


# -- handler cancellation: atomic and the seed's shield examples ----------------------------


async def test_atomic_handler_survives_disconnect_plain_one_is_cancelled(webkit_client) -> None:
    events = {name: asyncio.Event() for name in ("started", "cancelled", "written")}
    gate = asyncio.Event()

    async def write_to_db() -> None:
        events["started"].set()
        await gate.wait()
        events["written"].set()

    @atomic
    async def handler(request: web.Request) -> web.Response:
        await write_to_db()
        return web.Response()

    async def plain(request: web.Request) -> web.Response:
        await write_to_db()
        return web.Response()

    app = web.Application(middlewares=[cancellation_probe(events["cancelled"])])
    setup(app)
    app.router.add_post("/", handler)
    app.router.add_post("/plain", plain)
    client = await webkit_client(app, handler_cancellation=True)

    await send_and_disconnect(client.port, RAW_POST, events["started"])
    await asyncio.wait_for(events["cancelled"].wait(), 1)  # the request's task was cancelled
    gate.set()
    await asyncio.wait_for(events["written"].wait(), 1)  # ... but the handler ran to its end

    for event in events.values():
        event.clear()
    gate.clear()
    await send_and_disconnect(client.port, RAW_POST.replace(b"/ ", b"/plain "), events["started"])
    await asyncio.wait_for(events["cancelled"].wait(), 1)
    gate.set()
    await asyncio.sleep(0.05)
    assert not events["written"].is_set()  # the plain handler was interrupted mid-write


async def test_atomic_returns_the_response_and_raises_http_errors(webkit_client, caplog) -> None:
    @atomic
    async def handler(request: web.Request) -> web.Response:
        if request.query.get("missing"):
            raise web.HTTPNotFound(text="no such thing")
        return web.Response(text="stored")

    class Store(web.View):
        @atomic
        async def post(self) -> web.Response:
            return web.Response(text=f"view stored {await self.request.text()}")

    app = web.Application()
    setup(app)
    app.router.add_post("/", handler)
    app.router.add_view("/view", Store)
    client = await webkit_client(app)

    with caplog.at_level(logging.ERROR, logger="webkit.web.jobs"):
        assert (await client.post("/")).text == "stored"
        missing = await client.post("/?missing=1")
        assert (missing.status_code, missing.text) == (404, "no such thing")
        assert (await client.post("/view", content=b"x")).text == "view stored x"
    assert not caplog.records  # the HTTP error reached the framework, not the job log
    assert handler.__name__ == "handler"


async def test_seed_unsafe_shields_can_leave_postgres_unwritten(webkit_client) -> None:
    written: list[str] = []
    redis_started, cancelled, redis_gate = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def write_to_redis(request: web.Request) -> None:
        redis_started.set()
        await redis_gate.wait()
        written.append("redis")

    async def write_to_postgres(request: web.Request) -> None:
        written.append("postgres")

    async def handler(request: web.Request) -> web.Response:
        await asyncio.shield(write_to_redis(request))
        await asyncio.shield(write_to_postgres(request))
        return web.Response(text="OK")

    app = web.Application(middlewares=[cancellation_probe(cancelled)])
    app.router.add_post("/", handler)
    client = await webkit_client(app, handler_cancellation=True)

    await send_and_disconnect(client.port, RAW_POST, redis_started)
    await asyncio.wait_for(cancelled.wait(), 1)  # cancelled during the redis write
    redis_gate.set()
    await until(lambda: written == ["redis"])
    await asyncio.sleep(0.05)
    assert written == ["redis"]  # the inconsistent state the seed warns about


async def test_seed_safe_shield_of_write_data_writes_both(webkit_client) -> None:
    written: list[str] = []
    redis_started, cancelled, redis_gate = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def write_to_redis(request: web.Request) -> None:
        redis_started.set()
        await redis_gate.wait()
        written.append("redis")

    async def write_to_postgres(request: web.Request) -> None:
        await asyncio.sleep(0)
        written.append("postgres")

    async def write_data(request: web.Request) -> None:
        await write_to_redis(request)
        await write_to_postgres(request)

    async def handler(request: web.Request) -> web.Response:
        await asyncio.shield(write_data(request))
        return web.Response(text="OK")

    app = web.Application(middlewares=[cancellation_probe(cancelled)])
    app.router.add_post("/", handler)
    client = await webkit_client(app, handler_cancellation=True)

    await send_and_disconnect(client.port, RAW_POST, redis_started)
    await asyncio.wait_for(cancelled.wait(), 1)
    redis_gate.set()
    await until(lambda: written == ["redis", "postgres"])


# -- graceful shutdown ----------------------------------------------------------------------


async def test_shutdown_lets_a_running_job_finish(webkit_client) -> None:
    done: list[str] = []

    async def write_data() -> None:
        await asyncio.sleep(0.05)
        done.append("written")

    async def handler(request: web.Request) -> web.Response:
        await spawn(request, write_data())
        return web.Response()

    app = web.Application()
    setup(app, wait_timeout=1.0)
    app.router.add_get("/", handler)
    client = await webkit_client(app)
    assert (await client.get("/")).status_code == 200
    assert done == []
    await client.close()  # graceful shutdown: the job gets wait_timeout to finish
    assert done == ["written"]
    assert get_scheduler_from_app(app).closed


async def test_shutdown_cancels_a_job_past_the_timeout_and_awaits_it(webkit_client) -> None:
    steps: list[str] = []
    jobs: list[Job[None]] = []

    async def endless() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            steps.append("cancelled")
            await asyncio.sleep(0.01)  # cleanup that takes a moment, within close_timeout
            steps.append("cleaned up")
            raise

    async def handler(request: web.Request) -> web.Response:
        jobs.append(await spawn(request, endless()))
        return web.Response()

    app = web.Application()
    setup(app, wait_timeout=0.1)
    app.router.add_get("/", handler)
    client = await webkit_client(app)
    assert (await client.get("/")).status_code == 200
    loop = asyncio.get_running_loop()
    started = loop.time()
    await client.close()
    assert 0.1 <= loop.time() - started < 1.0
    assert steps == ["cancelled", "cleaned up"]  # the cancellation was awaited
    assert jobs[0].closed

    async def late() -> None:
        pass

    with pytest.raises(RuntimeError, match="closed"):
        await get_scheduler_from_app(app).spawn(late())  # closed, no "never awaited"


# -- finding the scheduler ------------------------------------------------------------------


async def test_spawn_without_setup_is_a_clear_error(webkit_client) -> None:
    async def job() -> None:
        pass

    async def handler(request: web.Request) -> web.Response:
        try:
            await spawn(request, job())
        except RuntimeError as exc:
            return web.Response(text=str(exc))
        return web.Response(text="spawned")

    app = web.Application()
    app.router.add_get("/", handler)
    client = await webkit_client(app)
    assert "setup(app)" in (await client.get("/")).text
    with pytest.raises(RuntimeError, match="setup"):
        get_scheduler_from_app(app)


async def test_get_scheduler_from_a_sub_application(webkit_client) -> None:
    found: list[Scheduler] = []
    ran = asyncio.Event()

    async def job() -> None:
        ran.set()

    async def handler(request: web.Request) -> web.Response:
        found.append(get_scheduler(request))
        await spawn(request, job())
        return web.Response(text="sub")

    root, sub = web.Application(), web.Application()
    setup(root)
    sub.router.add_get("/", handler)
    root.add_subapp("/sub/", sub)
    client = await webkit_client(root)

    assert (await client.get("/sub/")).text == "sub"
    await asyncio.wait_for(ran.wait(), 1)
    assert found == [root[SCHEDULER_KEY]]
    assert get_scheduler_from_app(sub) is root[SCHEDULER_KEY]


def test_setup_twice_is_refused() -> None:
    app = web.Application()
    setup(app)
    with pytest.raises(RuntimeError, match="already"):
        setup(app)
