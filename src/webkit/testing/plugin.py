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


def _started(
    loop: asyncio.AbstractEventLoop, make: Callable[..., Any]
) -> Iterator[Callable[..., Awaitable[Any]]]:
    """A factory fixture body: ``await start(target, **kwargs)`` starts a server, and every
    server it started is shut down gracefully after the test."""
    servers: list[Any] = []

    async def start(target: Any, **kwargs: Any) -> Any:
        server = make(target, **kwargs)
        await server.start_server()
        servers.append(server)
        return server

    yield start
    for server in reversed(servers):
        loop.run_until_complete(server.close())


@pytest.fixture
def webkit_server(
    webkit_loop: asyncio.AbstractEventLoop,
) -> Iterator[Callable[..., Awaitable[Any]]]:
    """``await webkit_server(app, **runner_kwargs)`` → a started `TestServer`."""
    from webkit.testing.server import TestServer

    yield from _started(webkit_loop, TestServer)


@pytest.fixture
def webkit_raw_server(
    webkit_loop: asyncio.AbstractEventLoop,
) -> Iterator[Callable[..., Awaitable[Any]]]:
    """``await webkit_raw_server(handler, **kwargs)`` → a started `RawTestServer`."""
    from webkit.testing.server import RawTestServer

    yield from _started(webkit_loop, RawTestServer)


@pytest.fixture
def webkit_client(
    webkit_loop: asyncio.AbstractEventLoop,
) -> Iterator[Callable[..., Awaitable[Any]]]:
    """``await webkit_client(app_or_server, **kwargs)`` → a started `TestClient`; server
    options (``handler_cancellation``, ``client_max_size``...) go to the server, the rest to
    httpx."""
    from webkit.testing.client import TestClient
    from webkit.testing.server import BaseTestServer, TestServer

    def make(target: Any, **kwargs: Any) -> TestClient:
        server_kwargs = {k: kwargs.pop(k) for k in list(kwargs) if k in _SERVER_OPTIONS}
        if not isinstance(target, BaseTestServer):
            target = TestServer(target, **server_kwargs)
        return TestClient(target, **kwargs)

    yield from _started(webkit_loop, make)
