"""The request body as an async stream, with flow control back to the socket."""

from __future__ import annotations

import asyncio
import collections
from collections.abc import AsyncIterator, Callable
from typing import Protocol

__all__ = ["EMPTY_BODY", "BodyStream", "EofStream", "FlowControl"]


class EofStream(Exception):
    """Raised by `BodyStream.readchunk`-style helpers when the body ended."""


class FlowControl(Protocol):
    """What a body stream needs from its connection: pause and resume socket reads."""

    def pause_reading(self) -> None: ...

    def resume_reading(self) -> None: ...


class BodyStream:
    """Request body bytes as they arrive (aiohttp's ``StreamReader`` API).

    The connection feeds it; the handler reads it. When more than ``high_water`` bytes wait
    unread, the connection stops reading the socket, so a handler that does not read never makes
    the server buffer an unbounded body. ``on_first_read`` lets the connection send
    ``100 Continue`` only once the handler actually asks for the body (RFC 9110 §10.1.1).
    """

    __slots__ = (
        "_buffer",
        "_eof",
        "_exception",
        "_flow",
        "_high_water",
        "_low_water",
        "_on_first_read",
        "_paused",
        "_size",
        "_waiter",
        "total_bytes",
    )

    def __init__(
        self,
        flow: FlowControl | None = None,
        high_water: int = 256 * 1024,
        low_water: int = 64 * 1024,
    ) -> None:
        self._buffer: collections.deque[bytes] = collections.deque()
        self._size = 0
        self._eof = False
        self._exception: BaseException | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._flow = flow
        self._high_water = high_water
        self._low_water = low_water
        self._paused = False
        self._on_first_read: Callable[[], None] | None = None
        self.total_bytes = 0

    def __repr__(self) -> str:
        state = "eof" if self._eof else "open"
        return f"<BodyStream {state} buffered={self._size} total={self.total_bytes}>"

    # -- feeding side (the connection) ---------------------------------------------------

    def feed_data(self, data: bytes) -> None:
        """Append received bytes; pause the socket if too much waits unread."""
        if not data:
            return
        self._buffer.append(data)
        self._size += len(data)
        self.total_bytes += len(data)
        self._wake()
        if self._size > self._high_water and not self._paused and self._flow is not None:
            self._paused = True
            self._flow.pause_reading()

    def feed_eof(self) -> None:
        """Mark the end of the body."""
        self._eof = True
        self._wake()

    def set_exception(self, exc: BaseException) -> None:
        """Fail pending and future reads with ``exc`` (e.g. the peer went away)."""
        self._exception = exc
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_exception(exc)

    def set_on_first_read(self, callback: Callable[[], None] | None) -> None:
        """Call ``callback`` once, before the first read waits for data."""
        self._on_first_read = callback

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    # -- reading side (the handler) --------------------------------------------------------

    def exception(self) -> BaseException | None:
        return self._exception

    def is_eof(self) -> bool:
        """True once the whole body has arrived (it may still be buffered)."""
        return self._eof

    def at_eof(self) -> bool:
        """True once the whole body has arrived and been read."""
        return self._eof and not self._buffer

    @property
    def paused(self) -> bool:
        """True while this stream holds the socket paused."""
        return self._paused

    @property
    def buffered(self) -> int:
        """Bytes received and not yet read."""
        return self._size

    async def _wait(self) -> None:
        if self._on_first_read is not None:
            callback, self._on_first_read = self._on_first_read, None
            callback()
        if self._exception is not None:
            raise self._exception
        if self._waiter is not None:
            raise RuntimeError("BodyStream is already being read by another coroutine")
        self._waiter = asyncio.get_running_loop().create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None

    def _take(self, n: int) -> bytes:
        """Remove and return up to ``n`` buffered bytes (all when ``n`` < 0)."""
        if n < 0 or n >= self._size:
            if len(self._buffer) == 1:
                data = self._buffer.popleft()
            else:
                data = b"".join(self._buffer)
                self._buffer.clear()
        else:
            parts = []
            need = n
            while need:
                chunk = self._buffer[0]
                if len(chunk) <= need:
                    parts.append(self._buffer.popleft())
                    need -= len(chunk)
                else:
                    parts.append(chunk[:need])
                    self._buffer[0] = chunk[need:]
                    need = 0
            data = b"".join(parts)
        self._size -= len(data)
        if self._paused and self._size <= self._low_water and self._flow is not None:
            self._paused = False
            self._flow.resume_reading()
        return data

    async def read(self, n: int = -1) -> bytes:
        """Read up to ``n`` bytes, or the whole rest of the body when ``n`` < 0.

        Raises:
            OSError: the peer disconnected before the body was complete.
        """
        if n == 0:
            return b""
        if n < 0:
            # Take the bytes as they come rather than waiting for the end with them buffered:
            # a body over the high-water mark pauses the socket until some are taken, so
            # waiting for the end first would wait forever.
            parts: list[bytes] = []
            while True:
                if self._buffer:
                    parts.append(self._take(-1))
                if self._eof:
                    break
                await self._wait()
            if self._exception is not None and not parts:
                raise self._exception
            return b"".join(parts)
        while not self._buffer and not self._eof:
            await self._wait()
        return self._take(n) if self._buffer else b""

    async def readany(self) -> bytes:
        """Read whatever is buffered, waiting for at least one byte unless at EOF."""
        while not self._buffer and not self._eof:
            await self._wait()
        return self._take(-1) if self._buffer else b""

    async def readchunk(self) -> tuple[bytes, bool]:
        """Read a buffered chunk; returns ``(b"", True)`` at the end (aiohttp's contract)."""
        while not self._buffer and not self._eof:
            await self._wait()
        if not self._buffer:
            return b"", True
        chunk = self._buffer.popleft()
        self._buffer.appendleft(chunk)
        return self._take(len(chunk)), False

    async def readexactly(self, n: int) -> bytes:
        """Read exactly ``n`` bytes.

        Raises:
            asyncio.IncompleteReadError: the body ended first.
            OSError: the peer disconnected before the body was complete.
        """
        # Piece by piece, so that ``n`` beyond the high-water mark cannot stall the socket.
        parts: list[bytes] = []
        need = n
        while need > 0:
            data = await self.read(need)
            if not data:
                raise asyncio.IncompleteReadError(b"".join(parts), n)
            parts.append(data)
            need -= len(data)
        return b"".join(parts)

    async def readuntil(self, separator: bytes = b"\n") -> bytes:
        """Read up to and including ``separator``, or the rest of the body if it never comes.

        Raises:
            ValueError: more than the high-water mark arrived without ``separator`` (as
                aiohttp's "Chunk too big"): the socket would stay paused waiting for it.
        """
        if not separator:
            raise ValueError("separator must not be empty")
        while True:
            if self._buffer:
                joined = b"".join(self._buffer) if len(self._buffer) > 1 else self._buffer[0]
                if len(self._buffer) > 1:
                    self._buffer.clear()
                    self._buffer.append(joined)
                idx = joined.find(separator)
                if idx >= 0:
                    return self._take(idx + len(separator))
                if self._paused or len(joined) > self._high_water:
                    raise ValueError(
                        f"Chunk too big: no {separator!r} in the next {len(joined)} bytes "
                        f"(read_high_water is {self._high_water}); read in pieces instead"
                    )
            if self._eof:
                return self._take(-1) if self._buffer else b""
            await self._wait()

    async def readline(self) -> bytes:
        """Read one line, including its ``\\n``."""
        return await self.readuntil(b"\n")

    def read_nowait(self, n: int = -1) -> bytes:
        """Return buffered bytes without waiting."""
        if self._exception is not None:
            raise self._exception
        return self._take(n) if self._buffer else b""

    async def wait_eof(self) -> None:
        """Wait until the whole body has arrived, keeping it buffered for later reads.

        Raises:
            ValueError: the body does not fit in the read buffer (``high_water``); waiting
                would stall with the socket paused, so read it instead.
        """
        while not self._eof:
            if self._paused:
                raise ValueError(
                    f"wait_eof(): the body is larger than the {self._high_water}-byte buffer; "
                    "read it with read()/readany() instead"
                )
            await self._wait()

    async def iter_chunked(self, n: int) -> AsyncIterator[bytes]:
        """Yield the body in pieces of at most ``n`` bytes."""
        while True:
            data = await self.read(n)
            if not data:
                return
            yield data

    async def iter_any(self) -> AsyncIterator[bytes]:
        """Yield the body as it arrives."""
        while True:
            data = await self.readany()
            if not data:
                return
            yield data

    async def iter_chunks(self) -> AsyncIterator[tuple[bytes, bool]]:
        """Yield ``(data, end_of_http_chunk)`` pairs, as aiohttp does."""
        while True:
            data, eof = await self.readchunk()
            if eof:
                return
            yield data, False

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._iter_lines()

    async def _iter_lines(self) -> AsyncIterator[bytes]:
        while True:
            line = await self.readline()
            if not line:
                return
            yield line


class _EmptyBody(BodyStream):
    """The body of a request that has none: always at EOF, shared by all such requests."""

    __slots__ = ()

    def feed_data(self, data: bytes) -> None:
        raise RuntimeError("the empty body cannot be fed")

    def set_exception(self, exc: BaseException) -> None:
        pass

    def set_on_first_read(self, callback: Callable[[], None] | None) -> None:
        pass


EMPTY_BODY: BodyStream = _EmptyBody()
EMPTY_BODY.feed_eof()
