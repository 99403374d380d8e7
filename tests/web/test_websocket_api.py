"""aiohttp's WebSocketResponse options over real TCP: autoping=False, autoclose=False,
send_frame and the per-message ``compress`` argument, checked frame by frame on raw sockets
and end to end with the ``websockets`` client library."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import struct
import time
import zlib
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from websockets.frames import Frame, Opcode

from webkit import web
from webkit.web.websocket import WebSocketResponse, WSCloseCode, WSMessage, WSMsgType

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def make_app(handler: Handler) -> web.Application:
    app = web.Application()
    app.router.add_get("/ws", handler)
    return app


async def raw_open(port: int, extra: str = "") -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        (
            f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            f"Sec-WebSocket-Version: 13\r\n{extra}\r\n"
        ).encode()
    )
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101"), head
    return reader, writer


def client_frame(opcode: Opcode, data: bytes, fin: bool = True) -> bytes:
    return Frame(opcode, data, fin).serialize(mask=True, extensions=[])


def close_payload(code: int, reason: str = "") -> bytes:
    return struct.pack("!H", code) + reason.encode()


async def read_frame(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """One server frame: its first byte (FIN, RSV, opcode) and its payload."""
    first, second = await asyncio.wait_for(reader.readexactly(2), 5)
    assert not second & 0x80, "a server must not mask its frames"
    length = second & 0x7F
    if length == 126:
        (length,) = struct.unpack("!H", await reader.readexactly(2))
    elif length == 127:
        (length,) = struct.unpack("!Q", await reader.readexactly(8))
    return first, await reader.readexactly(length)


async def assert_eof(reader: asyncio.StreamReader) -> None:
    """The server closed the TCP connection without sending anything more."""
    assert await asyncio.wait_for(reader.read(), 5) == b""


# -- autoping=False --------------------------------------------------------------------------------


async def test_autoping_false_returns_ping_and_sends_no_pong(webkit_client) -> None:
    seen: list[WSMessage] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        ws = WebSocketResponse(autoping=False)
        await ws.prepare(request)
        msg = await ws.receive()
        seen.append(msg)
        # Had the server answered the ping itself, that pong would precede this message.
        await ws.send_str("seen")
        await ws.pong(msg.data)
        await ws.receive()
        return ws

    client = await webkit_client(make_app(handler))
    reader, writer = await raw_open(client.port)
    writer.write(client_frame(Opcode.PING, b"p1"))
    assert await read_frame(reader) == (0x81, b"seen")
    assert await read_frame(reader) == (0x8A, b"p1")  # the application's own answer
    writer.write(client_frame(Opcode.CLOSE, close_payload(1000)))
    assert (await read_frame(reader))[0] == 0x88
    await assert_eof(reader)
    writer.close()
    assert [(m.type, m.data) for m in seen] == [(WSMsgType.PING, b"p1")]


@pytest.mark.parametrize("piece", [1, 3, 1000])
async def test_autoping_false_ping_inside_fragmented_message_and_split(
    webkit_client, piece
) -> None:
    seen: list[tuple[WSMsgType, Any]] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        ws = WebSocketResponse(autoping=False)
        await ws.prepare(request)
        async for msg in ws:
            seen.append((msg.type, msg.data))
            if msg.type is WSMsgType.TEXT:
                await ws.send_str("done")
        return ws

    client = await webkit_client(make_app(handler))
    reader, writer = await raw_open(client.port)
    stream = b"".join(
        [
            client_frame(Opcode.TEXT, b"ab", fin=False),
            client_frame(Opcode.PING, b"x" * 125),  # the largest control frame
            client_frame(Opcode.CONT, b"cd"),
        ]
    )
    for start in range(0, len(stream), piece):
        writer.write(stream[start : start + piece])
        await writer.drain()
    assert await read_frame(reader) == (0x81, b"done")  # no pong before it
    writer.write(client_frame(Opcode.CLOSE, close_payload(1000)))
    assert (await read_frame(reader))[0] == 0x88
    await assert_eof(reader)
    writer.close()
    assert seen == [(WSMsgType.PING, b"x" * 125), (WSMsgType.TEXT, "abcd")]


async def test_autoping_false_oversized_ping_still_fails_1002(webkit_client) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        ws = WebSocketResponse(autoping=False)
        await ws.prepare(request)
        await ws.receive()
        return ws

    client = await webkit_client(make_app(handler))
    reader, writer = await raw_open(client.port)
    # 126 bytes with a 16-bit length: not a valid control frame (RFC 6455 §5.5).
    writer.write(bytes((0x89, 0x80 | 126)) + struct.pack("!H", 126) + b"\0" * 4 + b"x" * 126)
    first, payload = await read_frame(reader)
    assert first == 0x88
    assert struct.unpack("!H", payload[:2])[0] == WSCloseCode.PROTOCOL_ERROR
    writer.close()


async def test_autoping_false_heartbeat_keeps_a_ponging_peer_and_returns_pongs(
    webkit_client,
) -> None:
    seen: list[tuple[WSMsgType, Any]] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        ws = WebSocketResponse(autoping=False, heartbeat=0.1)
        await ws.prepare(request)
        msg = await ws.receive(timeout=2)
        seen.append((msg.type, msg.data))
        await ws.send_str("still here")
        return ws

    client = await webkit_client(make_app(handler))
    async with client.ws_connect("/ws") as ws:  # the client library answers pings
        assert await asyncio.wait_for(ws.recv(), 5) == "still here"
    assert seen == [(WSMsgType.PONG, b"")]


async def test_autoping_false_heartbeat_fails_a_silent_peer(webkit_client) -> None:
    done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    async def handler(request: web.Request) -> web.StreamResponse:
        ws = WebSocketResponse(autoping=False, heartbeat=0.2)
        await ws.prepare(request)
        msg = await ws.receive()
        done.set_result((msg.type, ws.close_code, ws.exception()))
        return ws

    client = await webkit_client(make_app(handler))
    reader, writer = await raw_open(client.port)
    kind, code, exc = await asyncio.wait_for(done, 3)
    assert kind is WSMsgType.ERROR
    assert code == WSCloseCode.ABNORMAL_CLOSURE
    assert isinstance(exc, TimeoutError)
    assert (await read_frame(reader))[0] == 0x89  # the heartbeat's ping, unanswered
    writer.close()


# -- autoclose=False -------------------------------------------------------------------------------


async def test_autoclose_false_returns_close_and_lets_the_application_answer(
    webkit_client,
) -> None:
    states: list[Any] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        ws = WebSocketResponse(autoclose=False)
        await ws.prepare(request)
        msg = await ws.receive()
        states.append((msg.type, msg.data, msg.extra, ws.closed, ws.close_code))
        await ws.send_str("last words")  # allowed until our close frame (RFC 6455 §5.5.1)
        states.append((await ws.receive()).type)
        states.append(await ws.close(code=WSCloseCode.OK, message=b"bye too"))
        states.append((ws.closed, ws.close_code, await ws.close()))
        return ws

    client = await webkit_client(make_app(handler))
    reader, writer = await raw_open(client.port)
    # Anything after the close frame is discarded (RFC 6455 §1.4): the text is never seen.
    writer.write(
        client_frame(Opcode.CLOSE, close_payload(1001, "leaving"))
        + client_frame(Opcode.TEXT, b"after close")
    )
    assert await read_frame(reader) == (0x81, b"last words")  # no echo before it
    assert await read_frame(reader) == (0x88, close_payload(1000, "bye too"))
    await assert_eof(reader)
    writer.close()
    assert states == [
        (WSMsgType.CLOSE, 1001, "leaving", False, 1001),
        WSMsgType.CLOSING,
        True,
        (True, 1001, False),
    ]


async def test_autoclose_false_async_for_then_return_answers_with_websockets_client(
    webkit_client,
) -> None:
    seen: list[WSMsgType] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        ws = WebSocketResponse(autoclose=False)
        await ws.prepare(request)
        async for msg in ws:
            seen.append(msg.type)
        await asyncio.sleep(0.1)  # the close frame waits for the application
        return ws  # the framework's write_eof() calls close()

    client = await webkit_client(make_app(handler))
    ws = await client.ws_connect("/ws", close_timeout=5)
    await ws.send("hi")
    started = time.monotonic()
    await ws.close(1001, "going")
    assert 0.05 < time.monotonic() - started < 2
    assert ws.protocol.close_rcvd is not None
    assert ws.protocol.close_rcvd.code == 1000
    assert seen == [WSMsgType.TEXT]


async def test_autoclose_false_peer_drops_tcp_before_the_answer(webkit_client) -> None:
    result: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    gone = asyncio.Event()

    async def handler(request: web.Request) -> web.StreamResponse:
        ws = WebSocketResponse(autoclose=False, timeout=5)
        await ws.prepare(request)
        msg = await ws.receive()
        await gone.wait()
        await asyncio.sleep(0.1)
        started = time.monotonic()
        closed = await ws.close()
        result.set_result((msg.type, closed, ws.close_code, time.monotonic() - started))
        return ws

    client = await webkit_client(make_app(handler))
    _reader, writer = await raw_open(client.port)
    writer.write(client_frame(Opcode.CLOSE, close_payload(4000, "done")))
    await writer.drain()
    writer.close()
    gone.set()
    kind, closed, code, elapsed = await asyncio.wait_for(result, 5)
    assert kind is WSMsgType.CLOSE
    assert closed
    assert code == 4000  # the peer did close cleanly: not 1006
    assert elapsed < 1  # nothing left to wait for


async def test_autoclose_false_invalid_close_frame_still_fails_1002(webkit_client) -> None:
    seen: list[WSMsgType] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        ws = WebSocketResponse(autoclose=False)
        await ws.prepare(request)
        seen.append((await ws.receive()).type)
        return ws

    client = await webkit_client(make_app(handler))
    reader, writer = await raw_open(client.port)
    writer.write(client_frame(Opcode.CLOSE, close_payload(999)))  # a code nobody may send
    first, payload = await read_frame(reader)
    assert first == 0x88
    assert struct.unpack("!H", payload[:2])[0] == WSCloseCode.PROTOCOL_ERROR
    await assert_eof(reader)
    writer.close()
    await asyncio.sleep(0.05)
    assert seen == [WSMsgType.ERROR]


async def test_autoclose_false_answer_to_our_own_close_completes_normally(
    webkit_client,
) -> None:
    result: list[Any] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        ws = WebSocketResponse(autoclose=False)
        await ws.prepare(request)
        result.append(await ws.close(code=4001))
        result.append(ws.close_code)
        return ws

    client = await webkit_client(make_app(handler))
    reader, writer = await raw_open(client.port)
    assert await read_frame(reader) == (0x88, close_payload(4001))
    writer.write(client_frame(Opcode.CLOSE, close_payload(4001)))
    await assert_eof(reader)
    writer.close()
    await asyncio.sleep(0.05)
    assert result == [True, 4001]


# -- send_frame ------------------------------------------------------------------------------------


async def test_send_frame_each_opcode(webkit_client) -> None:
    errors: list[str] = []
    after: list[Any] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        ws = WebSocketResponse()
        await ws.prepare(request)
        await ws.send_frame(b"text", WSMsgType.TEXT)
        await ws.send_frame(b"\x00bin", WSMsgType.BINARY)
        await ws.send_frame(b"pi", WSMsgType.PING)
        await ws.send_frame(b"po", WSMsgType.PONG)
        for payload, opcode in [
            (b"x", WSMsgType.CONTINUATION),
            (b"x", WSMsgType.CLOSED),
            (b"x" * 126, WSMsgType.PING),
            (b"\x03", WSMsgType.CLOSE),
            (close_payload(1005), WSMsgType.CLOSE),  # may not be sent (RFC 6455 §7.4.1)
        ]:
            with pytest.raises(ValueError) as info:
                await ws.send_frame(payload, opcode)
            errors.append(type(info.value).__name__)
        await ws.send_frame(close_payload(4000, "bye"), WSMsgType.CLOSE)
        with pytest.raises(ConnectionResetError):
            await ws.send_frame(b"late", WSMsgType.TEXT)
        with pytest.raises(ConnectionResetError):
            await ws.send_frame(b"", WSMsgType.CLOSE)
        msg = await ws.receive()  # the peer's answer
        after.append((msg.type, msg.data, await ws.close()))
        return ws

    client = await webkit_client(make_app(handler))
    reader, writer = await raw_open(client.port)
    assert await read_frame(reader) == (0x81, b"text")
    assert await read_frame(reader) == (0x82, b"\x00bin")
    assert await read_frame(reader) == (0x89, b"pi")
    assert await read_frame(reader) == (0x8A, b"po")
    assert await read_frame(reader) == (0x88, close_payload(4000, "bye"))
    writer.write(client_frame(Opcode.CLOSE, close_payload(4000)))
    await assert_eof(reader)
    writer.close()
    await asyncio.sleep(0.05)
    assert len(errors) == 5
    assert after == [(WSMsgType.CLOSE, 4000, False)]


async def test_send_frame_before_prepare() -> None:
    ws = WebSocketResponse()
    with pytest.raises(RuntimeError, match="prepare"):
        await ws.send_frame(b"x", WSMsgType.TEXT)


# -- per-message compress --------------------------------------------------------------------------


async def test_compress_argument_keeps_the_connection_setting(webkit_client) -> None:
    text = "compress me please " * 40

    async def handler(request: web.Request) -> web.StreamResponse:
        ws = WebSocketResponse()
        await ws.prepare(request)
        await ws.send_str(text)
        await ws.send_str(text, compress=0)
        await ws.send_str(text, compress=9)
        await ws.send_bytes(text.encode(), compress=0)
        await ws.send_json({"t": text}, compress=0)
        await ws.send_frame(text.encode(), WSMsgType.TEXT, compress=0)
        await ws.send_frame(b"p", WSMsgType.PING, compress=9)  # control frames: never
        await ws.send_str(text)
        await ws.receive()
        return ws

    client = await webkit_client(make_app(handler))
    reader, writer = await raw_open(client.port, "Sec-WebSocket-Extensions: permessage-deflate\r\n")
    # One inflater for the whole connection (context takeover, RFC 7692 §7.2.3): every
    # message must continue the same stream, or the later ones decode wrong.
    inflater = zlib.decompressobj(-15)
    got = []
    for _ in range(8):
        first, payload = await read_frame(reader)
        if first & 0x40:
            payload = inflater.decompress(payload + b"\x00\x00\xff\xff")
        got.append((first, payload))
    expected = [
        (0xC1, text.encode()),
        (0xC1, text.encode()),
        (0xC1, text.encode()),
        (0xC2, text.encode()),
        (0xC1, json.dumps({"t": text}).encode()),
        (0xC1, text.encode()),
        (0x89, b"p"),
        (0xC1, text.encode()),
    ]
    assert got == expected
    writer.write(client_frame(Opcode.CLOSE, close_payload(1000)))
    assert await read_frame(reader) == (0x88, close_payload(1000))
    await assert_eof(reader)
    writer.close()


async def test_compress_argument_without_deflate_sends_plain_frames(webkit_client) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        ws = WebSocketResponse(compress=False)
        await ws.prepare(request)
        await ws.send_str("plain", compress=9)  # RSV1 needs the extension (RFC 6455 §5.2)
        await ws.send_bytes(b"plain", compress=15)
        await ws.send_frame(b"plain", WSMsgType.TEXT, compress=9)
        await ws.receive()
        return ws

    client = await webkit_client(make_app(handler))
    reader, writer = await raw_open(client.port, "Sec-WebSocket-Extensions: permessage-deflate\r\n")
    assert await read_frame(reader) == (0x81, b"plain")
    assert await read_frame(reader) == (0x82, b"plain")
    assert await read_frame(reader) == (0x81, b"plain")
    writer.write(client_frame(Opcode.CLOSE, close_payload(1000)))
    assert await read_frame(reader) == (0x88, close_payload(1000))
    await assert_eof(reader)
    writer.close()


async def test_compress_override_between_messages_with_websockets_client(webkit_client) -> None:
    text = "hello world abcdefghij " * 50

    async def handler(request: web.Request) -> web.StreamResponse:
        ws = WebSocketResponse()
        await ws.prepare(request)
        await ws.send_str(text)
        await ws.send_str("zzzz" + text[:200], compress=9)
        await ws.send_str(text)
        await ws.send_bytes(text.encode(), compress=10)
        await ws.receive()
        return ws

    client = await webkit_client(make_app(handler))
    async with client.ws_connect("/ws") as ws:
        assert "permessage-deflate" in ws.response.headers["Sec-WebSocket-Extensions"]
        assert await ws.recv() == text
        assert await ws.recv() == "zzzz" + text[:200]
        assert await ws.recv() == text
        assert await ws.recv() == text.encode()
