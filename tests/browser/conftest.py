"""Fixtures for the browser tests: one headless Chromium per session, a tab per test, and
webkit apps served from a background thread so the synchronous CDP calls can reach them.

Without Chromium (/usr/bin/chromium, or ``$WEBKIT_CHROMIUM``) the browser tests skip, except
under CI (``$CI`` set), where they fail: CI must never skip them silently.

The ``webkit runserver`` helpers are tests/cli's ``devserver`` module: test directories are not
packages, so that directory goes on ``sys.path`` here, as pytest puts each test's own directory.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cdp import DEFAULT_CHROMIUM, Browser, Page, find_chromium

from webkit import web
from webkit.testing import TestServer

CLI_TESTS = str(Path(__file__).resolve().parent.parent / "cli")
if CLI_TESTS not in sys.path:
    sys.path.insert(0, CLI_TESTS)

START_TIMEOUT = 10.0

ServeApp = Callable[[web.Application], str]


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    executable = find_chromium()
    if executable is None:
        wanted = os.environ.get("WEBKIT_CHROMIUM") or DEFAULT_CHROMIUM
        message = f"no Chromium at {wanted} (apt-get install chromium, or set WEBKIT_CHROMIUM)"
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the browser tests: {message}")
        pytest.skip(message)
    with Browser(executable) as chromium:
        yield chromium


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    tab = browser.new_page()
    try:
        yield tab
    finally:
        tab.close()


class ServerThread:
    """A `TestServer` for ``app`` in its own event loop on a daemon thread."""

    def __init__(self, app: web.Application) -> None:
        self.server = TestServer(app)
        self.loop = asyncio.new_event_loop()
        self.loop.set_debug(True)
        self.loop.slow_callback_duration = 1.0
        self.thread = threading.Thread(
            target=self.loop.run_forever, name="webkit-test-server", daemon=True
        )

    def start(self) -> str:
        """Start serving; the base URL, ``http://127.0.0.1:PORT`` (no trailing slash)."""
        self.thread.start()
        future = asyncio.run_coroutine_threadsafe(self.server.start_server(), self.loop)
        future.result(START_TIMEOUT)
        return str(self.server.make_url("")).rstrip("/")

    def stop(self) -> None:
        """Shut the server down gracefully, then stop and close the loop."""
        try:
            if self.thread.is_alive():
                future = asyncio.run_coroutine_threadsafe(self.server.close(), self.loop)
                future.result(START_TIMEOUT)
        finally:
            if self.thread.is_alive():
                self.loop.call_soon_threadsafe(self.loop.stop)
                self.thread.join(START_TIMEOUT)
            if not self.thread.is_alive():
                self.loop.run_until_complete(self.loop.shutdown_asyncgens())
                self.loop.run_until_complete(self.loop.shutdown_default_executor())
                self.loop.close()


@pytest.fixture
def serve_app() -> Iterator[ServeApp]:
    """``serve_app(app)`` → ``"http://127.0.0.1:PORT"``: ``app`` served until the test ends."""
    started: list[ServerThread] = []

    def serve(app: web.Application) -> str:
        server = ServerThread(app)
        started.append(server)
        return server.start()

    yield serve
    for server in reversed(started):
        server.stop()
