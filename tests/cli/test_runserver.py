"""``webkit runserver`` as a real process on a free port, with real edits to a temp project."""

from __future__ import annotations

import http.client
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

APP = """
import os
from webkit import web

TEXT = {text!r}

async def index(request):
    return web.Response(text=TEXT)

async def pid(request):
    return web.Response(text=str(os.getpid()))

async def goodbye(app):
    with open("cleaned_up.txt", "a") as f:
        f.write(TEXT + "\\n")

def create_app():
    {factory_body}
    app = web.Application()
    app.router.add_get("/", index)
    app.router.add_get("/pid", pid)
    app.on_cleanup.append(goodbye)
    return app
"""


def app_source(text: str, factory_body: str = "pass") -> str:
    return APP.format(text=text, factory_body=factory_body)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def get(port: int, path: str = "/", timeout: float = 10.0) -> tuple[int, str]:
    # One connection per request: a keep-alive connection closed by a restarting child is the
    # client's to retry, not a refused request.
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Connection": "close"})
        response = conn.getresponse()
        return response.status, response.read().decode()
    finally:
        conn.close()


def wait_until(predicate: Callable[[], bool], timeout: float = 15.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what or predicate}")


def pid_gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"  # a zombie is gone too
    except FileNotFoundError:
        return True


class DevServer:
    def __init__(self, cwd: Path, *args: str) -> None:
        self.port = free_port()
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env.pop("WEBKIT_APP", None)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "webkit", "runserver", *args, "--port", str(self.port)],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.output: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.child_pids: set[int] = set()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def wait_for_line(self, needle: str, timeout: float = 15.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no line with {needle!r} in {self.output}") from None
            self.output.append(line)
            if needle in line:
                return line

    def text(self) -> str:
        try:
            status, body = get(self.port, timeout=2.0)
        except OSError:
            return ""
        return body if status == 200 else ""

    def wait_for_text(self, expected: str, timeout: float = 15.0) -> None:
        wait_until(lambda: self.text() == expected, timeout, f"the server to answer {expected!r}")

    def child_pid(self) -> int:
        pid = int(get(self.port, "/pid")[1])
        self.child_pids.add(pid)
        return pid

    def drain(self) -> str:
        while not self.lines.empty():
            self.output.append(self.lines.get())
        return "\n".join(self.output)

    def finish(self, timeout: float = 10.0) -> tuple[int, str]:
        """Wait for the exit; the exit code and all the output."""
        code = self.proc.wait(timeout=timeout)
        self.reader.join(timeout)
        return code, self.drain()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.finish()
        assert self.proc.stdout is not None
        self.proc.stdout.close()
        for pid in self.child_pids:
            if not pid_gone(pid):
                os.kill(pid, signal.SIGKILL)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "app.py").write_text(app_source("v1"))
    return tmp_path


@pytest.fixture
def server(project: Path) -> Iterator[DevServer]:
    dev = DevServer(project)
    try:
        dev.wait_for_line("Ready in")
        yield dev
    finally:
        dev.close()


def edit(project: Path, source: str) -> None:
    (project / "app.py").write_text(source)


def test_serves_and_reloads_on_edit(project: Path, server: DevServer) -> None:
    assert get(server.port) == (200, "v1")
    first = server.child_pid()
    edit(project, app_source("v2"))
    server.wait_for_line("Change in app.py")
    server.wait_for_line("Reloaded in")
    assert get(server.port) == (200, "v2")
    assert server.child_pid() != first
    # the old child ran its graceful shutdown
    assert (project / "cleaned_up.txt").read_text().splitlines() == ["v1"]
    banner = "\n".join(server.output[: server.output.index("Ctrl-C to quit")])
    assert f"http://127.0.0.1:{server.port}/" in banner
    assert "app.py:create_app" in banner or str(project / "app.py") in banner


def test_rapid_edits_never_refuse_or_fail_a_request(project: Path, server: DevServer) -> None:
    failures: list[str] = []
    answered: list[str] = []
    done = threading.Event()

    def poll() -> None:
        while not done.is_set():
            try:
                status, body = get(server.port)
            except OSError as exc:
                failures.append(repr(exc))
                continue
            if status != 200:
                failures.append(f"status {status}")
            answered.append(body)

    poller = threading.Thread(target=poll)
    poller.start()
    try:
        for i in range(20):
            edit(project, app_source(f"edit {i}"))
            # the next edit lands while this restart is under way
            server.wait_for_line("Change in")
        server.wait_for_text("edit 19")
    finally:
        done.set()
        poller.join()
    assert failures == [], server.drain()
    assert len(set(answered)) >= 3, "the poller should have seen several versions"
    assert answered[-1] == "edit 19"


def test_recovers_from_a_syntax_error(project: Path, server: DevServer) -> None:
    edit(project, "def broken(:\n    pass\n")
    server.wait_for_line("SyntaxError")
    server.wait_for_line("Waiting for changes")
    edit(project, app_source("fixed"))
    server.wait_for_line("Reloaded in")
    assert get(server.port) == (200, "fixed")
    output = server.drain()
    assert "app.py" in output
    assert "importlib" not in output
    assert "webkit/devtools" not in output


def test_recovers_from_an_exception_in_the_factory(project: Path, server: DevServer) -> None:
    edit(project, app_source("never", 'raise RuntimeError("no database")'))
    server.wait_for_line("Error: RuntimeError: no database")
    output = server.drain()
    assert "in create_app" in output
    assert "webkit/devtools" not in output
    edit(project, app_source("fixed"))
    server.wait_for_line("Reloaded in")
    assert get(server.port) == (200, "fixed")


def test_starts_broken_then_serves_once_fixed(project: Path) -> None:
    edit(project, app_source("never", "raise RuntimeError('boom')"))
    dev = DevServer(project)
    try:
        dev.wait_for_line("Error: RuntimeError: boom")
        edit(project, app_source("fixed"))
        dev.wait_for_line("Reloaded in")
        assert get(dev.port) == (200, "fixed")
    finally:
        dev.close()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_stop_signal_leaves_no_process(project: Path, server: DevServer, signum: int) -> None:
    child = server.child_pid()
    server.proc.send_signal(signum)
    code, output = server.finish()
    assert code == 0
    assert pid_gone(child)
    assert "Traceback" not in output
    assert (project / "cleaned_up.txt").read_text() == "v1\n"
    with pytest.raises(OSError):
        get(server.port, timeout=2.0)


def test_child_exits_when_parent_is_killed(server: DevServer) -> None:
    child = server.child_pid()
    server.proc.kill()
    server.proc.wait()
    wait_until(lambda: pid_gone(child), 5.0, "the orphaned child to exit")


def run_cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "webkit", "runserver", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=30,
    )


@pytest.mark.parametrize(
    ("app", "words"),
    [
        ("missing.py", "does not exist"),
        ("nosuchmodule:app", "no module named 'nosuchmodule'"),
        ("app.py:nope", "candidates found: create_app"),
        ("app.py:NUMBER", "not an Application or a factory"),
        ("app.py:needs_config", "cannot be called without arguments"),
        ("emptydir", "no app.py or main.py"),
        ("not-a-module", "neither a module name"),
    ],
)
def test_bad_app_is_one_line_error(project: Path, app: str, words: str) -> None:
    (project / "emptydir").mkdir()
    with (project / "app.py").open("a") as f:
        f.write("\nNUMBER = 42\n\ndef needs_config(config):\n    return config\n")
    result = run_cli(project, app, "--port", str(free_port()))
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("Error: ")
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert words in result.stderr
    assert "hint:" in result.stderr


def test_port_in_use_is_one_line_error(project: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli(project, "--port", str(port))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [result.stderr.strip()]
    assert f"port {port}" in result.stderr


def test_no_reload_serves(project: Path) -> None:
    dev = DevServer(project, "--no-reload")
    try:
        dev.wait_for_line("Ready in")
        assert "reload       off" in "\n".join(dev.output).lower()
        assert get(dev.port) == (200, "v1")
        dev.proc.send_signal(signal.SIGINT)
        assert dev.finish()[0] == 0
    finally:
        dev.close()
