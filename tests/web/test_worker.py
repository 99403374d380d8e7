"""The Gunicorn workers under real Gunicorn: app targets, workers, signals, reloads, errors."""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

gunicorn_config = pytest.importorskip(
    "gunicorn.config", reason="gunicorn is not installed (pip install gunicorn)"
)

from webkit.web.worker import (  # noqa: E402
    AppTargetError,
    WorkerConfigError,
    convert_access_log_format,
)

WORKER = "webkit.worker.GunicornWebWorker"

APP_MODULE = """
import asyncio
import os
import time
from pathlib import Path

from webkit import web

MARKERS = Path(os.environ["WEBKIT_TEST_MARKERS"])


async def pid(request: web.Request) -> web.Response:
    return web.Response(text=str(os.getpid()))


async def slow(request: web.Request) -> web.Response:
    (MARKERS / f"started-{os.getpid()}").touch()
    await asyncio.sleep(float(request.query.get("t", "1")))
    return web.Response(text="slow done")


async def block(request: web.Request) -> web.Response:
    time.sleep(float(request.query["t"]))  # a stuck event loop, as the master sees it
    return web.Response(text="unblocked")


async def cleanup(app: web.Application) -> None:
    (MARKERS / f"cleanup-{os.getpid()}").touch()


def create_app() -> web.Application:
    app = web.Application()
    app.router.add_get("/", pid)
    app.router.add_get("/slow", slow)
    app.router.add_get("/block", block)
    app.on_cleanup.append(cleanup)
    return app


application = create_app()


def make_app() -> web.Application:
    return create_app()


async def my_web_app() -> web.Application:
    await asyncio.sleep(0)
    return create_app()


def not_an_app() -> str:
    return "not an app"


def needs_config(config: dict) -> web.Application:
    return create_app()


greeting = "hello"
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def get(port: int, path: str = "/", timeout: float = 5.0) -> tuple[int, str]:
    """One request on a new connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read().decode()
    finally:
        conn.close()


class Gunicorn:
    """A Gunicorn master process, its merged output collected line by line."""

    def __init__(self, proc: subprocess.Popen[str], port: int, markers: Path) -> None:
        self.proc = proc
        self.port = port
        self.markers = markers
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    @property
    def output(self) -> str:
        with self._changed:
            return "\n".join(self.lines)

    def wait_for_line(self, predicate: Callable[[str], bool], timeout: float = 10.0) -> str:
        deadline = time.monotonic() + timeout
        seen = 0
        with self._changed:
            while True:
                for line in self.lines[seen:]:
                    if predicate(line):
                        return line
                seen = len(self.lines)
                remaining = deadline - time.monotonic()
                if remaining <= 0 or (not self._reader.is_alive() and seen == len(self.lines)):
                    raise AssertionError(f"no such line in Gunicorn's output:\n{self.output}")
                self._changed.wait(min(remaining, 0.2))

    def wait_ready(self, timeout: float = 10.0) -> int:
        """Poll until a worker answers; the pid it reports."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                status, body = get(self.port, timeout=1.0)
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"Gunicorn never answered:\n{self.output}") from None
                time.sleep(0.05)
                continue
            assert status == 200, body
            return int(body)

    def wait_exit(self, timeout: float = 10.0) -> int:
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"Gunicorn did not exit:\n{self.output}") from None
        self._reader.join(5)
        return code

    def signal(self, sig: signal.Signals) -> None:
        self.proc.send_signal(sig)

    def marker_pids(self, kind: str) -> set[int]:
        return {int(p.name.split("-")[1]) for p in self.markers.glob(f"{kind}-*")}


@pytest.fixture
def gunicorn(tmp_path: Path) -> Iterator[Callable[..., Gunicorn]]:
    (tmp_path / "app_module.py").write_text(APP_MODULE)
    markers = tmp_path / "markers"
    markers.mkdir()
    started: list[Gunicorn] = []

    def start(target: str, *args: str, worker: str = WORKER) -> Gunicorn:
        port = free_port()
        argv = [sys.executable, "-m", "gunicorn", target, "--bind", f"127.0.0.1:{port}"]
        argv += ["--worker-class", worker, "--graceful-timeout", "5", *args]
        if hasattr(gunicorn_config, "ControlSocketDisable"):  # gunicorn >= 25.1
            argv.append("--no-control-socket")
        env = {**os.environ, "WEBKIT_TEST_MARKERS": str(markers), "PYTHONUNBUFFERED": "1"}
        proc = subprocess.Popen(
            argv,
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        server = Gunicorn(proc, port, markers)
        started.append(server)
        return server

    yield start
    for server in started:
        if server.proc.poll() is None:
            server.proc.send_signal(signal.SIGQUIT)
            try:
                server.proc.wait(5)
            except subprocess.TimeoutExpired:
                server.proc.kill()
                server.proc.wait(5)
        if server.proc.stdout is not None:
            server.proc.stdout.close()


@pytest.mark.parametrize(
    ("target", "options"),
    [
        pytest.param("app_module:application", (), id="application-object"),
        pytest.param("app_module:make_app", (), id="sync-factory"),
        pytest.param("app_module:my_web_app", (), id="async-factory-from-the-seed"),
        pytest.param("app_module:my_web_app", ("--preload",), id="async-factory-preloaded"),
    ],
)
def test_serves_each_kind_of_target(
    gunicorn: Callable[..., Gunicorn], target: str, options: tuple[str, ...]
) -> None:
    server = gunicorn(target, *options)
    pid = server.wait_ready()
    assert pid != server.proc.pid  # a worker answered, not the master
    assert get(server.port, "/slow?t=0") == (200, "slow done")
    assert get(server.port, "/missing")[0] == 404
    server.signal(signal.SIGTERM)
    assert server.wait_exit() == 0
    assert server.marker_pids("cleanup") == {pid}


def test_the_seeds_command_line_with_the_top_level_worker_name(
    gunicorn: Callable[..., Gunicorn],
) -> None:
    # The seed: gunicorn my_app_module:my_web_app --worker-class aiohttp.GunicornWebWorker,
    # with only "aiohttp" replaced by "webkit".
    server = gunicorn("app_module:my_web_app", worker="webkit.GunicornWebWorker")
    pid = server.wait_ready()
    assert get(server.port, "/slow?t=0") == (200, "slow done")
    server.signal(signal.SIGTERM)
    assert server.wait_exit() == 0
    assert server.marker_pids("cleanup") == {pid}


def test_gunicorn_settings_reach_the_server(gunicorn: Callable[..., Gunicorn]) -> None:
    server = gunicorn(
        "app_module:application", "--access-logfile", "-", "--limit-request-line", "64"
    )
    server.wait_ready()
    # --access-logfile: webkit's access log, in its default (combined) format.
    server.wait_for_line(lambda line: '"GET / HTTP/1.1" 200' in line)
    # --limit-request-line: a longer request target is refused with 414.
    assert get(server.port, "/" + "a" * 100)[0] == 414
    assert get(server.port, "/" + "a" * 10)[0] == 404


def test_two_workers_share_the_requests(gunicorn: Callable[..., Gunicorn]) -> None:
    server = gunicorn("app_module:my_web_app", "--workers", "2")
    server.wait_ready()
    pids: set[int] = set()
    deadline = time.monotonic() + 10
    while len(pids) < 2 and time.monotonic() < deadline:
        status, body = get(server.port)
        assert status == 200
        pids.add(int(body))
    assert len(pids) == 2, f"only {pids} answered\n{server.output}"
    assert server.proc.pid not in pids


def test_sigterm_lets_the_running_request_finish(gunicorn: Callable[..., Gunicorn]) -> None:
    server = gunicorn("app_module:my_web_app")
    pid = server.wait_ready()
    result: list[tuple[int, str] | BaseException] = []

    def slow_request() -> None:
        try:
            result.append(get(server.port, "/slow?t=1"))
        except BaseException as exc:  # reported by the assertion below
            result.append(exc)

    client = threading.Thread(target=slow_request)
    client.start()
    deadline = time.monotonic() + 5
    while not server.marker_pids("started") and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.marker_pids("started") == {pid}
    server.signal(signal.SIGTERM)
    client.join(10)
    assert result == [(200, "slow done")]
    assert server.wait_exit() == 0
    assert server.marker_pids("cleanup") == {pid}
    assert "was sent" not in server.output  # the worker exited, nothing had to kill it


def test_sigquit_cancels_the_running_request_and_cleans_up(
    gunicorn: Callable[..., Gunicorn],
) -> None:
    server = gunicorn("app_module:make_app")
    pid = server.wait_ready()
    outcome: list[object] = []

    def slow_request() -> None:
        try:
            outcome.append(get(server.port, "/slow?t=30"))
        except (OSError, http.client.HTTPException) as exc:
            outcome.append(exc)

    client = threading.Thread(target=slow_request)
    client.start()
    deadline = time.monotonic() + 5
    while not server.marker_pids("started") and time.monotonic() < deadline:
        time.sleep(0.02)
    began = time.monotonic()
    server.signal(signal.SIGQUIT)
    assert server.wait_exit() == 0
    client.join(5)
    assert time.monotonic() - began < 3  # not the 30 s the handler wanted
    assert len(outcome) == 1
    assert outcome[0] != (200, "slow done")
    assert server.marker_pids("cleanup") == {pid}


def test_sighup_replaces_workers_without_refusing_anyone(
    gunicorn: Callable[..., Gunicorn],
) -> None:
    server = gunicorn("app_module:my_web_app", "--workers", "2")
    server.wait_ready()
    old: set[int] = set()
    deadline = time.monotonic() + 10
    while len(old) < 2 and time.monotonic() < deadline:
        old.add(int(get(server.port)[1]))
    assert len(old) == 2

    stop = threading.Event()
    served: list[int] = []
    failures: list[str] = []

    def hammer() -> None:
        while not stop.is_set():
            try:
                status, body = get(server.port)
            except (OSError, http.client.HTTPException) as exc:
                failures.append(repr(exc))
                continue
            if status != 200:
                failures.append(f"{status} {body}")
            else:
                served.append(int(body))

    clients = [threading.Thread(target=hammer) for _ in range(2)]
    for client in clients:
        client.start()
    try:
        server.signal(signal.SIGHUP)
        for pid in old:
            server.wait_for_line(lambda line, pid=pid: f"Worker exiting (pid: {pid})" in line)
        deadline = time.monotonic() + 10
        while not (set(served) - old) and time.monotonic() < deadline:
            time.sleep(0.02)
        count = len(served)
        while len(served) < count + 20 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        stop.set()
        for client in clients:
            client.join(10)
    assert failures == []
    new = set(served[count:])
    assert new, f"nothing served after the reload\n{server.output}"
    assert not (new & old), f"old {old}, after the reload {new}"
    assert server.marker_pids("cleanup") == old  # the old workers shut down gracefully
    assert server.proc.poll() is None


def test_max_requests_restarts_the_worker(gunicorn: Callable[..., Gunicorn]) -> None:
    server = gunicorn("app_module:application", "--max-requests", "3")
    first = server.wait_ready()
    pids = {first}
    deadline = time.monotonic() + 10
    while len(pids) < 2 and time.monotonic() < deadline:
        status, body = get(server.port)
        assert status == 200
        pids.add(int(body))
        time.sleep(0.05)
    assert len(pids) == 2, server.output
    server.wait_for_line(lambda line: "Max requests, shutting down" in line)


@pytest.mark.parametrize(
    ("target", "message"),
    [
        pytest.param(
            "app_module:greeting",
            "app_module:greeting is 'hello' (str); the webkit worker serves a "
            "webkit.web.Application",
            id="a-string",
        ),
        pytest.param(
            "app_module:not_an_app",
            "app_module:not_an_app returned 'not an app' (str), not a webkit.web.Application",
            id="factory-returning-a-string",
        ),
        pytest.param(
            "app_module:needs_config",
            "app_module:needs_config takes arguments (config: dict)",
            id="factory-with-arguments",
        ),
    ],
)
def test_a_bad_target_stops_gunicorn_with_a_clear_error(
    gunicorn: Callable[..., Gunicorn], target: str, message: str
) -> None:
    # One worker: with several failing at once, Gunicorn 27's master may report its own halt
    # twice (a HaltServer traceback while stopping), which is no concern of the worker's.
    server = gunicorn(target)
    assert server.wait_exit() != 0  # no hang, no endless forking of failing workers
    assert message in server.output
    assert "App failed to load" in server.output
    assert "Traceback" not in server.output  # one clear line, not a stack
    assert server.marker_pids("cleanup") == set()


def test_uvloop_worker(gunicorn: Callable[..., Gunicorn]) -> None:
    worker = "webkit.worker.GunicornUVLoopWebWorker"
    server = gunicorn("app_module:my_web_app", worker=worker)
    try:
        import uvloop  # noqa: F401
    except ImportError:
        assert server.wait_exit() == 1
        assert "GunicornUVLoopWebWorker needs uvloop, which is not installed" in server.output
        assert "Traceback" not in server.output
        return
    pid = server.wait_ready()
    server.signal(signal.SIGTERM)
    assert server.wait_exit() == 0
    assert server.marker_pids("cleanup") == {pid}


def test_a_bad_target_is_a_type_error() -> None:
    assert issubclass(AppTargetError, TypeError)


def test_a_gunicorn_style_access_log_format_is_converted() -> None:
    gunicorn_format = '%(h)s %(l)s %(t)s "%(r)s" %(s)s %(b)s %(L)s %({x-request-id}i)s %%'
    assert convert_access_log_format(gunicorn_format) == (
        '%a - %t "%r" %s %b %Tf %{x-request-id}i %%'
    )
    # Gunicorn's default becomes the AccessLogger's; webkit's own directives pass through.
    default = gunicorn_config.AccessLogFormat.default
    assert convert_access_log_format(default) == '%a %t "%r" %s %b "%{Referer}i" "%{User-Agent}i"'
    assert convert_access_log_format("%a %Tf") == "%a %Tf"
    with pytest.raises(WorkerConfigError, match=r"%\(u\)s, %\(m\)s cannot be logged"):
        convert_access_log_format("%(u)s %(m)s %(s)s")


def test_an_unconvertible_access_log_format_fails_before_forking(
    gunicorn: Callable[..., Gunicorn],
) -> None:
    server = gunicorn("app_module:application", "--access-logformat", "%(u)s")
    assert server.wait_exit() == 1
    assert "Error: --access-logformat '%(u)s': %(u)s cannot be logged" in server.output
    assert "Booting worker" not in server.output


def test_webkit_web_does_not_import_gunicorn() -> None:
    code = "import sys, webkit.web; print(sorted(m for m in sys.modules if 'gunicorn' in m))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=30
    )
    assert out.stdout.strip() == "[]"
    import webkit
    import webkit.worker

    assert webkit.GunicornWebWorker is webkit.worker.GunicornWebWorker
    assert webkit.GunicornUVLoopWebWorker is webkit.worker.GunicornUVLoopWebWorker


def test_sigusr1_reopens_the_access_log(gunicorn: Callable[..., Gunicorn], tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    server = gunicorn("app_module:application", "--access-logfile", str(log))
    server.wait_ready()
    rotated = log.rename(tmp_path / "access.log.1")
    server.signal(signal.SIGUSR1)  # the master reopens its files, then the workers'
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        get(server.port, "/after-rotation")
        if log.exists() and "/after-rotation" in log.read_text():
            break
        time.sleep(0.05)
    assert "/after-rotation" in log.read_text()
    assert '"GET / HTTP/1.1" 200' in rotated.read_text()


def test_sigabrt_ends_a_stuck_worker(gunicorn: Callable[..., Gunicorn]) -> None:
    server = gunicorn("app_module:application", "--timeout", "1")
    stuck = server.wait_ready()
    began = time.monotonic()
    with pytest.raises((OSError, http.client.HTTPException)):
        get(server.port, "/block?t=20", timeout=10)  # the worker dies with it
    server.wait_for_line(lambda line: f"Worker (pid:{stuck}) exited with code 1" in line)
    assert f"WORKER TIMEOUT (pid:{stuck})" in server.output
    assert time.monotonic() - began < 6
    assert server.wait_ready() != stuck  # the master forked a replacement


def test_every_gunicorn_socket_is_served(gunicorn: Callable[..., Gunicorn], tmp_path: Path) -> None:
    path = tmp_path / "gunicorn.sock"
    server = gunicorn("app_module:make_app", "--bind", f"unix:{path}")
    pid = server.wait_ready()
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(5)
        sock.connect(str(path))
        sock.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 200")
    assert reply.endswith(str(pid).encode())


@pytest.mark.skipif(shutil.which("openssl") is None, reason="the openssl command makes the cert")
def test_tls_from_gunicorn_certificate(gunicorn: Callable[..., Gunicorn], tmp_path: Path) -> None:
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    server = gunicorn("app_module:my_web_app", "--certfile", str(cert), "--keyfile", str(key))
    context = ssl.create_default_context(cafile=str(cert))
    deadline = time.monotonic() + 10
    while True:
        conn = http.client.HTTPSConnection("127.0.0.1", server.port, timeout=2, context=context)
        try:
            conn.request("GET", "/")
            resp = conn.getresponse()
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
        finally:
            conn.close()
    assert resp.status == 200
