"""Route definitions: ``web.get(...)``, ``web.static(...)`` and the `RouteTableDef` decorators."""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, overload

from webkit.web.routing.resources import AbstractRoute, Handler

if TYPE_CHECKING:
    from webkit.web.routing.dispatcher import UrlDispatcher

__all__ = [
    "AbstractRouteDef",
    "RouteDef",
    "RouteTableDef",
    "StaticDef",
    "delete",
    "get",
    "head",
    "options",
    "patch",
    "post",
    "put",
    "route",
    "static",
    "view",
]

_H = TypeVar("_H", bound=Callable[..., Any])


class AbstractRouteDef(abc.ABC):
    """Something `Application.add_routes` can register."""

    @abc.abstractmethod
    def register(self, router: UrlDispatcher) -> list[AbstractRoute]: ...


@dataclasses.dataclass(frozen=True, repr=False)
class RouteDef(AbstractRouteDef):
    """A method, a path, a handler and route options, registered later."""

    method: str
    path: str
    handler: Handler | type[Any]
    kwargs: dict[str, Any]

    def __repr__(self) -> str:
        info = "".join(f", {k}={v!r}" for k, v in sorted(self.kwargs.items()))
        return f"<RouteDef {self.method} {self.path} -> {self.handler.__name__!r}{info}>"

    def register(self, router: UrlDispatcher) -> list[AbstractRoute]:
        if self.method == "GET":
            return [router.add_get(self.path, self.handler, **self.kwargs)]
        return [router.add_route(self.method, self.path, self.handler, **self.kwargs)]


@dataclasses.dataclass(frozen=True, repr=False)
class StaticDef(AbstractRouteDef):
    """A static directory, registered later."""

    prefix: str
    path: str | Path
    kwargs: dict[str, Any]

    def __repr__(self) -> str:
        info = "".join(f", {k}={v!r}" for k, v in sorted(self.kwargs.items()))
        return f"<StaticDef {self.prefix} -> {self.path}{info}>"

    def register(self, router: UrlDispatcher) -> list[AbstractRoute]:
        resource = router.add_static(self.prefix, self.path, **self.kwargs)
        return list(resource)


def route(method: str, path: str, handler: Handler | type[Any], **kwargs: Any) -> RouteDef:
    return RouteDef(method, path, handler, kwargs)


def head(path: str, handler: Handler, **kwargs: Any) -> RouteDef:
    return route("HEAD", path, handler, **kwargs)


def options(path: str, handler: Handler, **kwargs: Any) -> RouteDef:
    return route("OPTIONS", path, handler, **kwargs)


def get(
    path: str,
    handler: Handler,
    *,
    name: str | None = None,
    allow_head: bool = True,
    **kwargs: Any,
) -> RouteDef:
    return route("GET", path, handler, name=name, allow_head=allow_head, **kwargs)


def post(path: str, handler: Handler, **kwargs: Any) -> RouteDef:
    return route("POST", path, handler, **kwargs)


def put(path: str, handler: Handler, **kwargs: Any) -> RouteDef:
    return route("PUT", path, handler, **kwargs)


def patch(path: str, handler: Handler, **kwargs: Any) -> RouteDef:
    return route("PATCH", path, handler, **kwargs)


def delete(path: str, handler: Handler, **kwargs: Any) -> RouteDef:
    return route("DELETE", path, handler, **kwargs)


def view(path: str, handler: type[Any], **kwargs: Any) -> RouteDef:
    return route("*", path, handler, **kwargs)


def static(prefix: str, path: str | Path, **kwargs: Any) -> StaticDef:
    return StaticDef(prefix, path, kwargs)


class RouteTableDef(Sequence[AbstractRouteDef]):
    """Collects routes declared with decorators (``@routes.get("/")``)."""

    def __init__(self) -> None:
        self._items: list[AbstractRouteDef] = []

    def __repr__(self) -> str:
        return f"<RouteTableDef count={len(self._items)}>"

    @overload
    def __getitem__(self, index: int) -> AbstractRouteDef: ...
    @overload
    def __getitem__(self, index: slice) -> list[AbstractRouteDef]: ...
    def __getitem__(self, index: int | slice) -> AbstractRouteDef | list[AbstractRouteDef]:
        return self._items[index]

    def __iter__(self) -> Iterator[AbstractRouteDef]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, item: object) -> bool:
        return item in self._items

    def route(self, method: str, path: str, **kwargs: Any) -> Callable[[_H], _H]:
        def inner(handler: _H) -> _H:
            self._items.append(RouteDef(method, path, handler, kwargs))
            return handler

        return inner

    def head(self, path: str, **kwargs: Any) -> Callable[[_H], _H]:
        return self.route("HEAD", path, **kwargs)

    def get(self, path: str, **kwargs: Any) -> Callable[[_H], _H]:
        return self.route("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Callable[[_H], _H]:
        return self.route("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> Callable[[_H], _H]:
        return self.route("PUT", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> Callable[[_H], _H]:
        return self.route("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Callable[[_H], _H]:
        return self.route("DELETE", path, **kwargs)

    def options(self, path: str, **kwargs: Any) -> Callable[[_H], _H]:
        return self.route("OPTIONS", path, **kwargs)

    def view(self, path: str, **kwargs: Any) -> Callable[[_H], _H]:
        return self.route("*", path, **kwargs)

    def static(self, prefix: str, path: str | Path, **kwargs: Any) -> None:
        self._items.append(StaticDef(prefix, path, kwargs))
