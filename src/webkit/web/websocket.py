"""`WebSocketResponse`: aiohttp.web's server-side WebSocket API on webkit.http.websocket."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, NamedTuple

from webkit.http import encode_head, status_line
from webkit.http.websocket import (
    WS_CLOSED_MESSAGE,
    WS_CLOSING_MESSAGE,
    HandshakeError,
    WebSocketConnection,
    WebSocketError,
    WSCloseCode,
    WSMessage,
    WSMsgType,
    check_handshake,
    deflate_factory,
)
from webkit.web.exceptions import HTTPBadRequest, HTTPException, HTTPUpgradeRequired
from webkit.web.response import StreamResponse

if TYPE_CHECKING:
    from webkit.http.websocket import Handshake
    from webkit.web.request import BaseRequest

__all__ = [
    "WSCloseCode",
    "WSMessage",
    "WSMsgType",
    "WebSocketError",
    "WebSocketReady",
    "WebSocketResponse",
]

# receive() calls on a closed WebSocket before it raises instead of answering CLOSED again,
# so that a loop ignoring CLOSED does not spin forever (as aiohttp).
_CLOSED_READS_LIMIT = 5


class WebSocketReady(NamedTuple):
    """Whether a request can be upgraded, and the subprotocol that would be chosen."""

    ok: bool
    protocol: str | None

    def __bool__(self) -> bool:
        return self.ok


class WebSocketResponse(StreamResponse):
    """The server side of a WebSocket (RFC 6455): `prepare` answers the handshake, then
    messages are read with `receive` (or ``async for``) and sent with the ``send_*`` methods.

    Only the handler's task may call `receive`; sending and `close` work from any task.

    Args:
        timeout: seconds `close` waits for the peer's close frame before dropping the
            connection.
        receive_timeout: default timeout of `receive` (None: wait for ever).
        autoclose: answer the peer's close frame at once. When False, `receive` returns the
            CLOSE message, then CLOSING, and the close frame is answered by `close` (or
            `send_frame` with CLOSE).
        autoping: answer pings at once and hide PING/PONG messages from `receive`. When
            False, `receive` returns them and nothing answers pings but `pong`.
        heartbeat: send a ping after this many seconds of silence; close with 1006 when no
            pong (or any other frame) arrives within half of it, whatever ``autoping``.
        protocols: subprotocols the server speaks; the first one the client offers wins.
        compress: negotiate permessage-deflate (RFC 7692) when the client offers it; an int
            is the server's window bits (9-15).
        max_msg_size: largest message accepted (0: no limit); larger ones close with 1009.
    """

    def __init__(
        self,
        *,
        timeout: float = 10.0,
        receive_timeout: float | None = None,
        autoclose: bool = True,
        autoping: bool = True,
        heartbeat: float | None = None,
        protocols: Iterable[str] = (),
        compress: bool | int = True,
        max_msg_size: int = 4 * 1024 * 1024,
    ) -> None:
        super().__init__(status=101)
        self._timeout = timeout
        self._receive_timeout = receive_timeout
        self._autoclose = autoclose
        self._autoping = autoping
        self._heartbeat = heartbeat
        self._protocols = tuple(protocols)
        self._compress = compress
        self._max_msg_size = max_msg_size
        self._ws_protocol: str | None = None
        self._conn: WebSocketConnection | None = None
        self._closed = False
        # autoclose=False: the peer's close frame was returned by receive() and awaits close().
        self._closing = False
        self._close_code: int | None = None
        self._exception: BaseException | None = None
        self._reading = False
        self._closed_reads = 0

    # -- handshake ------------------------------------------------------------------------------

    def _handshake(self, request: BaseRequest) -> Handshake:
        factory = deflate_factory(self._compress)
        try:
            return check_handshake(
                request.method,
                request.version,
                request.headers,
                self._protocols,
                () if factory is None else (factory,),
            )
        except HandshakeError as exc:
            if exc.status == 426:
                raise HTTPUpgradeRequired(text=exc.reason, headers=exc.headers) from None
            raise HTTPBadRequest(text=exc.reason) from None

    def can_prepare(self, request: BaseRequest) -> WebSocketReady:
        """Whether `prepare` would succeed for ``request``, and the subprotocol it would pick.

        Raises:
            RuntimeError: the response is already prepared.
        """
        if self._conn is not None:
            raise RuntimeError("Already started")
        try:
            handshake = self._handshake(request)
        except HTTPException:
            return WebSocketReady(False, None)
        return WebSocketReady(True, handshake.protocol)

    async def prepare(self, request: BaseRequest) -> None:
        """Answer the handshake with ``101 Switching Protocols`` and take over the connection.

        ``on_response_prepare`` runs before the answer is sent, as for any response.

        Raises:
            HTTPBadRequest: the request is not a valid WebSocket handshake.
            HTTPUpgradeRequired: the client asked for a version other than 13 (426).
            ConnectionResetError: the client left.
        """
        if self._conn is not None or self._eof_sent:
            return
        handshake = self._handshake(request)
        exchange = request.exchange
        self._req = request
        self._ws_protocol = handshake.protocol
        headers = self._base_headers(request, exchange)
        for name, value in handshake.headers:
            headers[name] = value
        headers.pop("Content-Type", None)
        headers.pop("Content-Length", None)
        headers.pop("Transfer-Encoding", None)
        self._status = 101
        await self._send_prepare_signal(request)
        head = encode_head(status_line(exchange.version, 101, self._reason), headers.items())
        exchange.write_head(head, chunked=False)
        exchange.finished = True
        self._exchange = exchange
        transport, tail = exchange.detach()
        max_size = self._max_msg_size or None
        conn = WebSocketConnection(
            max_size=max_size,
            extensions=handshake.extensions,
            subprotocol=handshake.protocol,
            heartbeat=self._heartbeat,
            autoping=self._autoping,
            autoclose=self._autoclose,
        )
        self._conn = conn
        conn.attach(transport, tail)
        task = request.task or asyncio.current_task()
        if task is not None:
            # A handler that ends without closing (an exception, a cancellation) must not leave
            # the connection open: nobody would read it any more.
            task.add_done_callback(self._on_handler_done)

    def _on_handler_done(self, task: asyncio.Task[Any]) -> None:
        conn = self._conn
        if conn is None or conn.lost:
            return
        self._closed = True
        if task.cancelled():
            conn.fail(WSCloseCode.GOING_AWAY)
        elif self._eof_sent:
            conn.fail(WSCloseCode.OK)
        else:
            # The handler did not return this response: it raised (the framework caught it).
            conn.fail(WSCloseCode.INTERNAL_ERROR)

    # -- state ----------------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        """True once the WebSocket is closing or closed."""
        conn = self._conn
        return self._closed or (conn is not None and not conn.open)

    @property
    def close_code(self) -> int | None:
        conn = self._conn
        if self._close_code is not None:
            return self._close_code
        return None if conn is None else conn.close_code

    @property
    def ws_protocol(self) -> str | None:
        """The subprotocol chosen in the handshake."""
        return self._ws_protocol

    @property
    def compress(self) -> bool | int:
        return self._compress

    @property
    def receive_timeout(self) -> float | None:
        return self._receive_timeout

    def exception(self) -> BaseException | None:
        """The error that ended the connection, if any."""
        if self._exception is not None:
            return self._exception
        return None if self._conn is None else self._conn.error

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        conn = self._conn
        if conn is None or conn.transport is None:
            return default
        return conn.transport.get_extra_info(name, default)

    def _connection(self) -> WebSocketConnection:
        if self._conn is None:
            raise RuntimeError("Call .prepare() first")
        return self._conn

    # -- sending --------------------------------------------------------------------------------

    async def ping(self, message: bytes = b"") -> None:
        """Send a ping.

        Raises:
            RuntimeError: not prepared.
            ConnectionResetError: the connection is closed.
        """
        conn = self._connection()
        conn.ping(message.encode() if isinstance(message, str) else message)
        await conn.drain()

    async def pong(self, message: bytes = b"") -> None:
        """Send a pong: with autoping=False the answer to a PING message (pass its data),
        otherwise an unsolicited one.

        Raises:
            RuntimeError: not prepared.
            ConnectionResetError: the connection is closed.
        """
        conn = self._connection()
        conn.pong(message.encode() if isinstance(message, str) else message)
        await conn.drain()

    async def send_frame(
        self, message: bytes, opcode: WSMsgType, compress: int | None = None
    ) -> None:
        """Send one frame of ``opcode`` with ``message`` as its payload (aiohttp 3.11+).

        TEXT and BINARY send a whole message (text is sent as given, without a UTF-8 check);
        PING and PONG a control frame; CLOSE a close frame whose payload is empty or a 2-byte
        code and a UTF-8 reason: it starts the closing handshake (or, with autoclose=False,
        answers the peer's close frame) without waiting for its end, unlike `close`.
        ``compress`` is as for `send_str`.

        Raises:
            RuntimeError: not prepared.
            ValueError: another opcode (a final CONTINUATION frame can only break the
                protocol), a control payload over 125 bytes, or an invalid close payload.
            ConnectionResetError: the connection is closing or closed.
        """
        conn = self._connection()
        if opcode == WSMsgType.TEXT or opcode == WSMsgType.BINARY:
            conn.send_message(opcode, message)
        elif opcode == WSMsgType.PING:
            conn.ping(message)
        elif opcode == WSMsgType.PONG:
            conn.pong(message)
        elif opcode == WSMsgType.CLOSE:
            if len(message) == 1:
                raise ValueError("a close frame's payload is empty or starts with a 2-byte code")
            code = int.from_bytes(message[:2], "big") if message else None
            if not conn.start_close(code, bytes(message[2:]).decode()):
                raise ConnectionResetError("Cannot write to closing transport")
        else:
            raise ValueError(f"cannot send a frame of opcode {opcode!r}")
        await conn.drain()

    async def send_str(self, data: str, compress: int | None = None) -> None:
        """Send a text message.

        ``compress`` is aiohttp's per-message override: None and 0 keep the connection's
        setting (compressed when permessage-deflate was negotiated, RFC 7692). aiohttp
        compresses a message with another int as window bits, with a compressor of its own;
        here such a message goes through the connection's compressor like any other, since
        one compressed by a separate compressor desynchronises the peer's sliding window
        under context takeover (the next message decodes wrong), and without permessage-
        deflate it is sent uncompressed, since RSV1 may only be set when the extension was
        negotiated (RFC 6455 §5.2). The argument therefore never changes what is sent.

        Raises:
            TypeError: ``data`` is not a str.
            RuntimeError: not prepared.
            ConnectionResetError: the connection is closing or closed.
        """
        if not isinstance(data, str):
            raise TypeError(f"data argument must be str ({type(data)!r})")
        conn = self._connection()
        conn.send_text(data)
        await conn.drain()

    async def send_bytes(
        self, data: bytes | bytearray | memoryview, compress: int | None = None
    ) -> None:
        """Send a binary message (``compress`` as for `send_str`).

        Raises:
            TypeError: ``data`` is not bytes-like.
            RuntimeError: not prepared.
            ConnectionResetError: the connection is closing or closed.
        """
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"data argument must be byte-ish ({type(data)!r})")
        conn = self._connection()
        conn.send_binary(data)
        await conn.drain()

    async def send_json(
        self,
        data: Any,
        compress: int | None = None,
        *,
        dumps: Callable[[Any], str] = json.dumps,
    ) -> None:
        """Send ``data`` as a JSON text message (``compress`` as for `send_str`).

        Raises:
            RuntimeError: not prepared.
            ConnectionResetError: the connection is closing or closed.
        """
        await self.send_str(dumps(data), compress=compress)

    async def write(self, data: bytes | bytearray | memoryview) -> None:
        raise RuntimeError("Cannot call .write() for websocket")

    async def write_eof(self, data: bytes = b"") -> None:
        """Close the WebSocket (what the framework does when the handler returns)."""
        if self._eof_sent:
            return
        if self._conn is None:
            raise RuntimeError("Response has not been started")
        await self.close()
        self._eof_sent = True

    # -- closing --------------------------------------------------------------------------------

    async def close(self, *, code: int = WSCloseCode.OK, message: bytes | str = b"") -> bool:
        """Start the closing handshake and wait up to ``timeout`` for the peer to finish it;
        with autoclose=False, after `receive` returned the peer's CLOSE, answer it.

        Returns True if this call closed the WebSocket, False if it was already closed.

        Raises:
            RuntimeError: not prepared.
            ValueError: ``code`` may not be sent, or ``message`` exceeds 123 bytes.
        """
        conn = self._connection()
        if self._closed:
            return False
        reason = message.decode() if isinstance(message, (bytes, bytearray)) else message
        self._closed = True
        try:
            conn.start_close(code, reason)
        except ValueError:
            self._closed = False
            raise
        if not await conn.wait_closed(self._timeout):
            self._close_code = WSCloseCode.ABNORMAL_CLOSURE
        return True

    # -- receiving ------------------------------------------------------------------------------

    async def receive(self, timeout: float | None = None) -> WSMessage:
        """The next message (see `WSMsgType`); CLOSE, CLOSING or CLOSED once it is over.

        With autoclose=False the peer's CLOSE is returned unanswered and later calls return
        CLOSING until `close` answers it.

        Raises:
            RuntimeError: not prepared, called concurrently, or called again and again
                after the WebSocket closed.
            TimeoutError: no message within ``timeout`` (or the ``receive_timeout``).
        """
        conn = self._connection()
        if self._reading:
            raise RuntimeError("Concurrent call to receive() is not allowed")
        if timeout is None:
            timeout = self._receive_timeout
        while True:
            if self._closed:
                self._closed_reads += 1
                if self._closed_reads >= _CLOSED_READS_LIMIT:
                    raise RuntimeError("WebSocket connection is closed.")
                return WS_CLOSED_MESSAGE
            if self._closing:
                return WS_CLOSING_MESSAGE
            self._reading = True
            try:
                if timeout is None:
                    # No timer, no current_task() lookup (a getpid() call on Python 3.11).
                    msg = await conn.read()
                else:
                    async with asyncio.timeout(timeout):
                        msg = await conn.read()
            finally:
                self._reading = False
            kind = msg.type
            if kind is WSMsgType.CLOSE:
                if not self._autoclose:
                    # The close frame awaits close(): the application may still send first.
                    self._closing = True
                elif not self._closed:
                    self._closed = True
                    # The peer's close frame was echoed by the core: wait for the TCP end.
                    await conn.wait_closed(self._timeout)
            elif kind is WSMsgType.CLOSED:
                self._closed = True
            elif kind is WSMsgType.ERROR:
                self._closed = True
                if isinstance(msg.data, BaseException):
                    self._exception = msg.data
                if not conn.lost:
                    await conn.wait_closed(self._timeout)
            elif (kind is WSMsgType.PING or kind is WSMsgType.PONG) and self._autoping:
                continue
            return msg

    async def receive_str(self, *, timeout: float | None = None) -> str:
        """The next message, which must be TEXT.

        Raises:
            TypeError: the message is of another type.
        """
        msg = await self.receive(timeout)
        if msg.type is not WSMsgType.TEXT:
            raise TypeError(f"Received message {msg.type}:{msg.data!r} is not WSMsgType.TEXT")
        return str(msg.data)

    async def receive_bytes(self, *, timeout: float | None = None) -> bytes:
        """The next message, which must be BINARY.

        Raises:
            TypeError: the message is of another type.
        """
        msg = await self.receive(timeout)
        if msg.type is not WSMsgType.BINARY:
            raise TypeError(f"Received message {msg.type}:{msg.data!r} is not WSMsgType.BINARY")
        return bytes(msg.data)

    async def receive_json(
        self, *, loads: Callable[[Any], Any] = json.loads, timeout: float | None = None
    ) -> Any:
        """The next TEXT message decoded as JSON.

        Raises:
            TypeError: the message is not TEXT.
            ValueError: it is not valid JSON.
        """
        return loads(await self.receive_str(timeout=timeout))

    def __aiter__(self) -> WebSocketResponse:
        return self

    async def __anext__(self) -> WSMessage:
        msg = await self.receive()
        if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED):
            raise StopAsyncIteration
        return msg
