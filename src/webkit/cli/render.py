"""The dev server's terminal output: one `Renderer` turns supervisor events into rich text.

What the user acts on (banner, requests, reloads) goes to stdout; what went wrong (tracebacks, a
failed or dead app process) goes to stderr, as uvicorn and aiohttp-devtools do, so
``webkit runserver 2>errors.log`` keeps the failures apart.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from rich.console import Console
from rich.style import Style
from rich.syntax import Syntax
from rich.text import Text

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

__all__ = ["Renderer", "format_duration", "format_size"]

# The live-reload script and WebSocket: every page load hits them, which would drown the log.
_INTERNAL_PREFIX = "/_webkit/"
_MAX_NAMES = 3


def format_duration(seconds: float) -> str:
    """``"1.2 ms"``, ``"340 ms"``, ``"1.3 s"``: two or three significant digits are plenty."""
    ms = seconds * 1000
    # Compare the rounded value so 9.96 ms reads "10 ms", not "10.0 ms", and 999.7 ms "1.0 s".
    if round(ms, 1) < 10:
        return f"{ms:.1f} ms"
    if round(ms) < 1000:
        return f"{ms:.0f} ms"
    if round(seconds, 1) < 10:
        return f"{seconds:.1f} s"
    return f"{seconds:.0f} s"


def format_size(size: int) -> str:
    """``"512 B"``, ``"1.4 KB"``, ``"2.0 MB"`` (powers of 1024); ``"-"`` when unknown (< 0)."""
    if size < 0:
        return "-"
    if size < 1024:
        return f"{size} B"
    value = float(size)
    for unit in ("KB", "MB", "GB"):
        value /= 1024
        # Moving up on the rounded value avoids "1024.0 KB" for sizes just under 1 MB.
        if round(value, 1) < 1024:
            return f"{value:.1f} {unit}"
    return f"{value / 1024:.1f} TB"


def _names(changes: Sequence[str], verbose: bool) -> str:
    if verbose or len(changes) <= _MAX_NAMES:
        return ", ".join(changes)
    return f"{', '.join(changes[:_MAX_NAMES])} and {len(changes) - _MAX_NAMES} more"


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _show_path(path: Path) -> str:
    # Watched paths arrive absolute; relative to the project they are shorter and just as clear.
    try:
        return str(path.relative_to(Path.cwd())) or "."
    except (ValueError, OSError):
        return str(path)


def _status_style(status: int) -> str:
    return {2: "green", 3: "cyan", 4: "yellow", 5: "red"}.get(status // 100, "")


def _console(stream: TextIO | None, *, stderr: bool, color: bool | None) -> Console:
    def make(force: bool | None, *, standard: bool = False) -> Console:
        # file=None makes rich look up sys.stdout/sys.stderr at each write, so pytest's capsys
        # and click's runner still see the output. soft_wrap: long paths and tracebacks are
        # never broken up, which matters to people who copy them and to tests that parse them.
        return Console(
            file=stream,
            stderr=stderr,
            force_terminal=force,
            no_color=None if color is None else not color,
            color_system="standard" if standard else "auto",
            soft_wrap=True,
            highlight=False,
            markup=False,
            emoji=False,
        )

    if color is None:  # rich decides: TTY, NO_COLOR, FORCE_COLOR, TERM=dumb
        return make(None)
    if not color:  # not a terminal for rich: no escape codes at all, not even bold
        return make(False)
    # An explicit --color wins over NO_COLOR (as that convention asks) and over TERM=dumb, where
    # rich's auto-detection would otherwise pick no colours at all.
    console = make(True)
    return make(True, standard=True) if console.color_system is None else console


class Renderer:
    """Prints supervisor events; pass an instance as the supervisor's ``on_event``.

    ``stream`` sends everything to one file (tests); by default stdout and stderr are split.
    ``color`` is None for auto-detection, True/False to force it on or off.
    """

    def __init__(
        self, *, verbose: bool = False, color: bool | None = None, stream: TextIO | None = None
    ) -> None:
        self.verbose = verbose
        self.out = _console(stream, stderr=False, color=color)
        self.err = _console(stream, stderr=True, color=color)
        # Without a watcher a failed child is final; learnt from Started, reload is the default.
        self._reload = True

    def __call__(self, event: Event) -> None:
        if isinstance(event, RequestDone):  # the hot path first
            self._request(event)
        elif isinstance(event, Started):
            self._started(event)
        elif isinstance(event, Reloading):
            names = _names(event.changes, self.verbose)
            self.out.print(Text(f"Change in {names}: restarting", style="yellow"))
        elif isinstance(event, ChildReady):
            self._ready(event)
        elif isinstance(event, ChildFailed):
            self._failed(event)
        elif isinstance(event, ChildExited):
            self._exited(event)
        elif isinstance(event, BrowserReload):
            self._browser(event)
        elif isinstance(event, LiveReloadClient):
            self._client(event)

    def _client(self, event: LiveReloadClient) -> None:
        if self.verbose:
            what = "connected" if event.connected else "disconnected"
            page = f" on {event.page}" if event.page else ""
            clients = _plural(event.clients, "live-reload client")
            self.out.print(Text(f"Browser {what}{page} ({clients})", style="dim"))

    def _started(self, event: Started) -> None:
        self._reload = bool(event.watch)
        line = Text()
        line.append("webkit runserver", style="bold")
        line.append(f"  {event.app}")
        self.out.print(line)
        rows: list[tuple[str, Text]] = [
            ("Serving at", Text(event.url, style=Style(bold=True, link=event.url)))
        ]
        if event.watch:
            rows.append(("Watching", Text(", ".join(_show_path(p) for p in event.watch))))
        else:
            rows.append(("Reload", Text("off", style="dim")))
        rows.append(("Live reload", Text("on" if event.livereload else "off")))
        if event.static is not None:
            prefix, directory = event.static
            rows.append(("Static", Text(f"{prefix} -> {_show_path(directory)}")))
        width = max(len(label) for label, _ in rows)
        for label, value in rows:
            self.out.print(Text.assemble((f"  {label:<{width}}  ", "dim"), value))
        if event.public:
            self.out.print(
                Text(
                    "  Reachable from other machines on your network (bound to all interfaces);"
                    " use --host 127.0.0.1 for local only.",
                    style="yellow",
                )
            )
        self.out.print(Text("Ctrl-C to quit", style="dim"))

    def _request(self, event: RequestDone) -> None:
        if event.path.startswith(_INTERNAL_PREFIX) and not self.verbose:
            return
        line = Text.assemble((time.strftime("%H:%M:%S"), "dim"))
        line.append(f" {event.method} {event.path} ")
        line.append(str(event.status), style=_status_style(event.status))
        line.append(f" {format_duration(event.duration)} {format_size(event.size)}", style="dim")
        self.out.print(line)

    def _ready(self, event: ChildReady) -> None:
        if event.changes:
            elapsed = format_duration(event.elapsed)
            text = f"Reloaded in {elapsed} (pid {event.pid})"
        else:  # a cold start is seconds territory: hundredths read better than "160 ms"
            text = f"Ready in {event.elapsed:.2f} s (pid {event.pid})"
        self.out.print(Text(text, style="green"))

    def _failed(self, event: ChildFailed) -> None:
        tb = event.traceback.rstrip("\n")
        if tb:
            self.err.print(self._traceback(tb))
        hint = f" (hint: {event.hint})" if event.hint else ""
        kind = f" [{event.kind}]" if self.verbose else ""
        self.err.print(Text(f"Error: {event.message}{hint}{kind}", style="bold red"))
        if self._reload:
            self.err.print(Text("Waiting for changes to reload...", style="dim"))

    def _traceback(self, tb: str) -> Text:
        # Only Python tracebacks go through the lexer; a crash may hand us any stderr output.
        if (
            self.err.color_system is None
            or self.err.no_color
            or "Traceback (most recent call last)" not in tb
        ):
            return Text(tb)
        # The ANSI theme uses the terminal's own palette, so it reads on light and dark themes.
        text = Syntax(tb, "pytb", theme="ansi_dark").highlight(tb)
        text.rstrip()
        return text

    def _exited(self, event: ChildExited) -> None:
        code = event.returncode
        how = f"exited with code {code}"
        if code < 0:  # the subprocess convention for "killed by signal -code"
            try:
                how = f"was killed by {signal.Signals(-code).name}"
            except ValueError:
                how = f"was killed by signal {-code}"
        restart = "waiting for changes to restart it" if self._reload else "not restarting it"
        self.err.print(
            Text(
                f"The app process (pid {event.pid}) {how}; {restart}",
                style="yellow" if code == 0 else "red",
            )
        )

    def _browser(self, event: BrowserReload) -> None:
        if event.clients == 0 and not self.verbose:
            return
        clients = _plural(event.clients, "client")
        names = _names(event.changes, self.verbose)
        if event.live:
            text = f"Swapped {names} in the browser ({clients})"
        elif self.verbose and names:
            text = f"Reloaded the browser for {names} ({clients})"
        else:
            text = f"Reloaded the browser ({clients})"
        self.out.print(Text(text, style="cyan"))
