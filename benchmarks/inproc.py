#!/usr/bin/env python3
"""In-process cost of one request through webkit's stack, without sockets or wrk.

Feeds pipelined-free keep-alive requests straight into a connection with a transport that
drops what it is given, so what is timed is parsing, routing, the handler task and response
encoding: the part of a request's cost that webkit's own code decides. For profiling and
for comparing changes on one machine; `throughput.py` gives the figures to quote.

    python benchmarks/inproc.py [-n 200000] [--path /user/alice] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import time

from webkit import web
from webkit.web.runner import AppRunner


class NullTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.written = 0

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += 1

    def get_extra_info(self, name: str, default: object = None) -> object:
        return {"peername": ("127.0.0.1", 5000), "sockname": ("127.0.0.1", 8080)}.get(name, default)

    def is_closing(self) -> bool:
        return False

    def close(self) -> None:
        pass

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def hello(request: web.Request) -> web.Response:
    return web.Response(text="Hello, World!")


async def user(request: web.Request) -> web.Response:
    return web.Response(text=f"Hello, {request.match_info['name']}")


async def json_hello(request: web.Request) -> web.Response:
    return web.json_response({"message": "Hello, World!"})


async def run(n: int, path: str) -> float:
    app = web.Application()
    app.router.add_get("/", hello)
    app.router.add_get("/json", json_hello)
    for i in range(10):
        app.router.add_get(f"/decoy{i}", hello)
        app.router.add_get(f"/decoy{i}/{{item}}", hello)
    app.router.add_get("/user/{name}", user)
    runner = AppRunner(app, access_log=None)
    await runner.setup()
    assert runner.server is not None
    conn = runner.server()
    transport = NullTransport()
    conn.connection_made(transport)
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n".encode()
    for _ in range(1000):
        conn.data_received(request)
        await asyncio.sleep(0)
    start = time.perf_counter()
    for _ in range(n):
        conn.data_received(request)
        await asyncio.sleep(0)
    elapsed = time.perf_counter() - start
    assert transport.written == n + 1000, transport.written
    conn.connection_lost(None)
    await runner.cleanup()
    return elapsed / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=200_000)
    parser.add_argument("--path", default="/")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
    us = asyncio.run(run(args.n, args.path))
    if args.profile:
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
    print(f"{args.path}: {us:.2f} us per request (in-process, no I/O)")


if __name__ == "__main__":
    main()
