"""Test servers: an application or a bare handler served on 127.0.0.1."""

from __future__ import annotations

import socket
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any

from yarl import URL

from webkit.web import (
    Application,
    AppRunner,
    BaseRequest,
    BaseRunner,
    Server,
    ServerRunner,
    SockSite,
    StreamResponse,
)

__all__ = ["BaseTestServer", "RawTestServer", "TestServer", "unused_port"]


def unused_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (prefer port 0 where possible)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class BaseTestServer:
    """Serves on a socket bound before the runner starts, so the port is known up front."""

    __test__ = False

    def __init__(
        self,
        *,
        scheme: str = "http",
        host: str = "127.0.0.1",
        port: int | None = None,
        **kwargs: Any,
    ) -> None:
        self.scheme = scheme
        self.host = host
        self.port: int | None = port
        self._kwargs = kwargs
        self.runner: BaseRunner | None = None
        self._root: URL | None = None
        self._closed = False

    async def _make_runner(self, **kwargs: Any) -> BaseRunner:
        raise NotImplementedError

    async def start_server(self, **kwargs: Any) -> None:
        if self.runner is not None:
            return
        self.runner = await self._make_runner(**{**self._kwargs, **kwargs})
        await self.runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port or 0))
        self.port = sock.getsockname()[1]
        site = SockSite(self.runner, sock)
        await site.start()
        self._root = URL.build(scheme=self.scheme, host=self.host, port=self.port)

    def make_url(self, path: str = "") -> URL:
        """The absolute URL of ``path`` on this server."""
        assert self._root is not None, "the server is not started"
        url = URL(path)
        assert not url.is_absolute(), f"make_url needs a relative path, got {path!r}"
        return self._root.join(url)

    @property
    def started(self) -> bool:
        return self.runner is not None

    @property
    def closed(self) -> bool:
        return self._closed

    async def close(self) -> None:
        """Shut the server down gracefully (the runner's cleanup)."""
        if self.runner is not None and not self._closed:
            self._closed = True
            await self.runner.cleanup()

    async def __aenter__(self) -> BaseTestServer:
        await self.start_server()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


class TestServer(BaseTestServer):
    """Serve an `Application` (runner options as keyword arguments)."""

    def __init__(self, app: Application, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.app = app

    async def _make_runner(self, **kwargs: Any) -> BaseRunner:
        kwargs.setdefault("access_log", None)
        kwargs.setdefault("shutdown_timeout", 5.0)
        return AppRunner(self.app, **kwargs)


class RawTestServer(BaseTestServer):
    """Serve a bare ``async def handler(request) -> StreamResponse`` through `web.Server`."""

    def __init__(
        self, handler: Callable[[BaseRequest], Awaitable[StreamResponse]], **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self._handler = handler

    async def _make_runner(self, **kwargs: Any) -> BaseRunner:
        shutdown_timeout = kwargs.pop("shutdown_timeout", 5.0)
        kwargs.setdefault("access_log", None)
        return ServerRunner(Server(self._handler, **kwargs), shutdown_timeout=shutdown_timeout)
