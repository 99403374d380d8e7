"""`run_app`: serve an application until SIGINT/SIGTERM, then shut down gracefully."""

from __future__ import annotations

import asyncio
import logging
import socket
import weakref
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from pathlib import Path
from ssl import SSLContext
from typing import Any

from webkit.web.app import Application
from webkit.web.log import AbstractAccessLogger, AccessLogger, access_logger
from webkit.web.runner import AppRunner, BaseSite, GracefulExit, SockSite, TCPSite, UnixSite

__all__ = ["run_app"]


def run_app(
    app: Application | Coroutine[Any, Any, Application] | Awaitable[Application],
    *,
    host: str | Iterable[str] | None = None,
    port: int | None = None,
    path: str | Path | Iterable[str | Path] | None = None,
    sock: socket.socket | Iterable[socket.socket] | None = None,
    shutdown_timeout: float = 60.0,
    keepalive_timeout: float = 75.0,
    ssl_context: SSLContext | None = None,
    print: Callable[..., None] | None = print,
    backlog: int = 128,
    access_log_class: type[AbstractAccessLogger] = AccessLogger,
    access_log_format: str = AccessLogger.LOG_FORMAT,
    access_log: logging.Logger | None = access_logger,
    handle_signals: bool = True,
    reuse_address: bool | None = None,
    reuse_port: bool | None = None,
    handler_cancellation: bool = False,
    loop: asyncio.AbstractEventLoop | None = None,
) -> None:
    """Serve ``app`` (an Application, or a coroutine that returns one) until interrupted.

    On SIGINT or SIGTERM the seed's seven shutdown steps run: stop listening, close idle
    connections, ``on_shutdown``, give running handlers and the tasks started since startup
    ``shutdown_timeout`` seconds, cancel the handlers that remain, ``on_cleanup``, and cancel
    any tasks still left.
    """
    if loop is None:
        loop = asyncio.new_event_loop()
    if access_log is not None and access_log.level == logging.NOTSET:
        # Show the access log on stderr when the program configured nothing for it.
        access_log.setLevel(logging.DEBUG)
        if not access_log.hasHandlers():
            access_log.addHandler(logging.StreamHandler())
    main_task = loop.create_task(
        _run_app(
            app,
            host=host,
            port=port,
            path=path,
            sock=sock,
            shutdown_timeout=shutdown_timeout,
            keepalive_timeout=keepalive_timeout,
            ssl_context=ssl_context,
            print=print,
            backlog=backlog,
            access_log_class=access_log_class,
            access_log_format=access_log_format,
            access_log=access_log,
            handle_signals=handle_signals,
            reuse_address=reuse_address,
            reuse_port=reuse_port,
            handler_cancellation=handler_cancellation,
        )
    )
    try:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(main_task)
    except (GracefulExit, KeyboardInterrupt):
        pass
    finally:
        try:
            main_task.cancel()
            with _suppress_all():
                loop.run_until_complete(main_task)
        finally:
            # 7. Cancel any remaining tasks and wait for them.
            _cancel_tasks(asyncio.all_tasks(loop), loop)
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
            asyncio.set_event_loop(None)
            loop.close()


class _suppress_all:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> bool:
        return exc[0] is not None and issubclass(exc[0], (asyncio.CancelledError, GracefulExit))  # type: ignore[arg-type]


async def _run_app(
    app: Application | Awaitable[Application],
    *,
    host: str | Iterable[str] | None,
    port: int | None,
    path: str | Path | Iterable[str | Path] | None,
    sock: socket.socket | Iterable[socket.socket] | None,
    shutdown_timeout: float,
    keepalive_timeout: float,
    ssl_context: SSLContext | None,
    print: Callable[..., None] | None,
    backlog: int,
    access_log_class: type[AbstractAccessLogger],
    access_log_format: str,
    access_log: logging.Logger | None,
    handle_signals: bool,
    reuse_address: bool | None,
    reuse_port: bool | None,
    handler_cancellation: bool,
) -> None:
    if not isinstance(app, Application):
        app = await app
        if not isinstance(app, Application):
            raise TypeError(f"the app factory must return an Application, got {app!r}")
    runner = AppRunner(
        app,
        handle_signals=handle_signals,
        access_log_class=access_log_class,
        access_log_format=access_log_format,
        access_log=access_log,
        keepalive_timeout=keepalive_timeout,
        shutdown_timeout=shutdown_timeout,
        handler_cancellation=handler_cancellation,
    )
    long_lived: weakref.WeakSet[asyncio.Task[Any]] = weakref.WeakSet()
    try:
        # Inside the try: when a startup step fails, the cleanup contexts that did start
        # are still cleaned up (cleanup runs iff its startup part finished).
        await runner.setup()
        # The tasks running now were started by startup (listeners, other long tasks): the
        # application stops them on cleanup, so shutdown step 4 does not wait for them.
        long_lived.update(asyncio.all_tasks())
        sites: list[BaseSite] = []
        if host is not None:
            hosts = [host] if isinstance(host, str) else list(host)
            for one in hosts:
                sites.append(
                    TCPSite(
                        runner,
                        one,
                        port,
                        ssl_context=ssl_context,
                        backlog=backlog,
                        reuse_address=reuse_address,
                        reuse_port=reuse_port,
                    )
                )
        elif (path is None and sock is None) or port is not None:
            sites.append(
                TCPSite(
                    runner,
                    port=port,
                    ssl_context=ssl_context,
                    backlog=backlog,
                    reuse_address=reuse_address,
                    reuse_port=reuse_port,
                )
            )
        if path is not None:
            paths = [path] if isinstance(path, (str, Path)) else list(path)
            for one_path in paths:
                sites.append(UnixSite(runner, one_path, ssl_context=ssl_context, backlog=backlog))
        if sock is not None:
            socks = [sock] if isinstance(sock, socket.socket) else list(sock)
            for one_sock in socks:
                sites.append(SockSite(runner, one_sock, ssl_context=ssl_context, backlog=backlog))
        for site in sites:
            await site.start()
        if print is not None:
            names = sorted(str(site.name) for site in runner.sites)
            print(
                "======== Running on {} ========\n(Press CTRL+C to quit)".format(", ".join(names))
            )
        # Serve until cancelled (GracefulExit or KeyboardInterrupt cancel this task).
        await asyncio.Event().wait()
    finally:
        await runner._graceful_shutdown(wait_for_tasks=True, long_lived=long_lived)


def _cancel_tasks(tasks: set[asyncio.Task[Any]], loop: asyncio.AbstractEventLoop) -> None:
    if not tasks:
        return
    for task in tasks:
        task.cancel()
    loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
    for task in tasks:
        if task.cancelled():
            continue
        if task.exception() is not None:
            loop.call_exception_handler(
                {
                    "message": "unhandled exception during run_app shutdown",
                    "exception": task.exception(),
                    "task": task,
                }
            )
