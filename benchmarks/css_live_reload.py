#!/usr/bin/env python3
"""CSS live reload in a real headless Chromium: webkit runserver vs aiohttp-devtools (adev).

Measures "a saved edit of a CSS file → the browser applies the new style", end to end: the
dev server's file watcher, its LiveReload message, the client script's stylesheet swap, the
stylesheet's fetch and the browser's style recalculation.

Both servers run at once, each on a copy of its template app from
``../shared/bench/reload_apps`` (``webkit_app``, ``aiohttp_app``), each in its own process
group. One Chromium (``tests/browser/cdp.py``) opens a tab per server at ``/page``, which links
``/static/style.css`` and has one ``<p>``. Trials alternate (webkit, adev, webkit, adev...).
Per trial:

1. write ``p { color: rgb(R, G, B); }`` with a colour never used before to
   ``static/style.css`` (in place, fsync), then t0 = ``perf_counter()``;
2. poll ``getComputedStyle(document.querySelector('p')).color`` over CDP every ~2 ms until it
   is the new colour; latency = now - t0 (each poll is a CDP round trip, well under 1 ms here);
3. note whether the tab's main frame committed a new document meanwhile (a full page reload
   rather than an in-place stylesheet swap), then let the server settle before its next trial.

"Live reload connected" before the first trial: for webkit, its client's console message
``[webkit] live reload connected`` (logged once the server's hello came back and the client
sent ``info``); for adev, its livereload.js exposes ``window.LiveReload``, and
``LiveReload.connector.protocol >= 7`` with an open socket means the same (hello received,
``info`` sent). Then both wait a settle period, so the server has registered the client.

    .venv/bin/pip install -e . aiohttp-devtools websockets
    .venv/bin/python benchmarks/css_live_reload.py            # 15 trials per server
    .venv/bin/python benchmarks/css_live_reload.py -n 5 -v    # quicker, with server output
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import importlib.metadata
import json
import os
import platform
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(os.environ.get("WEBKIT_BENCH_DIR", ROOT.parent / "shared" / "bench"))
APPS = BENCH / "reload_apps"
RESULTS = ROOT / "benchmarks" / "results" / "css-live-reload.json"
sys.path.insert(0, str(ROOT / "tests" / "browser"))

from cdp import Browser, CDPError, Page, find_chromium  # noqa: E402

now = time.perf_counter
TOKEN = "__TOKEN__"
CSS = "static/style.css"
COLOR_JS = "getComputedStyle(document.querySelector('p')).color"
ADEV_CONNECTED_JS = (
    "!!(window.LiveReload && window.LiveReload.connector"
    " && window.LiveReload.connector.protocol >= 7"
    " && window.LiveReload.connector._isSocketConnected())"
)
WEBKIT_CONNECTED = "[webkit] live reload connected"

SERVERS: dict[str, dict[str, Any]] = {
    "webkit": {
        "template": "webkit_app",
        "cmd": "{python} -m webkit runserver app.py:create_app --port {port} --static static",
        "env": {},
    },
    "adev": {
        "template": "aiohttp_app",
        "cmd": "{python} -m aiohttp_devtools runserver app.py --port {port}"
        " --aux-port {aux_port} --static static",
        # adev 1.1.x binds 0.0.0.0 with no option; this sitecustomize pins it to loopback.
        "env": {"PYTHONPATH": str(APPS / "adev_loopback")},
    },
}


class BenchError(RuntimeError):
    """A setup step failed; the message says which and why."""


# -- processes and ports ----------------------------------------------------------------------


def port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def pick_port_pair(used: set[int]) -> int:
    """A port P with P and P + 1 free on 127.0.0.1 (adev's aux app takes P + 1)."""
    for _ in range(200):
        port = random.randrange(20000, 40000)
        if {port, port + 1} & used:
            continue
        if port_free(port) and port_free(port + 1):
            used.update((port, port + 1))
            return port
    raise BenchError("no free pair of ports found")


def pids_in_group(pgid: int) -> list[int]:
    """Live (non-zombie) processes of process group ``pgid`` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] != "Z" and int(fields[2]) == pgid:
            found.append(int(entry.name))
    return found


def http_get(port: int, path: str, timeout: float = 3.0) -> tuple[int, str, str]:
    """GET on a fresh connection, as a browser asks for a page: (status, content type, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Accept": "text/html,*/*"})
        response = conn.getresponse()
        body = response.read().decode("utf-8", "replace")
        return response.status, response.getheader("Content-Type", ""), body
    finally:
        conn.close()


class Server:
    """One dev server on a private copy of its template app."""

    def __init__(self, name: str, python: str, used_ports: set[int]) -> None:
        self.name = name
        self.spec = SERVERS[name]
        self.python = python
        self.port = pick_port_pair(used_ports)
        self.tmp = Path(tempfile.mkdtemp(prefix=f"css-live-reload-{name}-"))
        self.app_dir = self.tmp / "app"
        self.proc: subprocess.Popen[bytes] | None = None
        self.output: deque[str] = deque(maxlen=80)
        self.echo = False
        self.css_template = ""
        self.page: Page | None = None
        self.trials: list[dict[str, Any]] = []
        self.last_done = 0.0
        self.shutdown: dict[str, Any] = {}

    def prepare(self) -> None:
        template = APPS / self.spec["template"]
        if not template.is_dir():
            raise BenchError(f"{template}: no such template app (set WEBKIT_BENCH_DIR?)")
        shutil.copytree(
            template, self.app_dir, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
        )
        for rel in ("views.py", CSS):
            path = self.app_dir / rel
            text = path.read_text()
            if rel == CSS:
                self.css_template = text
            path.write_text(text.replace(TOKEN, "initial"))

    def start(self) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "NO_COLOR": "1"}
        env.pop("WEBKIT_APP", None)
        for key, value in self.spec["env"].items():
            if key == "PYTHONPATH" and env.get(key):
                value = value + os.pathsep + env[key]
            env[key] = value
        argv = (
            self.spec["cmd"]
            .format(python=self.python, port=self.port, aux_port=self.port + 1)
            .split()
        )
        self.proc = subprocess.Popen(
            argv,
            cwd=self.app_dir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        threading.Thread(target=self._read, args=(self.proc,), daemon=True).start()

    def _read(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip()
            self.output.append(line)
            if self.echo:
                print(f"    [{self.name}] {line}", file=sys.stderr, flush=True)

    def tail(self) -> str:
        return "\n".join(f"    | {line}" for line in list(self.output)[-30:]) or "    | (none)"

    def wait_ready(self, timeout: float) -> str:
        """Wait for a 200 on /page; check the live-reload script is in it; return the HTML."""
        assert self.proc is not None
        deadline = now() + timeout
        last: object = None
        while now() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(
                    f"{self.name} exited with status {self.proc.returncode} while starting;"
                    f" its output:\n{self.tail()}"
                )
            try:
                status, ctype, body = http_get(self.port, "/page")
            except OSError as exc:
                last = exc
            else:
                if status == 200:
                    if "text/html" not in ctype or "<script" not in body:
                        raise BenchError(
                            f"{self.name}: /page has no live-reload <script> tag"
                            f" (Content-Type {ctype!r}):\n{body[:500]}"
                        )
                    return body
                last = f"HTTP {status}"
            time.sleep(0.05)
        raise BenchError(
            f"{self.name} did not serve /page within {timeout} s (last: {last!r});"
            f" its output:\n{self.tail()}"
        )

    def write_css(self, color: str) -> float:
        """Rewrite the stylesheet with ``p { color: ... }`` in place, fsync; perf_counter()."""
        text = self.css_template.replace(TOKEN, color) + f"p {{ color: {color}; }}\n"
        with open(self.app_dir / CSS, "wb") as f:
            f.write(text.encode())
            f.flush()
            os.fsync(f.fileno())
        return now()

    def stop(self) -> None:
        """SIGINT, then SIGTERM, then SIGKILL to the server's process group."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        pgid = proc.pid
        started = now()
        escalated = []
        for sig, wait in ((signal.SIGINT, 8.0), (signal.SIGTERM, 3.0), (signal.SIGKILL, 2.0)):
            try:
                os.killpg(pgid, sig)
            except ProcessLookupError:
                break
            end = now() + wait
            while now() < end and (proc.poll() is None or pids_in_group(pgid)):
                time.sleep(0.02)
            if proc.poll() is not None and not pids_in_group(pgid):
                break
            escalated.append(signal.Signals(sig).name)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=1)
        self.shutdown = {"stop_s": round(now() - started, 3)}
        if escalated:
            self.shutdown["signals_not_enough"] = escalated
        orphans = pids_in_group(pgid)
        if orphans:
            self.shutdown["orphans"] = orphans

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)


# -- the browser side -------------------------------------------------------------------------


def wait_connected(server: Server, page: Page, timeout: float) -> None:
    deadline = now() + timeout
    while now() < deadline:
        if server.name == "webkit":
            if WEBKIT_CONNECTED in page.console_messages("log"):
                return
        else:
            with contextlib.suppress(CDPError, TimeoutError):
                if page.evaluate(ADEV_CONNECTED_JS, timeout=2):
                    return
        time.sleep(0.02)
    raise BenchError(
        f"{server.name}: the page's live-reload client did not connect within {timeout} s;"
        f" console: {page.console_messages()[-10:]!r}, errors: {page.errors()[-5:]!r};"
        f" server output:\n{server.tail()}"
    )


def read_color(page: Page) -> str | None:
    """The <p>'s computed colour, or None while there is none (e.g. mid-reload)."""
    try:
        value = page.evaluate(COLOR_JS, timeout=2)
    except (CDPError, TimeoutError):
        return None
    return value if isinstance(value, str) else None


def reload_frames(page: Page) -> list[float]:
    """Arrival times (browser clock) of the LiveReload ``reload`` messages the tab received."""
    times = []
    for event in page.events("Network.webSocketFrameReceived"):
        params = event.get("params", {})
        if '"reload"' in str(params.get("response", {}).get("payloadData", "")):
            times.append(float(params.get("timestamp", 0.0)))
    return times


def annotate_messages(server: Server) -> None:
    """Per trial: reload messages received before the next edit, and when the first came.

    CDP's Network timestamps are Chromium's TimeTicks, CLOCK_MONOTONIC on Linux, the clock of
    ``time.perf_counter()`` there: "edit → message in the browser" needs no clock sync. The
    value is kept only where it is plausible (between the edit and the style change).
    """
    assert server.page is not None
    frames = reload_frames(server.page)
    for i, record in enumerate(server.trials):
        start = record["t0"]
        end = server.trials[i + 1]["t0"] if i + 1 < len(server.trials) else float("inf")
        mine = [t for t in frames if start <= t < end]
        record["reload_messages"] = len(mine)
        first = (min(mine) - start) if mine else None
        latency = record["latency"]
        if first is not None and (latency is None or first <= latency + 0.005):
            record["message_ms"] = round(first * 1000, 2)
        else:
            record["message_ms"] = None


def trial(server: Server, index: int, color_rgb: tuple[int, int, int], args: Any) -> None:
    page = server.page
    assert page is not None
    # A random extra wait: adev's watcher polls every 250 ms, restarting its clock after each
    # batch, so a fixed cadence would land every edit at the same phase of its poll and give a
    # constant latency anywhere between 250 and 500 ms.
    wait = args.settle + random.uniform(0, args.jitter) - (now() - server.last_done)
    if wait > 0:
        time.sleep(wait)
    r, g, b = color_rgb
    want = f"rgb({r}, {g}, {b})"
    before = read_color(page)
    navigations = page.navigations
    t0 = server.write_css(want)
    deadline = t0 + args.trial_timeout
    latency = None
    polls = 0
    seen = before
    while True:
        polls += 1
        seen = read_color(page)
        if seen == want:
            latency = now() - t0
            break
        if now() >= deadline:
            break
        time.sleep(args.poll)
    reloads = page.navigations - navigations
    server.last_done = now()
    record = {
        "t0": t0,
        "latency": latency,
        "color": want,
        "color_before": before,
        "last_seen": seen,
        "page_reloads": reloads,
        "polls": polls,
    }
    server.trials.append(record)
    shown = f"{latency * 1000:7.1f} ms" if latency is not None else "   TIMEOUT"
    extra = f"  PAGE RELOADED x{reloads}" if reloads else ""
    if latency is None:
        extra += f"  (still {seen!r} after {args.trial_timeout} s)"
    print(f"  {server.name:7s} #{index:<2d} {shown}{extra}", flush=True)


# -- report -----------------------------------------------------------------------------------


def version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def summarize(servers: list[Server]) -> dict[str, Any]:
    stats: dict[str, Any] = {}
    for server in servers:
        ok = [t["latency"] * 1000 for t in server.trials if t["latency"] is not None]
        entry: dict[str, Any] = {
            "n": len(ok),
            "failed": len(server.trials) - len(ok),
            "trials_with_page_reload": sum(1 for t in server.trials if t["page_reloads"]),
            "reload_messages_per_edit": sorted(
                {t["reload_messages"] for t in server.trials if "reload_messages" in t}
            ),
        }
        messages = [t["message_ms"] for t in server.trials if t.get("message_ms") is not None]
        if messages:
            entry["message_median_ms"] = round(statistics.median(messages), 2)
        if ok:
            entry.update(
                median_ms=round(statistics.median(ok), 2),
                min_ms=round(min(ok), 2),
                max_ms=round(max(ok), 2),
            )
        stats[server.name] = entry
    return stats


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-n", "--trials", type=int, default=15, help="trials per server")
    parser.add_argument("--settle", type=float, default=1.5, help="s between trials per server")
    parser.add_argument(
        "--jitter", type=float, default=0.5, help="up to this many s more, at random"
    )
    parser.add_argument(
        "--no-network",
        action="store_true",
        help="do not enable CDP's Network domain (no edit → message timing)",
    )
    parser.add_argument("--poll", type=float, default=0.002, help="s between colour polls")
    parser.add_argument("--trial-timeout", type=float, default=10.0)
    parser.add_argument("--startup-timeout", type=float, default=30.0)
    parser.add_argument("--python", default=sys.executable, help="interpreter for the servers")
    parser.add_argument("--chromium", default=None, help="default: $WEBKIT_CHROMIUM or Debian's")
    parser.add_argument("--json", type=Path, default=RESULTS, help="where to write the results")
    parser.add_argument("-v", "--verbose", action="store_true", help="echo server output")
    args = parser.parse_args()
    if args.trials < 1:
        parser.error("-n must be at least 1")

    chromium = args.chromium or find_chromium()
    if chromium is None:
        raise SystemExit("no Chromium found (apt-get install chromium, or set WEBKIT_CHROMIUM)")
    for module in ("webkit", "aiohttp_devtools"):
        probe = [args.python, "-c", f"import {module}"]
        if subprocess.run(probe, capture_output=True).returncode:
            raise SystemExit(f"{args.python} cannot import {module}: install it first")

    used: set[int] = set()
    servers = [Server(name, args.python, used) for name in ("webkit", "adev")]
    loadavg_start = os.getloadavg()
    browser: Browser | None = None
    try:
        for server in servers:
            server.echo = args.verbose
            server.prepare()
            server.start()
        for server in servers:
            started = now()
            html = server.wait_ready(args.startup_timeout)
            scripts = re.findall(r"<script[^>]*>", html)
            print(
                f"== {server.name} serving on port {server.port} after"
                f" {now() - started:.2f} s; injected: {' '.join(scripts)}",
                flush=True,
            )
        browser = Browser(chromium).start()
        browser_version = browser.send("Browser.getVersion").get("product")
        for server in servers:
            page = browser.new_page()
            server.page = page
            if not args.no_network:
                page.send("Network.enable")
            page.goto(f"http://127.0.0.1:{server.port}/page")
            wait_connected(server, page, args.startup_timeout)
            color = read_color(page)
            if color is None:
                raise BenchError(f"{server.name}: /page has no <p> to read the colour of")
            server.last_done = now()
            visibility = page.evaluate("document.visibilityState")
            print(
                f"== {server.name}: live reload connected, <p> colour {color}, tab {visibility}",
                flush=True,
            )

        print(f"== {args.trials} trials each, interleaved", flush=True)
        rng = random.Random()
        used_colors: set[tuple[int, int, int]] = {(51, 51, 51)}
        for i in range(args.trials):
            for server in servers:
                while True:
                    rgb = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
                    if rgb not in used_colors:
                        used_colors.add(rgb)
                        break
                trial(server, i, rgb, args)
        time.sleep(1.0)  # late duplicate messages of the last edits
        for server in servers:
            assert server.page is not None
            if not args.no_network:
                annotate_messages(server)
            errors = server.page.errors()
            if errors:
                print(f"  {server.name} page errors: {errors[-3:]!r}", flush=True)
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        if browser is not None:
            browser.close()
        for server in servers:
            server.cleanup()

    stats = summarize(servers)
    ratio = None
    if stats["webkit"].get("n") and stats["adev"].get("n"):
        ratio = stats["adev"]["median_ms"] / stats["webkit"]["median_ms"]
    print("\n== CSS edit → new style applied in Chromium (ms)")
    print(
        f"  {'server':8s} {'n':>3s} {'fail':>4s} {'median':>8s} {'min':>8s} {'max':>8s}"
        f"  {'msg median':>10s}  msgs/edit  page reloads"
    )
    for name, entry in stats.items():
        if entry["n"]:
            message = entry.get("message_median_ms")
            shown = f"{message:10.1f}" if message is not None else f"{'-':>10s}"
            print(
                f"  {name:8s} {entry['n']:3d} {entry['failed']:4d} {entry['median_ms']:8.1f}"
                f" {entry['min_ms']:8.1f} {entry['max_ms']:8.1f}  {shown}"
                f"  {entry['reload_messages_per_edit']!s:9s}  {entry['trials_with_page_reload']}"
            )
        else:
            print(f"  {name:8s} {0:3d} {entry['failed']:4d}   all failed")
    if ratio is not None:
        print(f"  ratio adev median / webkit median: {ratio:.2f}")
    for server in servers:
        if server.shutdown.get("orphans") or server.shutdown.get("signals_not_enough"):
            print(f"  WARNING {server.name} shutdown: {server.shutdown}")

    result = {
        "benchmark": "css edit -> computed style in headless Chromium",
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "trials": args.trials,
        "settle_s": args.settle,
        "jitter_s": args.jitter,
        "network_domain": not args.no_network,
        "poll_s": args.poll,
        "versions": {
            "python": platform.python_version(),
            "chromium": browser_version,
            "webkit": version("webkit"),
            "aiohttp": version("aiohttp"),
            "aiohttp-devtools": version("aiohttp-devtools"),
            "watchfiles": version("watchfiles"),
        },
        "cpus": os.cpu_count(),
        "loadavg_start": loadavg_start,
        "loadavg_end": os.getloadavg(),
        "stats": stats,
        "ratio_adev_over_webkit_median": round(ratio, 2) if ratio is not None else None,
        "servers": {
            s.name: {"cmd": s.spec["cmd"], "trials": s.trials, "shutdown": s.shutdown}
            for s in servers
        },
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=1) + "\n")
    print(f"  wrote {args.json}")
    failed = any(entry["failed"] for entry in stats.values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
