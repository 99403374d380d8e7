"""The runserver parent: bind once, run the app in a child, restart it when Python files change.

It never imports the user's code. The listening socket is bound here and inherited by every child,
so a connection arriving during a restart waits in the backlog and is answered by the new child.
Output is reported as events to a callback; ``webkit.cli`` renders them.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import signal
import socket
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from watchfiles import Change, DefaultFilter, awatch

from webkit.devtools.appref import AppRef
from webkit.devtools.errors import AppRefError, AppStartError, DevServerError, PortInUseError
from webkit.devtools.events import ChildFailed, ChildReady, Event, Reloading, Started

__all__ = ["Supervisor", "bind_socket"]

KILL_TIMEOUT = 3.0  # seconds after SIGTERM before SIGKILL; the child's own limit is shorter


class PythonFilter(DefaultFilter):
    """watchfiles' default ignores (VCS, __pycache__, venvs, editor files) plus: only ``.py``."""

    ignore_dirs = (*DefaultFilter.ignore_dirs, "venv", ".venv", "build", "dist")

    def __call__(self, change: Change, path: str) -> bool:
        return path.endswith(".py") and super().__call__(change, path)


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
            raise PortInUseError(
                f"port {port} on {host} is already in use",
                f"stop the other server or pick another port: --port {port + 1}",
            ) from None
        raise DevServerError(
            f"cannot listen on {host}:{port}: {exc.strerror}", "check --host and --port"
        ) from None
    sock.listen(1024)
    sock.set_inheritable(True)
    return sock


class Supervisor:
    """Run the child, watch the project, restart on change; `run` returns when stopped.

    Args:
        ref: the parsed APP (never imported here).
        host: address to listen on.
        port: port to listen on (0 picks a free one).
        reload: watch ``ref.watch_dir`` and restart the child on Python changes.
        on_event: receives `Started`, `Reloading`, `ChildReady` and `ChildFailed`.
    """

    def __init__(
        self,
        ref: AppRef,
        host: str,
        port: int,
        *,
        reload: bool = True,
        on_event: Callable[[Event], None] | None = None,
    ) -> None:
        self.ref = ref
        self.host = host
        self.port = port
        self.reload = reload
        self.on_event: Callable[[Event], None] = on_event or (lambda event: None)
        self._sock: socket.socket | None = None
        self._proc: asyncio.subprocess.Process | None = None
        self._control: socket.socket | None = None
        self._stop = asyncio.Event()

    async def run(self) -> None:
        """Serve until SIGINT/SIGTERM.

        Raises:
            PortInUseError: the port is taken.
            AppRefError: the very first child found APP to be wrong (later ones only report).
        """
        self._sock = bind_socket(self.host, self.port)
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, self._stop.set)
        watch_stop = asyncio.Event()
        watcher: asyncio.Task[None] | None = None
        try:
            host = f"[{self.host}]" if ":" in self.host else self.host
            url = f"http://{host}:{self._sock.getsockname()[1]}/"
            watch = self.ref.watch_dir if self.reload else None
            self.on_event(Started(url, self.ref.display, () if watch is None else (watch,)))
            if watch is not None:
                watcher = asyncio.create_task(self._watch(watch, watch_stop))
                await asyncio.sleep(0)  # arm the watcher before the first child starts
            first = await self._start_child(time.monotonic(), ())
            if isinstance(first, ChildFailed) and first.kind == "usage":
                raise AppRefError(first.message, first.hint)
            self.on_event(first)
            if isinstance(first, ChildFailed) and not self.reload:
                raise AppStartError("the app failed to start", "fix the error above and run again")
            await self._stop.wait()
        finally:
            watch_stop.set()
            if watcher is not None:
                watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watcher
            await self._stop_child()
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(signum)
            self._sock.close()

    async def _watch(self, path: Path, stop: asyncio.Event) -> None:
        async for changes in awatch(path, watch_filter=PythonFilter(), stop_event=stop, step=30):
            names = _relative(path, (p for _, p in changes))
            started = time.monotonic()
            self.on_event(Reloading(names))
            await self._stop_child()
            if self._stop.is_set():
                return
            self.on_event(await self._start_child(started, names))

    async def _start_child(self, started: float, changes: tuple[str, ...]) -> Event:
        assert self._sock is not None
        mine, theirs = socket.socketpair()
        try:
            self._proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "webkit.devtools.child_main",
                str(self._sock.fileno()),
                str(theirs.fileno()),
                self.ref.spec,
                pass_fds=(self._sock.fileno(), theirs.fileno()),
            )
        finally:
            theirs.close()
        self._control = mine
        return await self._first_report(mine, self._proc, started, changes)

    async def _first_report(
        self,
        control: socket.socket,
        proc: asyncio.subprocess.Process,
        started: float,
        changes: tuple[str, ...],
    ) -> Event:
        loop = asyncio.get_running_loop()
        control.setblocking(False)
        buffer = b""
        while b"\n" not in buffer:
            recv = asyncio.ensure_future(loop.sock_recv(control, 65536))
            stopping = asyncio.ensure_future(self._stop.wait())
            done, _ = await asyncio.wait({recv, stopping}, return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            if recv not in done:
                recv.cancel()
                return ChildFailed("crash", "stopped while the app was starting")
            chunk = recv.result()
            if not chunk:
                code = await proc.wait()
                return ChildFailed("crash", f"the app process exited with code {code}")
            buffer += chunk
        report = json.loads(buffer.split(b"\n", 1)[0])
        if report.get("event") == "ready":
            return ChildReady(proc.pid, time.monotonic() - started, changes)
        return ChildFailed(
            str(report.get("kind", "user")),
            str(report.get("message", "")),
            str(report.get("hint", "")),
            str(report.get("traceback", "")),
        )

    async def _stop_child(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), KILL_TIMEOUT)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
        elif proc is not None:
            await proc.wait()
        if self._control is not None:
            self._control.close()
            self._control = None


def _relative(root: Path, paths: Iterable[str]) -> tuple[str, ...]:
    names = set()
    for raw in paths:
        path = Path(raw)
        try:
            names.add(str(path.relative_to(root)))
        except ValueError:
            names.add(str(path))
    return tuple(sorted(names))
