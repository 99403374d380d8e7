"""Detects ``@template`` applied above ``@routes.get(...)`` (the wrong decorator order).

``RouteTableDef`` decorators register the function they receive and return it unchanged, so in
the wrong order the route serves the undecorated function and ``@template``'s wrapper is never
registered. `template` records each function it wraps; on startup `check_decorator_order`
raises if a route serves one of them.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator
from typing import Any

from webkit import web

__all__ = ["check_decorator_order", "remember_wrapped"]

# function wrapped by @template → template name
_WRAPPED: weakref.WeakKeyDictionary[Callable[..., Any], str] = weakref.WeakKeyDictionary()


def remember_wrapped(func: Callable[..., Any], template_name: str) -> None:
    try:
        _WRAPPED[func] = template_name
    except TypeError:  # not weak-referenceable (some builtins): nothing to check later
        pass


def _routes(app: web.Application) -> Iterator[web.AbstractRoute]:
    yield from app.router.routes()
    for resource in app.router.resources():
        sub_app = getattr(resource, "app", None)
        if isinstance(sub_app, web.Application) and sub_app is not app:
            yield from _routes(sub_app)


async def check_decorator_order(app: web.Application) -> None:
    """An ``on_startup`` check added by `setup`.

    Raises:
        TypeError: a route serves a function that ``@template`` wrapped, i.e. ``@template``
            was written above the route decorator instead of below it.
    """
    for route in _routes(app):
        handler = route.handler
        try:
            template_name = _WRAPPED.get(handler)
        except TypeError:
            continue
        if template_name is not None:
            name = getattr(handler, "__qualname__", repr(handler))
            raise TypeError(
                f"route {route.method} {route.resource.canonical if route.resource else '?'} "
                f"serves {name}() without its @template({template_name!r}) wrapper: "
                "@template must be the innermost decorator, written below "
                "@routes.get(...) and family, not above it"
            )
