#!/usr/bin/env python3
"""WebSocket echo of small messages: webkit against aiohttp, same handler, same run.

Each server runs the same echo app in its own process, pinned to CPU 0 (`taskset`); load
comes from client processes pinned to CPU 1, each holding several connections that keep a
fixed number of 100-byte text messages in flight. Servers are interleaved round by round.
Reported per server: messages echoed per second (median over rounds) and server CPU time per
message, read from /proc (the figure that survives a noisy machine), with ratios to aiohttp.

    .venv/bin/pip install -e . aiohttp
    .venv/bin/python benchmarks/ws_echo.py [-r 5] [-d 4] [--conns 32] [--window 8]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

SERVER = r"""
import os, sys
impl = sys.argv[1]
if impl == "aiohttp":
    from aiohttp import web, WSMsgType
else:
    from webkit import web
    from webkit.web import WSMsgType

async def echo(request):
    ws = web.WebSocketResponse(compress=False)
    await ws.prepare(request)
    async for msg in ws:
        if msg.type == WSMsgType.TEXT:
            await ws.send_str(msg.data)
    return ws

app = web.Application()
app.router.add_get("/ws", echo)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[2]), access_log=None, print=None)
"""

CLIENT = r"""
import asyncio, sys, time
from websockets.asyncio.client import connect

async def one(url, window, deadline, counts):
    async with connect(url, compression=None, max_queue=None) as ws:
        payload = "x" * 100
        for _ in range(window):
            await ws.send(payload)
        while time.monotonic() < deadline:
            await ws.recv()
            counts[0] += 1
            await ws.send(payload)

async def main():
    url, conns, window = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    duration = float(sys.argv[4])
    counts = [0]
    deadline = time.monotonic() + duration
    await asyncio.gather(*(one(url, window, deadline, counts) for _ in range(conns)))
    print(counts[0])

asyncio.run(main())
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_listening(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"server on port {port} did not start")


def measure(impl: str, args: argparse.Namespace, workdir: Path) -> tuple[float, float]:
    port = free_port()
    pin = ["taskset", "-c", "0"] if shutil.which("taskset") else []
    server = subprocess.Popen(
        [*pin, sys.executable, str(workdir / "server.py"), impl, str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_listening(port)
        client_pin = ["taskset", "-c", "1"] if pin else []
        per_client = max(1, args.conns // args.clients)
        url = f"ws://127.0.0.1:{port}/ws"
        before = cpu_seconds(server.pid)
        started = time.monotonic()
        clients = [
            subprocess.Popen(
                [*client_pin, sys.executable, str(workdir / "client.py"), url,
                 str(per_client), str(args.window), str(args.duration)],
                stdout=subprocess.PIPE,
                text=True,
            )
            for _ in range(args.clients)
        ]  # fmt: skip
        total = sum(
            int((c.communicate(timeout=args.duration + 30)[0] or "0").strip()) for c in clients
        )
        elapsed = time.monotonic() - started
        used = cpu_seconds(server.pid) - before
        return total / elapsed, used / max(total, 1) * 1e6
    finally:
        server.terminate()
        server.wait(10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-r", "--rounds", type=int, default=5)
    parser.add_argument("-d", "--duration", type=float, default=4.0)
    parser.add_argument("--conns", type=int, default=32)
    parser.add_argument("--window", type=int, default=8, help="messages in flight per connection")
    parser.add_argument("--clients", type=int, default=2, help="client processes")
    parser.add_argument("--json", dest="json_out")
    args = parser.parse_args()
    workdir = Path(os.environ.get("TMPDIR", "/tmp")) / f"webkit-ws-bench-{os.getpid()}"
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "server.py").write_text(SERVER)
    (workdir / "client.py").write_text(CLIENT)
    results: dict[str, list[tuple[float, float]]] = {"aiohttp": [], "webkit": []}
    try:
        for rnd in range(args.rounds):
            for impl in results:
                rate, us = measure(impl, args, workdir)
                results[impl].append((rate, us))
                print(
                    f"round {rnd + 1}: {impl:8} {rate:10,.0f} msg/s  {us:6.1f} server CPU us/msg",
                    flush=True,
                )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    base_rate = statistics.median(r for r, _ in results["aiohttp"])
    base_us = statistics.median(u for _, u in results["aiohttp"])
    print("\nserver     msg/s (median)  ratio   us/msg  cpu-ratio")
    for impl, rows in results.items():
        rate = statistics.median(r for r, _ in rows)
        us = statistics.median(u for _, u in rows)
        print(f"{impl:10} {rate:14,.0f} {rate / base_rate:6.2f} {us:8.1f} {base_us / us:10.2f}")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
