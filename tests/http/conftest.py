"""Fixtures for the HTTP/1.1 layer: a real `HttpServer` and raw blocking-socket clients.

The server runs in its own event loop (debug mode) in a background thread and listens on
127.0.0.1 port 0. Tests talk to it over real TCP with plain ``socket`` objects, so every byte
on the wire is the test's choice. Handler helpers are reached through the ``handlers`` fixture
(conftest modules are not importable reliably from test modules).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pytest

from webkit.http import (
    Exchange,
    HttpServer,
    HttpVersion10,
    HttpVersion11,
    Limits,
    encode_head,
    http_date,
    status_line,
)

Handler = Callable[[Exchange], Awaitable[None]]
T = TypeVar("T")

# The target `ServerThread.assert_serves` asks for; answered whatever the test's handler.
ALIVE = "/__alive__"

# Generous for a loaded CI machine, yet a hung read fails well inside the per-test timeout.
CLIENT_TIMEOUT = 5.0


# -- responses ---------------------------------------------------------------------------------


def respond(
    exchange: Exchange,
    status: int = 200,
    body: bytes = b"",
    headers: Iterable[tuple[str, str]] = (),
    *,
    close: bool = False,
) -> None:
    """Answer ``exchange`` in one piece with Content-Length and Date.

    The status line carries HTTP/1.1, the server's version (RFC 9110 §6.2), also to 1.0 clients.
    """
    fields = [
        ("Content-Type", "text/plain"),
        ("Content-Length", str(len(body))),
        ("Date", http_date()),
        *headers,
        *connection_field(exchange, close),
    ]
    exchange.send(encode_head(status_line(HttpVersion11, status, None), fields), body)


def connection_field(exchange: Exchange, close: bool = False) -> list[tuple[str, str]]:
    """The Connection field a response to ``exchange`` needs, if any."""
    if close or not exchange.keep_alive:
        return [("Connection", "close")]
    if exchange.version == HttpVersion10:
        return [("Connection", "keep-alive")]
    return []


class Handlers:
    """Small request handlers; the factories return a handler configured by their arguments."""

    respond = staticmethod(respond)

    @staticmethod
    async def ok(exchange: Exchange) -> None:
        """Answer ``ok`` without looking at the body."""
        respond(exchange, body=b"ok")

    @staticmethod
    async def echo(exchange: Exchange) -> None:
        """Read the whole body and send it back."""
        body = await exchange.body.read()
        respond(exchange, body=body)

    @staticmethod
    async def info(exchange: Exchange) -> None:
        """Report what the server parsed, as JSON (after reading the body)."""
        body = await exchange.body.read()
        report = {
            "method": exchange.method,
            "target": exchange.target,
            "version": list(exchange.version),
            "headers": [
                [n.decode("latin-1"), v.decode("latin-1")] for n, v in exchange.raw_headers
            ],
            "content_length": exchange.content_length,
            "keep_alive": exchange.keep_alive,
            "body": body.decode("latin-1"),
        }
        respond(exchange, body=json.dumps(report).encode(), headers=[("X-Kind", "info")])

    @staticmethod
    def streaming(parts: Iterable[bytes], *, chunked: bool = True) -> Handler:
        """Stream ``parts`` (chunked, or with a Content-Length of their total)."""
        chunks = list(parts)

        async def handler(exchange: Exchange) -> None:
            await exchange.body.read()
            fields = [("Content-Type", "text/plain"), ("Date", http_date())]
            fields += connection_field(exchange)
            if chunked:
                fields.append(("Transfer-Encoding", "chunked"))
            else:
                fields.append(("Content-Length", str(sum(map(len, chunks)))))
            head = encode_head(status_line(HttpVersion11, 200, None), fields)
            exchange.write_head(head, chunked=chunked)
            for chunk in chunks:
                exchange.write(chunk)
                await exchange.drain()
            exchange.write_eof()

        return handler

    @staticmethod
    def sleeping(seconds: float, body: bytes = b"slept") -> Handler:
        """Sleep, then answer."""

        async def handler(exchange: Exchange) -> None:
            await asyncio.sleep(seconds)
            respond(exchange, body=body)

        return handler

    @staticmethod
    async def boom(exchange: Exchange) -> None:
        """Fail with an exception whose text must never reach the client."""
        raise RuntimeError("secret-internal-detail")

    @staticmethod
    async def silent(exchange: Exchange) -> None:
        """Return without answering."""


# -- the server --------------------------------------------------------------------------------


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


class ServerThread:
    """An `HttpServer` listening on 127.0.0.1:0, served by an event loop in a thread."""

    def __init__(self, handler: Handler, limits: Limits | None, handler_cancellation: bool) -> None:
        self.handler = handler
        self.limits = limits
        self.handler_cancellation = handler_cancellation
        self.loop = asyncio.new_event_loop()
        self.loop.set_debug(True)
        # Debug mode logs callbacks slower than this; a loaded test machine is not a bug.
        self.loop.slow_callback_duration = 1.0
        self.loop_errors: list[dict[str, Any]] = []
        self.loop.set_exception_handler(lambda _loop, ctx: self.loop_errors.append(ctx))
        self.log = _Records()
        self.clients: list[Client] = []
        self._startup_error: BaseException | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="http-test-server", daemon=True)
        self.http: HttpServer
        self.port: int
        self._server: asyncio.base_events.Server

    def start(self) -> ServerThread:
        logging.getLogger("webkit").addHandler(self.log)
        self._thread.start()
        self._ready.wait(CLIENT_TIMEOUT)
        if self._startup_error is not None:
            raise self._startup_error
        return self

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._listen())
        except BaseException as exc:
            self._startup_error = exc
            self._ready.set()
            return
        self._ready.set()
        self.loop.run_forever()
        self.loop.run_until_complete(self._drop_leftovers())
        self.loop.close()

    async def _handle(self, exchange: Exchange) -> None:
        if exchange.target == ALIVE:
            respond(exchange, body=b"alive", close=True)
        else:
            await self.handler(exchange)

    async def _listen(self) -> None:
        self.http = HttpServer(
            self._handle, limits=self.limits, handler_cancellation=self.handler_cancellation
        )
        self._server = await self.loop.create_server(self.http, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _drop_leftovers(self) -> None:
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.loop.shutdown_asyncgens()

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = CLIENT_TIMEOUT) -> T:
        """Run ``coro`` in the server's loop and return its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def submit(self, coro: Coroutine[Any, Any, T]) -> Any:
        """Start ``coro`` in the server's loop; returns a concurrent future."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def set_event(self, event: asyncio.Event) -> None:
        """Set an `asyncio.Event` that handlers in the server's loop wait on."""
        self.loop.call_soon_threadsafe(event.set)

    def client(self, timeout: float = CLIENT_TIMEOUT) -> Client:
        """A new raw connection to the server, closed at teardown."""
        c = Client(self.port, timeout)
        self.clients.append(c)
        return c

    def request(self, data: bytes, *, head: bool = False) -> Response:
        """Send ``data`` on a fresh connection and read one response."""
        c = self.client()
        c.send(data)
        return c.read_response(head=head)

    def assert_serves(self) -> None:
        """The server still answers a fresh, well-formed request (whatever the test's handler)."""
        c = self.client()
        c.send(b"GET " + ALIVE.encode() + b" HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        resp = c.read_response()
        assert (resp.status, resp.body) == (200, b"alive"), resp
        c.assert_closed()

    def errors(self, level: int = logging.WARNING) -> list[logging.LogRecord]:
        return [r for r in self.log.records if r.levelno >= level]

    def stop(self) -> None:
        for c in self.clients:
            c.close()
        if self._thread.is_alive():
            with contextlib.suppress(Exception):
                self.call(self._close(), timeout=10)
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)
        logging.getLogger("webkit").removeHandler(self.log)

    async def _close(self) -> None:
        self._server.close()
        await self.http.shutdown(1.0)
        await self._server.wait_closed()


@pytest.fixture
def handlers() -> type[Handlers]:
    return Handlers


@pytest.fixture
def serve() -> Iterator[Callable[..., ServerThread]]:
    """Start servers: ``serve(handler, limits=Limits(...), handler_cancellation=False)``.

    At teardown every server is stopped, and the test fails if the event loop reported an
    error (an exception nobody retrieved, an unclosed transport...) or the layer logged an
    error the test did not claim with ``server.log.records.clear()``.
    """
    started: list[ServerThread] = []

    def start(
        handler: Handler = Handlers.echo,
        *,
        limits: Limits | None = None,
        handler_cancellation: bool = False,
    ) -> ServerThread:
        server = ServerThread(handler, limits, handler_cancellation)
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.stop()
    for server in started:
        assert not server._thread.is_alive(), "the server thread did not stop"
        assert server.loop_errors == [], server.loop_errors
        assert server.errors() == [], [r.getMessage() for r in server.errors()]


# -- the client --------------------------------------------------------------------------------


@dataclass
class Response:
    version: str
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes = b""
    head: bytes = b""
    chunks: list[bytes] = field(default_factory=list)

    def header(self, name: str) -> str | None:
        values = self.all(name)
        assert len(values) <= 1, f"{name} appears {len(values)} times in {self.headers}"
        return values[0] if values else None

    def all(self, name: str) -> list[str]:
        return [v for n, v in self.headers if n.lower() == name.lower()]

    def json(self) -> Any:
        return json.loads(self.body)


class Client:
    """A blocking socket with a receive buffer, reading HTTP/1.1 responses off it."""

    def __init__(self, port: int, timeout: float = CLIENT_TIMEOUT) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def close(self) -> None:
        self.sock.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def dribble(self, data: bytes, size: int = 1, pause: float = 0.0) -> bool:
        """Send ``data`` in pieces of ``size`` bytes, one write each.

        Stops, like a real client, when the server has closed the connection (a refused
        request can be answered before it is all sent); returns False then.
        """
        for i in range(0, len(data), size):
            try:
                self.sock.sendall(data[i : i + size])
            except (BrokenPipeError, ConnectionResetError):
                return False
            if pause:
                time.sleep(pause)
        return True

    def shutdown_write(self) -> None:
        self.sock.shutdown(socket.SHUT_WR)

    def _fill(self) -> bool:
        data = self.sock.recv(65536)
        if not data:
            return False
        self.buf += data
        return True

    def _take(self, n: int) -> bytes:
        while len(self.buf) < n:
            if not self._fill():
                raise EOFError(f"connection closed after {self.buf!r}, {n} bytes expected")
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def read_until(self, sep: bytes) -> bytes:
        while (i := self.buf.find(sep)) < 0:
            if not self._fill():
                raise EOFError(f"connection closed before {sep!r}; got {self.buf!r}")
        return self._take(i + len(sep))

    def read_response(self, *, head: bool = False) -> Response:
        """Read one response; ``head=True`` for the answer to a HEAD (no body follows)."""
        raw = self.read_until(b"\r\n\r\n")
        lines = raw[:-4].decode("latin-1").split("\r\n")
        version, status, reason = [*lines[0].split(" ", 2), ""][:3]
        headers = []
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers.append((name, value.strip()))
        resp = Response(version, int(status), reason, headers, head=raw)
        if head or resp.status < 200 or resp.status in (204, 304):
            return resp
        te = resp.all("Transfer-Encoding")
        if te:
            assert te == ["chunked"], te
            while True:
                size_line = self.read_until(b"\r\n")
                size = int(size_line[:-2].split(b";")[0], 16)
                data = self._take(size + 2)
                assert data.endswith(b"\r\n"), data
                if size == 0:
                    assert data == b"\r\n", "trailers are not expected"
                    break
                resp.chunks.append(data[:-2])
            resp.body = b"".join(resp.chunks)
        elif (cl := resp.header("Content-Length")) is not None:
            resp.body = self._take(int(cl))
        else:
            resp.body = self.read_until_close()
        return resp

    def read_until_close(self) -> bytes:
        """Everything until the server closes (a reset after the data counts as a close)."""
        try:
            while self._fill():
                pass
        except ConnectionResetError:
            pass
        data, self.buf = self.buf, b""
        return data

    def expect_error(self, status: int) -> Response:
        """Read the connection's own error answer: ``status``, plain text, then the close."""
        resp = self.read_response()
        assert resp.status == status, resp
        assert resp.header("Connection") == "close", resp
        assert resp.header("Content-Type") == "text/plain; charset=utf-8", resp
        assert resp.body.startswith(f"{status} ".encode()), resp
        self.assert_closed()
        return resp

    def assert_closed(self) -> None:
        """The server closed the connection and sent nothing more."""
        assert self.read_until_close() == b""

    def is_open(self, wait: float = 0.05) -> bool:
        """True if the server has not closed the connection (nothing arrives within ``wait``)."""
        self.sock.settimeout(wait)
        try:
            data = self.sock.recv(65536)
        except TimeoutError:
            return True
        except ConnectionResetError:
            return False
        finally:
            self.sock.settimeout(CLIENT_TIMEOUT)
        self.buf += data
        return bool(data)
