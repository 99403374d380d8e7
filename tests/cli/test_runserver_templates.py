"""``webkit runserver`` with Jinja2 templates (reload the browser, not the app, when the app
re-reads them) and ``--open``, as real processes with real edits."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from devserver import DevServer, hello, livereload, receive, wait_until

APP = """
import os
import jinja2
from webkit import web
import webkit.templates as templates

async def index(request):
    return await templates.render_template("index.html", request, {{}})

async def pid(request):
    return web.Response(text=str(os.getpid()))

def create_app():
    app = web.Application()
    templates.setup(app, loader=jinja2.FileSystemLoader("templates"), auto_reload={auto_reload})
    app.router.add_get("/", index)
    app.router.add_get("/pid", pid)
    return app
"""

PAGE = "<!doctype html><html><body><p>{text}</p></body></html>"


def project(tmp_path: Path, *, auto_reload: bool) -> Path:
    (tmp_path / "app.py").write_text(APP.format(auto_reload=auto_reload))
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "index.html").write_text(PAGE.format(text="one"))
    return tmp_path


@contextmanager
def running(cwd: Path, *args: str) -> Iterator[DevServer]:
    dev = DevServer(cwd, "app.py:create_app", *args)
    try:
        dev.wait_for_line("Ready in")
        yield dev
    finally:
        dev.close()


def test_template_edit_reloads_the_browser_without_a_restart(tmp_path: Path) -> None:
    root = project(tmp_path, auto_reload=True)
    with running(root) as dev, livereload(dev.port) as ws:
        hello(ws)
        assert "<p>one</p>" in dev.text()
        pid = dev.child_pid()
        (root / "templates" / "index.html").write_text(PAGE.format(text="two"))
        message = receive(ws)
        assert message["command"] == "reload"
        assert message["path"] == "templates/index.html"
        assert message["liveCSS"] is False
        assert "<p>two</p>" in dev.text()
        assert dev.child_pid() == pid  # Jinja2 re-read the file: no restart was needed
        dev.wait_for_line("Reloaded the browser")
        assert "Change in" not in dev.drain()


def test_template_edit_restarts_when_the_app_caches_templates(tmp_path: Path) -> None:
    root = project(tmp_path, auto_reload=False)
    with running(root) as dev, livereload(dev.port) as ws:
        hello(ws)
        pid = dev.child_pid()
        (root / "templates" / "index.html").write_text(PAGE.format(text="two"))
        dev.wait_for_line("Change in templates/index.html")
        assert receive(ws)["command"] == "reload"  # sent once the restarted app serves
        assert "<p>two</p>" in dev.text()
        assert dev.child_pid() != pid


def test_open_starts_the_browser_on_the_url_once_ready(tmp_path: Path) -> None:
    root = project(tmp_path, auto_reload=True)
    opened = tmp_path / "opened.txt"
    # webbrowser runs $BROWSER with %s replaced by the URL.
    script = tmp_path / "browser.py"
    script.write_text(f"import sys\nopen({str(opened)!r}, 'w').write(sys.argv[1])\n")
    browser = f"{sys.executable} {script} %s"
    dev = DevServer(root, "app.py:create_app", "--open", env={"BROWSER": browser})
    try:
        dev.wait_for_line("Ready in")
        wait_until(opened.exists, 10.0, "the browser command to run")
        wait_until(lambda: opened.read_text() != "", 5.0, "the URL to be written")
        assert opened.read_text() == f"http://127.0.0.1:{dev.port}/"
    finally:
        dev.close()
