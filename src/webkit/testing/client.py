"""TestClient: an httpx.AsyncClient aimed at a test server."""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING, Any

from yarl import URL

from webkit.testing.server import BaseTestServer, TestServer
from webkit.web import Application

if TYPE_CHECKING:
    import httpx

__all__ = ["TestClient"]


class TestClient:
    """Requests over real TCP to a `TestServer` (started on first use if needed).

    ``await client.get("/path")`` returns an ``httpx.Response`` (``.status_code``, ``.text``,
    ``.json()``, ``.headers``). Extra keyword arguments go to ``httpx.AsyncClient``.
    """

    __test__ = False

    def __init__(self, server: BaseTestServer | Application, **httpx_kwargs: Any) -> None:
        if isinstance(server, Application):
            server = TestServer(server)
        self._server = server
        self._httpx_kwargs = httpx_kwargs
        self._client: httpx.AsyncClient | None = None

    @property
    def server(self) -> BaseTestServer:
        return self._server

    @property
    def app(self) -> Application | None:
        return getattr(self._server, "app", None)

    @property
    def host(self) -> str:
        return self._server.host

    @property
    def port(self) -> int | None:
        return self._server.port

    def make_url(self, path: str = "") -> URL:
        return self._server.make_url(path)

    async def start_server(self) -> None:
        import httpx

        await self._server.start_server()
        if self._client is None:
            kwargs = {"timeout": 30.0, **self._httpx_kwargs}
            self._client = httpx.AsyncClient(base_url=str(self._server.make_url("")), **kwargs)

    @property
    def session(self) -> httpx.AsyncClient:
        """The underlying httpx client."""
        assert self._client is not None, "call start_server() first"
        return self._client

    async def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        await self.start_server()
        assert self._client is not None
        return await self._client.request(method, path, **kwargs)

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("GET", path, **kwargs)

    async def head(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("HEAD", path, **kwargs)

    async def options(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("OPTIONS", path, **kwargs)

    async def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("POST", path, **kwargs)

    async def put(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("PUT", path, **kwargs)

    async def patch(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("PATCH", path, **kwargs)

    async def delete(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("DELETE", path, **kwargs)

    def ws_connect(self, path: str, **kwargs: Any) -> Any:
        """Open a WebSocket to ``path`` with the ``websockets`` client library.

        Use as ``async with client.ws_connect("/ws") as ws`` or ``ws = await
        client.ws_connect("/ws")``; keyword arguments go to ``websockets.asyncio.client.connect``
        (``subprotocols=``, ``additional_headers=``, ``compression=``...).
        """
        from websockets.asyncio.client import connect

        url = self._server.make_url(path)
        scheme = "wss" if url.scheme == "https" else "ws"
        return connect(str(url.with_scheme(scheme)), **kwargs)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        await self._server.close()

    async def __aenter__(self) -> TestClient:
        await self.start_server()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
