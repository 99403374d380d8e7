"""The data behind ``webkit routes``: one row per handler on a resource, problems, resolution.

`inspect_app` loads the user's app exactly as runserver does (`appref`), freezes it as a server
would (or, with ``startup``, starts it through an `AppRunner` without any site, so that the
router is frozen before ``on_startup`` runs, as in a real server), then describes the routes
in resolution order with sub-applications expanded in place. Rendering is `webkit.cli`'s job.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import itertools
import string
import urllib.parse
from collections.abc import Awaitable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

from webkit.devtools.appref import AppRef, load_app, user_code_error
from webkit.web import AbstractResource, AbstractRoute, Application, AppRunner
from webkit.web import DomainResource as Domain
from webkit.web import DynamicResource as Dynamic
from webkit.web import PlainResource as Plain
from webkit.web import PrefixedSubAppResource as Prefixed
from webkit.web import StaticResource as Static
from webkit.web import UrlMappingMatchInfo as MatchInfo
from webkit.web.views import AbstractView

__all__ = [
    "RESOLUTION_KEYS",
    "ROW_KEYS",
    "Finding",
    "Resolution",
    "RouteReport",
    "RouteRow",
    "inspect_app",
    "parse_target",
]

# The JSON schema of `RouteRow.to_json` and `Resolution.to_json`, in this order.
ROW_KEYS = ("order", "methods", "path", "domain", "name", "handler", "location", "kind",
            "directory")  # fmt: skip
RESOLUTION_KEYS = ("method", "path", "host", "found", "status", "reason", "route", "handler",
                   "match_info", "allowed_methods", "answered_by")  # fmt: skip
_METHOD_ORDER = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
# Values tried for each path variable when a route's own path must be synthesised; a custom
# regex rejecting all of them only skips that route's shadowing check.
_SAMPLES = ("x", "1", "a", "0", "abc", "x.txt", "2024", "A", "x-y", "1.0", "x/y")
_NO_HOST = "localhost"
_T = TypeVar("_T")


@dataclass(frozen=True)
class RouteRow:
    """One handler on one resource (``add_get`` gives GET and HEAD one row), a static
    directory, a sub-app's mount or a custom resource listing no routes."""

    order: int
    path: str
    domain: str | None
    name: str | None
    kind: str  # plain, dynamic, static, view, custom, sub-app
    methods: tuple[str, ...] = ()
    handler: str | None = None
    location: str | None = None
    directory: str | None = None
    routes: tuple[AbstractRoute, ...] = field(default=(), compare=False, repr=False)
    resource: AbstractResource | None = field(default=None, compare=False, repr=False)
    target: Any = field(default=None, compare=False, repr=False)

    @property
    def display_path(self) -> str:
        """The path with the domain of a domain sub-app before it: ``api.example.com/users``."""
        return f"{self.domain or ''}{self.path}"

    def to_json(self) -> dict[str, Any]:
        return {key: _jsonable(getattr(self, key)) for key in ROW_KEYS}


@dataclass(frozen=True)
class Finding:
    """A warning about the table; ``orders`` are the rows it concerns."""

    kind: str  # shadowed, handler-reused
    message: str
    orders: tuple[int, ...]


@dataclass(frozen=True)
class Resolution:
    """Where a request would go: a route (``route`` None for a route a custom resource does
    not list), or not ``found`` with the 404/405 and the methods the path allows."""

    method: str
    path: str
    host: str
    found: bool
    status: int | None
    reason: str | None
    route: RouteRow | None
    handler: str | None
    match_info: dict[str, str]
    allowed_methods: tuple[str, ...]
    answered_by: str | None = None  # the sub-app mount whose router gave the 404/405

    def to_json(self) -> dict[str, Any]:
        return {key: _jsonable(getattr(self, key)) for key in RESOLUTION_KEYS}


def _jsonable(value: Any) -> Any:
    if isinstance(value, RouteRow):
        return value.to_json()
    return list(value) if isinstance(value, tuple) else value


@dataclass(frozen=True)
class RouteReport:
    rows: list[RouteRow]
    findings: list[Finding]
    resolution: Resolution | None


async def inspect_app(
    ref: AppRef, *, startup: bool = False, resolve: tuple[str, str] | None = None
) -> RouteReport:
    """Load APP, describe its routes, check them, and resolve ``(method, target)`` if given.

    Raises:
        AppRefError: APP does not lead to an application.
        UserCodeError: the user's code raised (import, factory, on_startup, on_cleanup, or a
            custom resource); its traceback is trimmed to the user's frames.
        ValueError: the ``resolve`` target is not a path or an http(s) URL.
    """
    probe = parse_target(resolve[1]) if resolve is not None else None
    app = await load_app(ref)
    runner = AppRunner(app) if startup else None

    async def describe() -> RouteReport:
        if runner is not None:
            await runner.setup()
        else:
            app.freeze()  # what a server does first: it may reject a bad middleware
        rows = collect(app, ref.watch_dir)
        resolution = None
        if resolve is not None and probe is not None:
            host, target = probe
            resolution = await resolve_request(app, rows, resolve[0], host, target, ref.watch_dir)
        return RouteReport(rows, await find_problems(app, rows), resolution)

    # Custom resources, on_startup and on_cleanup are the user's code: their errors are too.
    try:
        report = await _user(describe())
    except BaseException:
        if runner is not None:
            with contextlib.suppress(Exception):  # the first error is the one to show
                await runner.cleanup()
        raise
    if runner is not None:
        await _user(runner.cleanup())
    return report


async def _user(awaitable: Awaitable[_T]) -> _T:
    try:
        return await awaitable
    except Exception as exc:
        raise user_code_error(exc) from None


# -- rows -----------------------------------------------------------------------------------


def collect(app: Application, project: Path) -> list[RouteRow]:
    """Rows in resolution order, each sub-app's mount followed by its own routes."""
    rows: list[RouteRow] = []
    _collect(app, project.resolve(), None, rows)
    return rows


def _collect(app: Application, project: Path, domain: str | None, rows: list[RouteRow]) -> None:
    for resource in app.router.resources():
        if isinstance(resource, Domain | Prefixed):
            inner = resource.canonical if isinstance(resource, Domain) else domain
            path = "" if isinstance(resource, Domain) else resource.canonical
            rows.append(RouteRow(len(rows), path, inner, None, "sub-app", resource=resource))
            _collect(resource.app, project, inner, rows)
        elif isinstance(resource, Static):  # webkit's own handler: none of the user's to show
            methods = _sorted_methods(route.method for route in resource)
            directory = _show(resource.directory, project)
            row = RouteRow(len(rows), resource.canonical, domain, resource.name, "static", methods)
            rows.append(
                replace(row, directory=directory, routes=tuple(resource), resource=resource)
            )
        else:
            rows.extend(_resource_rows(resource, project, domain, len(rows)))


def _resource_rows(
    resource: AbstractResource, project: Path, domain: str | None, start: int
) -> list[RouteRow]:
    groups: dict[int, list[AbstractRoute]] = {}
    for route in resource:
        groups.setdefault(id(route.handler), []).append(route)
    kind = "custom"
    if isinstance(resource, Dynamic | Plain):
        kind = "dynamic" if isinstance(resource, Dynamic) else "plain"
    base = RouteRow(start, resource.canonical, domain, resource.name, kind, resource=resource)
    if not groups:  # a custom resource answering in its own resolve() may list no routes
        return [base]
    rows: list[RouteRow] = []
    for routes in groups.values():
        handler = routes[0].handler
        is_view = isinstance(handler, type) and issubclass(handler, AbstractView)
        qualname, location = describe_handler(handler, project)
        methods = _sorted_methods(route.method for route in routes)
        row_kind = "view" if is_view and kind != "custom" else kind
        row = replace(base, order=start + len(rows), kind=row_kind, methods=methods)
        rows.append(replace(row, handler=qualname, location=location, routes=tuple(routes),
                            target=handler))  # fmt: skip
    return rows


def _sorted_methods(methods: Iterable[str]) -> tuple[str, ...]:
    def key(method: str) -> tuple[int, str]:
        if method in _METHOD_ORDER:
            return _METHOD_ORDER.index(method), method
        return len(_METHOD_ORDER) + (method == "*"), method

    return tuple(sorted(set(methods), key=key))


def describe_handler(handler: Any, project: Path) -> tuple[str, str | None]:
    """``module.qualname`` of the function or View class behind ``handler``, and where it is
    defined, ``file:line`` relative to ``project`` (None when Python cannot tell)."""
    target = _unwrap(handler)
    qualname = f"{getattr(target, '__module__', '?')}.{getattr(target, '__qualname__', '?')}"
    try:
        filename = inspect.getsourcefile(target)
        _, line = inspect.getsourcelines(target)
    except (OSError, TypeError):  # builtins, classes defined in a REPL or in exec'd code
        return qualname, None
    if filename is None:
        return qualname, None
    return qualname, f"{_show(Path(filename), project)}:{max(line, 1)}"


def _unwrap(handler: Any) -> Any:
    target = handler
    for _ in range(32):  # a loop of __wrapped__ or partials must not hang the command
        if isinstance(target, functools.partial):
            target = target.func
        elif inspect.ismethod(target):
            target = target.__func__
        elif hasattr(target, "__wrapped__"):
            target = inspect.unwrap(target)
        else:
            break
    if not (inspect.isfunction(target) or inspect.isclass(target)):
        target = type(target)  # an instance with an async __call__
    return target


def _show(path: Path, project: Path) -> str:
    try:
        return str(path.resolve().relative_to(project))
    except ValueError:
        return str(path)


# -- problems -------------------------------------------------------------------------------


async def find_problems(app: Application, rows: Sequence[RouteRow]) -> list[Finding]:
    """Routes an earlier route shadows, then handlers registered on several routes.

    The router refuses a duplicate name within one application (and names of different
    applications live apart, as ``url_for`` is per router), so names need no check here.
    """
    findings = []
    for row in rows:
        finding = await _shadowing(app, rows, row)
        if finding is not None:
            findings.append(finding)
    return findings + _reused_handlers(rows)


async def _shadowing(app: Application, rows: Sequence[RouteRow], row: RouteRow) -> Finding | None:
    # Custom resources may match on anything (headers, state): a probe could not tell.
    if not row.routes or row.kind == "custom":
        return None
    sample = _sample_path(row.resource)
    if sample is None:
        return None
    lost: list[str] = []
    winner = ""
    for method in row.methods:
        probe = "GET" if method == "*" else method
        info = await _resolve(app, probe, sample, _sample_host(row.domain))
        if any(info.route is route for route in row.routes):
            continue
        lost.append(probe)
        winner = winner or _winner(rows, info, f"{probe} {sample}")
    if not lost:
        return None
    who = row.handler or f"{row.kind} {row.directory or ''}".strip()
    message = f"{', '.join(lost)} {row.display_path} ({who}) can never be reached: {winner}"
    return Finding("shadowed", message, (row.order,))


def _winner(rows: Sequence[RouteRow], info: MatchInfo, request: str) -> str:
    row = _row_of(rows, info.route)
    if row is not None:
        who = row.handler or f"{row.kind} {row.directory or ''}".strip()
        return f"{row.display_path} ({who}), registered earlier, answers {request} first"
    exc = info.http_exception
    status = "" if exc is None else f" with {exc.status} {exc.reason}"
    mount = _mount_of(rows, info)
    if mount is not None:
        return f"the sub-app at {mount}, registered earlier, answers {request}{status}"
    return f"{request} is answered{status or ' by a route not listed'}"


def _reused_handlers(rows: Sequence[RouteRow]) -> list[Finding]:
    by_handler: dict[int, list[RouteRow]] = {}
    for row in rows:
        if row.target is not None:
            by_handler.setdefault(id(row.target), []).append(row)
    findings = []
    for same in (same for same in by_handler.values() if len(same) > 1):
        where = "; ".join(f"{','.join(r.methods)} {r.display_path}" for r in same)
        message = f"{same[0].handler} handles {len(same)} routes ({where}); fine if intended"
        findings.append(Finding("handler-reused", message, tuple(r.order for r in same)))
    return findings


def _sample_path(resource: AbstractResource | None) -> str | None:
    """A path the resource itself matches, to ask the router who really gets it."""
    if isinstance(resource, Static):
        return f"{resource.canonical}/x"
    if isinstance(resource, Dynamic):
        info = resource.get_info()
        return _fill(info["formatter"], info["pattern"])
    if isinstance(resource, Plain):
        return resource.canonical or "/"
    return None


def _fill(formatter: str, pattern: Any) -> str | None:
    names = [name for _, name, _, _ in string.Formatter().parse(formatter) if name]
    combos: Iterable[tuple[str, ...]] = ((sample,) * len(names) for sample in _SAMPLES)
    if 1 < len(names) <= 3:  # variables with different regexes; beyond three, give up
        combos = itertools.chain(combos, itertools.product(_SAMPLES, repeat=len(names)))
    for combo in combos:
        path = formatter.format_map(dict(zip(names, combo, strict=True)))
        if pattern.fullmatch(path):
            return path
    return None


def _sample_host(domain: str | None) -> str:
    return _NO_HOST if domain is None else domain.replace("*", "probe")


def _row_of(rows: Sequence[RouteRow], route: AbstractRoute) -> RouteRow | None:
    for row in rows:
        if any(route is own for own in row.routes):
            return row
    # A custom resource may answer with a route it does not list: its resource's row, then.
    for row in rows:
        if route.resource is not None and row.resource is route.resource:
            return row
    return None


def _mount_of(rows: Sequence[RouteRow], info: MatchInfo) -> str | None:
    if not info.apps:
        return None
    innermost = info.apps[-1]  # the sub-app list is outermost first
    for row in rows:
        resource = row.resource
        if isinstance(resource, Prefixed | Domain) and (resource.app is innermost):
            return row.display_path
    return None


# -- resolution -----------------------------------------------------------------------------


def parse_target(text: str) -> tuple[str | None, str]:
    """``(host, target)`` from ``/path?query`` or an http(s) URL (whose host picks a domain
    sub-app); the target is percent-encoded as a client would send it.

    Raises:
        ValueError: ``text`` is neither.
    """
    if text.startswith(("http://", "https://")):
        parts = urllib.parse.urlsplit(text)
        if not parts.netloc:
            raise ValueError(f"URL {text!r} has no host")
        host: str | None = parts.netloc
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    elif text.startswith("/"):
        host, target = None, text.split("#", 1)[0]
    else:
        raise ValueError(f"{text!r} is neither a path starting with '/' nor an http(s) URL")
    return host, urllib.parse.quote(target, safe=string.punctuation)


async def resolve_request(
    app: Application, rows: Sequence[RouteRow], method: str, host: str | None, target: str,
    project: Path,
) -> Resolution:  # fmt: skip
    """Ask the app's own router where ``method target`` goes, as a server would."""
    method = method.upper()
    host = host or _NO_HOST
    info = await _resolve(app, method, target, host)
    exc = info.http_exception
    if exc is None:
        row = _row_of(rows, info.route)
        handler = row.handler if row is not None else describe_handler(info.handler, project)[0]
        return Resolution(method, target, host, True, None, None, row, handler, dict(info), ())
    allowed = _sorted_methods(getattr(exc, "allowed_methods", ()))
    return Resolution(
        method, target, host, False, exc.status, exc.reason, None, None, {}, allowed,
        _mount_of(rows, info),
    )  # fmt: skip


async def _resolve(app: Application, method: str, target: str, host: str) -> MatchInfo:
    # A real Request through the public test helper, so the router sees exactly what a server
    # would hand it (the percent-encoded path, the Host header); imported late, as only
    # resolution needs it.
    from webkit.test_utils import make_mocked_request

    request = make_mocked_request(method, target, headers={"Host": host}, app=app)
    return await app.router.resolve(request)
