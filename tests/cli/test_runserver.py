"""``webkit runserver`` as a real process on a free port, with real edits to a temp project."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from devserver import DevServer, app_source, free_port, get, pid_gone, wait_until


def answer(port: int, timeout: float = 10.0) -> tuple[int, str]:
    """The status and body of ``GET /``."""
    reply = get(port, timeout=timeout)
    return reply.status, reply.text


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
    assert answer(server.port) == (200, "v1")
    first = server.child_pid()
    edit(project, app_source("v2"))
    server.wait_for_line("Change in app.py")
    server.wait_for_line("Reloaded in")
    assert answer(server.port) == (200, "v2")
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
                status, body = answer(server.port)
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
    assert answer(server.port) == (200, "fixed")
    output = server.drain()
    assert "app.py" in output
    assert "importlib" not in output
    assert "webkit/devtools" not in output


def test_recovers_from_an_exception_in_the_factory(project: Path, server: DevServer) -> None:
    edit(project, app_source("never", factory_body='raise RuntimeError("no database")'))
    server.wait_for_line("Error: RuntimeError: no database")
    output = server.drain()
    assert "in create_app" in output
    assert "webkit/devtools" not in output
    edit(project, app_source("fixed"))
    server.wait_for_line("Reloaded in")
    assert answer(server.port) == (200, "fixed")


def test_starts_broken_then_serves_once_fixed(project: Path) -> None:
    edit(project, app_source("never", factory_body="raise RuntimeError('boom')"))
    dev = DevServer(project)
    try:
        dev.wait_for_line("Error: RuntimeError: boom")
        edit(project, app_source("fixed"))
        dev.wait_for_line("Reloaded in")
        assert answer(dev.port) == (200, "fixed")
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
        answer(server.port, timeout=2.0)


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
        assert answer(dev.port) == (200, "v1")
        dev.proc.send_signal(signal.SIGINT)
        assert dev.finish()[0] == 0
    finally:
        dev.close()
