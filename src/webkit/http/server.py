"""The connection factory: tracks connections, runs their timeouts, shuts them down gracefully."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from webkit.http.exchange import Exchange
from webkit.http.limits import Limits
from webkit.http.protocol import HttpConnection

__all__ = ["HttpServer"]


class HttpServer:
    """Creates an `HttpConnection` per accepted socket and owns what they share.

    Timeouts are checked by one periodic sweep over all connections instead of a timer per
    connection: a request then costs a timestamp, not a timer re-arm. Deadlines of at least
    ``limits.timeout_ceil_threshold`` seconds are rounded up to the next whole second.

    Args:
        handler: called with each `Exchange`; it must answer it.
        limits: size and time limits for every connection.
        handler_cancellation: cancel a handler's task when its client disconnects.
    """

    def __init__(
        self,
        handler: Callable[[Exchange], Awaitable[None]],
        *,
        limits: Limits | None = None,
        handler_cancellation: bool = False,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self.handler = handler
        self.limits = limits or Limits()
        self.handler_cancellation = handler_cancellation
        self.loop = loop or asyncio.get_running_loop()
        self.connections: set[HttpConnection] = set()
        self.closing = False
        self._sweeper: asyncio.TimerHandle | None = None
        self._idle_waiters: list[asyncio.Future[None]] = []

    def __call__(self) -> HttpConnection:
        return HttpConnection(self)

    # -- bookkeeping ---------------------------------------------------------------------

    def track(self, conn: HttpConnection) -> None:
        self.connections.add(conn)
        if self._sweeper is None:
            self._schedule_sweep()

    def untrack(self, conn: HttpConnection) -> None:
        self.connections.discard(conn)
        if not self.connections:
            if self._sweeper is not None:
                self._sweeper.cancel()
                self._sweeper = None
            for waiter in self._idle_waiters:
                if not waiter.done():
                    waiter.set_result(None)
            self._idle_waiters.clear()

    def _sweep_interval(self) -> float:
        limits = self.limits
        return min(1.0, max(0.05, min(limits.head_timeout, limits.keepalive_timeout) / 4))

    def _schedule_sweep(self) -> None:
        self._sweeper = self.loop.call_later(self._sweep_interval(), self._sweep)

    def _sweep(self) -> None:
        now = self.loop.time()
        for conn in list(self.connections):
            conn.on_timeout(now)
        self._sweeper = None
        if self.connections:
            self._schedule_sweep()

    # -- shutdown primitives --------------------------------------------------------------

    @property
    def active_tasks(self) -> list[asyncio.Task[None]]:
        """Handler tasks still running."""
        return [c.task for c in self.connections if c.task is not None and not c.task.done()]

    @property
    def unanswered_tasks(self) -> list[asyncio.Task[None]]:
        """Handler tasks whose response has not begun (streams and upgrades have begun theirs)."""
        return [
            c.task
            for c in self.connections
            if c.task is not None
            and not c.task.done()
            and (c._active is None or not c._active.headers_sent)
        ]

    def close_idle(self) -> None:
        """Stop keep-alive: close idle connections now, busy ones after their response."""
        self.closing = True
        for conn in list(self.connections):
            conn.close_if_idle()

    async def wait_handlers(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for running handlers; True if all finished."""
        tasks = self.active_tasks
        if not tasks:
            return True
        _, pending = await asyncio.wait(tasks, timeout=timeout)
        return not pending

    async def cancel_handlers(self, timeout: float) -> None:
        """Cancel running handlers and wait up to ``timeout`` seconds for them to end."""
        tasks = self.active_tasks
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=timeout)

    def abort_all(self) -> None:
        """Close every remaining connection at once."""
        for conn in list(self.connections):
            conn.abort()

    async def wait_closed(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for every connection to be gone."""
        if not self.connections:
            return
        waiter = self.loop.create_future()
        self._idle_waiters.append(waiter)
        try:
            await asyncio.wait_for(waiter, timeout)
        except TimeoutError:
            pass

    async def shutdown(self, timeout: float = 60.0) -> None:
        """Graceful shutdown of the connections (listening sockets are the caller's).

        Idle connections close at once, busy ones after their current response; running
        handlers get ``timeout`` seconds, then are cancelled; what remains is aborted.
        """
        self.close_idle()
        if not await self.wait_handlers(timeout):
            await self.cancel_handlers(timeout)
        for conn in list(self.connections):
            conn.close_if_idle()
        await self.wait_closed(min(timeout, 1.0))
        self.abort_all()
