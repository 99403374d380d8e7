"""Runners, sites, run_app in a real process, and the access log."""

from __future__ import annotations

import asyncio
import logging
import re
import signal
import socket
import sys
from pathlib import Path

import httpx
import pytest

from webkit import web


async def hello(request: web.Request) -> web.Response:
    return web.Response(text="hello")


# -- low-level server --------------------------------------------------------------------------


async def test_low_level_server_with_server_runner() -> None:
    seen: list[type] = []

    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        seen.append(type(request))
        return web.Response(text=f"{request.method} {request.path} {request.query.get('q')}")

    server = web.Server(handler)
    runner = web.ServerRunner(server)
    assert runner.server is None
    await runner.setup()
    assert runner.server is server
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    assert host == "127.0.0.1"
    assert site.name == f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient() as client:
            resp = await client.get(f"http://127.0.0.1:{port}/any/path?q=1")
            assert resp.status_code == 200
            assert resp.text == "GET /any/path 1"
            resp = await client.post(f"http://127.0.0.1:{port}/other")
            assert resp.text == "POST /other None"
        assert seen == [web.BaseRequest, web.BaseRequest]
        assert server.requests_count == 2
    finally:
        await runner.cleanup()
    assert runner.server is None
    assert runner.addresses == []


async def test_low_level_server_errors_become_500() -> None:
    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        if request.path == "/http":
            raise web.HTTPConflict(text="conflict")
        raise RuntimeError("boom")

    runner = web.ServerRunner(web.Server(handler, access_log=None))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        async with httpx.AsyncClient() as client:
            assert (await client.get(f"http://127.0.0.1:{port}/")).status_code == 500
            resp = await client.get(f"http://127.0.0.1:{port}/http")
            assert resp.status_code == 409
            assert resp.text == "conflict"
    finally:
        await runner.cleanup()


def test_server_rejects_unknown_arguments() -> None:
    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        return web.Response()

    with pytest.raises(TypeError, match="unexpected server arguments: bogus"):
        web.Server(handler, bogus=1)


# -- AppRunner and sites -----------------------------------------------------------------------


async def test_app_runner_tcp_site_options() -> None:
    events: list[str] = []

    async def on_shutdown(app: web.Application) -> None:
        events.append("on_shutdown")

    async def on_cleanup(app: web.Application) -> None:
        events.append("on_cleanup")

    app = web.Application()
    app.router.add_get("/", hello)
    app.on_shutdown.append(on_shutdown)
    app.on_cleanup.append(on_cleanup)
    runner = web.AppRunner(app, access_log=None)
    assert runner.app is app
    await runner.setup()
    assert isinstance(runner.server, web.Server)
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=16, reuse_address=True, reuse_port=True)
    await site.start()
    try:
        assert runner.sites == {site}
        assert len(runner.addresses) == 1
        port = runner.addresses[0][1]
        assert port > 0
        assert site.name == f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient() as client:
            assert (await client.get(f"http://127.0.0.1:{port}/")).text == "hello"
        # A site starts once.
        with pytest.raises(RuntimeError, match="already registered"):
            await site.start()
        assert events == []
    finally:
        await runner.cleanup()
    assert events == ["on_shutdown", "on_cleanup"]
    assert runner.sites == set()
    with pytest.raises(httpx.ConnectError):
        async with httpx.AsyncClient() as client:
            await client.get(f"http://127.0.0.1:{port}/")


async def test_on_startup_may_still_add_routes_and_signals_as_in_aiohttp() -> None:
    events: list[str] = []

    async def on_cleanup(app: web.Application) -> None:
        events.append("cleanup")

    async def on_startup(app: web.Application) -> None:
        app.router.add_get("/late", hello)
        app.on_cleanup.append(on_cleanup)

    app = web.Application()
    app.on_startup.append(on_startup)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    # Fixed once startup has run.
    with pytest.raises(RuntimeError):
        app.router.add_get("/later", hello)
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        async with httpx.AsyncClient() as client:
            assert (await client.get(f"http://127.0.0.1:{port}/late")).text == "hello"
    finally:
        await runner.cleanup()
    assert events == ["cleanup"]


async def test_site_needs_setup_and_app_runner_needs_app() -> None:
    runner = web.AppRunner(web.Application())
    with pytest.raises(RuntimeError, match=r"runner.setup\(\)"):
        web.TCPSite(runner, "127.0.0.1", 0)
    with pytest.raises(TypeError, match=r"web\.Application instance"):
        web.AppRunner(object())  # type: ignore[arg-type]


async def test_cleanup_without_setup() -> None:
    events: list[str] = []

    async def on_shutdown(app: web.Application) -> None:
        events.append("on_shutdown")

    async def on_cleanup(app: web.Application) -> None:
        events.append("on_cleanup")

    app = web.Application()
    app.on_shutdown.append(on_shutdown)
    app.on_cleanup.append(on_cleanup)
    runner = web.AppRunner(app)
    # No server ran: nothing to shut down; cleanup callbacks still run (as aiohttp).
    await runner.cleanup()
    assert events == ["on_cleanup"]


async def test_tcp_site_default_name_and_port() -> None:
    runner = web.AppRunner(web.Application())
    await runner.setup()
    try:
        assert web.TCPSite(runner).name == "http://0.0.0.0:8080"
        assert web.TCPSite(runner, "localhost", 9000).name == "http://localhost:9000"
    finally:
        await runner.cleanup()


async def test_unix_site(tmp_path: Path) -> None:
    path = tmp_path / "webkit.sock"
    app = web.Application()
    app.router.add_get("/", hello)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.UnixSite(runner, path)
    assert site.name == f"http://unix:{path}:"
    await site.start()
    try:
        assert runner.addresses == [str(path)]
        transport = httpx.AsyncHTTPTransport(uds=str(path))
        async with httpx.AsyncClient(transport=transport) as client:
            resp = await client.get("http://webkit/")
            assert resp.status_code == 200
            assert resp.text == "hello"
    finally:
        await runner.cleanup()


async def test_sock_site_and_several_sites() -> None:
    app = web.Application()
    app.router.add_get("/", hello)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock_site = web.SockSite(runner, sock)
    assert sock_site.name == f"http://127.0.0.1:{port}"
    await sock_site.start()
    tcp_site = web.TCPSite(runner, "127.0.0.1", 0)
    await tcp_site.start()
    try:
        ports = sorted(address[1] for address in runner.addresses)
        assert len(ports) == 2
        assert port in ports
        async with httpx.AsyncClient() as client:
            for one in ports:
                assert (await client.get(f"http://127.0.0.1:{one}/")).text == "hello"
    finally:
        await runner.cleanup()
        sock.close()


async def test_runner_cleanup_cancels_running_handlers() -> None:
    """The seed: AppRunner.cleanup skips step 4, so step 5 cancels a running handler."""
    started = asyncio.Event()
    events: list[str] = []

    async def slow(request: web.Request) -> web.Response:
        started.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            events.append("handler cancelled")
            raise
        return web.Response(text="never")

    async def on_cleanup(app: web.Application) -> None:
        events.append("on_cleanup")

    app = web.Application()
    app.router.add_get("/slow", slow)
    app.on_cleanup.append(on_cleanup)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    async with httpx.AsyncClient() as client:
        request = asyncio.create_task(client.get(f"http://127.0.0.1:{port}/slow"))
        await started.wait()
        await runner.cleanup()
        try:
            status = (await request).status_code
        except httpx.TransportError:
            status = 0
    assert events == ["handler cancelled", "on_cleanup"]
    assert status != 200


# -- run_app in a real process ---------------------------------------------------------------

RUN_APP_SCRIPT = r"""
import asyncio, socket, sys
from webkit import web

mode = sys.argv[1]

async def hello(request):
    return web.Response(text="hello from run_app")

async def slow(request):
    print("slow started", flush=True)
    await asyncio.sleep(0.5)
    return web.Response(body=b"x" * 300_000)

async def on_shutdown(app):
    print("on_shutdown", flush=True)

async def on_cleanup(app):
    print("on_cleanup", flush=True)

def make_app():
    app = web.Application()
    app.router.add_get("/", hello)
    app.router.add_get("/slow", slow)
    app.on_shutdown.append(on_shutdown)
    app.on_cleanup.append(on_cleanup)
    return app

async def factory():
    await asyncio.sleep(0)
    print("factory ran", flush=True)
    return make_app()

def failing_app():
    async def ctx_ok(app):
        print("ctx_ok start", flush=True)
        yield
        print("ctx_ok cleanup", flush=True)

    async def ctx_fails(app):
        print("ctx_fails start", flush=True)
        raise RuntimeError("database unreachable")
        yield

    app = make_app()
    app.cleanup_ctx.append(ctx_ok)
    app.cleanup_ctx.append(ctx_fails)
    return app

sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
sock.bind(("127.0.0.1", 0))
apps = {"factory": factory, "app": make_app, "failing": failing_app}
app = apps[mode]()
try:
    web.run_app(app, sock=sock, shutdown_timeout=10)
except RuntimeError as exc:
    print(f"run_app raised: {exc}", flush=True)
print("run_app returned", flush=True)
"""


class AppProcess:
    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.lines: list[str] = []

    @classmethod
    async def start(cls, mode: str) -> tuple[AppProcess, str]:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-u",
            "-c",
            RUN_APP_SCRIPT,
            mode,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        self = cls(proc)
        banner = await self.wait_for("======== Running on")
        match = re.search(r"Running on (http://\S+) ========", banner)
        assert match, banner
        return self, match.group(1)

    async def wait_for(self, text: str) -> str:
        assert self.proc.stdout is not None
        while True:
            raw = await asyncio.wait_for(self.proc.stdout.readline(), timeout=15)
            if not raw:
                raise AssertionError(f"process ended before {text!r}: {self.lines}")
            line = raw.decode().rstrip("\n")
            self.lines.append(line)
            if text in line:
                return line

    async def finish(self) -> tuple[int, list[str], str]:
        stdout, stderr = await asyncio.wait_for(self.proc.communicate(), timeout=20)
        self.lines.extend(stdout.decode().splitlines())
        assert self.proc.returncode is not None
        return self.proc.returncode, self.lines, stderr.decode()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
async def test_run_app_serves_and_stops_gracefully(sig: signal.Signals) -> None:
    process, url = await AppProcess.start("app")
    try:
        assert process.lines[-1] == f"======== Running on {url} ========"
        async with httpx.AsyncClient() as client:
            resp = await client.get(url + "/", headers={"User-Agent": "probe/1"})
        assert resp.text == "hello from run_app"
        process.proc.send_signal(sig)
        code, lines, stderr = await process.finish()
    finally:
        if process.proc.returncode is None:
            process.proc.kill()
            await process.proc.wait()
    assert code == 0, stderr
    assert lines[-3:] == ["on_shutdown", "on_cleanup", "run_app returned"]
    assert "(Press CTRL+C to quit)" in lines
    # run_app shows the access log on stderr when nothing configured it.
    assert re.search(r'127\.0\.0\.1 \[[^]]+\] "GET / HTTP/1\.1" 200 18 "-" "probe/1"', stderr)
    assert "Traceback" not in stderr


async def test_run_app_factory_and_request_in_flight_at_sigterm() -> None:
    process, url = await AppProcess.start("factory")
    try:
        assert "factory ran" in process.lines
        async with httpx.AsyncClient(timeout=20) as client:
            request = asyncio.create_task(client.get(url + "/slow"))
            await process.wait_for("slow started")
            process.proc.send_signal(signal.SIGTERM)
            resp = await request
        code, lines, stderr = await process.finish()
    finally:
        if process.proc.returncode is None:
            process.proc.kill()
            await process.proc.wait()
    assert resp.status_code == 200
    assert resp.content == b"x" * 300_000
    assert code == 0, stderr
    assert lines[-3:] == ["on_shutdown", "on_cleanup", "run_app returned"]


async def test_run_app_cleans_up_started_contexts_when_startup_fails() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-u",
        "-c",
        RUN_APP_SCRIPT,
        "failing",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(proc.communicate(), timeout=20)
    assert proc.returncode == 0, stderr
    assert stdout.decode().splitlines() == [
        "ctx_ok start",
        "ctx_fails start",
        "ctx_ok cleanup",
        "on_cleanup",
        "run_app raised: database unreachable",
        "run_app returned",
    ]


# -- access log --------------------------------------------------------------------------------


async def test_access_log_combined_format(webkit_client, caplog) -> None:
    app = web.Application()
    app.router.add_get("/page", hello)
    logger = logging.getLogger("webkit.access")
    client = await webkit_client(app, access_log=logger)
    with caplog.at_level(logging.INFO, logger="webkit.access"):
        await client.get(
            "/page?x=1", headers={"User-Agent": "agent/1.0", "Referer": "http://ref.example/"}
        )
        await client.get("/missing", headers={"User-Agent": "agent/2.0"})
    lines = [r.getMessage() for r in caplog.records if r.name == "webkit.access"]
    assert len(lines) == 2
    pattern = (
        r"127\.0\.0\.1 \[\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}\] "
        r'"GET /page\?x=1 HTTP/1\.1" 200 5 "http://ref\.example/" "agent/1\.0"'
    )
    assert re.fullmatch(pattern, lines[0]), lines[0]
    assert lines[1].endswith('"GET /missing HTTP/1.1" 404 14 "-" "agent/2.0"'), lines[1]


async def test_access_log_custom_format(webkit_client, caplog) -> None:
    async def teapot(request: web.Request) -> web.Response:
        return web.Response(status=202, text="accepted", headers={"X-Out": "out-value"})

    app = web.Application()
    app.router.add_get("/", teapot)
    client = await webkit_client(
        app,
        access_log=logging.getLogger("webkit.access"),
        access_log_format='%{User-Agent}i %s %{X-Out}o %b "%r" 100%% %D',
    )
    with caplog.at_level(logging.INFO, logger="webkit.access"):
        await client.get("/", headers={"User-Agent": "custom-agent"})
    lines = [r.getMessage() for r in caplog.records if r.name == "webkit.access"]
    assert len(lines) == 1
    assert re.fullmatch(r'custom-agent 202 out-value 8 "GET / HTTP/1\.1" 100% \d+', lines[0]), lines


async def test_access_log_disabled_logger_formats_nothing(webkit_client, caplog) -> None:
    formatted: list[str] = []

    class Recording(web.AccessLogger):
        def log(self, request, response, time):  # type: ignore[no-untyped-def]
            formatted.append(request.path)
            super().log(request, response, time)

    app = web.Application()
    app.router.add_get("/", hello)
    quiet = logging.getLogger("webkit.access.quiet-test")
    quiet.setLevel(logging.WARNING)
    client = await webkit_client(app, access_log=quiet, access_log_class=Recording)
    await client.get("/")
    assert formatted == []
    quiet.setLevel(logging.INFO)
    with caplog.at_level(logging.INFO, logger="webkit.access.quiet-test"):
        await client.get("/again")
    assert formatted == ["/again"]


async def test_custom_access_log_class(webkit_client) -> None:
    records: list[tuple[str, int]] = []

    class MyLogger(web.AbstractAccessLogger):
        def log(self, request, response, time):  # type: ignore[no-untyped-def]
            records.append((request.path, response.status))

        @property
        def enabled(self) -> bool:
            return True

    app = web.Application()
    app.router.add_get("/", hello)
    client = await webkit_client(
        app, access_log=logging.getLogger("webkit.access"), access_log_class=MyLogger
    )
    await client.get("/")
    await client.get("/nope")
    assert records == [("/", 200), ("/nope", 404)]


async def test_access_log_class_must_subclass() -> None:
    runner = web.AppRunner(web.Application(), access_log_class=object)
    with pytest.raises(TypeError, match="AbstractAccessLogger"):
        await runner.setup()
    await runner.cleanup()
