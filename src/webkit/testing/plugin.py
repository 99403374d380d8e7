"""pytest plugin (registered through the ``pytest11`` entry point).

Runs ``async def`` tests in a fresh event loop (debug mode) and provides factories:

- ``webkit_loop``: the loop the test runs in;
- ``webkit_server``: ``await webkit_server(app, **runner_kwargs)`` → started `TestServer`;
- ``webkit_raw_server``: ``await webkit_raw_server(handler, **kwargs)`` → `RawTestServer`;
- ``webkit_client``: ``await webkit_client(app_or_server, **kwargs)`` → started `TestClient`;
  server options (``access_log``, ``max_line_size``, ...) go to the `TestServer`, the other
  keyword arguments to ``httpx.AsyncClient``.

Everything started is shut down gracefully after the test.
"""

from __future__ import annotations

import asyncio
import inspect
import unittest
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest

__all__ = ["webkit_client", "webkit_loop", "webkit_raw_server", "webkit_server"]

# ``webkit_client(app, **kwargs)``: these go to the test server (runner); the rest to httpx.
_SERVER_OPTIONS = frozenset(
    (
        "handler_cancellation",
        "shutdown_timeout",
        "client_max_size",
        "access_log",
        "access_log_class",
        "access_log_format",
        "debug",
        "keepalive_timeout",
        "head_timeout",
        "max_line_size",
        "max_field_size",
        "max_headers",
        "max_pipelined",
        "read_high_water",
        "read_low_water",
        "timeout_ceil_threshold",
        "host",
        "port",
        "scheme",
    )
)


def _is_async_test(item: Any) -> bool:
    cls = getattr(item, "cls", None)
    if cls is not None and issubclass(cls, unittest.TestCase):
        return False  # unittest's IsolatedAsyncioTestCase runs its own loop
    return (
        inspect.iscoroutinefunction(getattr(item, "obj", None))
        and item.get_closest_marker("asyncio") is None
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _is_async_test(item) and "webkit_loop" not in getattr(
            item, "fixturenames", ["webkit_loop"]
        ):
            item.fixturenames.insert(0, "webkit_loop")  # type: ignore[attr-defined]


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    if not _is_async_test(pyfuncitem):
        return None
    loop: asyncio.AbstractEventLoop = pyfuncitem.funcargs["webkit_loop"]  # type: ignore[assignment]
    names = pyfuncitem._fixtureinfo.argnames
    kwargs = {name: pyfuncitem.funcargs[name] for name in names}
    loop.run_until_complete(pyfuncitem.obj(**kwargs))
    return True


@pytest.fixture
def webkit_loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    loop.set_debug(True)
    loop.slow_callback_duration = 1.0
    asyncio.set_event_loop(loop)
    try:
        yield loop
    finally:
        pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
        for task in pending:
            task.cancel()
        if pending:
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.run_until_complete(loop.shutdown_default_executor())
        asyncio.set_event_loop(None)
        loop.close()


@pytest.fixture
def webkit_server(
    webkit_loop: asyncio.AbstractEventLoop,
) -> Iterator[Callable[..., Awaitable[Any]]]:
    from webkit.testing.server import TestServer

    servers: list[TestServer] = []

    async def start(app: Any, **kwargs: Any) -> TestServer:
        server = TestServer(app, **kwargs)
        await server.start_server()
        servers.append(server)
        return server

    yield start
    for server in reversed(servers):
        webkit_loop.run_until_complete(server.close())


@pytest.fixture
def webkit_raw_server(
    webkit_loop: asyncio.AbstractEventLoop,
) -> Iterator[Callable[..., Awaitable[Any]]]:
    from webkit.testing.server import RawTestServer

    servers: list[RawTestServer] = []

    async def start(handler: Any, **kwargs: Any) -> RawTestServer:
        server = RawTestServer(handler, **kwargs)
        await server.start_server()
        servers.append(server)
        return server

    yield start
    for server in reversed(servers):
        webkit_loop.run_until_complete(server.close())


@pytest.fixture
def webkit_client(
    webkit_loop: asyncio.AbstractEventLoop,
) -> Iterator[Callable[..., Awaitable[Any]]]:
    from webkit.testing.client import TestClient

    clients: list[TestClient] = []

    async def start(target: Any, **kwargs: Any) -> TestClient:
        from webkit.testing.server import BaseTestServer, TestServer

        server_kwargs = {k: kwargs.pop(k) for k in list(kwargs) if k in _SERVER_OPTIONS}
        if not isinstance(target, BaseTestServer):
            target = TestServer(target, **server_kwargs)
        client = TestClient(target, **kwargs)
        await client.start_server()
        clients.append(client)
        return client

    yield start
    for client in reversed(clients):
        webkit_loop.run_until_complete(client.close())
