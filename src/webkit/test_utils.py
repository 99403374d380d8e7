"""aiohttp.test_utils' names for code being ported: servers, client, mocked requests."""

from __future__ import annotations

import asyncio
import contextlib
import unittest
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, cast

from multidict import CIMultiDict

from webkit.http import EMPTY_BODY, BodyStream, Exchange, HttpVersion, HttpVersion11
from webkit.testing import RawTestServer, TestClient, TestServer, unused_port
from webkit.web import Application, Request
from webkit.web.routing.resources import UrlMappingMatchInfo

if TYPE_CHECKING:
    from webkit.http import HttpConnection

__all__ = [
    "AioHTTPTestCase",
    "RawTestServer",
    "TestClient",
    "TestServer",
    "loop_context",
    "make_mocked_request",
    "unused_port",
]


class _MockTransport:
    """The transport of a mocked request: it knows only its TLS context."""

    def __init__(self, sslcontext: Any = None) -> None:
        self._sslcontext = sslcontext

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        if name == "sslcontext":
            return self._sslcontext
        return default

    def is_closing(self) -> bool:
        return False


class _BufferConnection:
    """Stands in for a socket connection: what the response writes is kept in ``output``."""

    def __init__(self, transport: Any = None) -> None:
        self.transport = transport
        self.lost = False
        self.closing = False
        self.task: asyncio.Task[None] | None = None
        self.output = bytearray()

    def write(self, data: bytes) -> None:
        self.output += data

    async def drain(self) -> None:
        return None

    def detach(self, exchange: Exchange) -> tuple[Any, bytes]:
        return self.transport, b""


def make_mocked_request(
    method: str,
    path: str,
    headers: Mapping[str, str] | None = None,
    *,
    match_info: Mapping[str, str] | None = None,
    version: HttpVersion = HttpVersion11,
    app: Application | None = None,
    payload: bytes | BodyStream | None = None,
    client_max_size: int = 1024**2,
    transport: Any = None,
    closing: bool = False,
    sslcontext: Any = None,
) -> Request:
    """A `Request` not tied to a socket, for unit-testing handlers and middlewares.

    Args:
        method: the HTTP method.
        path: the request target, path and query (``/users/1?x=y``).
        headers: request headers.
        match_info: the route variables ``request.match_info`` holds.
        version: the HTTP version.
        app: ``request.app`` (a new `Application` by default).
        payload: the body ``read()``/``text()``/``post()`` see.
        client_max_size: the largest body ``read()`` accepts.
        transport: stands in for the socket transport (``get_extra_info``); by default one
            that knows only ``sslcontext``.
        closing: the client asked not to keep the connection alive.
        sslcontext: makes the request look like one over TLS (``request.secure``).

    Response bytes written for it are kept in ``request.exchange._conn.output``.
    """
    if transport is None:
        transport = _MockTransport(sslcontext)
    raw_headers = [
        (k.encode("utf-8"), v.encode("utf-8")) for k, v in CIMultiDict(headers or {}).items()
    ]
    if isinstance(payload, bytes):
        body = BodyStream()
        body.feed_data(payload)
        body.feed_eof()
    else:
        body = payload if payload is not None else EMPTY_BODY
    conn = _BufferConnection(transport)
    length = len(payload) if isinstance(payload, bytes) else None
    exchange = Exchange(
        cast("HttpConnection", conn),
        method.upper(),
        path,
        version,
        raw_headers,
        body,
        not closing,
        length,
        None,
        False,
    )
    request = Request(exchange, client_max_size=client_max_size)
    if app is None:
        app = Application()
    info = _MockMatchInfo(dict(match_info or {}))
    info.add_app(app)
    request._match_info = info
    return request


class _MockMatchInfo(UrlMappingMatchInfo):
    def __init__(self, match: dict[str, str]) -> None:
        from webkit.web.exceptions import HTTPNotFound
        from webkit.web.routing.resources import SystemRoute

        super().__init__(match, SystemRoute(HTTPNotFound()))


@contextlib.contextmanager
def loop_context(fast: bool = False) -> Iterator[asyncio.AbstractEventLoop]:
    """A fresh event loop, closed afterwards."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        yield loop
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        asyncio.set_event_loop(None)
        loop.close()


class AioHTTPTestCase(unittest.IsolatedAsyncioTestCase):
    """unittest base class: override `get_application`; use ``self.client`` in tests."""

    async def get_application(self) -> Application:
        raise NotImplementedError("override get_application() to return your Application")

    async def asyncSetUp(self) -> None:
        self.app = await self.get_application()
        self.server = TestServer(self.app)
        self.client = TestClient(self.server)
        await self.client.start_server()

    async def asyncTearDown(self) -> None:
        await self.client.close()
