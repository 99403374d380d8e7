"""``webkit runserver`` live, as a real process on a free port with real edits to a temp project:
the live-reload socket, the injected script, --static, the error page, the environment, the
watcher's filters and the process tree."""

from __future__ import annotations

import gzip
import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from devserver import (
    PROTOCOL_7,
    DevServer,
    app_source,
    free_port,
    hello,
    livereload,
    pid_gone,
    raw_request,
    receive,
    wait_until,
)
from websockets.exceptions import InvalidStatus

SCRIPT_TAG = b'<script src="/_webkit/livereload.js" defer></script>'
PAGE_HEAD = b"<!doctype html><html><head><title>t</title></head><body><h1>"
CSS = "body { color: red; }\n"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("GREETING", raising=False)
    (tmp_path / "app.py").write_text(app_source("v1"))
    (tmp_path / "static").mkdir()
    (tmp_path / "static" / "style.css").write_text(CSS)
    return tmp_path


@contextmanager
def running(cwd: Path, *args: str, **kwargs: Any) -> Iterator[DevServer]:
    dev = DevServer(cwd, *args, **kwargs)
    try:
        dev.wait_for_line("Ready in")
        yield dev
    finally:
        dev.close()


def edit(project: Path, text: str) -> None:
    (project / "app.py").write_text(app_source(text))


# -- live reload --------------------------------------------------------------------------------


def test_livereload_socket_outlives_restarts_and_swaps_css_in_place(project: Path) -> None:
    with running(project, "--static", "static") as dev, livereload(dev.port) as ws:
        greeting = hello(ws)
        assert greeting["command"] == "hello"
        assert PROTOCOL_7 in greeting["protocols"]
        pid = dev.child_pid()

        (project / "static" / "style.css").write_text("body { color: blue; }\n")
        message = receive(ws)
        assert message["command"] == "reload"
        assert message["path"] == "/static/style.css"
        assert message["liveCSS"] is True
        assert dev.child_pid() == pid, "a stylesheet is swapped, the app is not restarted"
        assert dev.get("/static/style.css").text == "body { color: blue; }\n"

        edit(project, "v2")
        message = receive(ws)  # the same socket: the parent kept it across the restart
        assert message["command"] == "reload"
        assert message["liveCSS"] is False
        # the browsers are told once the new child serves, not when the restart begins
        reply = dev.get()
        assert (reply.status, reply.text) == (200, "v2")
        assert dev.child_pid() != pid


def test_static_directory_outside_the_project_is_live_reloaded(tmp_path: Path) -> None:
    project, assets = tmp_path / "project", tmp_path / "assets"
    project.mkdir()
    assets.mkdir()
    (project / "app.py").write_text(app_source("v1"))
    (assets / "style.css").write_text(CSS)
    with running(project, "--static", str(assets)) as dev, livereload(dev.port) as ws:
        assert hello(ws)["command"] == "hello"
        assert dev.get("/static/style.css").text == CSS
        (assets / "style.css").write_text("body { color: blue; }\n")
        message = receive(ws, 3.0)
        assert (message["command"], message["path"]) == ("reload", "/static/style.css")


# -- one server for the read-only checks ------------------------------------------------------


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    root = tmp_path_factory.mktemp("site")
    (root / "app.py").write_text(app_source("v1"))
    (root / "static").mkdir()
    (root / "static" / "style.css").write_text(CSS)
    (root / "static" / "index.html").write_text(STATIC_PAGE)
    with running(root, "--static", "static", "--static-url", "/assets/") as dev:
        yield dev


STATIC_PAGE = "<!doctype html><html><body><p>static</p></body></html>\n"


def test_static_html_pages_get_the_script_too(site: DevServer) -> None:
    reply = site.get("/assets/index.html")
    assert reply.status == 200
    assert reply.headers["Content-Type"].startswith("text/html")
    body = STATIC_PAGE.encode().replace(b"</body>", SCRIPT_TAG + b"</body>")
    assert reply.body == body
    assert int(reply.headers["Content-Length"]) == len(body)
    assert reply.headers["Cache-Control"] == "no-cache"
    assert "ETag" not in reply.headers  # the page is not the file any more
    # Other files, and partial requests of pages, are the files themselves.
    assert site.get("/assets/style.css").body == CSS.encode()
    ranged = site.get("/assets/index.html", {"Range": "bytes=0-8"})
    assert (ranged.status, ranged.body) == (206, STATIC_PAGE.encode()[:9])


def test_html_gets_the_script_before_body_end(site: DevServer) -> None:
    reply = site.get("/page")
    assert reply.status == 200
    assert reply.headers["Content-Type"].startswith("text/html")
    assert reply.body == PAGE_HEAD + b"v1</h1>" + SCRIPT_TAG + b"</body></html>"
    assert int(reply.headers["Content-Length"]) == len(reply.body)


def test_plain_text_is_untouched(site: DevServer) -> None:
    reply = site.get("/")
    assert reply.status == 200
    assert reply.headers["Content-Type"].startswith("text/plain")
    assert reply.body == b"v1"
    assert reply.headers["Content-Length"] == "2"


def test_gzipped_html_still_decompresses_with_the_script(site: DevServer) -> None:
    reply = site.get("/zipped", {"Accept-Encoding": "gzip"})
    assert reply.status == 200
    assert reply.headers["Content-Encoding"] == "gzip"
    assert int(reply.headers["Content-Length"]) == len(reply.body)
    assert (
        gzip.decompress(reply.body) == b"<html><body><p>zipped</p>" + SCRIPT_TAG + b"</body></html>"
    )


def test_the_client_script_is_served(site: DevServer) -> None:
    reply = site.get("/_webkit/livereload.js")
    assert reply.status == 200
    assert "javascript" in reply.headers["Content-Type"]
    assert PROTOCOL_7.encode() in reply.body
    assert b"/_webkit/livereload" in reply.body


def test_static_files_are_served_without_caching(site: DevServer) -> None:
    reply = site.get("/assets/style.css")
    assert reply.status == 200
    assert reply.text == CSS
    assert reply.headers["Cache-Control"] == "no-cache"
    assert site.get("/static/style.css").status == 404  # --static-url moved it


@pytest.mark.parametrize(
    "target",
    [
        "/assets/../app.py",
        "/assets/%2e%2e/app.py",
        "/assets/%2E%2E%2Fapp.py",
        "/assets/..%2fapp.py",
        "/assets/%2e%2e%5capp.py",
        "/assets/static/../../app.py",
    ],
)
def test_static_path_cannot_escape_its_directory(site: DevServer, target: str) -> None:
    answer = raw_request(site.port, target)
    status = int(answer.split(b" ", 2)[1])
    assert status != 200, answer[:300]
    assert b"create_app" not in answer


def test_livereload_refuses_pages_of_other_sites(site: DevServer) -> None:
    with pytest.raises(InvalidStatus) as refused, livereload(site.port, "http://evil.example"):
        pass
    assert refused.value.response.status_code == 403
    with livereload(site.port) as ws:  # while a page of the dev server itself is welcome
        assert hello(ws)["command"] == "hello"


# -- servers of their own ---------------------------------------------------------------------


def test_no_livereload_injects_nothing(project: Path) -> None:
    with running(project, "--no-livereload") as dev:
        reply = dev.get("/page")
        assert reply.status == 200
        assert reply.body == PAGE_HEAD + b"v1</h1></body></html>"
        assert dev.get("/_webkit/livereload.js").status == 404


def test_each_request_prints_one_line(project: Path) -> None:
    with running(project) as dev:
        assert dev.get().status == 200
        assert dev.get("/pid").status == 200
        dev.wait_for_line("GET /pid 200")
        lines = [line for line in dev.output if " GET / " in line]
        assert len(lines) == 1, dev.output
        assert re.fullmatch(r"\d\d:\d\d:\d\d GET / 200 .*", lines[0]), lines[0]


BROKEN = 'TEXT = "v1"\nif TEXT < "x" &:\n    pass\n'


def test_error_page_while_the_app_cannot_start(project: Path) -> None:
    with running(project) as dev:
        (project / "app.py").write_text(BROKEN)
        dev.wait_for_line("SyntaxError")
        dev.wait_for_line("Waiting for changes")

        page = dev.get("/", {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
        assert page.status == 500
        assert page.headers["Content-Type"].startswith("text/html")
        assert int(page.headers["Content-Length"]) == len(page.body)
        assert "if TEXT &lt; &quot;x&quot; &amp;:" in page.text  # the traceback, escaped
        assert 'if TEXT < "x" &:' not in page.text
        assert "SyntaxError" in page.text
        assert SCRIPT_TAG in page.body

        plain = dev.get("/")
        assert plain.status == 500
        assert plain.headers["Content-Type"].startswith("text/plain")
        assert "SyntaxError: invalid syntax" in plain.text
        assert 'if TEXT < "x" &:' in plain.text

        # the error page hands live-reload sockets to the parent too, and checks them the same
        with pytest.raises(InvalidStatus) as refused, livereload(dev.port, "http://evil.example"):
            pass
        assert refused.value.response.status_code == 403
        with livereload(dev.port) as ws:
            assert hello(ws)["command"] == "hello"
            edit(project, "fixed")
            assert receive(ws)["command"] == "reload"
            reply = dev.get()  # reloaded only once the fixed app serves
            assert (reply.status, reply.text) == (200, "fixed")


def test_a_child_that_dies_serves_the_error_page_until_an_edit(project: Path) -> None:
    with running(project) as dev:
        # A few times over: reading the exit code races with signalling the dead child.
        for attempt in range(3):
            pid = dev.child_pid()
            with pytest.raises((OSError, http.client.HTTPException)):
                dev.get("/die")
            line = dev.wait_for_line(f"The app process (pid {pid})")
            assert "exited with code 3" in line, dev.drain()
            reply = dev.get()
            assert reply.status == 500
            assert f"(pid {pid}) exited with code 3" in reply.text
            edit(project, f"back {attempt}")
            dev.wait_for_text(f"back {attempt}")
            assert dev.child_pid() != pid
        assert "Traceback" not in dev.drain()


def test_an_open_stream_does_not_hold_up_the_restart(project: Path) -> None:
    with running(project) as dev:
        ticking = threading.Event()
        ended = threading.Event()

        def listen() -> None:
            try:
                with socket.create_connection(("127.0.0.1", dev.port), timeout=10) as sock:
                    sock.sendall(b"GET /stream HTTP/1.1\r\nHost: localhost\r\n\r\n")
                    while chunk := sock.recv(4096):
                        if b"tick" in chunk:
                            ticking.set()
            except OSError:
                pass
            ended.set()

        listener = threading.Thread(target=listen, daemon=True)
        listener.start()
        assert ticking.wait(5), "the stream never started"
        edited = time.monotonic()
        edit(project, "v2")
        dev.wait_for_text("v2", timeout=10)
        elapsed = time.monotonic() - edited
        # running handlers get 1 s, then the old child shuts down gracefully (no SIGKILL)
        assert elapsed < 4.0, f"the new code answered {elapsed:.1f} s after the edit"
        assert (project / "cleaned_up.txt").read_text() == "v1\n"
        assert ended.wait(2), "the old child should have closed the stream"
        listener.join(2)


def test_a_request_in_flight_during_a_restart_is_answered(project: Path) -> None:
    with running(project) as dev:
        outcome: list[object] = []

        def call() -> None:
            try:
                reply = dev.get("/slow")
                outcome.append((reply.status, reply.text))
            except (OSError, http.client.HTTPException) as exc:
                outcome.append(exc)

        caller = threading.Thread(target=call)
        caller.start()
        wait_until((project / "slow_started.txt").exists, 5.0, "the slow handler to start")
        edit(project, "v2")  # the handler needs 0.5 s more; running handlers get 1 s
        caller.join(10)
        assert outcome == [(200, "slow done")]
        dev.wait_for_text("v2")


def test_a_burst_of_saves_restarts_once(project: Path) -> None:
    with running(project) as dev:
        started = time.monotonic()
        for i in range(30):
            (project / f"burst_{i:02}.py").write_text(f"X = {i}\n")
        assert time.monotonic() - started < 0.2
        dev.wait_for_line("Reloaded in")
        # A barrier: whatever the burst still triggers is reported before this edit's restart.
        edit(project, "after")
        dev.wait_for_line("Change in app.py")
        changes = [line for line in dev.output if "Change in" in line]
        assert 2 <= len(changes) <= 3, changes
        assert all("burst_" in line for line in changes[:-1]), changes
        dev.wait_for_text("after")


def test_ignored_files_do_not_restart(project: Path) -> None:
    (project / ".gitignore").write_text("data/\n")
    (project / "data").mkdir()
    with running(project, "--ignore", "gen_*.py") as dev:
        pid = dev.child_pid()
        (project / "data" / "x.py").write_text("X = 1\n")
        (project / "gen_models.py").write_text("X = 1\n")
        (project / "notes.txt").write_text("notes\n")
        (project / "static" / "style.css").write_text("body { color: blue; }\n")
        deadline = time.monotonic() + 0.5
        while time.monotonic() < deadline:
            assert dev.child_pid() == pid
            time.sleep(0.1)
        # A barrier: an ignored change would be reported before, or with, this one.
        edit(project, "v2")
        line = dev.wait_for_line("Change in")
        assert line.endswith("Change in app.py: restarting"), dev.output
        dev.wait_for_text("v2")


def test_watch_another_directory(tmp_path: Path) -> None:
    project, lib = tmp_path / "project", tmp_path / "lib"
    project.mkdir()
    lib.mkdir()
    (lib / "othermod.py").write_text("VALUE = 'one'\n")
    prelude = f"sys.path.insert(0, {str(lib)!r})\nimport othermod\nOTHER = othermod.VALUE"
    (project / "app.py").write_text(app_source("v1", prelude))
    with running(project, "--watch", str(lib)) as dev:
        assert dev.get("/other").text == "one"
        (lib / "othermod.py").write_text("VALUE = 'two'\n")
        dev.wait_for_line("Change in othermod.py")
        dev.wait_for_text("two", "/other")


@pytest.mark.parametrize("gitignored", [False, True], ids=["plain", "gitignored"])
def test_dotenv_is_loaded_and_reloaded(project: Path, gitignored: bool) -> None:
    if gitignored:  # as most projects do, since .env holds secrets
        (project / ".gitignore").write_text(".env\n")
    port = free_port()
    # WEBKIT_* options may come from .env too: no --port here
    (project / ".env").write_text(f"GREETING=hi\nWEBKIT_PORT={port}\n")
    with running(project, pass_port=False, port=port) as dev:
        assert dev.get("/env").text == "hi"
        pid = dev.child_pid()
        (project / ".env").write_text(f"GREETING=hello\nWEBKIT_PORT={port}\n")
        dev.wait_for_line("Change in .env", timeout=3)
        dev.wait_for_text("hello", "/env", timeout=5)
        assert dev.child_pid() != pid


def test_webkit_port_and_env_file(project: Path) -> None:
    port = free_port()
    (project / ".env").write_text("GREETING=from .env\n")
    (project / "other.env").write_text("GREETING=from other.env\n")
    env = {"WEBKIT_PORT": str(port)}
    with running(project, "--env-file", "other.env", port=port, pass_port=False, env=env) as dev:
        assert f"http://127.0.0.1:{port}/" in dev.drain()
        assert dev.get("/env").text == "from other.env"


def test_editing_the_env_file_restarts(project: Path) -> None:
    (project / "other.env").write_text("GREETING=first\n")
    with running(project, "--env-file", "other.env") as dev:
        assert dev.get("/env").text == "first"
        (project / "other.env").write_text("GREETING=second\n")
        dev.wait_for_line("Change in other.env", timeout=3)
        dev.wait_for_text("second", "/env", timeout=5)


def test_port_in_use_is_one_line_naming_the_holder(project: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WEBKIT_")}
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "webkit", "runserver", "--port", str(port)],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"Error: port {port}")
    name = Path("/proc/self/comm").read_text().strip()
    assert f"{name} (pid {os.getpid()})" in lines[0]
    assert "Traceback" not in result.stdout + result.stderr


# -- the process tree ---------------------------------------------------------------------------


def test_ctrl_c_leaves_no_process_behind(project: Path) -> None:
    with running(project) as dev:
        tree = dev.tree(at_least=2)  # the serving child and the standby
        assert dev.child_pid() in tree
        dev.proc.send_signal(signal.SIGINT)
        code, output = dev.finish()
        assert code == 0, output
        assert [pid for pid in tree if not pid_gone(pid)] == []
        assert "Traceback" not in output
        assert (project / "cleaned_up.txt").read_text() == "v1\n"  # shut down gracefully


def test_killing_the_parent_takes_every_child_and_frees_the_port(project: Path) -> None:
    with running(project) as dev:
        tree = dev.tree(at_least=2)
        assert dev.child_pid() in tree
        dev.proc.kill()
        dev.proc.wait()
        wait_until(lambda: all(pid_gone(pid) for pid in tree), 5.0, "the orphans to exit")

        def refused() -> bool:
            try:
                socket.create_connection(("127.0.0.1", dev.port), timeout=1).close()
            except ConnectionRefusedError:
                return True
            return False

        wait_until(refused, 5.0, "the port to be free")
