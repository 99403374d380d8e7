"""Live reload in a real headless Chromium, against ``webkit runserver`` as a real process.

A page served by the dev server must show edited handler output without a manual reload, take a
changed stylesheet without reloading (a JS variable set before survives), and recover by itself
from a broken app once the fix is saved.
"""

from __future__ import annotations

import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cdp import Page

APP = """
from webkit import web

TEXT = {text!r}


async def index(request):
    html = (
        '<!doctype html><html><head><link rel="stylesheet" href="/static/style.css">'
        '<title>live</title></head><body><p id="text">' + TEXT + '</p></body></html>'
    )
    return web.Response(text=html, content_type="text/html")


def create_app():
    app = web.Application()
    app.router.add_get("/", index)
    return app
"""

RUNSERVER = (sys.executable, "-m", "webkit", "runserver", "app.py:create_app")
RED = "p { color: rgb(255, 0, 0); }\n"
BLUE = "p { color: rgb(0, 0, 255); }\n"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class DevServer:
    """``webkit runserver`` in the project directory, its output read on a thread."""

    def __init__(self, project: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "NO_COLOR": "1"}
        env.pop("WEBKIT_APP", None)
        self.proc = subprocess.Popen(
            [*RUNSERVER, "--port", str(self.port), "--static", "static"],
            cwd=project,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.output: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def wait_for_line(self, needle: str, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no line with {needle!r} in {self.output}") from None
            self.output.append(line)
            if needle in line:
                return line

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        assert self.proc.stdout is not None
        self.proc.stdout.close()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "app.py").write_text(APP.format(text="v1"))
    (tmp_path / "static").mkdir()
    (tmp_path / "static" / "style.css").write_text(RED)
    return tmp_path


@pytest.fixture
def server(project: Path) -> Iterator[DevServer]:
    dev = DevServer(project)
    try:
        dev.wait_for_line("Ready in")
        yield dev
    finally:
        dev.close()


def open_live_page(page: Page, server: DevServer) -> None:
    page.goto(server.url)
    page.wait_for("document.getElementById('text') !== null")
    wait_connected(page)


def wait_connected(page: Page) -> None:
    # Connected and greeted: only then can a change reach this page.
    page.wait_for("window.__webkitLiveReload === true")
    deadline = time.monotonic() + 10
    while "[webkit] live reload connected" not in page.console_messages():
        assert time.monotonic() < deadline, page.console_messages()
        time.sleep(0.02)


def color(page: Page) -> str:
    value = page.evaluate("getComputedStyle(document.getElementById('text')).color")
    assert isinstance(value, str)
    return value


def test_handler_edit_shows_without_a_manual_reload(
    page: Page, server: DevServer, project: Path
) -> None:
    open_live_page(page, server)
    assert page.evaluate("document.getElementById('text').textContent") == "v1"
    page.evaluate("window.marker = 42")
    before = page.navigations
    (project / "app.py").write_text(APP.format(text="v2"))
    page.wait_for("document.getElementById('text')?.textContent === 'v2'", timeout=20)
    assert page.navigations > before  # the page itself reloaded...
    assert page.evaluate("window.marker") is None  # ...so its state is new
    server.wait_for_line("Reloaded the browser")
    assert page.errors() == []


def test_css_edit_swaps_the_stylesheet_without_reloading(
    page: Page, server: DevServer, project: Path
) -> None:
    open_live_page(page, server)
    assert color(page) == "rgb(255, 0, 0)"
    page.evaluate("window.marker = 42")
    before = page.navigations
    (project / "static" / "style.css").write_text(BLUE)
    page.wait_for(
        "getComputedStyle(document.getElementById('text')).color === 'rgb(0, 0, 255)'",
        timeout=20,
    )
    assert page.evaluate("window.marker") == 42
    assert page.navigations == before
    # The old <link> is removed once the new one has loaded: one stylesheet, not a pile.
    page.wait_for("document.querySelectorAll('link[rel=stylesheet]').length === 1")
    server.wait_for_line("style.css")


def test_broken_app_page_recovers_by_itself_once_fixed(
    page: Page, server: DevServer, project: Path
) -> None:
    (project / "app.py").write_text("def create_app(:\n")
    server.wait_for_line("Error:")
    page.goto(server.url)
    page.wait_for("document.querySelector('h1')?.textContent === 'The app failed to start'")
    assert "SyntaxError" in page.evaluate("document.body.textContent")
    wait_connected(page)  # the error page carries the live-reload client too
    (project / "app.py").write_text(APP.format(text="fixed"))
    page.wait_for("document.getElementById('text')?.textContent === 'fixed'", timeout=20)
