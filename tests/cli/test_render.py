"""The dev server's terminal output: exact text when piped, colours only when asked for."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from webkit.cli.render import Renderer, format_duration, format_size
from webkit.devtools.events import (
    BrowserReload,
    ChildExited,
    ChildFailed,
    ChildReady,
    Event,
    LiveReloadClient,
    Reloading,
    RequestDone,
    Started,
)

TB = (
    "Traceback (most recent call last):\n"
    '  File "/proj/app.py", line 3, in <module>\n'
    "    1 / 0\n"
    "ZeroDivisionError: division by zero\n"
)
SGR = re.compile(r"\x1b\[([0-9;]*)m")


@pytest.fixture(autouse=True)
def plain_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # The developer's own terminal settings must not leak into what the tests parse.
    for name in ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "COLUMNS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")


def render(*events: Event, verbose: bool = False, color: bool | None = None) -> str:
    stream = io.StringIO()
    renderer = Renderer(verbose=verbose, color=color, stream=stream)
    for event in events:
        renderer(event)
    return stream.getvalue()


def colours(out: str) -> set[int]:
    """The foreground colour codes used (bold and dim are not colours, so NO_COLOR keeps them)."""
    codes = {int(p) for params in SGR.findall(out) for p in params.split(";") if p}
    return {c for c in codes if 30 <= c <= 38 or 90 <= c <= 97}


def request(path: str = "/", status: int = 200, duration: float = 0.0012, size: int = 512) -> Event:
    return RequestDone("GET", path, status, duration, size)


def test_banner_plain(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # outside /proj: paths stay absolute
    out = render(
        Started(
            url="http://127.0.0.1:8000",
            app="app.py",
            watch=(Path("/proj/src"), Path("/proj/templates")),
            static=("/static", Path("/proj/static")),
        )
    )
    assert "\x1b" not in out
    assert out.splitlines() == [
        "webkit runserver  app.py",
        "  Serving at   http://127.0.0.1:8000",
        "  Watching     /proj/src, /proj/templates",
        "  Live reload  on",
        "  Static       /static -> /proj/static",
        "Ctrl-C to quit",
    ]


def test_banner_reload_off_public_and_relative_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir("/")
    event = Started(url="http://0.0.0.0:8000", app="pkg.app:app", livereload=False, public=True)
    lines = render(event).splitlines()
    assert "  Reload       off" in lines
    assert "  Live reload  off" in lines
    assert not any("Watching" in line or "Static" in line for line in lines)
    notice = next(line for line in lines if "other machines" in line)
    assert "all interfaces" in notice
    assert "--host 127.0.0.1" in notice
    assert lines[-1] == "Ctrl-C to quit"
    watching = render(Started(url="u", app="a", watch=(Path("/etc"),))).splitlines()[2]
    assert watching == "  Watching     etc"


def test_public_notice_is_yellow_and_url_a_link() -> None:
    out = render(Started(url="http://0.0.0.0:8000", app="a", public=True), color=True)
    assert 33 in colours(out)
    assert "\x1b]8;" in out  # OSC 8 hyperlink around the URL


def test_request_line() -> None:
    out = render(RequestDone("POST", "/items?page=2", 201, 0.0012, 1434))
    assert re.fullmatch(r"\d\d:\d\d:\d\d POST /items\?page=2 201 1\.2 ms 1\.4 KB\n", out)
    out = render(request(status=404, duration=0.34, size=-1))
    assert out.endswith(" GET / 404 340 ms -\n")


@pytest.mark.parametrize(("status", "colour"), [(200, 32), (304, 36), (404, 33), (503, 31)])
def test_status_colours(status: int, colour: int) -> None:
    out = render(request(status=status), color=True)
    assert f"{colour}m{status}\x1b[0m" in out
    assert colours(out) == {colour}


def test_internal_requests_only_verbose() -> None:
    assert render(request("/_webkit/livereload.js")) == ""
    assert "/_webkit/livereload.js" in render(request("/_webkit/livereload.js"), verbose=True)
    assert render(request("/_webkitten")) != ""


def test_long_lines_are_not_wrapped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "40")
    path = "/" + "x" * 300
    assert len(render(request(path)).splitlines()) == 1
    assert len(render(request(path), color=True).splitlines()) == 1
    long_tb = TB.replace("/proj/app.py", "/very" * 60 + "/app.py")
    out = render(ChildFailed("user", "m", traceback=long_tb), color=True)
    assert len(out.splitlines()) == 6  # four traceback lines, the error and the waiting line


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.0, "0.0 ms"),
        (0.00004, "0.0 ms"),
        (0.0012, "1.2 ms"),
        (0.00996, "10 ms"),
        (0.0123, "12 ms"),
        (0.34, "340 ms"),
        (0.9996, "1.0 s"),
        (1.26, "1.3 s"),
        (9.96, "10 s"),
        (75.4, "75 s"),
    ],
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (-1, "-"),
        (0, "0 B"),
        (512, "512 B"),
        (1023, "1023 B"),
        (1024, "1.0 KB"),
        (1434, "1.4 KB"),
        (1024 * 1024 - 1, "1.0 MB"),
        (2 * 1024 * 1024, "2.0 MB"),
        (3 * 1024**3, "3.0 GB"),
        (5 * 1024**4, "5.0 TB"),
    ],
)
def test_format_size(size: int, text: str) -> None:
    assert format_size(size) == text


def test_reloading_names() -> None:
    assert render(Reloading(("app.py", "views.py"))) == "Change in app.py, views.py: restarting\n"
    many = Reloading(("a.py", "b.py", "c.py", "d.py", "e.py"))
    assert render(many) == "Change in a.py, b.py, c.py and 2 more: restarting\n"
    assert "a.py, b.py, c.py, d.py, e.py:" in render(many, verbose=True)


def test_child_ready() -> None:
    assert render(ChildReady(pid=42, elapsed=0.162)) == "Ready in 0.16 s (pid 42)\n"
    reloaded = ChildReady(pid=43, elapsed=0.0421, changes=("app.py",))
    assert render(reloaded) == "Reloaded in 42 ms (pid 43)\n"
    slow = ChildReady(pid=44, elapsed=1.31, changes=("app.py",))
    assert render(slow) == "Reloaded in 1.3 s (pid 44)\n"


def test_child_failed_plain() -> None:
    out = render(ChildFailed("user", "division by zero", hint="see app.py:3", traceback=TB))
    assert out == (
        TB + "Error: division by zero (hint: see app.py:3)\nWaiting for changes to reload...\n"
    )
    out = render(ChildFailed("usage", "no app found"))
    assert out == "Error: no app found\nWaiting for changes to reload...\n"


def test_child_failed_without_reload_does_not_promise_one() -> None:
    out = render(Started(url="u", app="a"), ChildFailed("crash", "it died"))
    assert out.endswith("Error: it died\n")
    assert "Waiting" not in out


def test_child_failed_coloured() -> None:
    out = render(ChildFailed("user", "boom", traceback=TB), color=True)
    assert "\x1b[1;31mError: boom\x1b[0m" in out
    assert len(colours(out)) > 1  # the traceback is highlighted too
    assert SGR.sub("", out).startswith(TB)
    # Not a Python traceback (a crash's stderr): printed as it came.
    out = render(ChildFailed("crash", "died", traceback="Segmentation fault\n"), color=True)
    assert out.startswith("Segmentation fault\n")


def test_child_failed_verbose_shows_kind() -> None:
    assert "Error: boom [crash]" in render(ChildFailed("crash", "boom"), verbose=True)


def test_child_exited() -> None:
    assert render(ChildExited(pid=7, returncode=3)) == (
        "The app process (pid 7) exited with code 3; waiting for changes to restart it\n"
    )
    assert "(pid 7) was killed by SIGKILL;" in render(ChildExited(pid=7, returncode=-9))
    assert 31 in colours(render(ChildExited(pid=7, returncode=3), color=True))
    assert 33 in colours(render(ChildExited(pid=7, returncode=0), color=True))


def test_browser_reload() -> None:
    live = BrowserReload(("static/style.css",), clients=2, live=True)
    assert render(live) == "Swapped static/style.css in the browser (2 clients)\n"
    full = BrowserReload(("index.html",), clients=1, live=False)
    assert render(full) == "Reloaded the browser (1 client)\n"
    assert render(full, verbose=True) == "Reloaded the browser for index.html (1 client)\n"
    nobody = BrowserReload(("index.html",), clients=0, live=False)
    assert render(nobody) == ""
    assert "(0 clients)" in render(nobody, verbose=True)


def test_livereload_client_only_verbose() -> None:
    assert render(LiveReloadClient(connected=True, clients=2)) == ""
    out = render(LiveReloadClient(connected=True, clients=2), verbose=True)
    assert out == "Browser connected (2 live-reload clients)\n"
    out = render(LiveReloadClient(connected=False, clients=0, page="/about"), verbose=True)
    assert out == "Browser disconnected on /about (0 live-reload clients)\n"


def test_no_color_wins_over_force_color(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORCE_COLOR", "1")
    assert colours(render(request(status=500))) == {31}  # FORCE_COLOR alone: a terminal
    monkeypatch.setenv("NO_COLOR", "1")
    out = render(request(status=500), ChildFailed("user", "boom", traceback=TB))
    assert colours(out) == set()
    assert TB in out  # no highlighting either


def test_explicit_color_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORCE_COLOR", "1")
    assert "\x1b" not in render(request(), color=False)
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("TERM", "dumb")
    assert colours(render(request(), color=True)) == {32}


def test_default_streams_split_output_and_errors(capsys: pytest.CaptureFixture[str]) -> None:
    renderer = Renderer()
    renderer(request())
    renderer(ChildReady(pid=1, elapsed=0.1))
    renderer(BrowserReload(("a.css",), clients=1, live=True))
    renderer(ChildFailed("user", "boom", traceback=TB))
    renderer(ChildExited(pid=1, returncode=1))
    out, err = capsys.readouterr()
    assert " GET / 200 " in out
    assert "Ready in" in out
    assert "Swapped a.css" in out
    assert "boom" not in out
    assert err.startswith(TB + "Error: boom\n")
    assert "exited with code 1" in err
    assert "\x1b" not in out + err
