"""Helpers for real-process tests of ``webkit runserver``: a project app, HTTP, process trees.

Shared by the runserver tests here and by tests/browser/test_livereload.py (whose conftest
puts this directory on ``sys.path``): import them as ``from devserver import ...``.
"""

from __future__ import annotations

import http.client
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from websockets.sync.client import ClientConnection, connect
from websockets.typing import Origin

__all__ = [
    "APP",
    "DevServer",
    "Reply",
    "app_source",
    "descendants",
    "free_port",
    "get",
    "pid_gone",
    "raw_request",
    "wait_until",
]

# One app with every route the tests need; {text} is the value that changes with each edit,
# {prelude} runs at import and {factory_body} at the start of create_app().
APP = """
import asyncio
import gzip
import os
import sys

from webkit import web

{prelude}

TEXT = {text!r}


async def index(request):
    return web.Response(text=TEXT)


async def pid(request):
    return web.Response(text=str(os.getpid()))


async def page(request):
    html = "<!doctype html><html><head><title>t</title></head>"
    html += "<body><h1>" + TEXT + "</h1></body></html>"
    return web.Response(text=html, content_type="text/html")


async def zipped(request):
    body = gzip.compress(b"<html><body><p>zipped</p></body></html>")
    headers = {{"Content-Encoding": "gzip"}}
    return web.Response(body=body, content_type="text/html", headers=headers)


async def env(request):
    return web.Response(text=os.environ.get("GREETING", "<unset>"))


async def die(request):
    os._exit(3)


async def stream(request):
    response = web.StreamResponse()
    response.content_type = "text/event-stream"
    await response.prepare(request)
    while True:
        await response.write(b"data: tick\\n\\n")
        await asyncio.sleep(0.1)


async def slow(request):
    open("slow_started.txt", "w").close()
    await asyncio.sleep(0.5)
    return web.Response(text="slow done")


async def other(request):
    return web.Response(text=str(OTHER))


async def goodbye(app):
    with open("cleaned_up.txt", "a") as f:
        f.write(TEXT + "\\n")


def create_app():
    {factory_body}
    app = web.Application()
    app.router.add_get("/", index)
    app.router.add_get("/pid", pid)
    app.router.add_get("/page", page)
    app.router.add_get("/zipped", zipped)
    app.router.add_get("/env", env)
    app.router.add_get("/die", die)
    app.router.add_get("/stream", stream)
    app.router.add_get("/slow", slow)
    app.router.add_get("/other", other)
    app.on_cleanup.append(goodbye)
    return app
"""


def app_source(text: str, prelude: str = "OTHER = None", factory_body: str = "pass") -> str:
    """The app answering ``text`` on ``/``; ``prelude`` runs at import (must define OTHER),
    ``factory_body`` (one line) when ``create_app()`` is called.

    Its graceful shutdown appends ``text`` to ``cleaned_up.txt`` in the current directory.
    """
    return APP.format(text=text, prelude=prelude, factory_body=factory_body)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode()


def get(
    port: int, path: str = "/", headers: Mapping[str, str] | None = None, timeout: float = 10.0
) -> Reply:
    """One request on its own connection (a restarting child may close a kept-alive one)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Connection": "close", **(headers or {})})
        response = conn.getresponse()
        return Reply(response.status, response.headers, response.read())
    finally:
        conn.close()


def raw_request(port: int, target: str, timeout: float = 5.0) -> bytes:
    """Send a GET for ``target`` byte for byte (no client normalises it); the whole answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(
            f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode()
        )
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def wait_until(predicate: Callable[[], bool], timeout: float = 15.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what or predicate}")


def pid_gone(pid: int) -> bool:
    """No such process, or a zombie (exited; only its parent's wait is missing)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (FileNotFoundError, ProcessLookupError):
        return True


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid``, from /proc/<pid>/task/*/children, recursively."""
    found: set[int] = set()
    todo = [pid]
    while todo:
        parent = todo.pop()
        try:
            tasks = os.listdir(f"/proc/{parent}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                with open(f"/proc/{parent}/task/{task}/children") as f:
                    children = {int(p) for p in f.read().split()}
            except OSError:
                continue
            for child in children - found:
                found.add(child)
                todo.append(child)
    return found


class DevServer:
    """``python -m webkit runserver ARGS`` in ``cwd``, its output (stdout and stderr) read by a
    thread. ``port``: pass ``--port`` (a free one unless given); ``env``: extra variables."""

    def __init__(
        self,
        cwd: Path,
        *args: str,
        port: int | None = None,
        pass_port: bool = True,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.port = port if port is not None else free_port()
        environ = {**os.environ, "PYTHONUNBUFFERED": "1"}
        for key in list(environ):
            if key.startswith("WEBKIT_"):
                del environ[key]
        environ.update(env or {})
        argv = [sys.executable, "-m", "webkit", "runserver", *args]
        if pass_port:
            argv += ["--port", str(self.port)]
        self.proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=environ,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.output: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.child_pids: set[int] = set()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT/``, the address the banner shows."""
        return f"http://127.0.0.1:{self.port}/"

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def wait_for_line(self, needle: str, timeout: float = 15.0) -> str:
        """The next line containing ``needle``; lines before it are kept in ``output``."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no line with {needle!r} in {self.output}") from None
            self.output.append(line)
            if needle in line:
                return line

    def drain(self) -> str:
        while not self.lines.empty():
            self.output.append(self.lines.get())
        return "\n".join(self.output)

    def get(self, path: str = "/", headers: Mapping[str, str] | None = None) -> Reply:
        return get(self.port, path, headers)

    def text(self, path: str = "/") -> str:
        """The body of a 200 answer, "" for anything else (refused, error page)."""
        try:
            reply = get(self.port, path, timeout=2.0)
        except OSError:
            return ""
        return reply.text if reply.status == 200 else ""

    def wait_for_text(self, expected: str, path: str = "/", timeout: float = 15.0) -> None:
        wait_until(lambda: self.text(path) == expected, timeout, f"{path} to answer {expected!r}")

    def child_pid(self) -> int:
        pid = int(get(self.port, "/pid").text)
        self.child_pids.add(pid)
        return pid

    def tree(self, at_least: int = 2, timeout: float = 10.0) -> set[int]:
        """The runserver's descendants once there are ``at_least`` (serving child + standby)."""
        found: set[int] = set()

        def enough() -> bool:
            nonlocal found
            found = descendants(self.proc.pid)
            return len(found) >= at_least

        wait_until(enough, timeout, f"{at_least} processes under the dev server")
        self.child_pids |= found
        return found

    def finish(self, timeout: float = 10.0) -> tuple[int, str]:
        """Wait for the exit; the exit code and all the output."""
        code = self.proc.wait(timeout=timeout)
        self.reader.join(timeout)
        return code, self.drain()

    def close(self) -> None:
        self.child_pids |= descendants(self.proc.pid)
        if self.proc.poll() is None:
            self.proc.kill()
        self.finish()
        assert self.proc.stdout is not None
        self.proc.stdout.close()
        for pid in self.child_pids:
            if not pid_gone(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass


PROTOCOL_7 = "http://livereload.com/protocols/official-7"


def livereload(port: int, origin: str | None = None) -> ClientConnection:
    """A live-reload client as a page of the dev server opens it (or a page of ``origin``)."""
    return connect(
        f"ws://127.0.0.1:{port}/_webkit/livereload",
        origin=Origin(origin or f"http://127.0.0.1:{port}"),
        proxy=None,
        open_timeout=5,
        close_timeout=1,
    )


def hello(ws: ClientConnection) -> dict[str, Any]:
    ws.send(json.dumps({"command": "hello", "protocols": [PROTOCOL_7]}))
    return receive(ws, 5.0)


def receive(ws: ClientConnection, timeout: float = 15.0) -> dict[str, Any]:
    try:
        data = ws.recv(timeout=timeout)
    except TimeoutError:
        raise AssertionError(f"no live-reload message within {timeout} s") from None
    message: dict[str, Any] = json.loads(data)
    return message
