"""Seed: "Ceil of absolute timeout value".

``web.Application(handler_args={"timeout_ceil_threshold": 1})`` is accepted and honoured:
a keep-alive timeout of 1.2 s (at least the threshold) expires at the next whole second
after ``start + 1.2``; below the threshold (the default is 5) it is not rounded.
The server runs in the test's loop, so its deadlines are on the test's clock.
"""

from __future__ import annotations

import asyncio
import math

from seedkit import connect, read_response

from webkit import web

KEEPALIVE = 1.2


async def hello(request: web.Request) -> web.Response:
    return web.Response(text="hello")


async def idle_close_time(port: int) -> tuple[float, float]:
    """Make one request, then wait for the server to close the idle connection.

    Returns when the response arrived (just after the connection went idle) and when the
    connection was closed, in loop time.
    """
    loop = asyncio.get_running_loop()
    reader, writer = await connect(port)
    writer.write(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
    assert (await read_response(reader)).text == "hello"
    idle_since = loop.time()
    assert await asyncio.wait_for(reader.read(), 10) == b""
    closed = loop.time()
    writer.close()
    return idle_since, closed


async def test_timeout_ceil_threshold_in_handler_args(webkit_client) -> None:
    def make_app(**handler_args: float) -> web.Application:
        app = web.Application(handler_args={"keepalive_timeout": KEEPALIVE, **handler_args})
        app.router.add_get("/", hello)
        return app

    ceiled = await webkit_client(make_app(timeout_ceil_threshold=1))
    default = await webkit_client(make_app())
    high = await webkit_client(make_app(timeout_ceil_threshold=10))

    # Start when start + 1.2 s falls just after a whole second: rounding it up then moves
    # the deadline by about 0.9 s, far more than the timing noise.
    loop = asyncio.get_running_loop()
    now = loop.time()
    target = math.floor(now) + 0.85
    if target <= now:
        target += 1
    await asyncio.sleep(target - now)

    results = await asyncio.gather(
        idle_close_time(ceiled.port),
        idle_close_time(default.port),
        idle_close_time(high.port),
    )
    (c_start, c_closed), (d_start, d_closed), (h_start, h_closed) = results
    # Rounded up: not before the next whole second after start + 1.2 (the connection went
    # idle a moment before the response arrived, so allow for that), soon after it.
    deadline = math.ceil(c_start + KEEPALIVE)
    assert deadline - c_start > KEEPALIVE + 0.5  # the alignment above worked
    assert deadline - 0.05 <= c_closed < deadline + 1.0, (c_start, c_closed)
    # Not rounded: closes about 1.2 s after going idle, well before the ceiled deadline.
    for start, closed in ((d_start, d_closed), (h_start, h_closed)):
        assert KEEPALIVE - 0.05 <= closed - start < KEEPALIVE + 0.6, (start, closed)
        assert closed < deadline - 0.2
