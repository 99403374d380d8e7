"""UrlDispatcher: the router, with indexed resolution instead of a scan over every route."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sized
from pathlib import Path
from typing import TYPE_CHECKING, Any

from webkit.abc import AbstractRouter
from webkit.web.exceptions import HTTPMethodNotAllowed, HTTPNotFound
from webkit.web.routing.prefixed import (
    DomainResource,
    PrefixedSubAppResource,
    PrefixResource,
    StaticResource,
)
from webkit.web.routing.resources import (
    AbstractResource,
    AbstractRoute,
    DynamicResource,
    ExpectHandler,
    Handler,
    MatchInfoError,
    PlainResource,
    Resource,
    UrlMappingMatchInfo,
    is_route_name,
)

if TYPE_CHECKING:
    from webkit.web.app import Application
    from webkit.web.request import Request
    from webkit.web.routing.routedef import AbstractRouteDef

__all__ = ["UrlDispatcher"]


class _Views(Sized, Iterable[AbstractRoute]):
    def __init__(self, resources: list[AbstractResource]) -> None:
        self._routes = [route for resource in resources for route in resource]

    def __len__(self) -> int:
        return len(self._routes)

    def __iter__(self) -> Iterator[AbstractRoute]:
        return iter(self._routes)

    def __contains__(self, item: object) -> bool:
        return item in self._routes


class UrlDispatcher(AbstractRouter, Mapping[str, AbstractResource]):
    """Maps a request's method and path to a handler.

    Resolution keeps aiohttp's rule, first registered match wins, without scanning every
    resource: fixed paths sit in a dict; other resources are indexed by their literal first
    path segment, and only those (plus the few that cannot be indexed) are tried, in order.
    """

    def __init__(self) -> None:
        self._resources: list[AbstractResource] = []
        self._named: dict[str, AbstractResource] = {}
        self._plain: dict[str, list[AbstractResource]] = {}
        self._by_segment: dict[str, list[AbstractResource]] = {}
        self._unindexed: list[AbstractResource] = []
        # Fixed paths no earlier resource can shadow: answered by one dict lookup.
        self._fast: dict[str, PlainResource] = {}
        self._frozen = False
        self._app: Application | None = None

    def _set_app(self, app: Application) -> None:
        self._app = app

    # -- resolution -------------------------------------------------------------------

    def match_fixed(self, request: Request, app: Application) -> UrlMappingMatchInfo | None:
        """The frozen match for a fixed path no earlier route shadows, for the root ``app``,
        found without awaiting; None when the full `resolve` is needed."""
        fast = self._fast.get(request._match_path)
        if fast is not None:
            route = fast._route_for(request.method)
            if route is not None:
                return UrlMappingMatchInfo._resolved({}, route, app)
        return None

    async def resolve(self, request: Request) -> UrlMappingMatchInfo:
        """The match info for ``request``: a route, or a `MatchInfoError` (404/405)."""
        path = request._match_path
        method = request.method
        fast = self._fast.get(path)
        if fast is not None:
            route = fast._route_for(method)
            if route is not None:
                return UrlMappingMatchInfo({}, route)
        allowed: set[str] = set()
        for resource in self._candidates(path):
            match_info, methods = await resource.resolve(request)
            if match_info is not None:
                return match_info
            allowed |= methods
        if allowed:
            return MatchInfoError(HTTPMethodNotAllowed(method, allowed))
        return MatchInfoError(HTTPNotFound())

    def _candidates(self, path: str) -> list[AbstractResource]:
        plain = self._plain.get(path, ())
        segment = path.split("/", 2)[1] if path.startswith("/") and len(path) > 1 else ""
        indexed = self._by_segment.get(segment, ())
        unindexed = self._unindexed
        if not indexed and not unindexed:
            return list(plain)
        if not plain and not unindexed:
            return list(indexed)
        merged = [*plain, *indexed, *unindexed]
        merged.sort(key=_order)
        return merged

    # -- registration -------------------------------------------------------------------

    def _check_frozen(self) -> None:
        if self._frozen:
            raise RuntimeError(
                "cannot register a resource into a frozen router: the application has "
                "already started (add routes before app startup)"
            )

    def register_resource(self, resource: AbstractResource) -> None:
        """Add a resource (built in or a user's `AbstractResource` subclass).

        Raises:
            RuntimeError: the router is frozen.
            ValueError: the name is invalid or already taken.
        """
        self._check_frozen()
        name = resource.name
        if name is not None:
            if not is_route_name(name):
                raise ValueError(
                    f"incorrect route name {name!r}: use Python identifiers (not keywords) "
                    "joined by '.', ':' or '-'"
                )
            if name in self._named:
                raise ValueError(
                    f"duplicate route name {name!r}, already used by {self._named[name]!r}"
                )
            self._named[name] = resource
        resource._order = len(self._resources)
        self._resources.append(resource)
        self._index(resource)

    def _index(self, resource: AbstractResource) -> None:
        if isinstance(resource, PlainResource) and resource.canonical:
            path = resource.canonical
            self._plain.setdefault(path, []).append(resource)
            if path not in self._fast and not self._shadowed(resource, path):
                self._fast[path] = resource
            return
        segment: str | None = None
        if isinstance(resource, (DynamicResource, PrefixResource)):
            segment = resource.first_segment
        if segment is None:
            self._unindexed.append(resource)
        else:
            self._by_segment.setdefault(segment, []).append(resource)
        # A resource that can match a fixed path registered later takes precedence over it,
        # so later fixed paths it matches must not take the dict shortcut; earlier ones keep it.

    def _shadowed(self, resource: PlainResource, path: str) -> bool:
        """Whether an earlier non-plain resource may match ``path`` first."""
        for other in self._unindexed:
            if other._order < resource._order:
                return True
        segment = path.split("/", 2)[1] if len(path) > 1 else ""
        for other in self._by_segment.get(segment, ()):
            if other._order < resource._order and isinstance(other, Resource):
                if other._match(path) is not None:
                    return True
            elif other._order < resource._order:
                return True
        return False

    def _rebuild_index(self) -> None:
        self._plain.clear()
        self._by_segment.clear()
        self._unindexed.clear()
        self._fast.clear()
        for resource in self._resources:
            self._index(resource)

    def add_resource(self, path: str, *, name: str | None = None) -> Resource:
        """The resource for ``path``, reusing the last one when it has the same path and name."""
        if path and not path.startswith("/"):
            raise ValueError(f"route path {path!r} must start with '/'")
        if self._resources:
            last = self._resources[-1]
            if (
                isinstance(last, (PlainResource, DynamicResource))
                and last.name == name
                and last.raw_match(_canonical_of(path))
            ):
                return last
        resource: Resource
        if "{" in path or "}" in path:
            resource = DynamicResource(path, name=name)
        else:
            resource = PlainResource(path, name=name)
        self.register_resource(resource)
        return resource

    def add_route(
        self,
        method: str,
        path: str,
        handler: Handler | type[Any],
        *,
        name: str | None = None,
        expect_handler: ExpectHandler | None = None,
    ) -> AbstractRoute:
        """Route ``method`` on ``path`` to ``handler``."""
        resource = self.add_resource(path, name=name)
        return resource.add_route(method, handler, expect_handler=expect_handler)

    def add_get(
        self,
        path: str,
        handler: Handler | type[Any],
        *,
        name: str | None = None,
        allow_head: bool = True,
        **kwargs: Any,
    ) -> AbstractRoute:
        """Route GET (and, unless ``allow_head=False``, HEAD) on ``path``."""
        resource = self.add_resource(path, name=name)
        if allow_head:
            resource.add_route("HEAD", handler, **kwargs)
        return resource.add_route("GET", handler, **kwargs)

    def add_head(self, path: str, handler: Handler, **kwargs: Any) -> AbstractRoute:
        return self.add_route("HEAD", path, handler, **kwargs)

    def add_options(self, path: str, handler: Handler, **kwargs: Any) -> AbstractRoute:
        return self.add_route("OPTIONS", path, handler, **kwargs)

    def add_post(self, path: str, handler: Handler, **kwargs: Any) -> AbstractRoute:
        return self.add_route("POST", path, handler, **kwargs)

    def add_put(self, path: str, handler: Handler, **kwargs: Any) -> AbstractRoute:
        return self.add_route("PUT", path, handler, **kwargs)

    def add_patch(self, path: str, handler: Handler, **kwargs: Any) -> AbstractRoute:
        return self.add_route("PATCH", path, handler, **kwargs)

    def add_delete(self, path: str, handler: Handler, **kwargs: Any) -> AbstractRoute:
        return self.add_route("DELETE", path, handler, **kwargs)

    def add_view(self, path: str, handler: type[Any], **kwargs: Any) -> AbstractRoute:
        """Route every method on ``path`` to a class-based `View`."""
        return self.add_route("*", path, handler, **kwargs)

    def add_static(
        self,
        prefix: str,
        path: str | Path,
        *,
        name: str | None = None,
        expect_handler: ExpectHandler | None = None,
        chunk_size: int = 256 * 1024,
        show_index: bool = False,
        follow_symlinks: bool = False,
        append_version: bool = False,
    ) -> StaticResource:
        """Serve the files under directory ``path`` at ``prefix``."""
        resource = StaticResource(
            prefix,
            path,
            name=name,
            expect_handler=expect_handler,
            chunk_size=chunk_size,
            show_index=show_index,
            follow_symlinks=follow_symlinks,
            append_version=append_version,
        )
        self.register_resource(resource)
        return resource

    def add_subapp_resource(self, prefix: str, subapp: Application) -> PrefixedSubAppResource:
        resource = PrefixedSubAppResource(prefix.rstrip("/"), subapp)
        self.register_resource(resource)
        return resource

    def add_domain_resource(self, domain: str, subapp: Application) -> DomainResource:
        resource = DomainResource(domain, subapp)
        self.register_resource(resource)
        return resource

    def add_routes(self, routes: Iterable[AbstractRouteDef]) -> list[AbstractRoute]:
        """Register route definitions; returns the routes created."""
        registered: list[AbstractRoute] = []
        for route_def in routes:
            registered.extend(route_def.register(self))
        return registered

    def add_prefix(self, prefix: str) -> None:
        """Prepend ``prefix`` to every resource (used when mounting a sub-application)."""
        for resource in self._resources:
            resource.add_prefix(prefix)
        self._rebuild_index()

    def freeze(self) -> None:
        self._frozen = True
        for resource in self._resources:
            resource.freeze()
        self._rebuild_index()

    @property
    def frozen(self) -> bool:
        return self._frozen

    # -- introspection ----------------------------------------------------------------

    def resources(self) -> list[AbstractResource]:
        return list(self._resources)

    def routes(self) -> _Views:
        return _Views(self._resources)

    def named_resources(self) -> Mapping[str, AbstractResource]:
        return dict(self._named)

    def __getitem__(self, name: str) -> AbstractResource:
        return self._named[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._named)

    def __len__(self) -> int:
        return len(self._named)

    def __contains__(self, name: object) -> bool:
        return name in self._named

    def __repr__(self) -> str:
        return f"<UrlDispatcher {len(self._resources)} resources>"


def _order(resource: AbstractResource) -> int:
    return resource._order


def _canonical_of(path: str) -> str:
    if "{" in path:
        return DynamicResource(path).canonical
    return PlainResource(path).canonical if path else ""
