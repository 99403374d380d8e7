"""Live reload in a real headless Chromium, against ``webkit runserver`` as a real process.

A page served by the dev server must show edited handler output without a manual reload, take a
changed stylesheet without reloading (a JS variable set before survives), and recover by itself
from a broken app once the fix is saved.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cdp import Page
from devserver import DevServer

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

RED = "p { color: rgb(255, 0, 0); }\n"
BLUE = "p { color: rgb(0, 0, 255); }\n"
WAIT = 20.0  # seconds for a line of the dev server's output


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "app.py").write_text(APP.format(text="v1"))
    (tmp_path / "static").mkdir()
    (tmp_path / "static" / "style.css").write_text(RED)
    return tmp_path


@pytest.fixture
def server(project: Path) -> Iterator[DevServer]:
    dev = DevServer(project, "app.py:create_app", "--static", "static", env={"NO_COLOR": "1"})
    try:
        dev.wait_for_line("Ready in", WAIT)
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
    server.wait_for_line("Reloaded the browser", WAIT)
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
    server.wait_for_line("style.css", WAIT)


def test_broken_app_page_recovers_by_itself_once_fixed(
    page: Page, server: DevServer, project: Path
) -> None:
    (project / "app.py").write_text("def create_app(:\n")
    server.wait_for_line("Error:", WAIT)
    page.goto(server.url)
    page.wait_for("document.querySelector('h1')?.textContent === 'The app failed to start'")
    assert "SyntaxError" in page.evaluate("document.body.textContent")
    wait_connected(page)  # the error page carries the live-reload client too
    (project / "app.py").write_text(APP.format(text="fixed"))
    page.wait_for("document.getElementById('text')?.textContent === 'fixed'", timeout=20)
