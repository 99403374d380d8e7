"""The runserver child: a standby interpreter that loads the user's app when told, then serves it.

Run as ``python -m webkit.devtools.child_main SOCK_FD CONTROL_FD PARENT_PID``. It imports only
``webkit.web``, the dev-server hooks and the stdlib before it is told to go, so the parent can
start it ahead of time: a restart then costs the user's own imports, not the interpreter's start
and the framework's (about 150 ms together).

The control socket (SOCK_SEQPACKET, one JSON message per packet) carries, from the parent,
``{"command": "preload", "modules": [...]}`` (third-party modules the app used last time) and
``{"command": "go", "spec": APP, ...}``; to the parent, ``standby``, ``ready`` (with the modules
to preload next time), ``failed``, ``request`` (one per request served) and ``livereload`` (a
browser's socket, handed over). SIGTERM runs the graceful shutdown (on_shutdown, on_cleanup);
end-of-file on the control socket, or the parent-death signal, means the parent died.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import os
import signal
import socket
import sys
import sysconfig
from pathlib import Path
from typing import Any

from webkit.devtools.appref import load_app, parse, user_code_error
from webkit.devtools.errors import AppRefError, UserCodeError
from webkit.devtools.inject import Send, access_logger_class, install, sender
from webkit.web import Application, AppRunner, SockSite

__all__ = ["SHUTDOWN_TIMEOUT", "main"]

# Seconds unanswered requests get during a restart, and then cancelled handlers get to end; the
# parent kills after a little more.
SHUTDOWN_TIMEOUT = 1.0
# Connections accepted this recently that have not sent a request yet are given this long to send
# it before shutdown closes them as idle.
SETTLE_TIMEOUT = 0.2
EXIT_FAILED = 3
_LIBRARY_DIRS = tuple(
    {sysconfig.get_paths()[key] for key in ("stdlib", "platstdlib", "purelib", "platlib")}
)


def _die_with_parent(parent: int) -> None:
    """Ask Linux to SIGTERM us when the parent dies, even by SIGKILL mid-import of user code."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # it died before the request took effect
        os.kill(os.getpid(), signal.SIGTERM)


def _is_library(module: Any) -> bool:
    path = getattr(module, "__file__", None)
    return isinstance(path, str) and (
        path.startswith(_LIBRARY_DIRS) or "site-packages" in path or "dist-packages" in path
    )


def library_modules() -> list[str]:
    """Imported modules that live in the stdlib or site-packages: safe to import ahead of time."""
    return [
        name
        for name, module in list(sys.modules.items())
        if name != "__main__" and not name.startswith("webkit") and _is_library(module)
    ]


def _preload(names: list[str]) -> None:
    for name in names:
        if name in sys.modules:
            continue
        # Only a warm-up: whatever fails here will fail (or not) the same way in the user's import.
        with contextlib.suppress(Exception):
            importlib.import_module(name)


def _templates(app: Application) -> dict[str, Any]:
    """Whether the app's Jinja2 environments re-read changed templates, and where they live."""
    environment_module = sys.modules.get("webkit.templates.environment")
    if environment_module is None:
        return {"auto_reload": False, "dirs": []}
    key = environment_module.APP_KEY
    dirs: list[str] = []
    auto_reload = True
    found = False
    for each in (app, *getattr(app, "_subapps", ())):
        env = each.get(key)
        if env is None:
            continue
        found = True
        auto_reload = auto_reload and bool(getattr(env, "auto_reload", False))
        dirs += [str(Path(p).resolve()) for p in getattr(env.loader, "searchpath", ())]
    return {"auto_reload": found and auto_reload, "dirs": dirs}


class _Control:
    """The child's end of the control socket."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.send: Send = sender(sock)
        self.messages: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        sock.setblocking(False)
        asyncio.get_running_loop().add_reader(sock.fileno(), self._readable)

    def _readable(self) -> None:
        try:
            data = self.sock.recv(1 << 20)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            asyncio.get_running_loop().remove_reader(self.sock.fileno())
            self.messages.put_nowait(None)  # the parent is gone
            return
        with contextlib.suppress(ValueError):
            self.messages.put_nowait(json.loads(data))


async def _run(listener: socket.socket, control_sock: socket.socket) -> int:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    control = _Control(control_sock)
    try:
        while True:
            message = await _next(control, stop)
            if message is None:
                return 0
            if message.get("command") == "preload":
                _preload([str(name) for name in message.get("modules", ())])
                control.send({"event": "standby"}, [])
            elif message.get("command") == "go":
                return await _serve(listener, control, message, stop)
    finally:
        # Our shutdown is done: a late SIGTERM (the parent's death, say) must not land while
        # asyncio closes its loop, after its wakeup pipe is gone: Python would print an error.
        loop.remove_signal_handler(signal.SIGTERM)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)


async def _next(control: _Control, stop: asyncio.Event) -> dict[str, Any] | None:
    """The next message from the parent; None when we must stop."""
    getting = asyncio.ensure_future(control.messages.get())
    stopping = asyncio.ensure_future(stop.wait())
    await asyncio.wait({getting, stopping}, return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    if not getting.done():
        getting.cancel()
        return None
    return getting.result()


async def _serve(
    listener: socket.socket, control: _Control, go: dict[str, Any], stop: asyncio.Event
) -> int:
    static = go.get("static")
    try:
        app = await load_app(parse(str(go["spec"])))
        install(
            app,
            control.send,
            livereload=bool(go.get("livereload", True)),
            static=(str(static[0]), Path(static[1])) if static else None,
        )
        # During a restart the old child may still be shutting down: the import and the factory
        # run meanwhile, on_startup and serving only once the parent says so.
        if not go.get("serve", True) and not await _wait_serve(control, stop):
            return 0
        runner = AppRunner(
            app,
            shutdown_timeout=SHUTDOWN_TIMEOUT,
            access_log_class=access_logger_class(control.send),
        )
        try:
            await runner.setup()
        except Exception as exc:  # a failing on_startup is the user's bug
            raise user_code_error(exc) from None
    except AppRefError as exc:
        control.send(
            {"event": "failed", "kind": "usage", "message": exc.message, "hint": exc.hint}, []
        )
        return EXIT_FAILED
    except UserCodeError as exc:
        control.send(
            {
                "event": "failed",
                "kind": "user",
                "message": exc.message,
                "traceback": exc.traceback_text,
            },
            [],
        )
        return EXIT_FAILED
    watcher = asyncio.ensure_future(_watch_parent(control, stop))
    try:
        site = SockSite(runner, listener, shutdown_timeout=SHUTDOWN_TIMEOUT)
        await site.start()
        control.send(
            {"event": "ready", "modules": library_modules(), "templates": _templates(app)}, []
        )
        await stop.wait()
        await site.stop()  # stops accepting first, so no accepted connection is dropped
        await _settle(runner)
        await _finish_requests(runner)
    finally:
        await runner.cleanup()
        watcher.cancel()
    # The parent starts the next app now, without waiting for this interpreter's teardown.
    control.send({"event": "stopped"}, [])
    return 0


async def _wait_serve(control: _Control, stop: asyncio.Event) -> bool:
    while True:
        message = await _next(control, stop)
        if message is None:
            return False
        if message.get("command") == "serve":
            return True


async def _watch_parent(control: _Control, stop: asyncio.Event) -> None:
    while await control.messages.get() is not None:
        pass
    stop.set()


async def _finish_requests(runner: AppRunner) -> None:
    """Give requests still being handled up to `SHUTDOWN_TIMEOUT` to be answered.

    Only those that have not begun their response: a stream (SSE, a long download) or a
    WebSocket would hold every restart for the whole timeout, and the browser reconnects to the
    new code anyway; the cleanup that follows cancels them.
    """
    server = runner.server
    if server is None:
        return
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SHUTDOWN_TIMEOUT
    while tasks := server.http.unanswered_tasks:
        remaining = deadline - loop.time()
        if remaining <= 0:
            return
        await asyncio.wait(tasks, timeout=remaining)


async def _settle(runner: AppRunner) -> None:
    """Let connections accepted just before the stop read their request before shutting down.

    asyncio accepts greedily from the shared backlog; graceful shutdown closes connections that
    have not begun a request as idle, which resets a client whose request is already on its way.
    Those requests are answered by this child instead (connections still in the backlog wait for
    the next child). Connections idle for longer (a browser's spare socket) are not waited for.
    """
    server = runner.server
    if server is None:
        return
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SETTLE_TIMEOUT
    while any(
        conn.head_started == 0.0
        and not conn.closing
        and conn.last_active > deadline - 2 * SETTLE_TIMEOUT
        for conn in server.connections
    ):
        if loop.time() >= deadline:
            return
        await asyncio.sleep(0.002)


def main(argv: list[str] | None = None) -> int:
    """Wait for the parent's word, then serve the app on the inherited socket."""
    sock_fd, control_fd, parent = (argv if argv is not None else sys.argv[1:])[:3]
    _die_with_parent(int(parent))
    # Ctrl-C reaches the whole process group; the parent decides when the child stops.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A .pyc is trusted when the source's mtime (in seconds) and size match, so a same-size edit
    # within a second would serve stale code; every child compiles the user's modules afresh.
    sys.dont_write_bytecode = True
    listener = socket.socket(fileno=int(sock_fd))
    control = socket.socket(fileno=int(control_fd))
    try:
        return asyncio.run(_run(listener, control))
    finally:
        control.close()


if __name__ == "__main__":
    sys.exit(main())
