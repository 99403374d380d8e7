"""WebSocketResponse over real TCP: the websockets client library and raw sockets."""

from __future__ import annotations

import asyncio
import base64
import os
import struct
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.frames import Frame, Opcode

from webkit import web
from webkit.web.websocket import WebSocketResponse, WSCloseCode, WSMessage, WSMsgType

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def make_app(handler: Handler, path: str = "/ws", method: str = "GET") -> web.Application:
    app = web.Application()
    app.router.add_route(method, path, handler)
    return app


async def echo(request: web.Request) -> web.StreamResponse:
    ws = WebSocketResponse()
    await ws.prepare(request)
    async for msg in ws:
        if msg.type is WSMsgType.TEXT:
            if msg.data.startswith("{"):
                await ws.send_json({"echo": msg.json()})
            else:
                await ws.send_str(msg.data)
        elif msg.type is WSMsgType.BINARY:
            await ws.send_bytes(msg.data)
    return ws


# -- raw socket helpers ---------------------------------------------------------------------------


async def raw_open(
    port: int, path: str = "/ws", extra: str = "", version: str = "13"
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        (
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            f"Sec-WebSocket-Version: {version}\r\n{extra}\r\n"
        ).encode()
    )
    head = await reader.readuntil(b"\r\n\r\n")
    return reader, writer, head


def client_frame(opcode: Opcode, data: bytes, fin: bool = True, **kwargs: Any) -> bytes:
    return Frame(opcode, data, fin, **kwargs).serialize(mask=True, extensions=[])


async def read_close_code(reader: asyncio.StreamReader) -> int:
    """Read server frames until a close frame; return its code."""
    while True:
        first, second = await reader.readexactly(2)
        length = second & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", await reader.readexactly(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", await reader.readexactly(8))
        payload = await reader.readexactly(length)
        if first & 0x0F == 0x8:
            return int(struct.unpack("!H", payload[:2])[0])


# -- messages -------------------------------------------------------------------------------------


async def test_echo_text_binary_json(webkit_client) -> None:
    client = await webkit_client(make_app(echo))
    async with client.ws_connect("/ws") as ws:
        await ws.send("hello")
        assert await ws.recv() == "hello"
        await ws.send(b"\x00\x01\xff")
        assert await ws.recv() == b"\x00\x01\xff"
        await ws.send('{"a": [1, 2]}')
        assert await ws.recv() == '{"echo": {"a": [1, 2]}}'
        await ws.send("é" * 70000)  # 16-bit and 64-bit lengths
        assert await ws.recv() == "é" * 70000


async def test_receive_str_bytes_json_and_message_json() -> None:
    msg = WSMessage(WSMsgType.TEXT, '{"x": 1}', "")
    assert msg.json() == {"x": 1}
    assert WSMsgType.text is WSMsgType.TEXT
    assert WSCloseCode.GOING_AWAY == 1001


async def test_receive_helpers(webkit_client) -> None:
    got: list[Any] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        ws = WebSocketResponse()
        await ws.prepare(request)
        got.append(await ws.receive_str())
        got.append(await ws.receive_bytes())
        got.append(await ws.receive_json())
        with pytest.raises(TypeError, match=r"is not WSMsgType\.BINARY"):
            await ws.receive_bytes()
        await ws.send_str("done")
        return ws

    client = await webkit_client(make_app(handler))
    async with client.ws_connect("/ws") as ws:
        await ws.send("s")
        await ws.send(b"b")
        await ws.send('{"j": true}')
        await ws.send("not bytes")
        assert await ws.recv() == "done"
    assert got == ["s", b"b", {"j": True}]


async def test_subprotocol_negotiation(webkit_client) -> None:
    chosen: list[Any] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        ws = WebSocketResponse(protocols=("chat", "chat.v2"))
        ready = ws.can_prepare(request)
        assert ready
        chosen.append(ready.protocol)
        await ws.prepare(request)
        chosen.append(ws.ws_protocol)
        await ws.close()
        return ws

    client = await webkit_client(make_app(handler))
    async with client.ws_connect("/ws", subprotocols=["chat.v2", "chat"]) as ws:
        assert ws.subprotocol == "chat.v2"
    async with client.ws_connect("/ws", subprotocols=["other"]) as ws:
        assert ws.subprotocol is None
    assert chosen == ["chat.v2", "chat.v2", None, None]


async def test_permessage_deflate_negotiated_and_working(webkit_client) -> None:
    client = await webkit_client(make_app(echo))
    async with client.ws_connect("/ws") as ws:
        assert "permessage-deflate" in ws.response.headers["Sec-WebSocket-Extensions"]
        big = "compress me " * 10000
        await ws.send(big)
        assert await ws.recv() == big
        await ws.send(big.encode())
        assert await ws.recv() == big.encode()


async def test_compress_false_declines_deflate(webkit_client) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        ws = WebSocketResponse(compress=False)
        await ws.prepare(request)
        await ws.send_str(await ws.receive_str())
        return ws

    client = await webkit_client(make_app(handler))
    async with client.ws_connect("/ws") as ws:
        assert "Sec-WebSocket-Extensions" not in ws.response.headers
        await ws.send("plain")
        assert await ws.recv() == "plain"


async def test_fragmented_message_from_client(webkit_client) -> None:
    client = await webkit_client(make_app(echo))
    async with client.ws_connect("/ws") as ws:
        await ws.send(["frag", "men", "ted"])
        assert await ws.recv() == "fragmented"
        await ws.send([b"\x01", b"\x02"])
        assert await ws.recv() == b"\x01\x02"
    # A multi-byte character split across frames must still decode.
    reader, writer, head = await raw_open(client.port)
    assert head.startswith(b"HTTP/1.1 101")
    text = "żółw".encode()
    writer.write(client_frame(Opcode.TEXT, text[:1], fin=False))
    writer.write(client_frame(Opcode.PING, b"in between"))
    writer.write(client_frame(Opcode.CONT, text[1:], fin=True))
    await writer.drain()
    first, second = await reader.readexactly(2)
    assert first & 0x0F == 0xA  # the pong comes first
    await reader.readexactly(second & 0x7F)
    first, second = await reader.readexactly(2)
    assert first & 0x0F == 0x1
    assert (await reader.readexactly(second & 0x7F)).decode() == "żółw"
    writer.close()


async def test_ping_pong(webkit_client) -> None:
    seen: list[WSMessage] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        ws = WebSocketResponse(autoping=False)
        await ws.prepare(request)
        await ws.ping(b"from server")
        async for msg in ws:
            seen.append(msg)
            if msg.type is WSMsgType.PING:
                await ws.pong(msg.data)  # autoping=False: the application answers pings
            elif msg.type is WSMsgType.TEXT:
                await ws.send_str("ok")
        return ws

    client = await webkit_client(make_app(handler))
    async with client.ws_connect("/ws") as ws:
        pong_waiter = await ws.ping(b"from client")
        await asyncio.wait_for(pong_waiter, 5)
        await ws.send("t")
        assert await ws.recv() == "ok"
    types = [(m.type, m.data) for m in seen]
    assert (WSMsgType.PONG, b"from server") in types
    assert (WSMsgType.PING, b"from client") in types


async def test_autoping_hides_ping_and_pong(webkit_client) -> None:
    seen: list[WSMsgType] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        ws = WebSocketResponse()
        await ws.prepare(request)
        async for msg in ws:
            seen.append(msg.type)
        return ws

    client = await webkit_client(make_app(handler))
    async with client.ws_connect("/ws") as ws:
        await asyncio.wait_for(await ws.ping(b"x"), 5)
        await ws.send("t")
    await asyncio.sleep(0.05)
    assert seen == [WSMsgType.TEXT]


# -- closing --------------------------------------------------------------------------------------


async def test_server_close_with_code_and_reason(webkit_client) -> None:
    results: list[Any] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        ws = WebSocketResponse()
        await ws.prepare(request)
        await ws.receive()
        results.append(await ws.close(code=WSCloseCode.POLICY_VIOLATION, message=b"go away"))
        results.append(await ws.close())
        results.append((ws.closed, ws.close_code))
        with pytest.raises(ConnectionResetError):
            await ws.send_str("too late")
        results.append((await ws.receive()).type)
        return ws

    client = await webkit_client(make_app(handler))
    async with client.ws_connect("/ws") as ws:
        await ws.send("close me")
        with pytest.raises(ConnectionClosed) as info:
            await ws.recv()
        assert info.value.rcvd is not None
        assert info.value.rcvd.code == 1008
        assert info.value.rcvd.reason == "go away"
    await asyncio.sleep(0.05)
    assert results == [True, False, (True, 1008), WSMsgType.CLOSED]


async def test_close_gives_up_after_timeout_on_a_silent_peer(webkit_client) -> None:
    done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    async def handler(request: web.Request) -> web.StreamResponse:
        ws = WebSocketResponse(timeout=0.2)
        await ws.prepare(request)
        with pytest.raises(ValueError, match="cannot close"):
            await ws.close(code=1005)  # reserved: never sent (RFC 6455 §7.4.1)
        started = asyncio.get_running_loop().time()
        closed = await ws.close()
        done.set_result((closed, ws.close_code, asyncio.get_running_loop().time() - started))
        return ws

    client = await webkit_client(make_app(handler))
    reader, writer, _ = await raw_open(client.port)
    assert await asyncio.wait_for(read_close_code(reader), 2) == 1000  # and never answered
    closed, code, took = await asyncio.wait_for(done, 2)
    assert closed is True
    assert code == WSCloseCode.ABNORMAL_CLOSURE
    assert 0.15 < took < 1.0
    writer.close()


async def test_client_close_seen_by_server(webkit_client) -> None:
    done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    async def handler(request: web.Request) -> web.StreamResponse:
        ws = WebSocketResponse()
        await ws.prepare(request)
        messages = [msg.data async for msg in ws]
        done.set_result((messages, ws.closed, ws.close_code, await ws.close()))
        return ws

    client = await webkit_client(make_app(handler))
    async with client.ws_connect("/ws") as ws:
        await ws.send("one")
        await ws.close(code=4001, reason="bye")
    assert await asyncio.wait_for(done, 5) == (["one"], True, 4001, False)


async def test_handler_return_closes_the_websocket(webkit_client) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        ws = WebSocketResponse()
        await ws.prepare(request)
        await ws.send_str("bye")
        return ws

    client = await webkit_client(make_app(handler))
    async with client.ws_connect("/ws") as ws:
        assert await ws.recv() == "bye"
        with pytest.raises(ConnectionClosed):
            await ws.recv()
        assert ws.close_code == 1000


async def test_handler_error_closes_with_1011(webkit_client) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        ws = WebSocketResponse()
        await ws.prepare(request)
        await ws.receive()
        raise ValueError("boom")

    client = await webkit_client(make_app(handler))
    async with client.ws_connect("/ws") as ws:
        await ws.send("x")
        with pytest.raises(ConnectionClosed):
            await ws.recv()
        assert ws.close_code == 1011


# -- tasks ----------------------------------------------------------------------------------------


async def test_concurrent_receive_is_an_error(webkit_client) -> None:
    results: list[Any] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        ws = WebSocketResponse()
        await ws.prepare(request)
        first = asyncio.ensure_future(ws.receive())
        await asyncio.sleep(0)
        with pytest.raises(RuntimeError, match="Concurrent call to receive"):
            await ws.receive()
        await ws.send_str("ready")
        results.append((await first).data)
        await ws.close()
        return ws

    client = await webkit_client(make_app(handler))
    async with client.ws_connect("/ws") as ws:
        assert await ws.recv() == "ready"
        await ws.send("for the first")
        with pytest.raises(ConnectionClosed):
            await ws.recv()
    assert results == ["for the first"]


async def test_send_and_close_from_another_task(webkit_client) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        ws = WebSocketResponse()
        await ws.prepare(request)

        async def other() -> None:
            await ws.send_str("from another task")
            await asyncio.sleep(0.05)
            await ws.close(code=WSCloseCode.GOING_AWAY)

        task = asyncio.create_task(other())
        msgs = [msg async for msg in ws]
        await task
        assert msgs == []
        return ws

    client = await webkit_client(make_app(handler))
    async with client.ws_connect("/ws") as ws:
        assert await ws.recv() == "from another task"
        with pytest.raises(ConnectionClosed):
            await ws.recv()
        assert ws.close_code == 1001


async def test_vanished_client_ends_receive(webkit_client) -> None:
    done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    async def handler(request: web.Request) -> web.StreamResponse:
        ws = WebSocketResponse()
        await ws.prepare(request)
        msg = await ws.receive()
        done.set_result((msg.type, ws.close_code, ws.closed))
        return ws

    client = await webkit_client(make_app(handler))
    _reader, writer, head = await raw_open(client.port)
    assert head.startswith(b"HTTP/1.1 101")
    writer.close()
    kind, code, closed = await asyncio.wait_for(done, 2)
    assert kind in (WSMsgType.CLOSED, WSMsgType.ERROR)
    assert code == WSCloseCode.ABNORMAL_CLOSURE
    assert closed


async def test_heartbeat_closes_peer_that_never_pongs(webkit_client) -> None:
    done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    async def handler(request: web.Request) -> web.StreamResponse:
        ws = WebSocketResponse(heartbeat=0.2)
        await ws.prepare(request)
        msg = await ws.receive()
        done.set_result((msg.type, ws.close_code, ws.exception()))
        return ws

    client = await webkit_client(make_app(handler))
    reader, writer, head = await raw_open(client.port)
    assert head.startswith(b"HTTP/1.1 101")
    kind, code, exc = await asyncio.wait_for(done, 3)
    assert kind is WSMsgType.ERROR
    assert code == WSCloseCode.ABNORMAL_CLOSURE
    assert isinstance(exc, TimeoutError)
    first, _ = await reader.readexactly(2)
    assert first & 0x0F == 0x9  # the ping it ignored
    writer.close()


async def test_heartbeat_keeps_a_ponging_peer(webkit_client) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        ws = WebSocketResponse(heartbeat=0.1)
        await ws.prepare(request)
        await asyncio.sleep(0.4)
        await ws.send_str("still here")
        return ws

    client = await webkit_client(make_app(handler))
    async with client.ws_connect("/ws") as ws:
        assert await ws.recv() == "still here"


async def test_receive_timeout(webkit_client) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        ws = WebSocketResponse(receive_timeout=0.1)
        await ws.prepare(request)
        with pytest.raises(TimeoutError):
            await ws.receive()
        with pytest.raises(TimeoutError):
            await ws.receive(timeout=0.05)
        await ws.send_str("timed out")
        await ws.send_str(await ws.receive_str())
        return ws

    client = await webkit_client(make_app(handler))
    async with client.ws_connect("/ws") as ws:
        assert await ws.recv() == "timed out"
        await ws.send("after")
        assert await ws.recv() == "after"


async def test_many_messages_while_the_handler_is_busy(webkit_client) -> None:
    # Unread messages beyond the read limit pause the socket; none is lost or reordered.
    async def handler(request: web.Request) -> web.StreamResponse:
        ws = WebSocketResponse()
        await ws.prepare(request)
        await asyncio.sleep(0.2)
        count = 0
        async for msg in ws:
            assert msg.data == f"{count:04d}" + "x" * 1000
            count += 1
            if count == 500:
                await ws.send_str(str(count))
        return ws

    client = await webkit_client(make_app(handler))
    async with client.ws_connect("/ws") as ws:
        for i in range(500):
            await ws.send(f"{i:04d}" + "x" * 1000)
        assert await asyncio.wait_for(ws.recv(), 5) == "500"


# -- failures -------------------------------------------------------------------------------------


async def test_oversized_message_closes_1009(webkit_client) -> None:
    done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    async def handler(request: web.Request) -> web.StreamResponse:
        ws = WebSocketResponse(max_msg_size=1024)
        await ws.prepare(request)
        msg = await ws.receive()
        done.set_result((msg.type, ws.close_code))
        return ws

    client = await webkit_client(make_app(handler))
    async with client.ws_connect("/ws") as ws:
        await ws.send(["x" * 600, "y" * 600])  # too big only as a whole
        with pytest.raises(ConnectionClosed) as info:
            await ws.recv()
        assert info.value.rcvd is not None
        assert info.value.rcvd.code == 1009
    assert await asyncio.wait_for(done, 2) == (WSMsgType.ERROR, 1009)


async def test_invalid_utf8_closes_1007(webkit_client) -> None:
    done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    async def handler(request: web.Request) -> web.StreamResponse:
        ws = WebSocketResponse()
        await ws.prepare(request)
        msg = await ws.receive()
        done.set_result((msg.type, ws.close_code, getattr(msg.data, "code", None)))
        return ws

    client = await webkit_client(make_app(handler))
    reader, writer, _ = await raw_open(client.port)
    writer.write(client_frame(Opcode.TEXT, b"ok \xff\xfe"))
    assert await asyncio.wait_for(read_close_code(reader), 2) == 1007
    assert await asyncio.wait_for(done, 2) == (WSMsgType.ERROR, 1007, 1007)
    writer.close()


async def test_protocol_error_closes_1002(webkit_client) -> None:
    done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    async def handler(request: web.Request) -> web.StreamResponse:
        ws = WebSocketResponse(compress=False)
        await ws.prepare(request)
        msg = await ws.receive()
        done.set_result((msg.type, ws.close_code))
        return ws

    client = await webkit_client(make_app(handler))
    reader, writer, _ = await raw_open(client.port)
    # An unmasked client frame (RFC 6455 §5.1).
    writer.write(Frame(Opcode.TEXT, b"hi").serialize(mask=False, extensions=[]))
    assert await asyncio.wait_for(read_close_code(reader), 2) == 1002
    assert await asyncio.wait_for(done, 2) == (WSMsgType.ERROR, 1002)
    writer.close()


# -- handshake ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "headers", "status"),
    [
        ("POST", {"Upgrade": "websocket", "Connection": "Upgrade"}, 400),
        ("GET", {"Connection": "Upgrade"}, 400),
        ("GET", {"Upgrade": "websocket", "Connection": "keep-alive"}, 400),
        (
            "GET",
            {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13"},
            400,
        ),
        (
            "GET",
            {
                "Upgrade": "websocket",
                "Connection": "Upgrade",
                "Sec-WebSocket-Version": "13",
                "Sec-WebSocket-Key": "c2hvcnQ=",
            },
            400,
        ),
    ],
)
async def test_bad_handshake_is_400(webkit_client, method, headers, status) -> None:
    client = await webkit_client(make_app(echo, method="*"))
    resp = await client.request(method, "/ws", headers=headers)
    assert resp.status_code == status


async def test_post_to_get_route_is_405(webkit_client) -> None:
    client = await webkit_client(make_app(echo))
    resp = await client.post("/ws", headers={"Upgrade": "websocket", "Connection": "Upgrade"})
    assert resp.status_code == 405


async def test_wrong_version_is_426(webkit_client) -> None:
    client = await webkit_client(make_app(echo))
    _reader, writer, head = await raw_open(client.port, version="8")
    assert head.startswith(b"HTTP/1.1 426")
    assert b"\r\nSec-WebSocket-Version: 13\r\n" in head
    writer.close()


async def test_can_prepare_reports_failure(webkit_client) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        ws = WebSocketResponse()
        ready = ws.can_prepare(request)
        return web.Response(text=f"{bool(ready)} {ready.protocol}")

    client = await webkit_client(make_app(handler))
    assert (await client.get("/ws")).text == "False None"


async def test_on_response_prepare_runs_for_websockets(webkit_client) -> None:
    seen: list[Any] = []

    async def on_prepare(request: web.Request, response: web.StreamResponse) -> None:
        seen.append((type(response).__name__, response.status))
        response.headers["X-Prepared"] = "yes"

    app = make_app(echo)
    app.on_response_prepare.append(on_prepare)
    client = await webkit_client(app)
    async with client.ws_connect("/ws") as ws:
        assert ws.response.headers["X-Prepared"] == "yes"
        await ws.send("x")
        assert await ws.recv() == "x"
    assert seen == [("WebSocketResponse", 101)]


async def test_not_prepared_errors() -> None:
    ws = WebSocketResponse()
    with pytest.raises(RuntimeError, match="prepare"):
        await ws.send_str("x")
    with pytest.raises(RuntimeError, match="prepare"):
        await ws.receive()
    with pytest.raises(RuntimeError, match="prepare"):
        await ws.close()
    with pytest.raises(RuntimeError):
        await ws.write(b"x")


# -- the seed's "Websocket shutdown" --------------------------------------------------------------


async def test_on_shutdown_closes_websockets_going_away() -> None:
    app = web.Application()
    websockets_key = web.AppKey("websockets", weakref.WeakSet)
    app[websockets_key] = weakref.WeakSet()
    ended: list[int | None] = []

    async def websocket_handler(request: web.Request) -> web.StreamResponse:
        ws = WebSocketResponse()
        await ws.prepare(request)
        request.app[websockets_key].add(ws)
        try:
            async for _msg in ws:
                pass
        finally:
            request.app[websockets_key].discard(ws)
            ended.append(ws.close_code)
        return ws

    async def on_shutdown(app: web.Application) -> None:
        for ws in set(app[websockets_key]):
            await ws.close(code=WSCloseCode.GOING_AWAY, message="Server shutdown")

    app.router.add_get("/ws", websocket_handler)
    app.on_shutdown.append(on_shutdown)
    runner = web.AppRunner(app, shutdown_timeout=2)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    from websockets.asyncio.client import connect

    async with connect(f"ws://127.0.0.1:{port}/ws") as ws:
        await ws.send("hi")
        await asyncio.sleep(0.05)
        await asyncio.wait_for(runner.cleanup(), 5)
        with pytest.raises(ConnectionClosed) as info:
            await ws.recv()
        assert info.value.rcvd is not None
        assert info.value.rcvd.code == 1001
        assert info.value.rcvd.reason == "Server shutdown"
    assert ended == [1001]


# -- frame splitting (the connection's own fast path) ----------------------------------------------


async def read_server_frame(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    first, second = await reader.readexactly(2)
    length = second & 0x7F
    if length == 126:
        (length,) = struct.unpack("!H", await reader.readexactly(2))
    elif length == 127:
        (length,) = struct.unpack("!Q", await reader.readexactly(8))
    return first, await reader.readexactly(length)


@pytest.mark.parametrize("piece", [1, 2, 3, 5, 7, 64, 100_000])
async def test_frames_split_anywhere_keep_order_with_control_frames(webkit_client, piece) -> None:
    client = await webkit_client(make_app(echo))
    reader, writer, head = await raw_open(client.port)
    assert head.startswith(b"HTTP/1.1 101")
    stream = b"".join(
        [
            client_frame(Opcode.TEXT, b"one"),
            client_frame(Opcode.PING, b"p1"),
            client_frame(Opcode.BINARY, bytes(range(200))),  # 16-bit length
            client_frame(Opcode.TEXT, b"fr", fin=False),  # a fragmented message ...
            client_frame(Opcode.PING, b"p2"),  # ... with a control frame inside it
            client_frame(Opcode.CONT, b"ag"),
            client_frame(Opcode.TEXT, "\u00e9\u20ac".encode()),
            client_frame(Opcode.BINARY, b"x" * 70_000),  # 64-bit length
            client_frame(Opcode.TEXT, b"last"),
        ]
    )
    for start in range(0, len(stream), piece):
        writer.write(stream[start : start + piece])
        await writer.drain()
    expected = [
        (0x81, b"one"),
        (0x8A, b"p1"),
        (0x82, bytes(range(200))),
        (0x8A, b"p2"),
        (0x81, b"frag"),
        (0x81, "\u00e9\u20ac".encode()),
        (0x82, b"x" * 70_000),
        (0x81, b"last"),
    ]
    got = [await asyncio.wait_for(read_server_frame(reader), 5) for _ in expected]
    # Pongs are sent as soon as the ping is parsed, echoes when the handler runs: each kind
    # keeps its own order.
    assert [f for f in got if f[0] == 0x8A] == [f for f in expected if f[0] == 0x8A]
    assert [f for f in got if f[0] != 0x8A] == [f for f in expected if f[0] != 0x8A]
    writer.close()


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        pytest.param(
            Frame(Opcode.TEXT, b"\xff\xfe").serialize(mask=True, extensions=[]), 1007, id="utf8"
        ),
        pytest.param(
            Frame(Opcode.TEXT, b"unmasked").serialize(mask=False, extensions=[]), 1002,
            id="unmasked",
        ),
        pytest.param(bytes((0xC1, 0x80)) + b"\0\0\0\0", 1002, id="rsv1-without-extension"),
        pytest.param(bytes((0x83, 0x80)) + b"\0\0\0\0", 1002, id="reserved-opcode"),
    ],
)  # fmt: skip
async def test_frames_the_fast_path_declines_still_fail_correctly(
    webkit_client, frame, code
) -> None:
    client = await webkit_client(make_app(echo))
    reader, writer, _ = await raw_open(client.port)
    writer.write(client_frame(Opcode.TEXT, b"ok") + frame)
    assert await asyncio.wait_for(read_close_code(reader), 5) == code
    writer.close()
