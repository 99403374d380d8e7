"""Gunicorn workers: each Gunicorn worker process serves the application on its own event loop.

    gunicorn my_app_module:my_web_app --worker-class webkit.worker.GunicornWebWorker

The target is a `webkit.web.Application` or a zero-argument factory returning one, plain or
``async`` (the seed's "Passing a coroutine into run_app and Gunicorn"); each worker calls the
factory once. Signals follow Gunicorn's meaning: TERM is a graceful stop (running handlers get
95% of ``--graceful-timeout`` to finish), QUIT and INT a quick one (running handlers are
cancelled, ``on_shutdown`` and ``on_cleanup`` still run), USR1 reopens the log files, ABRT (sent
by the master to a worker that missed its heartbeat) exits at once.

Only this module imports gunicorn; ``webkit.web`` itself never does.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import re
import signal
import sys
from collections.abc import Callable
from ssl import SSLContext
from types import FrameType
from typing import Any

from gunicorn.config import AccessLogFormat
from gunicorn.errors import AppImportError
from gunicorn.sock import ssl_context as gunicorn_ssl_context
from gunicorn.workers.base import Worker

from webkit.http import HttpConnection
from webkit.web.app import Application
from webkit.web.log import AccessLogger
from webkit.web.runner import AppRunner, SockSite

__all__ = ["AppTargetError", "GunicornUVLoopWebWorker", "GunicornWebWorker", "WorkerConfigError"]


class AppTargetError(AppImportError, TypeError):  # type: ignore[misc]  # gunicorn is untyped
    """Gunicorn's target is neither an Application nor a zero-argument factory returning one.

    Also an ``AppImportError``, so that Gunicorn logs the message alone (no traceback) and its
    master stops with "App failed to load" instead of forking workers that fail the same way.
    """


class WorkerConfigError(RuntimeError):
    """Gunicorn's configuration cannot work with the worker class (reported before forking).

    A `RuntimeError`, so that Gunicorn prints it as a one-line ``Error:`` and exits 1.
    """


# Gunicorn's access-log atoms (``%(h)s``) and the AccessLogger directive that logs the same thing.
_GUNICORN_ATOMS = {
    "h": "%a",
    "l": "-",
    "t": "%t",
    "r": "%r",
    "s": "%s",
    "b": "%b",
    "B": "%b",
    "f": "%{Referer}i",
    "a": "%{User-Agent}i",
    "T": "%T",
    "D": "%D",
    "L": "%Tf",
    "p": "%P",
}
_GUNICORN_ATOM = re.compile(r"%\((\{([A-Za-z0-9_-]+)\}([ioe])|[^)]*)\)s")

# Gunicorn limits forwarded to webkit's `Limits` when set on the command line or in the config.
_GUNICORN_LIMITS = {
    "limit_request_line": "max_line_size",
    "limit_request_field_size": "max_field_size",
    "limit_request_fields": "max_headers",
}


def convert_access_log_format(source: str) -> str:
    """Turn Gunicorn's ``--access-logformat`` into `AccessLogger`'s Apache-style directives.

    Gunicorn's default format becomes AccessLogger's default (the combined log format); a
    format without ``%(...)s`` atoms is taken to be in AccessLogger's language already.

    Raises:
        WorkerConfigError: an atom has no AccessLogger equivalent (``%(u)s``, ``%(m)s``...).
    """
    if source == AccessLogFormat.default:
        return AccessLogger.LOG_FORMAT
    unknown: list[str] = []

    def replace(match: re.Match[str]) -> str:
        if match.group(2) is not None and match.group(3) in "io":
            return f"%{{{match.group(2)}}}{match.group(3)}"
        directive = _GUNICORN_ATOMS.get(match.group(1))
        if directive is None:
            unknown.append(match.group(0))
            return ""
        return directive

    converted = _GUNICORN_ATOM.sub(replace, source)
    if unknown:
        raise WorkerConfigError(
            f"--access-logformat {source!r}: {', '.join(unknown)} cannot be logged by webkit's "
            f"AccessLogger; use its directives instead (%a %t %P %r %s %b %T %Tf %D "
            f"%{{Header}}i %{{Header}}o), e.g. {AccessLogger.LOG_FORMAT!r}"
        )
    return converted


class _WorkerRunner(AppRunner):
    """An AppRunner whose shutdown step waits for running handlers before cancelling them.

    `AppRunner.cleanup` cancels handlers still running after ``on_shutdown``; a worker told to
    stop gracefully gives them ``drain_timeout`` seconds first (step 4 of the seed's graceful
    shutdown), unless ``hurry`` is set (a quick shutdown) before or while it waits.
    """

    def __init__(self, app: Application, *, hurry: asyncio.Event, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self._hurry = hurry
        self.drain_timeout = float(kwargs.get("shutdown_timeout", 60.0))

    async def shutdown(self) -> None:
        await super().shutdown()  # on_shutdown: WebSockets and the like close here
        server = self.server
        if server is None or self._hurry.is_set():
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.drain_timeout
        hurry = loop.create_task(self._hurry.wait())
        try:
            while not hurry.done():
                running = server.http.active_tasks
                remaining = deadline - loop.time()
                if not running or remaining <= 0:
                    break
                await asyncio.wait(
                    [*running, hurry], timeout=remaining, return_when=asyncio.FIRST_COMPLETED
                )
        finally:
            hurry.cancel()


class GunicornWebWorker(Worker):  # type: ignore[misc]  # gunicorn is untyped
    """Gunicorn worker class serving a webkit application on an asyncio event loop.

    One `SockSite` per socket Gunicorn listens on (TLS when Gunicorn has a certificate),
    ``--keep-alive`` as the keep-alive timeout, 95% of ``--graceful-timeout`` as the shutdown
    timeout, ``--max-requests`` honoured, ``--limit-request-line``, ``--limit-request-fields``
    and ``--limit-request-field-size`` passed on when set, the access log on Gunicorn's access
    logger when ``--access-logfile`` is given (Gunicorn's ``%(h)s`` format atoms converted).
    """

    FIRST_REQUEST_GRACE = 0.5
    """Seconds a connection accepted just before shutdown has to begin its request."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.exit_code = 0
        self.loop: asyncio.AbstractEventLoop | None = None
        # Bound to the worker's loop on first use (asyncio.Event binds lazily), after fork.
        self._wakeup = asyncio.Event()  # a stop was asked for: leave the heartbeat loop
        self._hurry = asyncio.Event()  # a quick stop: cancel running handlers

    @classmethod
    def check_config(cls, cfg: Any, log: Any) -> None:
        """Called by Gunicorn's master before it forks: fail early on unusable settings.

        Raises:
            WorkerConfigError: the access-log format cannot be converted.
        """
        convert_access_log_format(str(cfg.access_log_format))

    def new_event_loop(self) -> asyncio.AbstractEventLoop:
        """The event loop this worker runs on (a fresh one: nothing crosses ``fork``)."""
        return asyncio.new_event_loop()

    def init_process(self) -> None:
        self.loop = self.new_event_loop()
        asyncio.set_event_loop(self.loop)
        super().init_process()  # signals, the app import, then run()

    def load_wsgi(self) -> None:
        try:
            super().load_wsgi()
        except AppImportError:
            # Gunicorn insists on a callable; an Application instance is a valid target here.
            target = _imported_target(getattr(self.app, "app_uri", None))
            if target is None:
                raise
            if not isinstance(target, Application):
                raise AppTargetError(_not_an_app_message(self.app.app_uri, target)) from None
            self.wsgi = target

    # -- signals ---------------------------------------------------------------------------

    def init_signals(self) -> None:
        loop = self.loop
        assert loop is not None, "init_process() makes the loop first"
        for sig in self.SIGNALS:  # what the master process installed must not fire here
            signal.signal(sig, signal.SIG_DFL)
        loop.add_signal_handler(signal.SIGTERM, self._stop, False)
        loop.add_signal_handler(signal.SIGQUIT, self._stop, True)
        loop.add_signal_handler(signal.SIGINT, self._stop, True)
        loop.add_signal_handler(signal.SIGUSR1, self.log.reopen_files)
        loop.add_signal_handler(signal.SIGWINCH, self.handle_winch, signal.SIGWINCH, None)
        # Not through the loop: the master sends ABRT to a worker whose loop is stuck, so the
        # handler must run even then (worker_abort hooks typically dump the stacks).
        signal.signal(signal.SIGABRT, self.handle_abort)

    def _stop(self, quick: bool) -> None:
        self.alive = False
        self._wakeup.set()
        if quick:
            self._hurry.set()
            self.cfg.worker_int(self)

    def handle_abort(self, sig: int, frame: FrameType | None) -> None:
        self.alive = False
        self.exit_code = 1
        self.cfg.worker_abort(self)
        sys.exit(1)

    # -- serving ---------------------------------------------------------------------------

    def run(self) -> None:
        loop = self.loop
        assert loop is not None, "init_process() makes the loop first"
        # Gunicorn marks the worker booted before run(); the app only starts below. Until the
        # sockets serve, a failure must read as a boot error, so the master stops instead of
        # forking failing workers forever.
        self.booted = False
        try:
            loop.run_until_complete(self._serve())
        finally:
            if not self.exit_code:  # an abort leaves at once, without waiting for anything
                _finish(loop)
            asyncio.set_event_loop(None)
            loop.close()  # which resets the signals it handled to their defaults
            # The master and a terminal's process group may both signal us: a second TERM, INT
            # or QUIT arriving now must not kill the worker before Gunicorn's exit hooks run.
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT):
                signal.signal(sig, signal.SIG_IGN)

    async def _serve(self) -> None:
        app = await _resolve_app(self.wsgi, _describe(self))
        runner = _WorkerRunner(app, hurry=self._hurry, **self._runner_options())
        try:
            # Inside the try: when a startup step fails, the cleanup contexts that did start
            # are cleaned up all the same.
            await runner.setup()
            ssl_context = self._ssl_context()
            for listener in self.sockets:
                site = SockSite(
                    runner, listener.sock, ssl_context=ssl_context, backlog=int(self.cfg.backlog)
                )
                await site.start()
            self.booted = True
            await self._heartbeat(runner)
        finally:
            await self._stop_listening(runner)
            await runner.cleanup()

    async def _stop_listening(self, runner: AppRunner) -> None:
        """Step 1 of the shutdown, then a moment for just-accepted connections to speak.

        A connection accepted an instant before the sockets closed has usually sent its
        request already, but it may not have been read yet; closing it as idle would fail a
        request that the other workers (or, after SIGHUP, the new ones) would have answered.
        So connections that have not yet begun a request get up to `FIRST_REQUEST_GRACE`
        seconds to begin one before the idle ones are closed.
        """
        loop = asyncio.get_running_loop()
        for site in list(runner.sites):
            await site.stop()  # stops accepting first, so no accepted connection is dropped
        server = runner.server
        if server is None or self._hurry.is_set():
            return
        deadline = loop.time() + self.FIRST_REQUEST_GRACE
        while loop.time() < deadline and not self._hurry.is_set():
            await asyncio.sleep(0.01)  # lets accepted sockets become connections and read
            if not any(_has_said_nothing(conn) for conn in server.connections):
                break

    def _runner_options(self) -> dict[str, Any]:
        cfg = self.cfg
        options: dict[str, Any] = {
            "access_log": self.log.access_log if cfg.accesslog else None,
            "access_log_format": convert_access_log_format(str(cfg.access_log_format)),
            "keepalive_timeout": float(cfg.keepalive),
            "shutdown_timeout": float(cfg.graceful_timeout) / 100 * 95,
        }
        for name, limit in _GUNICORN_LIMITS.items():
            setting = cfg.settings[name]
            if setting.value != setting.default and setting.value > 0:
                options[limit] = int(setting.value)
        return options

    def _ssl_context(self) -> SSLContext | None:
        if not self.cfg.is_ssl:
            return None
        context: SSLContext = gunicorn_ssl_context(self.cfg)
        return context

    async def _heartbeat(self, runner: AppRunner) -> None:
        """Tell the master we live, once a second, until told to stop or done with our share."""
        server = runner.server
        assert server is not None, "runner.setup() makes the server"
        timeout = float(self.timeout)  # already half of Gunicorn's --timeout
        interval = min(1.0, timeout) if timeout > 0 else 1.0
        while self.alive:
            self.notify()
            if server.requests_count >= self.max_requests:
                self.log.info("Max requests, shutting down: %s", self)
                self.alive = False
            elif self.ppid != os.getppid():
                self.log.info("Parent changed, shutting down: %s", self)
                self.alive = False
            else:
                try:
                    await asyncio.wait_for(self._wakeup.wait(), interval)
                except TimeoutError:
                    pass


class GunicornUVLoopWebWorker(GunicornWebWorker):
    """`GunicornWebWorker` on a uvloop event loop (``pip install 'webkit[uvloop]'``)."""

    @classmethod
    def check_config(cls, cfg: Any, log: Any) -> None:
        """Raises: WorkerConfigError: uvloop is not installed, or see `GunicornWebWorker`."""
        try:
            import uvloop  # noqa: F401
        except ImportError:
            raise WorkerConfigError(
                "GunicornUVLoopWebWorker needs uvloop, which is not installed: "
                "pip install 'webkit[uvloop]', or use webkit.worker.GunicornWebWorker"
            ) from None
        super().check_config(cfg, log)

    def new_event_loop(self) -> asyncio.AbstractEventLoop:
        import uvloop

        loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
        return loop


def _has_said_nothing(conn: HttpConnection) -> bool:
    return conn.head_started == 0.0 and not conn.active and not conn.lost


def _finish(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel the tasks the application left running, then close generators and executor."""
    tasks = asyncio.all_tasks(loop)
    for task in tasks:
        task.cancel()
    if tasks:
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
    loop.run_until_complete(loop.shutdown_asyncgens())
    loop.run_until_complete(loop.shutdown_default_executor())


async def _resolve_app(target: object, where: str) -> Application:
    """The Application behind Gunicorn's target: the object itself, or what its factory makes.

    Raises:
        AppTargetError: the target is neither an Application nor a zero-argument factory of
            one (a `TypeError`).
    """
    if isinstance(target, Application):
        return target
    if not callable(target):
        raise AppTargetError(_not_an_app_message(where, target))
    _check_no_arguments(target, where)
    made = target()
    if inspect.isawaitable(made):
        made = await made
    if not isinstance(made, Application):
        raise AppTargetError(
            f"{where} returned {made!r} ({type(made).__name__}), not a webkit.web.Application: "
            "the factory given to Gunicorn must build and return the application"
        )
    return made


def _check_no_arguments(factory: Callable[..., object], where: str) -> None:
    try:
        parameters = inspect.signature(factory)
    except (TypeError, ValueError):  # no signature to inspect (some builtins): just call it
        return
    try:
        parameters.bind()
    except TypeError:
        parameters = parameters.replace(return_annotation=inspect.Signature.empty)
        raise AppTargetError(
            f"{where} takes arguments {parameters}; a factory given to Gunicorn is called with "
            "none: read settings from the environment or a config file inside it"
        ) from None


def _not_an_app_message(where: object, target: object) -> str:
    return (
        f"{where} is {target!r} ({type(target).__name__}); the webkit worker serves a "
        "webkit.web.Application, or a zero-argument function (plain or async) returning one"
    )


def _imported_target(app_uri: object) -> object | None:
    """The object a ``module:name`` target names, if Gunicorn imported its module already."""
    if not isinstance(app_uri, str):
        return None
    module_name, _, name = app_uri.partition(":")
    name = name or "application"
    module = sys.modules.get(module_name)
    if module is None or not name.isidentifier():
        return None
    return getattr(module, name, None)


def _describe(worker: GunicornWebWorker) -> str:
    uri = getattr(worker.app, "app_uri", None)
    return str(uri) if uri else repr(worker.wsgi)
