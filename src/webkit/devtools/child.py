"""The parent's handle on one runserver child process and its control socket.

A child is spawned as a standby (interpreter started, webkit imported, the app's libraries
preloaded) and told to ``go`` when its turn comes; see ``webkit.devtools.child_main``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import sys
from collections.abc import Callable
from typing import Any

from webkit.devtools.inject import encode

__all__ = ["KILL_TIMEOUT", "Child"]

KILL_TIMEOUT = 3.0  # seconds after SIGTERM before SIGKILL; the child's own limit is shorter

# (message, file descriptors passed with it)
Listener = Callable[["Child", dict[str, Any], list[int]], None]


class Child:
    """One child process: its reports arrive as futures, everything else through ``on_message``."""

    def __init__(
        self, proc: asyncio.subprocess.Process, control: socket.socket, on_message: Listener
    ) -> None:
        self.proc = proc
        self.pid = proc.pid
        self._control = control
        self._on_message = on_message
        loop = asyncio.get_running_loop()
        self.standby: asyncio.Future[None] = loop.create_future()
        self.report: asyncio.Future[dict[str, Any]] = loop.create_future()
        self.gone: asyncio.Future[None] = loop.create_future()
        self.stopped: asyncio.Future[None] = loop.create_future()
        self.stopping = False
        self.ready = False
        self._terminated = False
        control.setblocking(False)
        loop.add_reader(control.fileno(), self._readable)

    @classmethod
    async def spawn(
        cls, listener: socket.socket, preload: list[str], on_message: Listener
    ) -> Child:
        """Start a standby child that inherits ``listener`` and preloads ``preload``."""
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "webkit.devtools.child_main",
                str(listener.fileno()),
                str(theirs.fileno()),
                str(os.getpid()),
                pass_fds=(listener.fileno(), theirs.fileno()),
            )
        except BaseException:
            mine.close()
            raise
        finally:
            theirs.close()
        child = cls(proc, mine, on_message)
        child.send({"command": "preload", "modules": preload})
        return child

    def send(self, message: dict[str, Any]) -> None:
        with contextlib.suppress(OSError):
            self._control.send(encode(message))

    def go(self, spec: str, *, serve: bool = True, **options: Any) -> None:
        """Load the app ``spec`` with the dev-server ``options``; serve it now or on `serve`."""
        self.send({"command": "go", "spec": spec, "serve": serve, **options})

    def serve(self) -> None:
        """Start serving the app loaded by ``go(serve=False)``."""
        self.send({"command": "serve"})

    async def retire(self) -> None:
        """Stop serving: returns once the child has closed its app (its exit is awaited later).

        The interpreter's own teardown takes tens of milliseconds that a restart need not wait
        for; `stop` reaps the process afterwards.
        """
        self.stopping = True
        if self.proc.returncode is None:
            self._terminate()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self.stopped), KILL_TIMEOUT)

    def _readable(self) -> None:
        try:
            data, fds, _, _ = socket.recv_fds(self._control, 1 << 20, 8)
        except BlockingIOError:
            return
        except OSError:
            data, fds = b"", []
        if not data:
            asyncio.get_running_loop().remove_reader(self._control.fileno())
            if not self.report.done():
                self.report.set_result({"event": "gone"})
            for future in (self.gone, self.stopped):
                if not future.done():
                    future.set_result(None)
            self._on_message(self, {"event": "gone"}, [])
            return
        try:
            message = json.loads(data)
        except ValueError:
            message = {}
        event = message.get("event")
        if event == "standby" and not self.standby.done():
            self.standby.set_result(None)
        elif event == "stopped" and not self.stopped.done():
            self.stopped.set_result(None)
        elif event in ("ready", "failed") and not self.report.done():
            self.ready = event == "ready"
            self.report.set_result(message)
        else:
            self._on_message(self, message, fds)

    async def stop(self, *, exiting: bool = False) -> int:
        """SIGTERM (graceful shutdown in the child), SIGKILL after `KILL_TIMEOUT`; the exit code.

        ``exiting``: the child said it is exiting (a failed start); it gets a moment to do so,
        since a signal landing while its event loop closes makes Python print a stray error.
        """
        self.stopping = True
        proc = self.proc
        if exiting and proc.returncode is None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(proc.wait()), 1.0)
        if proc.returncode is None:
            self._terminate()
            try:
                await asyncio.wait_for(proc.wait(), KILL_TIMEOUT)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
        code = await proc.wait()
        self.close()
        return code

    def _terminate(self) -> None:
        # Once only: a second SIGTERM could land while the child's event loop is closing, after
        # its wakeup pipe is gone, and Python would print a stray error.
        if not self._terminated:
            self._terminated = True
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGTERM)

    def close(self) -> None:
        with contextlib.suppress(ValueError, OSError):
            asyncio.get_running_loop().remove_reader(self._control.fileno())
        self._control.close()
