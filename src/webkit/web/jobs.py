"""Background jobs that shut down gracefully: ``setup``, ``spawn`` and ``@atomic``.

The seed's "Peer disconnection" section, without aiojobs::

    from webkit.web.jobs import atomic, setup, spawn

    async def handler(request):
        await spawn(request, write_data())   # runs on after the response is sent
        return web.Response()

    @atomic                                  # a client disconnect cannot interrupt it
    async def store(request):
        await write_to_db()
        return web.Response()

    app = web.Application()
    setup(app)

A `Scheduler` runs at most ``limit`` jobs at once and queues up to ``pending_limit`` more;
beyond that `Scheduler.spawn` waits for room. A job's exception goes to whoever waits for the
job (`Job.wait`) or, when nobody does, to the scheduler's exception handler, which by default
logs it with its traceback on the ``webkit.web.jobs`` logger. At application cleanup the jobs
get time to finish (`Scheduler.wait_and_close`), then what still runs is cancelled.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
from collections import deque
from collections.abc import Callable, Coroutine, Iterator
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, TypeVar

from webkit.abc import AbstractView
from webkit.web.app import AppKey, Application
from webkit.web.request import Request

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

__all__ = [
    "SCHEDULER_KEY",
    "ExceptionHandler",
    "Job",
    "Scheduler",
    "atomic",
    "get_scheduler",
    "get_scheduler_from_app",
    "setup",
    "spawn",
]

logger = logging.getLogger("webkit.web.jobs")

_T = TypeVar("_T")
_R = TypeVar("_R")
_P = ParamSpec("_P")

#: ``handler(scheduler, context)``; ``context`` has ``"message"``, ``"job"`` and, when there
#: is one, ``"exception"`` (the same shape as asyncio's loop exception handler).
ExceptionHandler = Callable[["Scheduler", dict[str, Any]], None]

_PENDING, _ACTIVE, _CLOSED = "pending", "active", "closed"


class Job(Generic[_T]):
    """One coroutine run by a `Scheduler`: pending (queued), then active, then closed.

    Made by `Scheduler.spawn`, never directly.
    """

    __slots__ = (
        "_context",
        "_coro",
        "_finished",
        "_name",
        "_reported",
        "_retrieved",
        "_scheduler",
        "_state",
        "_task",
        "_waiters",
    )

    def __init__(
        self,
        coro: Coroutine[Any, Any, _T],
        scheduler: Scheduler,
        loop: asyncio.AbstractEventLoop,
        name: str | None,
    ) -> None:
        self._coro: Coroutine[Any, Any, _T] | None = coro
        self._scheduler = scheduler
        self._name = name
        # A queued job starts later from whatever code frees a slot; it must still see the
        # context variables of the code that spawned it, as a task created there would.
        self._context = contextvars.copy_context()
        self._state = _PENDING
        self._task: asyncio.Task[_T] | None = None
        self._finished: asyncio.Future[None] = loop.create_future()
        self._waiters = 0  # callers inside wait(): they receive the outcome
        self._retrieved = False  # a wait() returned the outcome to its caller
        self._reported = False  # the exception went to the exception handler

    def __repr__(self) -> str:
        coro = self._coro if self._task is None else self._task.get_coro()
        what = getattr(coro, "__qualname__", None) or repr(coro)
        return f"<Job {self._state} coro=<{what}()>>"

    @property
    def pending(self) -> bool:
        """Queued because the scheduler's ``limit`` is reached; not started yet."""
        return self._state == _PENDING

    @property
    def active(self) -> bool:
        """Running."""
        return self._state == _ACTIVE

    @property
    def closed(self) -> bool:
        """Finished, failed, cancelled or discarded before it started."""
        return self._state == _CLOSED

    async def wait(self, *, timeout: float | None = None) -> _T:
        """Wait until the job ends and return its result; cancelling the caller leaves it running.

        Waiting is shielded: if the waiting task is cancelled (a client disconnect under
        ``handler_cancellation``) the job goes on, and an exception it raises later is
        reported to the exception handler instead.

        Raises:
            TimeoutError: the job did not end within ``timeout`` seconds; it is closed.
            asyncio.CancelledError: the job was cancelled (closed) rather than finishing.
            Exception: whatever the job raised, delivered here instead of being logged.
        """
        if not self._finished.done():
            self._waiters += 1
            try:
                await asyncio.wait_for(asyncio.shield(self._finished), timeout)
            except TimeoutError:
                self._waiters -= 1
                await self.close()
                raise
            except BaseException:
                self._waiters -= 1
                self._report_if_orphaned()
                raise
            self._waiters -= 1
        self._retrieved = True
        return self._outcome()

    async def close(self, *, timeout: float | None = None) -> None:
        """Cancel the job (or drop it if still pending) and wait until it has ended.

        ``timeout`` defaults to the scheduler's ``close_timeout``. An exception other than
        the cancellation that the job raises while ending goes to the exception handler.

        Raises:
            TimeoutError: the job was still running ``timeout`` seconds after the cancellation.
        """
        if self._state == _CLOSED:
            return
        if self._state == _PENDING:
            self._scheduler._discard_pending(self)
            return
        task = self._task
        assert task is not None
        task.cancel()
        if timeout is None:
            timeout = self._scheduler.close_timeout
        await asyncio.wait((self._finished,), timeout=timeout)
        if not self._finished.done():
            raise TimeoutError(f"{self!r} did not end within {timeout} s of being cancelled")

    # -- scheduler side ---------------------------------------------------------------------

    def _start(self) -> None:
        coro = self._coro
        assert coro is not None
        self._coro = None
        self._state = _ACTIVE
        self._task = self._finished.get_loop().create_task(
            coro, name=self._name, context=self._context
        )
        self._task.add_done_callback(self._on_task_done)

    def _discard(self) -> None:
        """Close a job that never started (its coroutine is closed, so no "never awaited")."""
        coro = self._coro
        self._coro = None
        if coro is not None:
            coro.close()
        self._state = _CLOSED
        if not self._finished.done():
            self._finished.set_result(None)

    def _on_task_done(self, task: asyncio.Task[_T]) -> None:
        self._state = _CLOSED
        if not self._finished.done():
            self._finished.set_result(None)
        if self._waiters == 0:
            self._report_if_orphaned()
        self._scheduler._job_done(self)

    def _exception(self) -> BaseException | None:
        task = self._task
        if task is None or task.cancelled():
            return None
        return task.exception()

    def _outcome(self) -> _T:
        if self._task is None:
            raise asyncio.CancelledError(f"{self!r} was closed before it started")
        return self._task.result()

    def _report_if_orphaned(self) -> None:
        """Report the job's exception if it ended with one that no waiter will receive."""
        if self._waiters or self._retrieved or self._reported or self._state != _CLOSED:
            return
        exc = self._exception()
        if exc is not None:
            self._reported = True
            self._scheduler.call_exception_handler(
                {"message": "Job processing failed", "job": self, "exception": exc}
            )


class Scheduler:
    """Runs background jobs with limits, and closes them gracefully.

    Args:
        limit: most jobs running at once (``None``: no limit).
        pending_limit: most jobs queued while ``limit`` jobs run (``None``: no limit). When
            the queue is full, `spawn` waits until a job ends and makes room.
        close_timeout: seconds cancelled jobs get to end during `close` and `Job.close`.
        exception_handler: ``handler(scheduler, context)`` for exceptions nobody waits for;
            by default they are logged with their traceback on the ``webkit.web.jobs`` logger.

    Raises:
        ValueError: ``limit`` is below 1, ``pending_limit`` or ``close_timeout`` below 0.
    """

    def __init__(
        self,
        *,
        limit: int | None = 100,
        pending_limit: int | None = 10000,
        close_timeout: float = 0.1,
        exception_handler: ExceptionHandler | None = None,
    ) -> None:
        if limit is not None and limit < 1:
            raise ValueError(f"limit must be at least 1 or None for no limit, got {limit!r}")
        if pending_limit is not None and pending_limit < 0:
            raise ValueError(
                f"pending_limit must be 0 or more, or None for no limit, got {pending_limit!r}"
            )
        if close_timeout < 0:
            raise ValueError(f"close_timeout must be 0 or more seconds, got {close_timeout!r}")
        self._limit = limit
        self._pending_limit = pending_limit
        self._close_timeout = close_timeout
        self._exception_handler = exception_handler
        self._active: dict[Job[Any], None] = {}  # insertion-ordered set
        self._pending: deque[Job[Any]] = deque()
        # spawn() calls waiting for room in the pending queue, first come first served.
        self._waiting: deque[tuple[Job[Any], asyncio.Future[None]]] = deque()
        self._closed = False

    def __repr__(self) -> str:
        state = "closed " if self._closed else ""
        return f"<Scheduler {state}active={self.active_count} pending={self.pending_count}>"

    def __iter__(self) -> Iterator[Job[Any]]:
        """The active jobs, then the pending ones (a snapshot)."""
        return iter([*self._active, *self._pending])

    def __len__(self) -> int:
        return len(self._active) + len(self._pending)

    def __contains__(self, job: object) -> bool:
        return job in self._active or job in self._pending

    @property
    def limit(self) -> int | None:
        return self._limit

    @property
    def pending_limit(self) -> int | None:
        return self._pending_limit

    @property
    def close_timeout(self) -> float:
        return self._close_timeout

    @property
    def exception_handler(self) -> ExceptionHandler | None:
        return self._exception_handler

    @property
    def active_count(self) -> int:
        return len(self._active)

    @property
    def pending_count(self) -> int:
        return len(self._pending)

    @property
    def closed(self) -> bool:
        return self._closed

    async def spawn(self, coro: Coroutine[Any, Any, _T], *, name: str | None = None) -> Job[_T]:
        """Run ``coro`` as a job: now if fewer than ``limit`` run, else queued.

        Waits while the queue holds ``pending_limit`` jobs. ``name`` names the job's task.
        A coroutine that is refused (or whose spawn is cancelled while waiting) is closed.

        Raises:
            RuntimeError: the scheduler is closed (or closes while this call waits).
        """
        if self._closed:
            coro.close()
            raise RuntimeError(
                f"cannot spawn {_coro_name(coro)}: the job scheduler is closed "
                "(the application is shutting down)"
            )
        job = Job(coro, self, asyncio.get_running_loop(), name)
        if self._has_room() and not self._pending and not self._waiting:
            self._activate(job)
        elif self._has_pending_room() and not self._waiting:
            self._pending.append(job)
        else:
            room = job._finished.get_loop().create_future()
            self._waiting.append((job, room))
            try:
                await room
            except BaseException:
                # Cancelled (or refused) before the job got room: it never runs. Cancelled
                # just after getting room: the job is the scheduler's now and runs.
                if room.cancelled() or not room.done() or room.exception() is not None:
                    job._discard()
                raise
        return job

    def call_exception_handler(self, context: dict[str, Any]) -> None:
        """Report a job's failure to the exception handler (by default: log it)."""
        handler = self._exception_handler
        if handler is None:
            _log_failure(context)
            return
        try:
            handler(self, context)
        except Exception:
            logger.exception("Error in the job scheduler's exception handler %r", handler)
            _log_failure(context)

    async def close(self) -> None:
        """Stop taking jobs, drop the pending ones, cancel the active ones and wait for them.

        Cancelled jobs get ``close_timeout`` seconds to end; one that is still running then is
        reported to the exception handler and left to finish on its own.
        """
        self._closed = True
        while self._waiting:
            job, room = self._waiting.popleft()
            if not room.done():
                room.set_exception(
                    RuntimeError("the job scheduler closed while spawn() waited for room")
                )
        while self._pending:
            self._pending.popleft()._discard()
        jobs = list(self._active)
        for job in jobs:
            task = job._task
            if task is not None and not task.cancelling():
                task.cancel()
        if not jobs:
            return
        await asyncio.wait([job._finished for job in jobs], timeout=self._close_timeout)
        for job in jobs:
            if not job.closed:
                self.call_exception_handler(
                    {
                        "message": f"Job still running {self._close_timeout} s after "
                        "being cancelled at close",
                        "job": job,
                    }
                )

    async def wait_and_close(self, timeout: float = 60.0) -> None:
        """Give the jobs, and any they spawn meanwhile, ``timeout`` seconds to end; then `close`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        try:
            while self._active or self._pending or self._waiting:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                running = [job._finished for job in self]
                if not running:  # only spawns waiting for room: they get it on the next tick
                    await asyncio.sleep(0)
                    continue
                await asyncio.wait(running, timeout=remaining)
        finally:
            await self.close()

    # -- bookkeeping -----------------------------------------------------------------------

    def _has_room(self) -> bool:
        return self._limit is None or len(self._active) < self._limit

    def _has_pending_room(self) -> bool:
        return self._pending_limit is None or len(self._pending) < self._pending_limit

    def _activate(self, job: Job[Any]) -> None:
        self._active[job] = None
        job._start()

    def _job_done(self, job: Job[Any]) -> None:
        self._active.pop(job, None)
        self._fill()

    def _discard_pending(self, job: Job[Any]) -> None:
        self._pending.remove(job)
        job._discard()
        self._fill()

    def _fill(self) -> None:
        """Start queued jobs while there is room, then queue waiting spawns while it has room."""
        while True:
            if self._pending and self._has_room():
                self._activate(self._pending.popleft())
            elif self._waiting and (self._has_room() or self._has_pending_room()):
                job, room = self._waiting.popleft()
                if room.done():  # that spawn() was cancelled and discarded its job
                    continue
                room.set_result(None)
                if self._has_room():
                    self._activate(job)
                else:
                    self._pending.append(job)
            else:
                return


def _coro_name(coro: Coroutine[Any, Any, Any]) -> str:
    return f"{getattr(coro, '__qualname__', coro)!s}()"


def _log_failure(context: dict[str, Any]) -> None:
    exc = context.get("exception")
    logger.error(
        "%s: %r",
        context.get("message", "Job failed"),
        context.get("job"),
        exc_info=exc,
    )


# -- application integration --------------------------------------------------------------

SCHEDULER_KEY: AppKey[Scheduler] = AppKey("webkit.web.jobs.scheduler", Scheduler)


def setup(app: Application, *, wait_timeout: float = 10.0, **scheduler_kwargs: Any) -> None:
    """Give ``app`` (and its sub-applications) a `Scheduler` stored under `SCHEDULER_KEY`.

    At application cleanup the jobs get ``wait_timeout`` seconds to finish; then the
    remaining ones are cancelled (`Scheduler.wait_and_close`). Under `run_app` the jobs'
    tasks already had ``shutdown_timeout`` in step 4 of the graceful shutdown, so this only
    bounds what outlived it; `AppRunner.cleanup` has no step 4 and relies on it alone.
    ``scheduler_kwargs`` go to `Scheduler` (``limit``, ``pending_limit``, ``close_timeout``,
    ``exception_handler``).

    Raises:
        RuntimeError: ``setup`` was already called for ``app``, or ``app`` has started.
        ValueError: a scheduler option is out of range (see `Scheduler`).
    """
    if SCHEDULER_KEY in app:
        raise RuntimeError(f"jobs.setup() was already called for {app!r}")
    if app.frozen:
        raise RuntimeError("jobs.setup(app) must be called before the application starts")
    # Made here, not at startup: a Scheduler binds no event loop until its first job, and the
    # application's state should not change once it is frozen.
    scheduler = Scheduler(**scheduler_kwargs)
    app[SCHEDULER_KEY] = scheduler

    async def close_jobs(app: Application) -> AsyncIterator[None]:
        yield
        await scheduler.wait_and_close(wait_timeout)

    app.cleanup_ctx.append(close_jobs)


def get_scheduler_from_app(app: Application) -> Scheduler:
    """The scheduler `setup` gave ``app`` or one of its parent applications.

    Raises:
        RuntimeError: `setup` was not called for ``app`` nor for a parent of it.
    """
    current: Application | None = app
    while current is not None:
        scheduler = current.get(SCHEDULER_KEY)
        if scheduler is not None:
            return scheduler
        current = current._parent
    raise RuntimeError(_NO_SETUP)


def get_scheduler(request: Request) -> Scheduler:
    """The scheduler of the request's application (looked up through its parents too).

    Raises:
        RuntimeError: `setup` was not called for the application.
    """
    scheduler = request.config_dict.get(SCHEDULER_KEY)
    if scheduler is None:
        raise RuntimeError(_NO_SETUP)
    return scheduler


_NO_SETUP = (
    "no job scheduler: call webkit.web.jobs.setup(app) on the application (or a parent "
    "application) before it starts"
)


async def spawn(request: Request, coro: Coroutine[Any, Any, _T]) -> Job[_T]:
    """Run ``coro`` as a background job of the request's application.

    Raises:
        RuntimeError: `setup` was not called, or the scheduler is closed (the coroutine is
            closed in both cases).
    """
    try:
        scheduler = get_scheduler(request)
    except RuntimeError:
        coro.close()
        raise
    return await scheduler.spawn(coro)


def atomic(
    handler: Callable[_P, Coroutine[Any, Any, _R]],
) -> Callable[_P, Coroutine[Any, Any, _R]]:
    """Run the whole handler as a job, so that a client disconnect cannot interrupt it.

    With ``handler_cancellation=True`` the request's task is cancelled when its client goes;
    the decorated handler still runs to its end (its response is then discarded). Works on
    handler functions and on the methods of class-based views.

    Raises:
        RuntimeError: (when called) `setup` was not called for the application.
    """

    @functools.wraps(handler)
    async def run_as_job(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        job = await spawn(_request_of(handler, args), handler(*args, **kwargs))
        return await job.wait()

    return run_as_job


def _request_of(handler: Callable[..., Any], args: tuple[Any, ...]) -> Request:
    first = args[0] if args else None
    if isinstance(first, AbstractView):
        return first.request
    if isinstance(first, Request):
        return first
    raise TypeError(
        f"@atomic handler {getattr(handler, '__qualname__', handler)!r} must be called with a "
        f"web.Request or a class-based view as its first argument, got {first!r}"
    )
