"""One HTTP/1.1 connection: parsing with httptools, limits, pipelining, flow control."""

from __future__ import annotations

import asyncio
import collections
import math
import logging
from typing import TYPE_CHECKING

import httptools

from webkit.http.body import EMPTY_BODY, BodyStream
from webkit.http.errors import ProtocolError
from webkit.http.exchange import Exchange, HttpVersion10, HttpVersion11
from webkit.http.writer import error_response

if TYPE_CHECKING:
    from webkit.http.server import HttpServer

__all__ = ["HttpConnection"]

log = logging.getLogger("webkit.server")

_VERSIONS = {"1.1": HttpVersion11, "1.0": HttpVersion10}
_METHODS: dict[bytes, str] = {
    m.encode(): m
    for m in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT")
}
# Header names the connection itself must look at; all others pass through untouched.
_HOST, _CL, _TE, _EXPECT = b"host", b"content-length", b"transfer-encoding", b"expect"
_WATCHED = frozenset((_HOST, _CL, _TE, _EXPECT))
_TOKEN = frozenset(b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")

# States of the head being received, for the slow-head (slowloris) watchdog.
_IDLE, _IN_HEAD = 0, 1


class HttpConnection(asyncio.Protocol):
    """The server side of one TCP connection.

    httptools parses everything it is fed at once and cannot pause, so heads of pipelined
    requests are queued here and answered strictly in order, one handler task at a time, and
    the socket stops being read while too much waits (body bytes or queued requests).
    """

    def __init__(self, server: HttpServer) -> None:
        self._server = server
        self._limits = server.limits
        self._loop = server.loop
        self._handler = server.handler
        self.transport: asyncio.Transport | None = None
        self.lost = False
        self.closing = False
        self._parser = httptools.HttpRequestParser(self)
        self._url = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._watched: dict[bytes, list[bytes]] = {}
        self._parsing: Exchange | None = None
        self._queue: collections.deque[Exchange] = collections.deque()
        self._active: Exchange | None = None
        self.task: asyncio.Task[None] | None = None
        self._head_state = _IDLE
        self._head_bytes = 0
        self.head_started = 0.0
        self.last_active = 0.0
        self._read_paused = False
        self._write_paused = False
        self._drain_waiter: asyncio.Future[None] | None = None
        self._upgraded = False
        self._tail = b""
        self._parser_dead = False
        self._error: bytes | None = None

    # -- asyncio.Protocol --------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.last_active = self._loop.time()
        self._server.track(self)
        if self._server.closing:
            self.closing = True

    def data_received(self, data: bytes) -> None:
        if self._parser_dead:
            if not self._upgraded and len(self._tail) < self._limits.read_high_water:
                self._tail += data
            else:
                self._pause()
            return
        if self._head_state == _IN_HEAD or self._parsing is None:
            # httptools buffers a partial header line internally and has no size limit, so
            # count head bytes here and refuse before an unbounded line can build up.
            self._head_bytes += len(data)
            if self._head_bytes > self._head_budget() and self._head_over_limit(data):
                return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade as exc:
            self._parser_dead = True
            self._tail = data[exc.args[0] :]
        except httptools.HttpParserCallbackError as exc:
            cause = exc.__context__
            if isinstance(cause, ProtocolError):
                self._reject(cause.status, cause.reason)
            else:
                log.error("Error in HTTP parser callback", exc_info=cause)
                self._reject(400, "Bad Request")
        except httptools.HttpParserInvalidMethodError:
            self._reject(*self._method_error(data))
        except httptools.HttpParserError as exc:
            message = str(exc) or "Malformed request"
            status = 505 if "HTTP version" in message else 400
            self._reject(status, message)

    def eof_received(self) -> bool:
        # A client may half-close after sending its requests; answer them, then close.
        self._fail_bodies(ConnectionResetError("the client closed its side of the connection"))
        if self._active is None and not self._queue:
            self._close()
        else:
            self.closing = True
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self.transport = None
        self._server.untrack(self)
        err = ConnectionResetError("the client has disconnected")
        self._fail_bodies(err)
        waiter = self._drain_waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(err)
        task = self.task
        if task is not None and not task.done() and self._server.handler_cancellation:
            task.cancel()
        self._queue.clear()

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        waiter = self._drain_waiter
        if waiter is not None:
            self._drain_waiter = None
            if not waiter.done():
                waiter.set_result(None)

    # -- httptools callbacks -------------------------------------------------------------

    def on_message_begin(self) -> None:
        self._head_state = _IN_HEAD
        self.head_started = self._loop.time()

    def on_url(self, url: bytes) -> None:
        self._url += url
        if len(self._url) > self._limits.max_line_size:
            raise ProtocolError(414, f"request target longer than {self._limits.max_line_size} bytes")

    def on_header(self, name: bytes, value: bytes) -> None:
        limits = self._limits
        if len(name) + len(value) > limits.max_field_size:
            raise ProtocolError(431, f"header field longer than {limits.max_field_size} bytes")
        headers = self._headers
        if len(headers) >= limits.max_headers:
            raise ProtocolError(431, f"more than {limits.max_headers} header fields")
        headers.append((name, value))
        lname = name.lower()
        if lname in _WATCHED:
            self._watched.setdefault(lname, []).append(value)

    def on_headers_complete(self) -> None:
        parser = self._parser
        version = _VERSIONS.get(parser.get_http_version())
        if version is None:
            raise ProtocolError(505, f"HTTP/{parser.get_http_version()} is not supported")
        watched = self._watched
        hosts = watched.get(_HOST)
        if version == (1, 1) and (hosts is None or len(hosts) != 1):
            # RFC 9112 §3.2: exactly one Host field in an HTTP/1.1 request.
            raise ProtocolError(400, "missing Host header" if hosts is None else "repeated Host header")
        content_length: int | None = None
        te = watched.get(_TE)
        if te is not None:
            if version == (1, 0):
                # RFC 9112 §6.1: a 1.0 message with Transfer-Encoding is framed unreliably.
                raise ProtocolError(400, "Transfer-Encoding is not allowed in HTTP/1.0")
            if te[-1].strip().lower() != b"chunked" or len(te) != 1:
                raise ProtocolError(501, f"transfer coding {b', '.join(te).decode('latin-1')!r} not supported")
        else:
            cl = watched.get(_CL)
            if cl is not None:
                content_length = int(cl[0])
        raw_method = parser.get_method()
        method = _METHODS.get(raw_method) or raw_method.decode("ascii")
        expect = watched.get(_EXPECT)
        expect_value = expect[0] if expect else None
        if te is not None or content_length:
            body = BodyStream(self, self._limits.read_high_water, self._limits.read_low_water)
        else:
            body = EMPTY_BODY
        exchange = Exchange(
            self,
            method,
            self._url.decode("latin-1"),
            version,
            self._headers,
            body,
            parser.should_keep_alive() and not self.closing,
            content_length,
            expect_value,
            parser.should_upgrade(),
        )
        if expect_value is not None and expect_value.lower() == b"100-continue" and body is not EMPTY_BODY:
            body.set_on_first_read(exchange.send_continue)
        self._url = b""
        self._headers = []
        if watched:
            self._watched = {}
        self._head_state = _IDLE
        self._head_bytes = 0
        self._parsing = exchange
        if self._active is None:
            self._start(exchange)
        else:
            self._queue.append(exchange)
            if len(self._queue) >= self._limits.max_pipelined:
                self._pause()

    def on_body(self, data: bytes) -> None:
        exchange = self._parsing
        if exchange is not None:
            exchange.body.feed_data(data)

    def on_message_complete(self) -> None:
        exchange = self._parsing
        if exchange is not None:
            exchange.body.feed_eof()
            self._parsing = None

    # -- request handling ---------------------------------------------------------------

    def _start(self, exchange: Exchange) -> None:
        self._active = exchange
        task = self._loop.create_task(self._handler(exchange))
        self.task = task
        task.add_done_callback(self._on_handler_done)

    def _on_handler_done(self, task: asyncio.Task[None]) -> None:
        exchange = self._active
        self._active = None
        self.task = None
        if exchange is None:
            return
        failed = task.cancelled() or task.exception() is not None
        if failed and not task.cancelled():
            log.error("Unhandled error in request handler", exc_info=task.exception())
        if self.lost:
            return
        if self._upgraded:
            return
        if not exchange.finished:
            if not exchange.headers_sent and not failed:
                self.write(error_response(500, "the handler returned without a response"))
            elif not exchange.headers_sent:
                self.write(error_response(500, "Internal Server Error"))
            self._close()
            return
        if not exchange.keep_alive or not exchange.body.is_eof():
            # An unread body leaves the stream position unknown: close instead of guessing.
            self._close()
            return
        if self._queue and (self._error is not None or not self.closing):
            # Pipelined requests parsed before a framing error are still answered in order.
            self.last_active = self._loop.time()
            self._start(self._queue.popleft())
        elif self._error is not None:
            self._flush_error()
            return
        elif self.closing or self._parser_dead:
            self._close()
            return
        else:
            self.last_active = self._loop.time()
        parsing = self._parsing
        if (
            self._read_paused
            and len(self._queue) < self._limits.max_pipelined
            and (parsing is None or not parsing.body.paused)
        ):
            self._resume()

    def _fail_bodies(self, exc: BaseException) -> None:
        for exchange in (self._active, self._parsing, *self._queue):
            if exchange is not None and not exchange.body.is_eof():
                exchange.body.set_exception(exc)

    # -- writing ------------------------------------------------------------------------------

    def write(self, data: bytes) -> None:
        transport = self.transport
        if transport is None or self.lost:
            raise ConnectionResetError("the client has disconnected")
        transport.write(data)

    async def drain(self) -> None:
        if self.lost:
            raise ConnectionResetError("the client has disconnected")
        if not self._write_paused:
            return
        waiter = self._drain_waiter
        if waiter is None:
            waiter = self._drain_waiter = self._loop.create_future()
        await asyncio.shield(waiter)

    def detach(self, exchange: Exchange) -> tuple[asyncio.Transport, bytes]:
        if self.transport is None or self.lost:
            raise ConnectionResetError("the client has disconnected")
        self._upgraded = True
        self._parser_dead = True
        tail, self._tail = self._tail, b""
        self._server.untrack(self)
        return self.transport, tail

    # -- flow control (BodyStream's FlowControl) -------------------------------------------------

    def pause_reading(self) -> None:
        self._pause()

    def resume_reading(self) -> None:
        if len(self._queue) < self._limits.max_pipelined:
            self._resume()

    def _pause(self) -> None:
        if not self._read_paused and self.transport is not None:
            self._read_paused = True
            self.transport.pause_reading()

    def _resume(self) -> None:
        if self._read_paused and self.transport is not None:
            self._read_paused = False
            self.transport.resume_reading()

    # -- limits, errors, closing ----------------------------------------------------------------

    def _head_budget(self) -> int:
        limits = self._limits
        return max(limits.max_line_size, limits.max_field_size) + 4

    def _head_over_limit(self, data: bytes) -> bool:
        """Refuse when one line of the head being received is over the size limits."""
        end = data.find(b"\r\n\r\n")
        scan = data if end < 0 else data[:end]
        budget = self._head_budget()
        carried = self._head_bytes - len(data)
        start = 0
        while True:
            nl = scan.find(b"\n", start)
            length = (len(scan) if nl < 0 else nl) - start + carried
            if length > budget:
                if self._url or self._headers:
                    self._reject(431, f"header field longer than {self._limits.max_field_size} bytes")
                else:
                    self._reject(414, f"request line longer than {self._limits.max_line_size} bytes")
                return True
            if nl < 0:
                self._head_bytes = length
                return False
            carried = 0
            start = nl + 1

    def _method_error(self, data: bytes) -> tuple[int, str]:
        method = data.split(b" ", 1)[0]
        if method and all(c in _TOKEN for c in method):
            # RFC 9110 §9.1: a well-formed but unknown method is "not implemented".
            return 501, f"method {method[:32].decode('ascii')!r} is not implemented"
        return 400, "invalid request method"

    def _reject(self, status: int, reason: str) -> None:
        """Answer a protocol error, after the responses already due, then close.

        Nothing after a framing error on this stream can be trusted (RFC 9112 §11.2), so the
        parser is dropped. A request whose body broke learns of it from its body stream.
        """
        self._parser_dead = True
        self._head_state = _IDLE
        self.closing = True
        broken, self._parsing = self._parsing, None
        if broken is not None:
            broken.body.set_exception(ProtocolError(status, reason))
            if broken is self._active:
                return
            if broken in self._queue:
                self._queue.remove(broken)
        self._error = error_response(status, reason)
        if self._active is None and not self._queue:
            self._flush_error()

    def _flush_error(self) -> None:
        error, self._error = self._error, None
        if error is not None and self.transport is not None and not self.lost:
            self.transport.write(error)
        self._close()

    def on_timeout(self, now: float) -> None:
        """Called by the server's watchdog: drop slow heads (408) and expired idle connections."""
        if self.transport is None:
            return
        limits = self._limits
        if self._head_state == _IN_HEAD:
            if self._expired(self.head_started, limits.head_timeout, now):
                self._reject(408, f"request head not received within {limits.head_timeout:g} s")
        elif (
            self._active is None
            and not self._queue
            and self._expired(self.last_active, limits.keepalive_timeout, now)
        ):
            self._close()

    def _expired(self, start: float, timeout: float, now: float) -> bool:
        deadline = start + timeout
        if timeout >= self._limits.timeout_ceil_threshold:
            # Rounded up to a whole second so that many connections expire on one sweep.
            deadline = math.ceil(deadline)
        return now >= deadline

    def close_if_idle(self) -> bool:
        """Start closing: at once when idle, after the current response otherwise."""
        self.closing = True
        if self._active is None and not self._queue and self._head_state == _IDLE:
            self._close()
            return True
        return False

    def _close(self) -> None:
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.close()

    def abort(self) -> None:
        """Close the connection at once, dropping unsent data."""
        transport = self.transport
        if transport is not None:
            transport.abort()

    @property
    def active(self) -> bool:
        """True while a request is being handled or waits to be."""
        return self._active is not None or bool(self._queue)
