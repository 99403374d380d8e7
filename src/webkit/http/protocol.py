"""One HTTP/1.1 connection: parsing with httptools, limits, pipelining, flow control."""

from __future__ import annotations

import asyncio
import collections
import logging
import math
from typing import TYPE_CHECKING, cast

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

# How long a connection closed with unread input keeps discarding it (see _linger).
_LINGER_SECONDS = 2.0

# States of the head being received, for the slow-head (slowloris) watchdog.
_IDLE, _IN_HEAD = 0, 1
# What the unfinished last line of a head being received is, for the line-size guard.
_REQUEST_LINE, _FIELD_LINE, _UNKNOWN_LINE = 0, 1, 2


def _te_text(values: list[bytes]) -> str:
    return repr(b", ".join(values).decode("latin-1"))


class HttpConnection(asyncio.Protocol):
    """The server side of one TCP connection.

    httptools parses everything it is fed at once and cannot pause, so heads of pipelined
    requests are queued here and answered strictly in order, one handler task at a time, and
    the socket stops being read while too much waits (body bytes or queued requests).
    """

    __slots__ = (
        "__weakref__",
        "_active",
        "_begins",
        "_drain_waiter",
        "_error",
        "_handler",
        "_head_state",
        "_headers",
        "_limits",
        "_line_bytes",
        "_line_kind",
        "_line_start",
        "_linger_handle",
        "_loop",
        "_parser",
        "_parser_dead",
        "_parsing",
        "_peer_eof",
        "_queue",
        "_read_paused",
        "_server",
        "_tail",
        "_upgraded",
        "_url",
        "_watched",
        "_write_paused",
        "closing",
        "head_started",
        "last_active",
        "lost",
        "task",
        "transport",
    )

    def __init__(self, server: HttpServer) -> None:
        self._server = server
        self._limits = server.limits
        self._loop = server.loop
        self._handler = server.handler
        self.transport: asyncio.Transport | None = None
        self.lost = False
        self.closing = False
        self._peer_eof = False
        self._parser = httptools.HttpRequestParser(self)
        self._url = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._watched: dict[bytes, list[bytes]] = {}
        self._parsing: Exchange | None = None
        self._queue: collections.deque[Exchange] = collections.deque()
        self._active: Exchange | None = None
        self.task: asyncio.Task[None] | None = None
        self._head_state = _IDLE
        self._line_bytes = 0
        self._line_kind = _REQUEST_LINE
        self._line_start = b""
        self._begins = 0
        self.head_started = 0.0
        self.last_active = 0.0
        self._read_paused = False
        self._write_paused = False
        self._drain_waiter: asyncio.Future[None] | None = None
        self._upgraded = False
        self._tail = b""
        self._parser_dead = False
        self._error: bytes | None = None
        self._linger_handle: asyncio.TimerHandle | None = None

    # -- asyncio.Protocol --------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Any stream transport will do: uvloop's are not asyncio.Transport subclasses.
        self.transport = cast("asyncio.Transport", transport)
        self.last_active = self._loop.time()
        self._server.track(self)
        if self._server.closing:
            self.closing = True

    def data_received(self, data: bytes) -> None:
        if self._linger_handle is not None:
            return  # discarded: see _linger
        if self._parser_dead:
            if not self._upgraded and len(self._tail) < self._limits.read_high_water:
                self._tail += data
            else:
                self._pause()
            return
        # Where `data` starts: inside a head, before a new head, or inside a body.
        continued = self._head_state == _IN_HEAD
        fresh = not continued and self._parsing is None
        self._begins = 0
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
            self._reject(*self._method_error(data, continued, fresh))
        except httptools.HttpParserError as exc:
            message = str(exc) or "Malformed request"
            status = 505 if "HTTP version" in message else 400
            self._reject(status, message)
        else:
            if self._head_state == _IN_HEAD and not self._parser_dead:
                self._check_head_line(data, continued, fresh)

    def eof_received(self) -> bool:
        if self._linger_handle is not None:
            self._close_now()
            return True
        self._peer_eof = True
        self._fail_bodies(ConnectionResetError("the client closed its side of the connection"))
        task = self.task
        if self._server.handler_cancellation and task is not None and not task.done():
            # The client cannot send more and most likely left: with handler cancellation,
            # a FIN counts as a disconnect (as it does for aiohttp).
            task.cancel()
            self._queue.clear()
            self._close()
            return True
        # Otherwise a client may half-close after sending its requests: answer, then close.
        if self._active is None and not self._queue:
            self._close()
        else:
            self.closing = True
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        if self._linger_handle is not None:
            self._linger_handle.cancel()
            self._linger_handle = None
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
        self._begins += 1
        self._line_bytes = 0
        self._line_kind = _REQUEST_LINE
        self._line_start = b""

    def on_url(self, url: bytes) -> None:
        self._url += url
        if len(self._url) > self._limits.max_line_size:
            raise ProtocolError(
                414, f"request target longer than {self._limits.max_line_size} bytes"
            )

    def on_header(self, name: bytes, value: bytes) -> None:
        # llhttp skips whitespace before a field value but keeps it after; the value excludes
        # both (RFC 9112 §5.1). rstrip returns the same object when there is nothing to strip.
        value = value.rstrip(b" \t")
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
            raise ProtocolError(
                400, "missing Host header" if hosts is None else "repeated Host header"
            )
        content_length: int | None = None
        te = watched.get(_TE)
        if te is not None:
            if version == (1, 0):
                # RFC 9112 §6.1: a 1.0 message with Transfer-Encoding is framed unreliably.
                raise ProtocolError(400, "Transfer-Encoding is not allowed in HTTP/1.0")
            # Field lines of one name combine into one list (RFC 9110 §5.3).
            codings = [c.strip().lower() for c in b",".join(te).split(b",")]
            if codings[-1] != b"chunked":
                # RFC 9112 §6.3 (4): without chunked last the body's length is unknowable; the
                # server MUST answer 400 and close, whether or not it knows the other codings.
                raise ProtocolError(
                    400, f"chunked is not the final transfer coding in {_te_text(te)}"
                )
            if len(codings) != 1:
                # RFC 9112 §6.1: a transfer coding the server does not understand gets 501.
                raise ProtocolError(501, f"transfer coding {_te_text(te)} not supported")
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
        if (
            expect_value is not None
            and version == (1, 1)
            and expect_value.lower() == b"100-continue"
            and body is not EMPTY_BODY
        ):
            # RFC 9110 §10.1.1: a server MUST ignore 100-continue in an HTTP/1.0 request.
            body.set_on_first_read(exchange.send_continue)
        self._url = b""
        self._headers = []
        if watched:
            self._watched = {}
        self._head_state = _IDLE
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
        self.task = self._loop.create_task(self._serve(exchange))

    async def _serve(self, exchange: Exchange) -> None:
        """Run the handler, then move the connection on: one task per request.

        Finishing inside the task, rather than in a done callback, saves a trip through the
        event loop for every request.
        """
        try:
            await self._handler(exchange)
        except asyncio.CancelledError:
            self._on_handler_done(exchange, None, cancelled=True)
            raise
        except Exception as exc:
            self._on_handler_done(exchange, exc, cancelled=False)
        else:
            self._on_handler_done(exchange, None, cancelled=False)

    def _on_handler_done(
        self, exchange: Exchange, exc: BaseException | None, *, cancelled: bool
    ) -> None:
        if self._active is exchange:
            self._active = None
            self.task = None
        failed = cancelled or exc is not None
        if isinstance(exc, ProtocolError) and exchange.body.exception() is exc:
            # The request's own body broke its framing: the client's fault, answered below.
            log.debug("Request body rejected: %s", exc)
        elif exc is not None:
            log.error("Unhandled error in request handler", exc_info=exc)
        if self.lost:
            return
        if self._upgraded:
            # The transport belongs to the upgraded protocol now; this object is done.
            self._server.untrack(self)
            self.transport = None
            return
        if self._peer_eof and isinstance(exchange.body.exception(), ConnectionResetError):
            # The client closed its side before sending the whole request: nobody waits
            # for an answer to it, so close without inventing one (no 500).
            self._close()
            return
        if not exchange.finished:
            if exchange.headers_sent:
                pass
            elif isinstance(exchange.body.exception(), ProtocolError):
                # The body of this request broke framing (`_reject`): answer that error.
                self._flush_error()
                return
            elif not failed:
                self.write(error_response(500, "the handler returned without a response"))
            elif cancelled and self._server.closing:
                # Cancelled by graceful shutdown (step 5): the server, not the request, failed,
                # and the client may retry elsewhere (RFC 9110 §15.6.4).
                self.write(error_response(503, "the server is shutting down"))
            else:
                self.write(error_response(500, "Internal Server Error"))
            self._close()
            return
        if not exchange.body.is_eof():
            # An unread body leaves the stream position unknown: close instead of guessing.
            self._linger()
            return
        if not exchange.keep_alive:
            self._close()
            return
        if self._queue and (self._error is not None or self._peer_eof or not self.closing):
            # Pipelined requests parsed before a framing error, or before the client half-closed
            # its side, are still answered in order.
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
        # Still tracked until its handler ends, so graceful shutdown waits for and cancels
        # upgraded connections (WebSockets) like any other request.
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

    def _check_head_line(self, data: bytes, continued: bool, fresh: bool) -> None:
        """Refuse a head line that grows too long over several reads, before it is all buffered.

        httptools keeps an unfinished header line in memory without bound and reports the field
        only once it is complete (then `on_header` checks it). So after each read that leaves a
        head unfinished, measure that head's last, unfinished line. Complete lines are not
        measured here: the parser's callbacks check them, whatever the reads' boundaries.
        """
        limits = self._limits
        nl = data.rfind(b"\n")
        if self._read_is_this_heads(continued, fresh):
            # All of `data` belongs to this head (a fresh one may start with empty lines,
            # which RFC 9112 §2.2 lets a server skip before the request line).
            if nl < 0:
                self._line_bytes += len(data)
            else:
                self._line_bytes = len(data) - nl - 1
                if continued or data[: nl + 1].strip(b"\r\n"):
                    self._line_kind = _FIELD_LINE
        else:
            # The head began after a body in this read, at an offset httptools does not
            # report: count from the next read on, so at most one read goes unmeasured.
            self._line_bytes = 0
            self._line_kind = _UNKNOWN_LINE
        kind = self._line_kind
        if kind == _REQUEST_LINE:
            # llhttp buffers nothing of the request line but the target, which `on_url`
            # bounds as it arrives. Its start is kept to name a bad method (`_method_error`).
            if len(self._line_start) < 64:
                self._line_start += data[nl + 1 : nl + 65]
            return
        # Room for ":", CR and optional whitespace, which `on_header` does not count: this guard
        # bounds memory; the exact limit is `on_header`'s, whatever the reads' boundaries.
        budget = limits.max_field_size + 64
        if kind == _UNKNOWN_LINE:
            # It may still be the request line: its target plus method, spaces and version.
            budget = max(budget, limits.max_line_size + 32)
        if self._line_bytes > budget:
            self._reject(431, f"header field longer than {limits.max_field_size} bytes")

    def _read_is_this_heads(self, continued: bool, fresh: bool) -> bool:
        """True if all of the last read belongs to the head being received.

        That is when the read continued this head, or started a new one at its first byte
        (after empty lines, if any); not when the head began after another message in it.
        """
        return (continued and self._begins == 0) or (fresh and self._begins == 1)

    def _method_error(self, data: bytes, continued: bool, fresh: bool) -> tuple[int, str]:
        if not self._read_is_this_heads(continued, fresh) or self._line_kind == _UNKNOWN_LINE:
            # The bad method follows other requests in a read, at an offset httptools does
            # not report: without its bytes, answer the generic error.
            return 400, "invalid request method"
        start = self._line_start + data if continued else data.lstrip(b"\r\n")
        method = start.split(b" ", 1)[0]
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
        self._error = error_response(status, reason)
        broken, self._parsing = self._parsing, None
        if broken is not None:
            broken.body.set_exception(ProtocolError(status, reason))
            if broken is self._active:
                # Its handler decides: if it answers, the connection closes after that answer;
                # if it gives up without answering, the client gets this error, not a 500.
                return
            if broken in self._queue:
                self._queue.remove(broken)
        if self._active is None and not self._queue:
            self._flush_error()

    def _flush_error(self) -> None:
        error, self._error = self._error, None
        if error is not None and self.transport is not None and not self.lost:
            self.transport.write(error)
        self._linger()

    def _linger(self) -> None:
        """Close after the response while the client may still be sending (RFC 9112 §9.6).

        Closing a socket with unread input makes the kernel send a reset, which can destroy
        the response before the client reads it. So send FIN after the response, keep
        reading and discarding for a short while, and close when the client does.
        """
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if not transport.can_write_eof() or self._linger_handle is not None or self._peer_eof:
            # After the client's FIN there is no more input to wait for: close at once.
            transport.close()
            return
        self._parser_dead = True
        try:
            transport.write_eof()
        except OSError:
            # The peer reset the connection before we noticed (ENOTCONN from shutdown()).
            transport.abort()
            return
        self._linger_handle = self._loop.call_later(_LINGER_SECONDS, self._close_now)
        self._read_paused = True  # so _resume() really resumes
        self._resume()

    def _close_now(self) -> None:
        handle, self._linger_handle = self._linger_handle, None
        if handle is not None:
            handle.cancel()
        transport = self.transport
        if transport is not None:
            transport.close()

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
