"""One WebSocket connection after the handshake: websockets' Sans-I/O core driven on a transport.

websockets' `Protocol` parses and serialises frames, answers pings, enforces the message size
(including deflate inflation) and runs the closing handshake. This module adds what it leaves to
its callers: reassembly of fragmented messages with incremental UTF-8 validation, a queue of
messages for one reader with flow control, write back-pressure, heartbeat pings, the timeout
of the closing handshake, and aiohttp's ``autoping=False`` / ``autoclose=False`` modes, where
the application rather than the core answers pings and the peer's close frame.
"""

from __future__ import annotations

import asyncio
import codecs
import collections
import logging
from typing import Any

from websockets.exceptions import InvalidState, PayloadTooBig
from websockets.exceptions import ProtocolError as WsProtocolError
from websockets.extensions.base import Extension
from websockets.frames import Close, Frame, Opcode
from websockets.protocol import SEND_EOF, Protocol, Side, State

try:  # websockets' C unmasking; its pure-Python fallback when the extension is not built
    from websockets.speedups import apply_mask
except ImportError:  # pragma: no cover
    from websockets.utils import apply_mask

from webkit.http.websocket.messages import (
    WS_CLOSED_MESSAGE,
    WebSocketError,
    WSCloseCode,
    WSMessage,
    WSMsgType,
)

__all__ = ["WebSocketConnection"]

log = logging.getLogger("webkit.websocket")

_utf8_decoder = codecs.getincrementaldecoder("utf-8")


# Bytes of frames coalesced before they are written without waiting for the loop turn.
_CORK_LIMIT = 64 * 1024


def _minimal_length(code: int, length: int) -> bool:
    """Whether a frame's length uses the shortest encoding (RFC 6455 §5.2)."""
    return code < 126 or (code == 126 and length >= 126) or (code == 127 and length >= 65536)


class _QuietAdapter(logging.LoggerAdapter[logging.Logger]):
    """websockets' core logs every closed connection at INFO: once per connection is DEBUG."""

    def info(self, msg: object, *args: Any, **kwargs: Any) -> None:
        self.debug(msg, *args, **kwargs)


_core_log = _QuietAdapter(log, {})


class WebSocketConnection(asyncio.Protocol):
    """The server side of an open WebSocket connection on an asyncio transport.

    Messages are read one at a time with `read`; `send_text`, `send_binary`, `ping`, `pong`
    and `close` may be called from any task.

    Args:
        max_size: largest incoming message in bytes (None: no limit); larger ones fail the
            connection with 1009.
        extensions: extensions negotiated in the handshake (permessage-deflate).
        heartbeat: seconds of silence after which a ping is sent; the connection fails with
            1006 when no pong follows within half of it.
        read_limit: queued bytes of unread messages above which the socket is not read.
        autoping: answer pings at once; when False they are only queued as PING messages and
            the application answers with `pong`.
        autoclose: answer the peer's close frame at once; when False it is queued as a CLOSE
            message and answered by the application's `start_close`.
    """

    def __init__(
        self,
        *,
        max_size: int | None = 4 * 1024 * 1024,
        extensions: list[Extension] | None = None,
        subprotocol: str | None = None,
        heartbeat: float | None = None,
        read_limit: int = 2**16,
        autoping: bool = True,
        autoclose: bool = True,
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self._proto = Protocol(Side.SERVER, state=State.OPEN, max_size=max_size, logger=_core_log)
        self._proto.extensions = list(extensions or ())
        self.subprotocol = subprotocol
        self.transport: asyncio.Transport | None = None
        self._queue: collections.deque[WSMessage] = collections.deque()
        self._queued = 0
        self._read_limit = read_limit
        self._read_paused = False
        self._waiter: asyncio.Future[None] | None = None
        self._write_paused = False
        self._drain_waiter: asyncio.Future[None] | None = None
        self._lost = False
        self._lost_waiter: asyncio.Future[None] = self._loop.create_future()
        # Reassembly of the current fragmented message (RFC 6455 §5.4).
        self._kind: WSMsgType | None = None
        self._parts: list[Any] = []
        self._decoder: codecs.IncrementalDecoder | None = None
        self._fail_code: int | None = None
        self.error: BaseException | None = None
        self._heartbeat = heartbeat
        self._ping_handle: asyncio.TimerHandle | None = None
        self._pong_handle: asyncio.TimerHandle | None = None
        self._max_size = max_size
        self._pending = b""
        self._owed = 0
        self._out: list[bytes] = []
        self._out_size = 0
        self._out_scheduled = False
        self._autoping = autoping
        self._autoclose = autoclose
        # autoclose=False: the peer's close frame, kept from the core (which would echo it)
        # until the application answers, and what it said.
        self._close_held: bytes | None = None
        self._peer_close: Close | None = None

    # -- wiring -----------------------------------------------------------------------------

    def attach(self, transport: asyncio.Transport, tail: bytes = b"") -> None:
        """Take over ``transport`` and process ``tail``, the bytes read after the handshake."""
        self.transport = transport
        transport.set_protocol(self)
        if transport.is_closing():
            self.connection_lost(None)
            return
        high = transport.get_write_buffer_limits()[1]
        self._write_paused = transport.get_write_buffer_size() > high
        is_reading = getattr(transport, "is_reading", None)
        if is_reading is not None and not is_reading():
            transport.resume_reading()
        self._reset_heartbeat()
        if tail:
            self.data_received(tail)

    # -- asyncio.Protocol ---------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        self._split_frames(data)
        self._flush()
        self._reset_heartbeat()

    def _feed_proto(self, data: bytes) -> None:
        proto = self._proto
        proto.receive_data(data)
        for frame in proto.events_received():
            if isinstance(frame, Frame):
                self._on_frame(frame)
        self._check_parser()

    def _split_frames(self, data: bytes) -> None:
        """Take whole, final, masked, uncompressed data frames off the stream here.

        websockets parses frames with a Python generator, which costs more than the rest of a
        small message's trip. So frame boundaries are found here (RFC 6455 §5.2): the common
        frame is unmasked and queued directly; every other frame (control, fragmented,
        compressed, malformed, too big) goes to websockets' protocol whole, which judges it and
        keeps the connection's state. A frame not yet complete goes to it as it arrives.

        Pings (autoping=False) and the peer's close frame (autoclose=False) are taken off here
        too when well-formed, since the core would answer them; malformed ones go to the core,
        which fails the connection as usual.
        """
        if self._close_held is not None:
            # After its close frame the peer has nothing more to say (RFC 6455 §1.4): discard.
            return
        if self._pending:
            data = self._pending + data
            self._pending = b""
        if self._owed:
            part = data[: self._owed]
            self._owed -= len(part)
            self._feed_proto(part)
            if self._owed:
                return
            data = data[len(part) :]
        max_size = self._max_size
        pos, end_of_data = 0, len(data)
        while pos < end_of_data:
            if self._fail_code is not None or self._proto.eof_sent:
                # The core stopped parsing (a failure or the closing handshake is over): it
                # discards the rest. Until then frames are split here, also while our close
                # frame awaits its answer, so that autoping=False holds then too.
                self._feed_proto(data[pos:])
                return
            if end_of_data - pos < 2:
                self._pending = data[pos:]
                return
            first, second = data[pos], data[pos + 1]
            length = second & 0x7F
            head = 6 if second & 0x80 else 2
            if length == 126:
                head += 2
            elif length == 127:
                head += 8
            if end_of_data - pos < head:
                self._pending = data[pos:]
                return
            if length == 126:
                length = int.from_bytes(data[pos + 2 : pos + 4], "big")
            elif length == 127:
                length = int.from_bytes(data[pos + 2 : pos + 10], "big")
            end = pos + head + length
            if end > end_of_data:
                if first & 0x08 and length <= 125:
                    # A control frame is at most 131 bytes: wait for all of it so that it is
                    # judged whole below rather than fed to the core piecemeal.
                    self._pending = data[pos:]
                    return
                self._owed = end - end_of_data
                self._feed_proto(data[pos:])
                return
            if (
                (first == 0x81 or first == 0x82)
                and second & 0x80
                and self._kind is None
                and (max_size is None or length <= max_size)
                and _minimal_length(second & 0x7F, length)
            ):
                payload = apply_mask(data[pos + head : end], data[pos + head - 4 : pos + head])
                if first == 0x82:
                    self._push(WSMessage(WSMsgType.BINARY, payload, ""))
                    pos = end
                    continue
                try:
                    self._push(WSMessage(WSMsgType.TEXT, payload.decode("utf-8"), ""))
                    pos = end
                    continue
                except UnicodeDecodeError:
                    pass  # the protocol path reports it (1007)
            elif head == 6 and first == 0x89 and not self._autoping:
                # A final, masked ping of at most 125 bytes (head 6: mask, 7-bit length): the
                # core would answer it, so it is only queued; the core's state is unaffected
                # by pings, which may come between the fragments of a message (RFC 6455 §5.4).
                payload = apply_mask(data[pos + 6 : end], data[pos + 2 : pos + 6])
                self._push(WSMessage(WSMsgType.PING, payload, ""))
                pos = end
                continue
            elif (
                head == 6
                and first == 0x88
                and not self._autoclose
                and self._hold_close(data[pos:end])
            ):
                return
            self._feed_proto(data[pos:end])
            pos = end

    def _hold_close(self, frame: bytes) -> bool:
        """Keep the peer's close frame from the core and queue it as a CLOSE message.

        The core echoes a close frame as soon as it parses one, so it only sees this frame
        once the application answered (`start_close`): it then finds its own close frame sent
        and completes the handshake without a second one. False when the core must judge the
        frame: it answers our own close frame, interrupts a fragmented message, or is invalid.
        """
        proto = self._proto
        if proto.state is not State.OPEN or proto.current_size is not None:
            return False
        try:
            close = Close.parse(apply_mask(frame[6:], frame[2:6]))
        except (WsProtocolError, UnicodeDecodeError):
            return False
        self._close_held = frame
        self._peer_close = close
        self._pending = b""
        # The peer is leaving: pinging it would only fail the connection if it stops reading.
        self._cancel_heartbeat()
        self._push(WSMessage(WSMsgType.CLOSE, close.code, close.reason))
        return True

    def eof_received(self) -> bool:
        # The peer cannot send its close frame any more: whatever remains to be said was said
        # (a half-close before the closing handshake fails the connection, 1006), so let the
        # transport close itself (returning True has no effect on TLS anyway).
        self._proto.receive_eof()
        self._check_parser()
        self._flush()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if self._lost:
            return
        self._lost = True
        self.transport = None
        self._cancel_heartbeat()
        proto = self._proto
        if not proto.reader.eof:
            proto.receive_eof()
        proto.data_to_send()
        if self._fail_code is None and proto.close_rcvd is None and self._peer_close is None:
            # The TCP connection ended without a closing handshake (RFC 6455 §7.1.5).
            self._fail_code = WSCloseCode.ABNORMAL_CLOSURE
        self._wake()
        drain = self._drain_waiter
        if drain is not None and not drain.done():
            drain.set_result(None)
        if not self._lost_waiter.done():
            self._lost_waiter.set_result(None)

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        waiter, self._drain_waiter = self._drain_waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # -- incoming -----------------------------------------------------------------------------

    def _on_frame(self, frame: Frame) -> None:
        opcode = frame.opcode
        if opcode is Opcode.TEXT or opcode is Opcode.BINARY:
            self._kind = WSMsgType.TEXT if opcode is Opcode.TEXT else WSMsgType.BINARY
            self._parts = []
            self._decoder = _utf8_decoder() if opcode is Opcode.TEXT else None
            self._add_part(frame)
        elif opcode is Opcode.CONT:
            if self._kind is not None:
                self._add_part(frame)
        elif opcode is Opcode.PING:
            self._push(WSMessage(WSMsgType.PING, bytes(frame.data), ""))
        elif opcode is Opcode.PONG:
            self._pong_received()
            self._push(WSMessage(WSMsgType.PONG, bytes(frame.data), ""))
        elif opcode is Opcode.CLOSE:
            close = self._proto.close_rcvd
            code = close.code if close is not None else WSCloseCode.OK
            self._push(WSMessage(WSMsgType.CLOSE, code, close.reason if close else ""))

    def _add_part(self, frame: Frame) -> None:
        decoder = self._decoder
        if decoder is not None:
            try:
                self._parts.append(decoder.decode(frame.data, frame.fin))
            except UnicodeDecodeError as exc:
                # RFC 6455 §8.1: invalid UTF-8 in a text message fails the connection, 1007.
                self._kind = None
                self._fail(WSCloseCode.INVALID_TEXT, f"invalid UTF-8 in a text message: {exc}")
                return
        else:
            self._parts.append(bytes(frame.data))
        if frame.fin:
            kind, parts = self._kind, self._parts
            self._kind, self._parts, self._decoder = None, [], None
            assert kind is not None
            data: Any = "".join(parts) if kind is WSMsgType.TEXT else b"".join(parts)
            self._push(WSMessage(kind, data, ""))

    def _check_parser(self) -> None:
        """Report a failure found by websockets' parser (1002, 1007, 1009) once."""
        exc = self._proto.parser_exc
        if exc is None or self._fail_code is not None or isinstance(exc, EOFError):
            return
        sent = self._proto.close_sent
        code = sent.code if sent is not None else WSCloseCode.PROTOCOL_ERROR
        if isinstance(exc, PayloadTooBig):
            code = WSCloseCode.MESSAGE_TOO_BIG
        self._report(WebSocketError(code, str(exc)), code)

    def _fail(self, code: int, reason: str) -> None:
        if self._fail_code is not None or self._lost:
            return
        self._proto.fail(code, reason[:120])
        self._report(WebSocketError(code, reason), code)

    def _report(self, exc: BaseException, code: int) -> None:
        self._fail_code = code
        self.error = exc
        self._push(WSMessage(WSMsgType.ERROR, exc, None))

    def _push(self, message: WSMessage) -> None:
        self._queue.append(message)
        data = message.data
        if isinstance(data, (str, bytes)):
            self._queued += len(data)
        if (
            self._queued > self._read_limit
            and not self._read_paused
            and self._proto.state is State.OPEN
            and self.transport is not None
        ):
            self._read_paused = True
            self.transport.pause_reading()
        self._wake()

    def _wake(self) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def read(self) -> WSMessage:
        """The next message; `WS_CLOSED_MESSAGE` once the connection is gone and drained."""
        while not self._queue:
            if self._lost:
                return WS_CLOSED_MESSAGE
            waiter = self._waiter = self._loop.create_future()
            try:
                await waiter
            finally:
                if self._waiter is waiter:
                    self._waiter = None
        message = self._queue.popleft()
        data = message.data
        if isinstance(data, (str, bytes)):
            self._queued -= len(data)
        if self._read_paused and self._queued <= self._read_limit // 4:
            self._resume_reading()
        return message

    def _resume_reading(self) -> None:
        if self._read_paused:
            self._read_paused = False
            if self.transport is not None:
                self.transport.resume_reading()

    # -- state ----------------------------------------------------------------------------------

    @property
    def open(self) -> bool:
        """True until a close frame was sent or the connection failed."""
        return self._proto.state is State.OPEN and not self._lost

    @property
    def lost(self) -> bool:
        return self._lost

    @property
    def close_code(self) -> int | None:
        """The close code: ours after a failure, else the peer's, 1006 without a handshake."""
        if self._fail_code is not None:
            return self._fail_code
        close = self._proto.close_rcvd or self._peer_close
        if close is not None:
            return close.code
        return None

    @property
    def close_reason(self) -> str | None:
        close = self._proto.close_rcvd or self._peer_close
        return None if close is None else close.reason

    # -- outgoing -------------------------------------------------------------------------------

    def _flush(self) -> None:
        """Queue outgoing frames; they go out in one write at the end of this loop turn.

        Echoing a burst of small messages otherwise costs one send() system call each: the
        frames produced while handling one read are coalesced instead. More than
        `_CORK_LIMIT` bytes waiting are written at once, so a sender that never yields to the
        loop still reaches the transport's flow control.
        """
        transport = self.transport
        for chunk in self._proto.data_to_send():
            if transport is None:
                continue
            if chunk is SEND_EOF or not chunk:
                # The server closes the TCP connection first (RFC 6455 §7.1.1).
                self._write_out()
                self._cancel_heartbeat()
                transport.close()
            else:
                self._out.append(chunk)
                self._out_size += len(chunk)
                if self._out_size > _CORK_LIMIT:
                    self._write_out()
                elif not self._out_scheduled:
                    self._out_scheduled = True
                    self._loop.call_soon(self._write_out)

    def _queue_frame(self, first: int, payload: bytes) -> None:
        """Queue a whole, final, unmasked data frame (RFC 6455 §5.2) without websockets'
        serializer; only for connections without extensions."""
        size = len(payload)
        if size < 126:
            frame = bytes((first, size)) + payload
        elif size < 65536:
            frame = bytes((first, 126)) + size.to_bytes(2, "big") + payload
        else:
            frame = bytes((first, 127)) + size.to_bytes(8, "big") + payload
        self._out.append(frame)
        self._out_size += len(frame)
        if self._out_size > _CORK_LIMIT:
            self._write_out()
        elif not self._out_scheduled:
            self._out_scheduled = True
            self._loop.call_soon(self._write_out)

    def _write_out(self) -> None:
        self._out_scheduled = False
        out = self._out
        if not out:
            return
        self._out = []
        self._out_size = 0
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        transport.write(out[0] if len(out) == 1 else b"".join(out))

    def _check_open(self) -> None:
        transport = self.transport
        if transport is None or transport.is_closing() or self._proto.state is not State.OPEN:
            raise ConnectionResetError("Cannot write to closing transport")

    def send_text(self, data: str) -> None:
        """Send a text message.

        Raises:
            ConnectionResetError: the connection is closing or closed.
        """
        self._check_open()
        if self._proto.extensions:
            self._proto.send_text(data.encode())
            self._flush()
        else:
            self._queue_frame(0x81, data.encode())

    def send_binary(self, data: bytes | bytearray | memoryview) -> None:
        """Send a binary message.

        Raises:
            ConnectionResetError: the connection is closing or closed.
        """
        self._check_open()
        if self._proto.extensions:
            self._proto.send_binary(bytes(data))
            self._flush()
        else:
            self._queue_frame(0x82, bytes(data))

    def send_message(self, opcode: int, payload: bytes | bytearray | memoryview) -> None:
        """Send a text (opcode 1) or binary (2) message given as bytes, as they are: text is
        not checked for valid UTF-8.

        Raises:
            ConnectionResetError: the connection is closing or closed.
        """
        self._check_open()
        if self._proto.extensions:
            if opcode == Opcode.TEXT:
                self._proto.send_text(bytes(payload))
            else:
                self._proto.send_binary(bytes(payload))
            self._flush()
        else:
            self._queue_frame(0x80 | opcode, bytes(payload))

    def ping(self, data: bytes = b"") -> None:
        """Send a ping (RFC 6455 §5.5.2).

        Raises:
            ConnectionResetError: the connection is closed.
        """
        self._control(self._proto.send_ping, data)

    def pong(self, data: bytes = b"") -> None:
        """Send a pong (RFC 6455 §5.5.3).

        Raises:
            ConnectionResetError: the connection is closed.
        """
        self._control(self._proto.send_pong, data)

    def _control(self, send: Any, data: bytes) -> None:
        if self.transport is None or self.transport.is_closing():
            raise ConnectionResetError("Cannot write to closing transport")
        try:
            send(bytes(data))
        except InvalidState:
            raise ConnectionResetError("Cannot write to closing transport") from None
        except WsProtocolError as exc:
            raise ValueError(str(exc)) from None
        self._flush()

    async def drain(self) -> None:
        """Wait while the transport's write buffer is above its high-water mark."""
        while self._write_paused and not self._lost:
            waiter = self._drain_waiter
            if waiter is None:
                waiter = self._drain_waiter = self._loop.create_future()
            await asyncio.shield(waiter)

    def start_close(self, code: int | None = WSCloseCode.OK, reason: str = "") -> bool:
        """Send a close frame (None: one without a code); False when one was already sent or
        the connection is gone. With autoclose=False this answers the peer's close frame.

        Raises:
            ValueError: the code may not be sent (RFC 6455 §7.4) or the reason is too long.
        """
        if self._lost or self._proto.state is not State.OPEN:
            return False
        try:
            self._proto.send_close(code, reason)
        except WsProtocolError as exc:
            raise ValueError(f"cannot close with code {code} and reason {reason!r}: {exc}") from exc
        held, self._close_held = self._close_held, None
        if held is not None:
            # Our close frame is queued: the peer's now completes the handshake in the core,
            # which records it and closes TCP (server side, RFC 6455 §7.1.1) without echoing
            # it. Its CLOSE message was delivered when it arrived.
            self._proto.receive_data(held)
            self._proto.events_received()
        # Peers answer a close frame and little else: read it even if nobody reads messages.
        self._resume_reading()
        self._flush()
        return True

    async def wait_closed(self, timeout: float | None) -> bool:
        """Wait for the TCP connection to end; abort it after ``timeout``. True if it ended."""
        try:
            async with asyncio.timeout(timeout):
                await asyncio.shield(self._lost_waiter)
        except TimeoutError:
            self._fail_code = self._fail_code or WSCloseCode.ABNORMAL_CLOSURE
            self.abort()
            return False
        return True

    def fail(self, code: int, reason: str = "") -> None:
        """Fail the connection: send a close frame with ``code`` if open, then close TCP."""
        if self._lost:
            return
        if self._proto.state is State.OPEN:
            self._proto.fail(code, reason[:120])
            self._fail_code = self._fail_code or code
        self._flush()
        if self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        """Drop the TCP connection at once."""
        transport = self.transport
        if transport is not None:
            transport.abort()

    # -- heartbeat ----------------------------------------------------------------------------

    def _reset_heartbeat(self) -> None:
        interval = self._heartbeat
        if (
            not interval
            or self._lost
            or self._proto.state is not State.OPEN
            or self._close_held is not None
        ):
            return
        if self._pong_handle is not None:
            self._pong_handle.cancel()
            self._pong_handle = None
        if self._ping_handle is not None:
            self._ping_handle.cancel()
        self._ping_handle = self._loop.call_later(interval, self._send_heartbeat)

    def _send_heartbeat(self) -> None:
        self._ping_handle = None
        if (
            self._lost
            or self._proto.state is not State.OPEN
            or self._heartbeat is None
            or self._close_held is not None
        ):
            return
        self._proto.send_ping(b"")
        self._flush()
        self._pong_handle = self._loop.call_later(self._heartbeat / 2, self._pong_missed)

    def _pong_received(self) -> None:
        if self._pong_handle is not None:
            self._pong_handle.cancel()
            self._pong_handle = None

    def _pong_missed(self) -> None:
        self._pong_handle = None
        if self._lost:
            return
        assert self._heartbeat is not None
        exc = TimeoutError(f"No PONG received after {self._heartbeat / 2:g} seconds")
        self._report(exc, WSCloseCode.ABNORMAL_CLOSURE)
        self.abort()

    def _cancel_heartbeat(self) -> None:
        for handle in (self._ping_handle, self._pong_handle):
            if handle is not None:
                handle.cancel()
        self._ping_handle = self._pong_handle = None
