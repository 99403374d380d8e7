"""Runners and sites: serving an application (or a bare handler) on sockets, and stopping."""

from __future__ import annotations

import asyncio
import signal
import socket
from collections.abc import Awaitable, Callable, Collection
from pathlib import Path
from ssl import SSLContext
from typing import Any

from yarl import URL

from webkit.http import Exchange, HttpConnection, HttpServer, Limits
from webkit.web.app import Application
from webkit.web.handler import AppHandler, RawHandler
from webkit.web.log import AbstractAccessLogger, AccessLogger, access_logger
from webkit.web.request import BaseRequest
from webkit.web.response import StreamResponse

__all__ = [
    "AppRunner",
    "BaseRunner",
    "BaseSite",
    "GracefulExit",
    "Server",
    "ServerRunner",
    "SockSite",
    "TCPSite",
    "UnixSite",
]

_LIMIT_ARGS = frozenset(
    (
        "max_line_size",
        "max_field_size",
        "max_headers",
        "keepalive_timeout",
        "head_timeout",
        "read_high_water",
        "read_low_water",
        "max_pipelined",
        "timeout_ceil_threshold",
    )
)
# aiohttp server options that have no meaning here; accepted so ported code keeps running.
_IGNORED_ARGS = frozenset(("tcp_keepalive", "lingering_time", "read_bufsize", "auto_decompress"))


class GracefulExit(SystemExit):
    """Raised by the SIGINT/SIGTERM handlers to leave `run_app` through graceful shutdown."""

    code = 1


def _split_server_args(kwargs: dict[str, Any]) -> tuple[Limits, dict[str, Any]]:
    limit_args = {k: kwargs.pop(k) for k in list(kwargs) if k in _LIMIT_ARGS}
    for key in list(kwargs):
        if key in _IGNORED_ARGS:
            kwargs.pop(key)
    return Limits(**limit_args), kwargs


class Server:
    """The low-level server: a protocol factory calling ``handler(request)`` per request.

    Args:
        handler: ``async def handler(request: BaseRequest) -> StreamResponse``.
        request_factory: builds the request object from an `Exchange`.
        handler_cancellation: cancel the handler when its client disconnects.
        **kwargs: limits (``keepalive_timeout``, ``max_line_size``, ``max_field_size``,
            ``max_headers``, ``head_timeout``, ``timeout_ceil_threshold``...), ``access_log``,
            ``access_log_class``, ``access_log_format``, ``debug``, ``client_max_size``.
    """

    def __init__(
        self,
        handler: Callable[[BaseRequest], Awaitable[StreamResponse]] | None,
        *,
        request_factory: Callable[[Exchange], BaseRequest] | None = None,
        handler_cancellation: bool = False,
        loop: asyncio.AbstractEventLoop | None = None,
        _door: Callable[[Exchange], Awaitable[None]] | None = None,
        **kwargs: Any,
    ) -> None:
        self._loop = loop
        limits, rest = _split_server_args(dict(kwargs))
        self.limits = limits
        self._handler_cancellation = handler_cancellation
        access_log = _make_access_logger(rest)
        debug = bool(rest.pop("debug", False))
        client_max_size = rest.pop("client_max_size", 1024**2)
        if rest:
            raise TypeError(f"unexpected server arguments: {', '.join(sorted(rest))}")
        self.request_handler = handler
        if _door is None:
            if handler is None:
                raise TypeError("Server needs a handler")
            self._door: Any = RawHandler(
                handler,
                request_factory=request_factory,
                client_max_size=client_max_size,
                access_log=access_log,
                debug=debug,
            )
        else:
            self._door = _door
        self._http: HttpServer | None = None

    def _get_http(self) -> HttpServer:
        if self._http is None:
            self._http = HttpServer(
                self._door,
                limits=self.limits,
                handler_cancellation=self._handler_cancellation,
                loop=self._loop or asyncio.get_running_loop(),
            )
        return self._http

    def __call__(self) -> HttpConnection:
        return self._get_http()()

    @property
    def http(self) -> HttpServer:
        """The HTTP/1.1 layer's server (webkit specific)."""
        return self._get_http()

    @property
    def connections(self) -> list[HttpConnection]:
        return [] if self._http is None else list(self._http.connections)

    @property
    def requests_count(self) -> int:
        return int(getattr(self._door, "requests_count", 0))

    def pre_shutdown(self) -> None:
        """Step 2 of graceful shutdown: close idle connections, the others after their response."""
        if self._http is not None:
            self._http.close_idle()

    async def shutdown(self, timeout: float | None = None) -> None:
        """Close idle connections, give handlers ``timeout`` seconds, then cancel them."""
        if self._http is not None:
            await self._http.shutdown(60.0 if timeout is None else timeout)


def _make_access_logger(options: dict[str, Any]) -> AbstractAccessLogger | None:
    logger = options.pop("access_log", access_logger)
    log_class = options.pop("access_log_class", AccessLogger)
    log_format = options.pop("access_log_format", AccessLogger.LOG_FORMAT)
    if logger is None:
        return None
    if not (isinstance(log_class, type) and issubclass(log_class, AbstractAccessLogger)):
        raise TypeError(f"access_log_class must subclass AbstractAccessLogger, got {log_class!r}")
    return log_class(logger, log_format)


class BaseRunner:
    """Owns a `Server` and its sites; `cleanup` runs the graceful shutdown."""

    def __init__(
        self,
        *,
        handle_signals: bool = False,
        shutdown_timeout: float = 60.0,
        **kwargs: Any,
    ) -> None:
        self._handle_signals = handle_signals
        self._shutdown_timeout = shutdown_timeout
        self._kwargs = kwargs
        self._server: Server | None = None
        self._sites: list[BaseSite] = []

    @property
    def server(self) -> Server | None:
        return self._server

    @property
    def sites(self) -> set[BaseSite]:
        return set(self._sites)

    @property
    def addresses(self) -> list[Any]:
        """Addresses the sites listen on (``(host, port)`` tuples or Unix paths)."""
        found: list[Any] = []
        for site in self._sites:
            server = site._server
            if server is not None:
                found.extend(sock.getsockname() for sock in server.sockets)
        return found

    async def setup(self) -> None:
        """Start the application (on_startup) and make the server; sites come next."""
        loop = asyncio.get_running_loop()
        if self._handle_signals:
            try:
                loop.add_signal_handler(signal.SIGINT, _raise_graceful_exit)
                loop.add_signal_handler(signal.SIGTERM, _raise_graceful_exit)
            except NotImplementedError:  # pragma: no cover - Windows
                pass
        self._server = await self._make_server()

    async def _make_server(self) -> Server:
        raise NotImplementedError

    async def shutdown(self) -> None:
        """Step 3 of graceful shutdown (``on_shutdown`` for applications)."""

    async def _cleanup_server(self) -> None:
        """Step 6 (``on_cleanup`` for applications)."""

    async def cleanup(self) -> None:
        """Graceful shutdown, steps 1-3, 5 and 6 of the seed (4 and 7 are `run_app`'s)."""
        await self._graceful_shutdown(wait_for_tasks=False)

    async def _graceful_shutdown(
        self, *, wait_for_tasks: bool, long_lived: Collection[asyncio.Task[Any]] = ()
    ) -> None:
        # 1. Stop listening: new connections are refused.
        for site in list(self._sites):
            await site.stop()
        server = self._server
        if server is not None:
            # Steps 2-5 only when setup succeeded: a server that never ran has nothing to
            # shut down (on_cleanup, and so the started cleanup contexts, still run).
            # 2. Close idle keep-alive connections; busy ones close after their response.
            server.pre_shutdown()
            # 3. on_shutdown (close WebSockets and other long-lived connections here).
            await self.shutdown()
        if server is not None and server._http is not None:
            http = server._http
            if wait_for_tasks:
                # 4. Give running handlers and background tasks time to finish.
                await _wait_for_tasks(http, self._shutdown_timeout, long_lived)
            # 5. Cancel what still runs and close the remaining connections.
            if not await http.wait_handlers(0):
                await http.cancel_handlers(self._shutdown_timeout)
            for conn in list(http.connections):
                conn.close_if_idle()
            await http.wait_closed(min(1.0, self._shutdown_timeout))
            http.abort_all()
        # 6. on_cleanup, including the cleanup_ctx exits.
        await self._cleanup_server()
        self._server = None
        if self._handle_signals:
            loop = asyncio.get_running_loop()
            try:
                loop.remove_signal_handler(signal.SIGINT)
                loop.remove_signal_handler(signal.SIGTERM)
            except NotImplementedError:  # pragma: no cover - Windows
                pass

    def _reg_site(self, site: BaseSite) -> None:
        if site in self._sites:
            raise RuntimeError(f"site {site} is already registered in runner {self}")
        self._sites.append(site)

    def _unreg_site(self, site: BaseSite) -> None:
        if site in self._sites:
            self._sites.remove(site)

    def _check_site(self, site: BaseSite) -> None:
        if site in self._sites:
            raise RuntimeError(f"site {site} is already registered in runner {self}")


def _freeze_startup(app: Application) -> None:
    app.on_startup.freeze()
    for subapp in app._subapps:
        _freeze_startup(subapp)


async def _wait_for_tasks(
    http: HttpServer, timeout: float, long_lived: Collection[asyncio.Task[Any]]
) -> None:
    """Step 4: wait up to ``timeout`` seconds for handlers and the tasks started since startup.

    Tasks already running when startup finished (``long_lived``: what ``on_startup`` and the
    cleanup contexts started) are the application's own, stopped by its ``on_cleanup``; the
    seed's background-task examples run such tasks forever, so waiting for them would hold
    every shutdown up for the whole timeout. Tasks started later, by handlers, are waited
    for, including those they start while we wait (the seed's note on step 4).
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    current = asyncio.current_task()
    while True:
        tasks = {t for t in asyncio.all_tasks() if t is not current and t not in long_lived}
        tasks |= set(http.active_tasks)
        remaining = deadline - loop.time()
        if not tasks or remaining <= 0:
            return
        await asyncio.wait(tasks, timeout=remaining)


def _raise_graceful_exit() -> None:
    raise GracefulExit()


class ServerRunner(BaseRunner):
    """A runner for a low-level `Server`."""

    def __init__(self, web_server: Server, *, handle_signals: bool = False, **kwargs: Any) -> None:
        super().__init__(handle_signals=handle_signals, **kwargs)
        self._web_server = web_server

    async def _make_server(self) -> Server:
        return self._web_server


class AppRunner(BaseRunner):
    """A runner for an `Application`: `setup` freezes it and sends ``on_startup``.

    Args:
        app: the application.
        handle_signals: turn SIGINT/SIGTERM into `GracefulExit`.
        shutdown_timeout: seconds handlers get to finish during shutdown.
        handler_cancellation: cancel a handler when its client disconnects.
        **kwargs: server options (see `Server`), merged over ``app.handler_args``.
    """

    def __init__(
        self,
        app: Application,
        *,
        handle_signals: bool = False,
        shutdown_timeout: float = 60.0,
        handler_cancellation: bool = False,
        **kwargs: Any,
    ) -> None:
        if not isinstance(app, Application):
            raise TypeError(f"The first argument should be web.Application instance, got {app!r}")
        super().__init__(handle_signals=handle_signals, shutdown_timeout=shutdown_timeout, **kwargs)
        self._app = app
        self._handler_cancellation = handler_cancellation

    @property
    def app(self) -> Application:
        return self._app

    async def _make_server(self) -> Server:
        app = self._app
        # As in aiohttp, on_startup handlers (and cleanup contexts) may still add routes,
        # signals and state (``app[key]``); the rest is fixed once startup has run.
        _freeze_startup(app)
        await app.startup()
        app.pre_freeze()
        options = {**app.handler_args, **self._kwargs}
        limits, rest = _split_server_args(options)
        access_log = _make_access_logger(rest)
        debug = bool(rest.pop("debug", app.debug))
        if rest:
            raise TypeError(f"unexpected server arguments: {', '.join(sorted(rest))}")
        door = AppHandler(app, access_log=access_log, debug=debug)
        limit_args = {name: getattr(limits, name) for name in _LIMIT_ARGS}
        server = Server(
            None,
            handler_cancellation=self._handler_cancellation,
            _door=door,
            access_log=None,
            **limit_args,
        )
        app.freeze()
        return server

    async def shutdown(self) -> None:
        await self._app.shutdown()

    async def _cleanup_server(self) -> None:
        await self._app.cleanup()


class BaseSite:
    """A listening socket bound to a runner."""

    def __init__(
        self,
        runner: BaseRunner,
        *,
        shutdown_timeout: float = 60.0,
        ssl_context: SSLContext | None = None,
        backlog: int = 128,
    ) -> None:
        if runner.server is None:
            raise RuntimeError("Call runner.setup() before making a site")
        self._runner = runner
        self._ssl_context = ssl_context
        self._backlog = backlog
        self._server: asyncio.Server | None = None

    @property
    def name(self) -> str:
        raise NotImplementedError

    async def start(self) -> None:
        self._runner._check_site(self)

    async def stop(self) -> None:
        """Stop listening (step 1 of graceful shutdown); open connections are left alone."""
        server = self._server
        if server is not None:
            self._server = None
            await _stop_accepting(server)
            server.close()
        self._runner._unreg_site(self)

    def _protocol_factory(self) -> Server:
        server = self._runner.server
        if server is None:
            raise RuntimeError("the runner was cleaned up")
        return server


async def _stop_accepting(server: asyncio.Server) -> None:
    """Stop accepting before the asyncio Server is closed.

    On a selector loop, asyncio builds an accepted connection's transport in a task of its own;
    if the Server is closed in between, that connection is dropped silently and its client is
    reset when the process exits (CPython 3.11). Removing the listening sockets' readers first,
    then letting those tasks run, keeps every accepted connection. Other loops (uvloop) make
    transports at once and need nothing.
    """
    loop = asyncio.get_running_loop()
    if not isinstance(loop, asyncio.SelectorEventLoop):
        return
    if any([loop.remove_reader(sock.fileno()) for sock in server.sockets]):
        for _ in range(4):
            await asyncio.sleep(0)


class TCPSite(BaseSite):
    """Listen on a TCP host and port (port 8080, or 8443 with TLS, by default)."""

    def __init__(
        self,
        runner: BaseRunner,
        host: str | None = None,
        port: int | None = None,
        *,
        shutdown_timeout: float = 60.0,
        ssl_context: SSLContext | None = None,
        backlog: int = 128,
        reuse_address: bool | None = None,
        reuse_port: bool | None = None,
    ) -> None:
        super().__init__(
            runner, shutdown_timeout=shutdown_timeout, ssl_context=ssl_context, backlog=backlog
        )
        self._host = host
        if port is None:
            port = 8443 if ssl_context else 8080
        self._port = port
        self._reuse_address = reuse_address
        self._reuse_port = reuse_port

    @property
    def name(self) -> str:
        scheme = "https" if self._ssl_context else "http"
        host = "0.0.0.0" if not self._host else self._host
        if self._server is not None and self._server.sockets:
            port = self._server.sockets[0].getsockname()[1]
        else:
            port = self._port
        return str(URL.build(scheme=scheme, host=host, port=port))

    async def start(self) -> None:
        await super().start()
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            self._protocol_factory(),
            self._host,
            self._port,
            ssl=self._ssl_context,
            backlog=self._backlog,
            reuse_address=self._reuse_address,
            reuse_port=self._reuse_port,
        )
        self._runner._reg_site(self)


class UnixSite(BaseSite):
    """Listen on a Unix domain socket."""

    def __init__(
        self,
        runner: BaseRunner,
        path: str | Path,
        *,
        shutdown_timeout: float = 60.0,
        ssl_context: SSLContext | None = None,
        backlog: int = 128,
    ) -> None:
        super().__init__(
            runner, shutdown_timeout=shutdown_timeout, ssl_context=ssl_context, backlog=backlog
        )
        self._path = str(path)

    @property
    def name(self) -> str:
        scheme = "https" if self._ssl_context else "http"
        return f"{scheme}://unix:{self._path}:"

    async def start(self) -> None:
        await super().start()
        loop = asyncio.get_running_loop()
        self._server = await loop.create_unix_server(
            self._protocol_factory(), self._path, ssl=self._ssl_context, backlog=self._backlog
        )
        self._runner._reg_site(self)


class SockSite(BaseSite):
    """Serve on an already bound socket."""

    def __init__(
        self,
        runner: BaseRunner,
        sock: socket.socket,
        *,
        shutdown_timeout: float = 60.0,
        ssl_context: SSLContext | None = None,
        backlog: int = 128,
    ) -> None:
        super().__init__(
            runner, shutdown_timeout=shutdown_timeout, ssl_context=ssl_context, backlog=backlog
        )
        self._sock = sock
        scheme = "https" if ssl_context else "http"
        if hasattr(socket, "AF_UNIX") and sock.family == socket.AF_UNIX:
            self._name = f"{scheme}://unix:{sock.getsockname()}:"
        else:
            host, port = sock.getsockname()[:2]
            self._name = str(URL.build(scheme=scheme, host=host, port=port))

    @property
    def name(self) -> str:
        return self._name

    async def start(self) -> None:
        await super().start()
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            self._protocol_factory(), sock=self._sock, ssl=self._ssl_context, backlog=self._backlog
        )
        self._runner._reg_site(self)
