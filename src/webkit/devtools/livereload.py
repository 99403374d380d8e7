"""The parent's live-reload hub: the browsers' WebSockets, kept across every child restart.

A child hands each ``/_webkit/livereload`` connection over before answering it (see
``webkit.devtools.inject``); the hub answers the handshake, speaks the LiveReload protocol 7
(client ``hello`` → server ``hello``; then ``reload`` commands) and tells every browser to reload,
or to swap a stylesheet or image, when the supervisor says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
from collections.abc import Callable, Iterable

from multidict import CIMultiDict

from webkit.http.websocket.connection import WebSocketConnection
from webkit.http.websocket.handshake import HandshakeError, check_handshake
from webkit.http.websocket.messages import WSMsgType
from webkit.http.writer import encode_head, status_line

__all__ = ["PROTOCOL_7", "LiveReloadHub", "closing_head", "origin_allowed"]

PROTOCOL_7 = "http://livereload.com/protocols/official-7"
_log = logging.getLogger("webkit.devtools.livereload")


def origin_allowed(origin: str | None, host: str | None) -> bool:
    """Only pages of the dev server itself may open the live-reload socket.

    Browsers always send Origin on WebSocket handshakes, so a page of another site is refused;
    tools that send none (curl, the benchmark harness) are allowed.
    """
    if origin is None:
        return True
    if host is None:
        return False
    scheme, sep, rest = origin.partition("://")
    return bool(sep) and scheme in ("http", "https") and rest.rstrip("/").lower() == host.lower()


class _Client:
    __slots__ = ("conn", "greeted", "page", "task")

    def __init__(self, conn: WebSocketConnection) -> None:
        self.conn = conn
        self.greeted = False
        self.page = ""
        self.task: asyncio.Task[None] | None = None


class LiveReloadHub:
    """Browsers connected for live reload; `reload` tells them all.

    Args:
        on_change: called with (connected, clients, page) when a browser greets or leaves.
    """

    def __init__(self, on_change: Callable[[bool, int, str], None] | None = None) -> None:
        self._clients: set[_Client] = set()
        self._on_change = on_change or (lambda connected, clients, page: None)

    @property
    def clients(self) -> int:
        """Browsers that completed the LiveReload handshake."""
        return sum(1 for client in self._clients if client.greeted and client.conn.open)

    async def adopt_fd(
        self, fd: int, version: tuple[int, int], headers: Iterable[tuple[str, str]], tail: bytes
    ) -> None:
        """Take over a client socket handed over by a child, its request head already read."""
        sock = socket.socket(fileno=fd)
        try:
            sock.setblocking(False)
            loop = asyncio.get_running_loop()
            transport, _ = await loop.connect_accepted_socket(asyncio.Protocol, sock=sock)
        except OSError:
            with contextlib.suppress(OSError):
                sock.close()
            return
        self.adopt(transport, version, headers, tail)

    def adopt(
        self,
        transport: asyncio.Transport,
        version: tuple[int, int],
        headers: Iterable[tuple[str, str]],
        tail: bytes,
    ) -> None:
        """Answer the handshake on ``transport`` and keep the connection, or refuse it."""
        fields: CIMultiDict[str] = CIMultiDict(headers)
        if not origin_allowed(fields.get("Origin"), fields.get("Host")):
            _refuse(transport, version, 403, "live reload only accepts pages of this dev server")
            return
        try:
            handshake = check_handshake("GET", version, fields)
        except HandshakeError as exc:
            _refuse(transport, version, exc.status, exc.reason, exc.headers)
            return
        transport.write(encode_head(status_line(version, 101, None), handshake.headers))
        conn = WebSocketConnection(max_size=64 * 1024, heartbeat=None)
        conn.attach(transport, tail)
        client = _Client(conn)
        self._clients.add(client)
        client.task = asyncio.get_running_loop().create_task(self._serve(client))

    async def _serve(self, client: _Client) -> None:
        conn = client.conn
        try:
            while True:
                message = await conn.read()
                if message.type != WSMsgType.TEXT:
                    if message.type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.ERROR):
                        break
                    continue
                try:
                    data = json.loads(message.data)
                except ValueError:
                    continue
                if not isinstance(data, dict):
                    continue
                command = data.get("command")
                if command == "hello" and not client.greeted:
                    conn.send_text(
                        json.dumps(
                            {"command": "hello", "protocols": [PROTOCOL_7], "serverName": "webkit"}
                        )
                    )
                    client.greeted = True
                    self._on_change(True, self.clients, client.page)
                elif command == "info":
                    client.page = str(data.get("url", ""))
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self._clients.discard(client)
            if conn.open:
                conn.start_close(1001, "")
            else:
                conn.abort()
            if client.greeted:
                self._on_change(False, self.clients, client.page)

    def reload(self, path: str, *, live: bool = True) -> int:
        """Tell every greeted browser that ``path`` changed; returns how many were told.

        With ``live`` a stylesheet or image is swapped in place; otherwise the page reloads.
        """
        text = json.dumps({"command": "reload", "path": path, "liveCSS": live, "liveImg": live})
        told = 0
        for client in list(self._clients):
            if client.greeted and client.conn.open:
                with contextlib.suppress(ConnectionError, RuntimeError):
                    client.conn.send_text(text)
                    told += 1
        return told

    async def close(self) -> None:
        """Say goodbye (1001 going away) to every browser; their scripts retry quietly."""
        clients = list(self._clients)
        for client in clients:
            if client.task is not None:
                client.task.cancel()
        tasks = [client.task for client in clients if client.task is not None]
        if tasks:
            await asyncio.wait(tasks, timeout=0.5)


def closing_head(
    version: tuple[int, int],
    status: int,
    content_type: str,
    length: int,
    headers: Iterable[tuple[str, str]] = (),
) -> bytes:
    """The head of a whole response after which the parent closes the connection.

    The parent answers only in passing (a refused handshake, the error page): browsers must
    come back on a new connection, which the next child accepts.
    """
    fields = [
        *headers,
        ("Content-Type", content_type),
        ("Content-Length", str(length)),
        ("Connection", "close"),
    ]
    return encode_head(status_line(version, status, None), fields)


def _refuse(
    transport: asyncio.Transport,
    version: tuple[int, int],
    status: int,
    reason: str,
    headers: Iterable[tuple[str, str]] = (),
) -> None:
    body = (reason + "\n").encode()
    transport.write(
        closing_head(version, status, "text/plain; charset=utf-8", len(body), headers) + body
    )
    transport.close()
