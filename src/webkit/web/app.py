"""Application: the routing table, middlewares, signals and shared state of one web app."""

from __future__ import annotations

import asyncio
import logging
import warnings
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Mapping,
    MutableMapping,
    Sequence,
)
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast, final, overload

from webkit.web.signals import FrozenList, Signal

if TYPE_CHECKING:
    from webkit.web.request import Request
    from webkit.web.response import StreamResponse
    from webkit.web.routing.dispatcher import UrlDispatcher
    from webkit.web.routing.resources import AbstractResource
    from webkit.web.routing.routedef import AbstractRouteDef

__all__ = ["AppKey", "Application", "CleanupError", "NotAppKeyWarning"]

_T = TypeVar("_T")
_U = TypeVar("_U")

Handler = Callable[["Request"], Awaitable["StreamResponse"]]
Middleware = Callable[["Request", Handler], Awaitable["StreamResponse"]]
CleanupCtx = Callable[["Application"], AsyncIterator[None]]

log = logging.getLogger("webkit.web")


class NotAppKeyWarning(UserWarning):
    """A plain ``str`` was used as an Application key; `AppKey` gives type safety."""


@final
class AppKey(Generic[_T]):
    """A typed key for `Application` storage: ``app[key]`` has the key's type for mypy.

    Args:
        name: a readable name, shown in reprs and errors.
        t: the value type (only for type checkers and reprs).
    """

    __slots__ = ("__name__", "_t")

    def __init__(self, name: str, t: type[_T] | None = None) -> None:
        self.__name__ = name
        self._t = t

    def __lt__(self, other: object) -> bool:
        if isinstance(other, AppKey):
            return self.__name__ < other.__name__
        return True

    def __repr__(self) -> str:
        t = self._t
        if t is None:
            type_name = "<<Unknown>>"
        elif isinstance(t, type):
            type_name = (
                t.__qualname__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"
            )
        else:
            type_name = repr(t)
        return f"<AppKey({self.__name__}, type={type_name})>"


class CleanupError(RuntimeError):
    """One or more cleanup callbacks failed; ``exceptions`` holds them all."""

    @property
    def exceptions(self) -> list[BaseException]:
        return cast(list[BaseException], self.args[1])


class CleanupContext(FrozenList[CleanupCtx]):
    """``app.cleanup_ctx``: async generators whose code after the one ``yield`` is cleanup."""

    def __init__(self) -> None:
        super().__init__()
        self._exits: list[AsyncIterator[None]] = []

    async def _on_startup(self, app: Application) -> None:
        for factory in self:
            iterator = factory(app)
            if not hasattr(iterator, "__anext__"):
                close = getattr(iterator, "close", None)
                if close is not None:
                    close()  # a coroutine: no "never awaited" warning on top of the error
                raise TypeError(
                    f"cleanup_ctx entry {factory!r} must be an async generator function "
                    "(async def with one yield)"
                )
            await iterator.__anext__()
            # Registered only once its startup part finished: cleanup runs iff startup did.
            self._exits.append(iterator)

    async def _on_cleanup(self, app: Application) -> None:
        errors: list[BaseException] = []
        for iterator in reversed(self._exits):
            try:
                await iterator.__anext__()
            except StopAsyncIteration:
                pass
            except (Exception, asyncio.CancelledError) as exc:
                errors.append(exc)
            else:
                errors.append(RuntimeError(f"{iterator!r} has more than one 'yield'"))
        self._exits.clear()
        if errors:
            if len(errors) == 1:
                raise errors[0]
            raise CleanupError("Multiple errors on cleanup stage", errors)


class Application(MutableMapping[str | AppKey[Any], Any]):
    """A web application: routes, middlewares, signals and a dict-like store for shared state.

    Args:
        middlewares: new-style middlewares, outermost first.
        handler_args: extra keyword arguments for the server (e.g. ``timeout_ceil_threshold``,
            ``keepalive_timeout``, ``max_line_size``).
        client_max_size: largest request body `Request.read` accepts, in bytes (1 MiB).
        router: a router to use instead of a new `UrlDispatcher`.
        debug: show tracebacks in 500 responses.
    """

    def __init__(
        self,
        *,
        logger: logging.Logger = log,
        router: UrlDispatcher | None = None,
        middlewares: Iterable[Middleware] = (),
        handler_args: Mapping[str, Any] | None = None,
        client_max_size: int = 1024**2,
        loop: asyncio.AbstractEventLoop | None = None,
        debug: bool = False,
    ) -> None:
        from webkit.web.routing.dispatcher import UrlDispatcher

        if loop is not None:
            raise TypeError("Application(loop=...) is not supported; the running loop is used")
        self._router: UrlDispatcher = router if router is not None else UrlDispatcher()
        self._router._set_app(self)
        self.logger = logger
        self._user_middlewares: FrozenList[Middleware] = FrozenList(middlewares)
        # What the request handler chains: the user's list, plus (once frozen, in nested
        # applications) a first middleware that makes ``request.app`` this application.
        self._middlewares: Sequence[Middleware] = self._user_middlewares
        self._handler_args = dict(handler_args or {})
        self._client_max_size = client_max_size
        self._debug = debug
        self._state: dict[str | AppKey[Any], Any] = {}
        self._frozen = False
        self._pre_frozen = False
        self._subapps: list[Application] = []
        self._parent: Application | None = None
        self._on_response_prepare: Signal = Signal(self)
        self._on_startup: Signal = Signal(self)
        self._on_shutdown: Signal = Signal(self)
        self._on_cleanup: Signal = Signal(self)
        self._cleanup_ctx = CleanupContext()
        self._on_startup.append(self._cleanup_ctx._on_startup)
        self._on_cleanup.append(self._cleanup_ctx._on_cleanup)
        self._has_prepare_signal = False

    def __repr__(self) -> str:
        return f"<Application 0x{id(self):x}>"

    def __call__(self) -> Application:
        """Return the application itself: tools that call their target (gunicorn's
        ``--preload``) get the app, as they do with a factory."""
        return self

    def __bool__(self) -> bool:
        return True

    def __eq__(self, other: object) -> bool:
        return self is other

    def __hash__(self) -> int:
        return id(self)

    # -- MutableMapping ---------------------------------------------------------------

    @overload
    def __getitem__(self, key: AppKey[_T]) -> _T: ...
    @overload
    def __getitem__(self, key: str) -> Any: ...
    def __getitem__(self, key: str | AppKey[_T]) -> Any:
        return self._state[key]

    def _check_frozen(self) -> None:
        if self._frozen:
            warnings.warn(
                "Changing state of started or joined application is deprecated",
                DeprecationWarning,
                stacklevel=3,
            )

    @overload
    def __setitem__(self, key: AppKey[_T], value: _T) -> None: ...
    @overload
    def __setitem__(self, key: str, value: Any) -> None: ...
    def __setitem__(self, key: str | AppKey[_T], value: Any) -> None:
        self._check_frozen()
        if not isinstance(key, AppKey):
            warnings.warn(
                "It is recommended to use web.AppKey instances for keys.\n"
                "https://docs.aiohttp.org/en/stable/web_advanced.html#application-s-config",
                category=NotAppKeyWarning,
                stacklevel=2,
            )
        self._state[key] = value

    def __delitem__(self, key: str | AppKey[_T]) -> None:
        self._check_frozen()
        del self._state[key]

    def __len__(self) -> int:
        return len(self._state)

    def __iter__(self) -> Iterator[str | AppKey[Any]]:
        return iter(self._state)

    @overload  # type: ignore[override]
    def get(self, key: AppKey[_T], default: None = ...) -> _T | None: ...
    @overload
    def get(self, key: AppKey[_T], default: _U) -> _T | _U: ...
    @overload
    def get(self, key: str, default: Any = ...) -> Any: ...
    def get(self, key: str | AppKey[_T], default: Any = None) -> Any:
        return self._state.get(key, default)

    # -- properties -------------------------------------------------------------------

    @property
    def router(self) -> UrlDispatcher:
        return self._router

    @property
    def middlewares(self) -> FrozenList[Middleware]:
        return self._user_middlewares

    @property
    def on_response_prepare(self) -> Signal:
        return self._on_response_prepare

    @property
    def on_startup(self) -> Signal:
        return self._on_startup

    @property
    def on_shutdown(self) -> Signal:
        return self._on_shutdown

    @property
    def on_cleanup(self) -> Signal:
        return self._on_cleanup

    @property
    def cleanup_ctx(self) -> CleanupContext:
        return self._cleanup_ctx

    @property
    def frozen(self) -> bool:
        return self._frozen

    @property
    def pre_frozen(self) -> bool:
        return self._pre_frozen

    @property
    def debug(self) -> bool:
        return self._debug

    @property
    def handler_args(self) -> dict[str, Any]:
        return self._handler_args

    @property
    def client_max_size(self) -> int:
        return self._client_max_size

    # -- composition ------------------------------------------------------------------

    def add_routes(self, routes: Iterable[AbstractRouteDef]) -> list[Any]:
        """Register route definitions (``web.get(...)``, a `RouteTableDef`, ...)."""
        return self._router.add_routes(routes)

    def _reg_subapp_signals(self, subapp: Application) -> None:
        async def startup(app: Application) -> None:
            await subapp.startup()

        async def shutdown(app: Application) -> None:
            await subapp.shutdown()

        async def cleanup(app: Application) -> None:
            await subapp.cleanup()

        self._on_startup.append(startup)
        self._on_shutdown.append(shutdown)
        self._on_cleanup.append(cleanup)

    def _adopt(self, subapp: Application) -> None:
        if self._frozen:
            raise RuntimeError("cannot add a sub-application after the application has started")
        if subapp._frozen or subapp._parent is not None:
            raise RuntimeError("a sub-application can be added to only one parent, once")
        subapp._parent = self
        self._subapps.append(subapp)
        self._reg_subapp_signals(subapp)

    def add_subapp(self, prefix: str, subapp: Application) -> AbstractResource:
        """Serve ``subapp`` under ``prefix``; its middlewares run after this app's.

        Raises:
            ValueError: ``prefix`` is empty or ``/``.
            RuntimeError: this app has started, or ``subapp`` already has a parent.
        """
        if not prefix.startswith("/") or prefix == "/":
            raise ValueError(
                f"sub-application prefix {prefix!r} must start with '/' and not be '/'"
            )
        self._adopt(subapp)
        resource = self._router.add_subapp_resource(prefix, subapp)
        return resource

    def add_domain(self, domain: str, subapp: Application) -> AbstractResource:
        """Serve ``subapp`` for requests whose ``Host`` matches ``domain``.

        ``*`` stands for one or more labels (``*.example.com``); the request's port is
        ignored unless ``domain`` names one.

        Raises:
            TypeError: ``domain`` is not a str.
            ValueError: ``domain`` is empty or a URL rather than a host name.
            RuntimeError: this app has started, or ``subapp`` already has a parent.
        """
        if not isinstance(domain, str):
            raise TypeError(f"domain must be a str, got {domain!r}")
        if not domain:
            raise ValueError("domain must not be empty")
        self._adopt(subapp)
        return self._router.add_domain_resource(domain, subapp)

    # -- lifecycle --------------------------------------------------------------------

    def pre_freeze(self) -> None:
        if self._pre_frozen:
            return
        self._pre_frozen = True
        self._user_middlewares.freeze()
        self._router.freeze()
        self._on_response_prepare.freeze()
        self._cleanup_ctx.freeze()
        self._on_startup.freeze()
        self._on_shutdown.freeze()
        self._on_cleanup.freeze()
        self._has_prepare_signal = bool(self._on_response_prepare)
        for subapp in self._subapps:
            subapp.pre_freeze()
            self._has_prepare_signal = self._has_prepare_signal or subapp._has_prepare_signal
        for mw in self._user_middlewares:
            if getattr(mw, "__middleware_version__", None) != 1:
                raise TypeError(
                    f"middleware {mw!r} must be decorated with @web.middleware "
                    "(old-style middleware factories are not supported)"
                )
        if self._subapps or self._parent is not None:
            self._middlewares = (_current_app_middleware(self), *self._user_middlewares)

    def freeze(self) -> None:
        if self._frozen:
            return
        self.pre_freeze()
        self._frozen = True
        for subapp in self._subapps:
            subapp.freeze()

    async def startup(self) -> None:
        """Send ``on_startup`` (which also runs the ``cleanup_ctx`` startup parts)."""
        await self.on_startup.send(self)

    async def shutdown(self) -> None:
        """Send ``on_shutdown``."""
        await self.on_shutdown.send(self)

    async def cleanup(self) -> None:
        """Send ``on_cleanup``; every callback runs even if an earlier one fails.

        Raises:
            CleanupError: several callbacks failed (their exceptions are in ``.exceptions``).
        """
        errors: list[BaseException] = []
        for callback in self.on_cleanup:
            try:
                await callback(self)
            except CleanupError as exc:
                errors.extend(exc.exceptions)
            except Exception as exc:
                errors.append(exc)
        if len(errors) == 1:
            raise errors[0]
        if errors:
            raise CleanupError("Multiple errors on cleanup stage", errors)

    def _chain(self) -> Sequence[Application]:
        """This app and its parents, root first."""
        chain: list[Application] = []
        app: Application | None = self
        while app is not None:
            chain.append(app)
            app = app._parent
        chain.reverse()
        return chain


def _current_app_middleware(app: Application) -> Middleware:
    """Make ``request.app`` (and ``config_dict``) ``app`` while its middlewares run.

    In a nested application each app's middlewares see their own app, as in aiohttp; the
    handler sees the innermost one.
    """

    async def set_current_app(request: Request, handler: Handler) -> StreamResponse:
        info = request.match_info
        previous = info.current_app
        info.current_app = app
        try:
            return await handler(request)
        finally:
            info.current_app = previous

    set_current_app.__middleware_version__ = 1  # type: ignore[attr-defined]
    return set_current_app
