"""The runserver parent: bind once, run the app in a child, restart or live-reload on change.

It never imports the user's code. The listening socket is bound here and inherited by every child,
so a connection arriving during a restart waits in the backlog and is answered by the new child.
The next child is always started ahead of time (a standby that has imported webkit and the app's
libraries), so a restart costs only the user's own modules. Browsers' live-reload sockets are
handed to this process and outlive every child. Output is reported as events to a callback;
``webkit.cli`` renders them.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import signal
import socket
import time
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from webkit.devtools.appref import AppRef
from webkit.devtools.child import Child
from webkit.devtools.errorpage import ErrorPageServer
from webkit.devtools.errors import AppRefError, AppStartError, DevServerError, PortInUseError
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
from webkit.devtools.livereload import LiveReloadHub
from webkit.devtools.watcher import ProjectFilter, classify, watch

__all__ = ["Options", "Supervisor", "bind_socket"]


@dataclass(frozen=True)
class Options:
    """How the dev server runs (the CLI's options)."""

    host: str = "127.0.0.1"
    port: int = 8000
    reload: bool = True
    livereload: bool = True
    watch: tuple[Path, ...] = ()  # empty: the app's directory
    ignore: tuple[str, ...] = ()
    static: tuple[str, Path] | None = None  # (url prefix, directory)
    env_file: Path | None = None  # re-read on change; its change restarts the app


def bind_socket(host: str, port: int) -> socket.socket:
    """Bind and listen once, for the lifetime of the dev server.

    Raises:
        PortInUseError: the address is taken.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            from webkit.devtools.ports import port_holder

            holder = port_holder(port, host)
            by = f" by {holder}" if holder else ""
            raise PortInUseError(
                f"port {port} on {host} is already in use{by}",
                f"stop the other server or pick another port: --port {port + 1}",
            ) from None
        raise DevServerError(
            f"cannot listen on {host}:{port}: {exc.strerror}", "check --host and --port"
        ) from None
    sock.listen(1024)
    sock.set_inheritable(True)
    return sock


class Supervisor:
    """Run the child, watch the project, restart or live-reload on change; `run` returns when
    stopped (SIGINT/SIGTERM or `stop`).

    Args:
        ref: the parsed APP (never imported here).
        options: host, port, reload, live reload, watch and static settings.
        on_event: receives every `webkit.devtools.events` event.
    """

    def __init__(
        self, ref: AppRef, options: Options, on_event: Callable[[Event], None] | None = None
    ) -> None:
        self.ref = ref
        self.options = options
        self.on_event: Callable[[Event], None] = on_event or (lambda event: None)
        self.roots = tuple(p.resolve() for p in options.watch) or (ref.watch_dir,)
        self._sock: socket.socket | None = None
        self._stop = asyncio.Event()
        self._hub = LiveReloadHub(self._browser_changed)
        self._errors: ErrorPageServer | None = None
        self._current: Child | None = None
        self._standby: asyncio.Task[Child] | None = None
        self._preload: list[str] = []
        self._templates: dict[str, Any] = {"auto_reload": False, "dirs": []}
        self._failed = False
        self._reload_pending = False
        self._tasks: set[asyncio.Future[object]] = set()
        # One start or restart at a time: an edit during the first start waits for it.
        self._lock = asyncio.Lock()

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        """Serve until stopped.

        Raises:
            PortInUseError: the port is taken.
            AppRefError: the very first child found APP to be wrong (later ones only report).
            AppStartError: the app failed to start and reload is off.
        """
        options = self.options
        self._sock = bind_socket(options.host, options.port)
        self._errors = ErrorPageServer(self._sock, self._hub, livereload=options.livereload)
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, self._stop.set)
        watch_stop = asyncio.Event()
        watcher: asyncio.Task[None] | None = None
        try:
            started = Started(
                self._url(),
                self.ref.display,
                self.roots if options.reload else (),
                options.livereload,
                options.static,
                options.host in ("0.0.0.0", "::", ""),
            )
            async with self._lock:
                if options.reload:
                    watcher = asyncio.create_task(self._watch(watch_stop))
                    await asyncio.sleep(0)  # arm the watcher before the first child starts
                first = await self._start_child(time.monotonic(), ())
                if isinstance(first, ChildFailed) and first.kind == "usage":
                    raise AppRefError(first.message, first.hint)
                # The banner waits for the first child, so a wrong APP is one line, nothing more.
                self.on_event(started)
                self._report(first)
            if isinstance(first, ChildFailed) and not options.reload:
                raise AppStartError("the app failed to start", "fix the error above and run again")
            await self._stop.wait()
        finally:
            watch_stop.set()
            if watcher is not None:
                watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watcher
            await self._shutdown()
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(signum)

    def _url(self) -> str:
        assert self._sock is not None
        host = self.options.host
        if host in ("0.0.0.0", ""):
            host = "127.0.0.1"
        elif host == "::":
            host = "::1"
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self._sock.getsockname()[1]}/"

    async def _shutdown(self) -> None:
        if self._errors is not None:
            await self._errors.stop()
        current, self._current = self._current, None
        standby, self._standby = self._standby, None
        stops: list[Coroutine[Any, Any, object]] = []
        if current is not None:
            stops.append(current.stop())
        if standby is not None:
            stops.append(_stop_standby(standby))
        await asyncio.gather(*stops)
        if self._tasks:  # children being reaped after a restart
            await asyncio.wait(self._tasks)
        await self._hub.close()
        if self._sock is not None:
            self._sock.close()

    # -- children -------------------------------------------------------------------------------

    def _spawn_standby(self) -> None:
        if self._standby is None and not self._stop.is_set():
            assert self._sock is not None
            self._standby = asyncio.ensure_future(
                Child.spawn(self._sock, list(self._preload), self._on_child_message)
            )

    async def _take_standby(self) -> Child:
        self._spawn_standby()
        task, self._standby = self._standby, None
        assert task is not None
        return await task

    async def _start_child(
        self, started: float, changes: tuple[str, ...], old: Child | None = None
    ) -> Event:
        """Start the standby; with ``old``, it loads the app while ``old`` shuts down."""
        assert self._errors is not None
        child = await self._take_standby()
        options = self.options
        static = options.static
        child.go(
            self.ref.spec,
            serve=old is None,
            livereload=options.livereload,
            static=[static[0], str(static[1])] if static else None,
        )
        if old is not None:
            await old.retire()
            self._spawn(old.stop())  # reaped once its interpreter is done
            child.serve()
        # The error page stops accepting before the new code does: nothing is refused meanwhile.
        await self._errors.stop()
        report = await _first(child.report, self._stop)
        if report is None:
            await child.stop()
            return ChildFailed("crash", "stopped while the app was starting")
        if report.get("event") == "ready":
            self._current = child
            self._preload = [str(m) for m in report.get("modules", ())]
            self._templates = dict(report.get("templates") or self._templates)
            self._spawn_standby()
            self._reload_pending = bool(changes) or self._failed
            self._failed = False
            return ChildReady(child.pid, time.monotonic() - started, changes)
        code = await child.stop(exiting=True)
        if report.get("event") == "gone":
            failure = ChildFailed("crash", f"the app process exited with code {code}")
        else:
            failure = ChildFailed(
                str(report.get("kind", "user")),
                str(report.get("message", "")),
                str(report.get("hint", "")),
                str(report.get("traceback", "")),
            )
        self._failed = True
        if self.options.reload:
            self._spawn_standby()
            await self._errors.start(failure)
        return failure

    def _on_child_message(self, child: Child, message: dict[str, Any], fds: list[int]) -> None:
        event = message.get("event")
        if event == "livereload" and fds:
            for extra in fds[1:]:
                os.close(extra)
            version = message.get("version") or [1, 1]
            headers = [(str(k), str(v)) for k, v in message.get("headers", ())]
            tail = bytes.fromhex(str(message.get("tail", "")))
            self._spawn(
                self._hub.adopt_fd(fds[0], (int(version[0]), int(version[1])), headers, tail)
            )
            return
        for fd in fds:
            os.close(fd)
        if event == "request":
            self.on_event(
                RequestDone(
                    str(message.get("method", "")),
                    str(message.get("path", "")),
                    int(message.get("status", 0)),
                    float(message.get("duration", 0.0)),
                    int(message.get("size", -1)),
                )
            )
        elif event == "gone" and child is self._current and not child.stopping:
            self._spawn(self._child_died(child))

    def _spawn(self, coro: Coroutine[Any, Any, object]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _child_died(self, child: Child) -> None:
        """A serving child exited on its own: say so and serve the error page until a change."""
        assert self._errors is not None
        self._current = None
        code = await child.stop(exiting=True)
        self.on_event(ChildExited(child.pid, code))
        self._failed = True
        message = f"the app process (pid {child.pid}) exited with code {code}"
        await self._errors.start(ChildFailed("crash", message, "save a file to restart it"))

    # -- watching -------------------------------------------------------------------------------

    async def _watch(self, stop: asyncio.Event) -> None:
        options = self.options
        static_dirs = (options.static[1].resolve(),) if options.static else ()
        env_file = options.env_file.resolve() if options.env_file is not None else None
        roots = list(self.roots)
        for extra in (*static_dirs, *([env_file.parent] if env_file else [])):
            if not any(extra.is_relative_to(root) for root in roots):
                roots.append(extra)
        project_filter = ProjectFilter(roots, options.ignore, keep=[env_file] if env_file else [])
        async for batch in watch(roots, project_filter, stop):
            paths = sorted({path for _, path in batch})
            restart, browser = [], []
            for path in paths:
                if env_file is not None and Path(path) == env_file:
                    restart.append(path)
                    continue
                if not any(Path(path).is_relative_to(root) for root in self.roots) and not any(
                    Path(path).is_relative_to(d) for d in static_dirs
                ):
                    continue  # another file next to the env file, outside the project
                kind = classify(path, static_dirs=static_dirs)
                if kind == "static" or (kind == "template" and self._templates_reload(path)):
                    browser.append(path)
                elif kind in ("python", "template"):
                    restart.append(path)
            if self._stop.is_set():
                return
            if restart:
                async with self._lock:
                    await self._restart(restart + browser)
            elif browser:
                self._browser_files(browser, static_dirs)

    def _templates_reload(self, path: str) -> bool:
        if not self._templates.get("auto_reload") or self._current is None:
            return False
        return any(Path(path).is_relative_to(d) for d in self._templates.get("dirs", ()))

    async def _restart(self, paths: list[str]) -> None:
        names = self._relative(paths)
        started = time.monotonic()
        if self.options.env_file is not None and any(
            Path(p) == self.options.env_file.resolve() for p in paths
        ):
            from webkit.devtools.envfile import load_env_file

            load_env_file(self.options.env_file, override=True)
            if self._standby is not None:  # it inherited the old environment
                await _stop_standby(self._standby)
                self._standby = None
        self.on_event(Reloading(names))
        current, self._current = self._current, None
        if self._stop.is_set():
            return
        self._report(await self._start_child(started, names, current))

    def _report(self, event: Event) -> None:
        """Announce a child's start; browsers reload once the new code serves."""
        self.on_event(event)
        if isinstance(event, ChildReady) and self._reload_pending:
            self._reload_pending = False
            self._reload_browsers(event.changes or ("the fixed app",), live=False)

    def _browser_files(self, paths: list[str], static_dirs: tuple[Path, ...]) -> None:
        for path in paths:
            name = self._url_path(path, static_dirs)
            live = Path(path).suffix.lower() in _LIVE_SUFFIXES
            told = self._hub.reload(name, live=live)
            self.on_event(BrowserReload(self._relative([path]), told, live))

    def _reload_browsers(self, names: Iterable[str], *, live: bool) -> None:
        names = tuple(names)
        told = self._hub.reload(names[0] if names else "", live=live)
        self.on_event(BrowserReload(names, told, live))

    def _url_path(self, path: str, static_dirs: tuple[Path, ...]) -> str:
        static = self.options.static
        for directory in static_dirs:
            if static is not None and Path(path).is_relative_to(directory):
                relative = Path(path).relative_to(directory).as_posix()
                return static[0].rstrip("/") + "/" + relative
        return self._relative([path])[0]

    def _relative(self, paths: Iterable[str]) -> tuple[str, ...]:
        names = []
        for raw in paths:
            path = Path(raw)
            for root in self.roots:
                if path.is_relative_to(root):
                    names.append(path.relative_to(root).as_posix())
                    break
            else:
                names.append(str(path))
        return tuple(names)

    def _browser_changed(self, connected: bool, clients: int, page: str) -> None:
        self.on_event(LiveReloadClient(connected, clients, page))


_LIVE_SUFFIXES = frozenset(
    (".css", ".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp", ".avif", ".ico")
)


async def _first(
    report: asyncio.Future[dict[str, Any]], stop: asyncio.Event
) -> dict[str, Any] | None:
    """The child's report, or None when the dev server is stopped first."""
    stopping = asyncio.ensure_future(stop.wait())
    try:
        waiting: set[asyncio.Future[Any]] = {report, stopping}
        await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
    return report.result() if report.done() else None


async def _stop_standby(task: asyncio.Task[Child]) -> None:
    try:
        child = await task
    except (OSError, asyncio.CancelledError):
        return
    await child.stop()
