"""Resources (a path pattern) and routes (a method and handler on a resource)."""

from __future__ import annotations

import abc
import inspect
import keyword
import re
import warnings
from collections.abc import Awaitable, Callable, Iterator, Sized
from typing import TYPE_CHECKING, Any

from yarl import URL

from webkit.abc import AbstractMatchInfo
from webkit.web.exceptions import HTTPException, HTTPExpectationFailed
from webkit.web.views import AbstractView

if TYPE_CHECKING:
    from webkit.web.app import Application
    from webkit.web.request import Request
    from webkit.web.response import StreamResponse

__all__ = [
    "AbstractResource",
    "AbstractRoute",
    "DynamicResource",
    "MatchInfoError",
    "PlainResource",
    "Resource",
    "ResourceRoute",
    "UrlMappingMatchInfo",
]

Handler = Callable[["Request"], Awaitable["StreamResponse"]]
ExpectHandler = Callable[["Request"], Awaitable["StreamResponse | None"]]

_HTTP_METHOD = re.compile(r"^[0-9A-Za-z!#$%&'*+\-.^_`|~]+$")
_NAME_SPLIT = re.compile(r"[.:-]")
_DYN = re.compile(r"\{(?P<var>[_a-zA-Z][_a-zA-Z0-9]*)\}")
_DYN_WITH_RE = re.compile(r"\{(?P<var>[_a-zA-Z][_a-zA-Z0-9]*):(?P<re>.+)\}")
_GOOD = r"[^{}/]+"
METH_ANY = "*"


def encode_path(path: str) -> str:
    """The percent-encoded form of a route path, as yarl writes it."""
    return URL.build(path=path).raw_path


def unquote_part(value: str) -> str:
    """Decode a matched path segment (``%7E`` → ``~``, ``%D0%B0`` → Cyrillic a)."""
    if "%" not in value:
        return value
    return URL.build(path=value, encoded=True).path


class AbstractResource(Sized, abc.ABC):
    """What the router asks of any resource, built in or user-defined."""

    def __init__(self, *, name: str | None = None) -> None:
        self._name = name
        self._order = 0

    @property
    def name(self) -> str | None:
        return self._name

    @property
    @abc.abstractmethod
    def canonical(self) -> str:
        """The path as written, e.g. ``/user/{name}``."""

    @abc.abstractmethod
    def url_for(self, **kwargs: Any) -> URL:
        """Build a URL for this resource."""

    @abc.abstractmethod
    async def resolve(self, request: Request) -> tuple[UrlMappingMatchInfo | None, set[str]]:
        """Match ``request``: the match info (None if no route fits) and the allowed methods."""

    @abc.abstractmethod
    def add_prefix(self, prefix: str) -> None:
        """Prepend ``prefix`` (already cleaned) to this resource's path."""

    @abc.abstractmethod
    def get_info(self) -> dict[str, Any]:
        """A description for introspection (``webkit routes``)."""

    @abc.abstractmethod
    def raw_match(self, path: str) -> bool:
        """Whether this resource's pattern is exactly ``path`` (used to merge registrations)."""

    def freeze(self) -> None:
        pass

    def __iter__(self) -> Iterator[AbstractRoute]:
        return iter(())

    def __len__(self) -> int:
        return 0


class AbstractRoute(abc.ABC):
    """A method and a handler, usually bound to a resource."""

    def __init__(
        self,
        method: str,
        handler: Handler | type[Any],
        *,
        expect_handler: ExpectHandler | None = None,
        resource: AbstractResource | None = None,
    ) -> None:
        if not _HTTP_METHOD.match(method):
            raise ValueError(f"{method!r} is not a valid HTTP method")
        if expect_handler is not None and not inspect.iscoroutinefunction(expect_handler):
            raise TypeError(f"expect_handler {expect_handler!r} must be an async function")
        self._method = method.upper()
        self._handler = _check_handler(handler)
        self._expect_handler = expect_handler or _default_expect_handler
        self._resource = resource

    @property
    def method(self) -> str:
        return self._method

    @property
    def handler(self) -> Handler:
        return self._handler

    @property
    @abc.abstractmethod
    def name(self) -> str | None: ...

    @property
    def resource(self) -> AbstractResource | None:
        return self._resource

    @abc.abstractmethod
    def get_info(self) -> dict[str, Any]: ...

    @abc.abstractmethod
    def url_for(self, *args: str, **kwargs: str) -> URL: ...

    async def handle_expect_header(self, request: Request) -> StreamResponse | None:
        return await self._expect_handler(request)


def _check_handler(handler: Any) -> Handler:
    if isinstance(handler, type) and issubclass(handler, AbstractView):
        return handler
    if inspect.iscoroutinefunction(handler) or inspect.iscoroutinefunction(
        getattr(handler, "__call__", None)  # noqa: B004
    ):
        return handler  # type: ignore[no-any-return]
    if not callable(handler):
        raise TypeError(f"route handler {handler!r} is not callable")
    warnings.warn(
        f"route handler {handler!r} is not an async function; wrap it or make it async def",
        DeprecationWarning,
        stacklevel=4,
    )

    async def wrapped(request: Request) -> StreamResponse:
        result = handler(request)
        if inspect.isawaitable(result):
            result = await result
        return result  # type: ignore[no-any-return]

    return wrapped


async def _default_expect_handler(request: Request) -> None:
    """Accept ``100-continue`` (sent when the body is first read); refuse anything else."""
    expect = request.headers.get("EXPECT", "")
    if request.version == (1, 1) and expect.lower() != "100-continue":
        raise HTTPExpectationFailed(text=f"Unknown Expect: {expect}")


class ResourceRoute(AbstractRoute):
    """A route on a built-in resource."""

    def __init__(
        self,
        method: str,
        handler: Handler | type[Any],
        resource: AbstractResource,
        *,
        expect_handler: ExpectHandler | None = None,
    ) -> None:
        super().__init__(method, handler, expect_handler=expect_handler, resource=resource)

    def __repr__(self) -> str:
        return f"<ResourceRoute [{self.method}] {self._resource} -> {self.handler!r}>"

    @property
    def name(self) -> str | None:
        return None if self._resource is None else self._resource.name

    def url_for(self, *args: str, **kwargs: str) -> URL:
        assert self._resource is not None
        return self._resource.url_for(*args, **kwargs)

    def get_info(self) -> dict[str, Any]:
        assert self._resource is not None
        return self._resource.get_info()


class SystemRoute(AbstractRoute):
    """The route of a match that failed: its handler raises the 404/405."""

    def __init__(self, http_exception: HTTPException) -> None:
        super().__init__(METH_ANY, self._raise)
        self._http_exception = http_exception

    async def _raise(self, request: Request) -> StreamResponse:
        raise self._http_exception

    @property
    def name(self) -> None:
        return None

    def url_for(self, *args: str, **kwargs: str) -> URL:
        raise RuntimeError(".url_for() is not allowed for SystemRoute")

    def get_info(self) -> dict[str, Any]:
        return {"http_exception": self._http_exception}

    @property
    def status(self) -> int:
        return self._http_exception.status

    @property
    def reason(self) -> str:
        return self._http_exception.reason

    def __repr__(self) -> str:
        return f"<SystemRoute {self.status}: {self.reason}>"


class UrlMappingMatchInfo(dict[str, str], AbstractMatchInfo):
    """The result of routing: the path's variables plus the route, handler and apps."""

    __slots__ = ("_apps", "_current_app", "_frozen", "_route")

    def __init__(self, match_dict: dict[str, str], route: AbstractRoute) -> None:
        super().__init__(match_dict)
        self._route = route
        self._apps: list[Application] = []
        self._current_app: Application | None = None
        self._frozen = False

    @classmethod
    def _resolved(
        cls, match_dict: dict[str, str], route: AbstractRoute, app: Application
    ) -> UrlMappingMatchInfo:
        """A frozen match of the root ``app`` (the router's fast path builds these)."""
        info = cls(match_dict, route)
        info._apps = [app]
        info._current_app = app
        info._frozen = True
        return info

    @property
    def handler(self) -> Handler:
        return self._route.handler

    @property
    def route(self) -> AbstractRoute:
        return self._route

    @property
    def expect_handler(self) -> Callable[[Request], Awaitable[StreamResponse | None]]:
        return self._route.handle_expect_header

    @property
    def http_exception(self) -> HTTPException | None:
        return None

    def get_info(self) -> dict[str, Any]:
        return self._route.get_info()

    @property
    def apps(self) -> tuple[Application, ...]:
        return tuple(self._apps)

    def add_app(self, app: Application) -> None:
        if self._frozen:
            raise RuntimeError("Cannot change apps stack after .freeze() call")
        if self._current_app is None:
            self._current_app = app
        self._apps.insert(0, app)

    @property
    def current_app(self) -> Application:
        app = self._current_app
        assert app is not None
        return app

    @current_app.setter
    def current_app(self, app: Application) -> None:
        if app not in self._apps:
            raise RuntimeError(f"Expected one of the following apps {self._apps!r}, got {app!r}")
        self._current_app = app

    def freeze(self) -> None:
        self._frozen = True

    def __repr__(self) -> str:
        return f"<MatchInfo {super().__repr__()}: {self._route}>"


class MatchInfoError(UrlMappingMatchInfo):
    """The match info of a request no route accepts (404 or 405)."""

    __slots__ = ("_exception",)

    def __init__(self, http_exception: HTTPException) -> None:
        self._exception = http_exception
        super().__init__({}, SystemRoute(http_exception))

    @property
    def http_exception(self) -> HTTPException:
        return self._exception

    def __repr__(self) -> str:
        return f"<MatchInfoError {self._exception.status}: {self._exception.reason}>"


class Resource(AbstractResource):
    """A resource holding routes, one per method (``*`` matches any)."""

    def __init__(self, *, name: str | None = None) -> None:
        super().__init__(name=name)
        self._routes: list[ResourceRoute] = []
        self._by_method: dict[str, ResourceRoute] = {}
        self._any_route: ResourceRoute | None = None
        self._allowed: set[str] = set()

    def add_route(
        self,
        method: str,
        handler: Handler | type[Any],
        *,
        expect_handler: ExpectHandler | None = None,
    ) -> ResourceRoute:
        """Add a route for ``method``.

        Raises:
            RuntimeError: the method is already routed on this resource.
        """
        method = method.upper()
        if method in self._by_method or (method == METH_ANY and self._any_route is not None):
            raise RuntimeError(
                f"Added route will never be executed, method {method} is already registered"
            )
        route = ResourceRoute(method, handler, self, expect_handler=expect_handler)
        self._routes.append(route)
        if method == METH_ANY:
            self._any_route = route
        else:
            self._by_method[method] = route
            self._allowed.add(method)
        return route

    def _route_for(self, method: str) -> ResourceRoute | None:
        # HEAD is answered by GET handlers only through the HEAD route ``add_get`` adds
        # (RFC 9110 §9.3.2); ``allow_head=False`` or ``add_route("GET", ...)`` leave it 405.
        route = self._by_method.get(method)
        if route is None:
            route = self._any_route
        return route

    def _allowed_methods(self) -> set[str]:
        return set(self._allowed)

    @abc.abstractmethod
    def _match(self, path: str) -> dict[str, str] | None:
        """The path variables if ``path`` (percent-encoded) matches, else None."""

    async def resolve(self, request: Request) -> tuple[UrlMappingMatchInfo | None, set[str]]:
        match = self._match(request._match_path)
        if match is None:
            return None, set()
        route = self._route_for(request.method)
        if route is None:
            return None, self._allowed_methods()
        return UrlMappingMatchInfo(match, route), self._allowed_methods()

    def __len__(self) -> int:
        return len(self._routes)

    def __iter__(self) -> Iterator[AbstractRoute]:
        return iter(self._routes)


class PlainResource(Resource):
    """A fixed path, looked up in the router's dict."""

    def __init__(self, path: str, *, name: str | None = None) -> None:
        super().__init__(name=name)
        if path and not path.startswith("/"):
            raise ValueError(f"route path {path!r} must start with '/'")
        self._path = encode_path(path) if path else ""

    @property
    def canonical(self) -> str:
        return self._path

    def freeze(self) -> None:
        if not self._path:
            self._path = "/"

    def add_prefix(self, prefix: str) -> None:
        self._path = prefix + self._path

    def _match(self, path: str) -> dict[str, str] | None:
        return {} if path == self._path else None

    def raw_match(self, path: str) -> bool:
        return self._path == path

    def get_info(self) -> dict[str, Any]:
        return {"path": self._path}

    def url_for(self) -> URL:  # type: ignore[override]
        return URL.build(path=self._path, encoded=True)

    def __repr__(self) -> str:
        name = f"'{self.name}' " if self.name is not None else ""
        return f"<PlainResource {name} {self._path}>"


class DynamicResource(Resource):
    """A path with ``{name}`` or ``{name:regex}`` parts, matched by one compiled regex."""

    def __init__(self, path: str, *, name: str | None = None) -> None:
        super().__init__(name=name)
        if not path.startswith("/"):
            raise ValueError(f"route path {path!r} must start with '/'")
        pattern = ""
        formatter = ""
        for part in re.split(r"(\{[_a-zA-Z][^{}]*(?:\{[^{}]*\}[^{}]*)*\})", path):
            match = _DYN.fullmatch(part)
            if match:
                pattern += f"(?P<{match.group('var')}>{_GOOD})"
                formatter += "{" + match.group("var") + "}"
                continue
            match = _DYN_WITH_RE.fullmatch(part)
            if match:
                pattern += f"(?P<{match.group('var')}>{match.group('re')})"
                formatter += "{" + match.group("var") + "}"
                continue
            if "{" in part or "}" in part:
                raise ValueError(f"invalid path {path!r} ({part!r} is not a valid variable)")
            encoded = encode_path(part)
            formatter += encoded
            pattern += re.escape(encoded)
        try:
            self._pattern = re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"bad pattern {pattern!r} in route path {path!r}: {exc}") from None
        self._formatter = formatter

    @property
    def canonical(self) -> str:
        return self._formatter

    @property
    def first_segment(self) -> str | None:
        """The literal first path segment, or None when it holds a variable."""
        first = self._formatter.split("/", 2)[1]
        return None if "{" in first else first

    def add_prefix(self, prefix: str) -> None:
        self._pattern = re.compile(re.escape(prefix) + self._pattern.pattern)
        self._formatter = prefix + self._formatter

    def _match(self, path: str) -> dict[str, str] | None:
        match = self._pattern.fullmatch(path)
        if match is None:
            return None
        return {key: unquote_part(value) for key, value in match.groupdict().items()}

    def raw_match(self, path: str) -> bool:
        return self._formatter == path

    def get_info(self) -> dict[str, Any]:
        return {"formatter": self._formatter, "pattern": self._pattern}

    def url_for(self, **parts: str) -> URL:
        quoted = {k: URL.build(path=str(v)).raw_path.replace("/", "%2F") for k, v in parts.items()}
        try:
            path = self._formatter.format_map(quoted)
        except KeyError as exc:
            raise KeyError(f"url_for() of {self.canonical!r} needs a value for {exc}") from None
        return URL.build(path=path, encoded=True)

    def __repr__(self) -> str:
        name = f"'{self.name}' " if self.name is not None else ""
        return f"<DynamicResource {name} {self._formatter}>"


def is_route_name(name: str) -> bool:
    """Whether ``name`` is identifiers joined by ``.``, ``:`` or ``-`` (no Python keywords)."""
    return all(
        part.isidentifier() and not keyword.iskeyword(part) for part in _NAME_SPLIT.split(name)
    )
