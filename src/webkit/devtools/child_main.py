"""The runserver child: load the user's app and serve it on the socket the parent bound.

Run as ``python -m webkit.devtools.child_main SOCK_FD CONTROL_FD APP``. It imports only
``webkit.web``, the user's app and the stdlib. It reports one JSON line on the control socket:
``{"event": "ready"}`` or ``{"event": "failed", "kind": "usage"|"user", ...}``. SIGTERM runs the
graceful shutdown (on_shutdown, on_cleanup); end-of-file on the control socket means the parent
died, and the child shuts down the same way.
"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import sys
from typing import Any

from webkit.devtools.appref import load_app, parse, user_code_error
from webkit.devtools.errors import AppRefError, UserCodeError
from webkit.web import AppRunner, SockSite

__all__ = ["SHUTDOWN_TIMEOUT", "main"]

# Seconds running handlers get during a restart; the parent kills after a little more.
SHUTDOWN_TIMEOUT = 1.0
# Longest wait for connections accepted just before SIGTERM to send their first request.
SETTLE_TIMEOUT = 0.2
EXIT_FAILED = 3


def _send(control: socket.socket, message: dict[str, Any]) -> None:
    try:
        control.sendall(json.dumps(message).encode() + b"\n")
    except OSError:
        pass  # the parent is gone; we are about to exit anyway


async def _serve(listener: socket.socket, control: socket.socket, spec: str) -> int:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)

    def parent_gone() -> None:
        try:
            data = control.recv(4096)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            loop.remove_reader(control.fileno())
            stop.set()

    control.setblocking(False)
    loop.add_reader(control.fileno(), parent_gone)
    try:
        app = await load_app(parse(spec))
        runner = AppRunner(app, shutdown_timeout=SHUTDOWN_TIMEOUT)
        try:
            await runner.setup()
        except Exception as exc:  # a failing on_startup is the user's bug
            raise user_code_error(exc) from None
    except AppRefError as exc:
        _send(
            control, {"event": "failed", "kind": "usage", "message": exc.message, "hint": exc.hint}
        )
        return EXIT_FAILED
    except UserCodeError as exc:
        _send(
            control,
            {
                "event": "failed",
                "kind": "user",
                "message": exc.message,
                "traceback": exc.traceback_text,
            },
        )
        return EXIT_FAILED
    try:
        site = SockSite(runner, listener, shutdown_timeout=SHUTDOWN_TIMEOUT)
        await site.start()
        _send(control, {"event": "ready"})
        await stop.wait()
        await site.stop()  # stops accepting first, so no accepted connection is dropped
        await _settle(runner)
    finally:
        await runner.cleanup()
    return 0


async def _settle(runner: AppRunner) -> None:
    """Let connections accepted just before the stop read their request before shutting down.

    asyncio accepts greedily from the shared backlog; graceful shutdown closes connections that
    have not begun a request as idle, which resets a client whose request is already on its way.
    Those requests are answered by this child instead (connections still in the backlog wait for
    the next child).
    """
    server = runner.server
    if server is None:
        return
    deadline = asyncio.get_running_loop().time() + SETTLE_TIMEOUT
    while any(conn.head_started == 0.0 and not conn.closing for conn in server.connections):
        if asyncio.get_running_loop().time() >= deadline:
            return
        await asyncio.sleep(0.002)


def main(argv: list[str] | None = None) -> int:
    """Serve APP on the inherited socket until SIGTERM or the parent's death."""
    sock_fd, control_fd, spec = (argv if argv is not None else sys.argv[1:])[:3]
    # Ctrl-C reaches the whole process group; the parent decides when the child stops.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A .pyc is trusted when the source's mtime (in seconds) and size match, so a same-size edit
    # within a second would serve stale code; every child compiles the user's modules afresh.
    sys.dont_write_bytecode = True
    listener = socket.socket(fileno=int(sock_fd))
    control = socket.socket(fileno=int(control_fd))
    try:
        return asyncio.run(_serve(listener, control, spec))
    finally:
        control.close()


if __name__ == "__main__":
    sys.exit(main())
