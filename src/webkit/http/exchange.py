"""One request and its response on a connection: the door between the server and a framework."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, NamedTuple

from webkit.http.body import BodyStream

if TYPE_CHECKING:
    from webkit.http.protocol import HttpConnection

__all__ = ["Exchange", "HttpVersion", "HttpVersion10", "HttpVersion11", "RequestHandler"]


class HttpVersion(NamedTuple):
    """An HTTP version, comparable with plain tuples: ``HttpVersion(1, 1) == (1, 1)``."""

    major: int
    minor: int


HttpVersion10 = HttpVersion(1, 0)
HttpVersion11 = HttpVersion(1, 1)

_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


class Exchange:
    """A parsed request head, its body stream and the means to answer it.

    The framework above receives one per request. It reads ``body``, then answers either in one
    piece with `send` or as a stream with `write_head`, `write`, `drain` and `write_eof`. Writes
    after the peer has gone raise `ConnectionResetError`, so a handler learns of a disconnect at
    its next write (the seed's default "raise on read/write" mode).
    """

    __slots__ = (
        "_chunked",
        "_conn",
        "body",
        "content_length",
        "expect",
        "finished",
        "headers_sent",
        "keep_alive",
        "method",
        "raw_headers",
        "target",
        "upgrade",
        "version",
    )

    def __init__(
        self,
        conn: HttpConnection,
        method: str,
        target: str,
        version: HttpVersion,
        raw_headers: list[tuple[bytes, bytes]],
        body: BodyStream,
        keep_alive: bool,
        content_length: int | None,
        expect: bytes | None,
        upgrade: bool,
    ) -> None:
        self._conn = conn
        self.method = method
        self.target = target
        self.version = version
        self.raw_headers = raw_headers
        self.body = body
        self.keep_alive = keep_alive
        self.content_length = content_length
        self.expect = expect
        self.upgrade = upgrade
        self.headers_sent = False
        self.finished = False
        self._chunked = False

    def __repr__(self) -> str:
        return f"<Exchange {self.method} {self.target} HTTP/{self.version[0]}.{self.version[1]}>"

    # -- connection facts --------------------------------------------------------------------

    @property
    def transport(self) -> asyncio.Transport | None:
        """The connection's transport, or None once it is closed."""
        return self._conn.transport

    @property
    def task(self) -> asyncio.Task[None] | None:
        """The task handling this exchange (requests are handled one at a time per connection)."""
        return self._conn.task

    @property
    def peer_gone(self) -> bool:
        """True once the client has disconnected."""
        return self._conn.lost

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        transport = self._conn.transport
        return default if transport is None else transport.get_extra_info(name, default)

    @property
    def server_closing(self) -> bool:
        """True while the server shuts down: the response should carry ``Connection: close``."""
        return self._conn.closing

    # -- answering ------------------------------------------------------------------------------

    def send_continue(self) -> None:
        """Send ``100 Continue`` unless a final response has started (RFC 9110 §10.1.1)."""
        self.body.set_on_first_read(None)
        if not self.headers_sent and self.expect is not None and not self._conn.lost:
            self.expect = None
            self._conn.write(_CONTINUE)

    def send(self, head: bytes, body: bytes = b"") -> None:
        """Send a whole response, head and body, in one write.

        Raises:
            RuntimeError: a response was already started.
            ConnectionResetError: the peer has gone.
        """
        if self.headers_sent:
            raise RuntimeError("the response has already been started")
        self.headers_sent = True
        self.finished = True
        if body and self.method != "HEAD":
            self._conn.write(head + body)
        else:
            self._conn.write(head)

    def write_head(self, head: bytes, chunked: bool) -> None:
        """Send the response head; body bytes follow through `write`."""
        if self.headers_sent:
            raise RuntimeError("the response has already been started")
        self.headers_sent = True
        self._chunked = chunked and self.method != "HEAD"
        self._conn.write(head)

    def write(self, data: bytes) -> None:
        """Send body bytes, framed as a chunk when the response is chunked.

        Raises:
            ConnectionResetError: the peer has gone.
        """
        if not self.headers_sent:
            raise RuntimeError("write_head() must come before write()")
        if self.finished:
            raise RuntimeError("the response has already ended")
        if not data or self.method == "HEAD":
            if self._conn.lost:
                raise ConnectionResetError("the client has disconnected")
            return
        if self._chunked:
            self._conn.write(b"%x\r\n%b\r\n" % (len(data), data))
        else:
            self._conn.write(data)

    async def drain(self) -> None:
        """Wait until the transport's write buffer is below its high-water mark.

        Raises:
            ConnectionResetError: the peer has gone.
        """
        await self._conn.drain()

    async def sendfile(self, file: Any, offset: int, count: int) -> None:
        """Send ``count`` bytes of an open file from ``offset`` as (part of) the body.

        Uses the kernel's zero-copy sendfile where the transport allows it, and reads the
        file in pieces otherwise (TLS, event loops without sendfile).

        Raises:
            ConnectionResetError: the peer has gone.
        """
        if not self.headers_sent or self._chunked:
            raise RuntimeError("sendfile() needs a started response without chunked coding")
        if self.method == "HEAD" or count <= 0:
            return
        conn = self._conn
        transport = conn.transport
        if transport is None or conn.lost:
            raise ConnectionResetError("the client has disconnected")
        loop = asyncio.get_running_loop()
        await conn.drain()
        try:
            await loop.sendfile(transport, file, offset, count)
            return
        except (NotImplementedError, AttributeError, asyncio.SendfileNotAvailableError):
            pass
        file.seek(offset)
        remaining = count
        while remaining > 0:
            chunk = await loop.run_in_executor(None, file.read, min(remaining, 256 * 1024))
            if not chunk:
                raise ConnectionResetError("the file ended before the announced length")
            conn.write(chunk)
            remaining -= len(chunk)
            await conn.drain()

    def write_eof(self, data: bytes = b"") -> None:
        """Send the last body bytes and end the response."""
        if self.finished:
            return
        if data:
            self.write(data)
        self.finished = True
        if self._chunked and not self._conn.lost:
            self._conn.write(b"0\r\n\r\n")

    def detach(self) -> tuple[asyncio.Transport, bytes]:
        """Hand the connection over to another protocol (after ``101 Switching Protocols``).

        Returns the transport and the bytes that arrived after the request head.
        """
        return self._conn.detach(self)


RequestHandler = Callable[[Exchange], Awaitable[None]]
