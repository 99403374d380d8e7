"""The ``@template(name)`` handler decorator."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, ParamSpec

import jinja2

from webkit import web
from webkit.abc import AbstractView
from webkit.templates.environment import APP_KEY
from webkit.templates.order import remember_wrapped
from webkit.templates.rendering import render_template

__all__ = ["template"]

_P = ParamSpec("_P")
TemplateHandler = Callable[_P, Awaitable[Mapping[str, Any] | web.StreamResponse]]


def _find_request(args: tuple[Any, ...]) -> web.Request:
    if args and isinstance(args[0], AbstractView):
        return args[0].request  # a method of a class-based view
    if args and isinstance(args[-1], web.BaseRequest):
        return args[-1]  # type: ignore[return-value]
    raise TypeError(
        "@template could not find the request: decorate a handler taking the request as its "
        "last positional argument, or a method of a web.View"
    )


def template(
    template_name: str,
    *,
    app_key: web.AppKey[jinja2.Environment] = APP_KEY,
    encoding: str = "utf-8",
    status: int = 200,
) -> Callable[[TemplateHandler[_P]], Callable[_P, Awaitable[web.StreamResponse]]]:
    """Render the mapping a handler returns with ``template_name``.

    Write it as the innermost decorator, below ``@routes.get(...)``. A handler (or a
    ``web.View`` method) may return a response instead of a mapping to skip rendering.

    Args:
        template_name: the template to render, as the loader names it.
        app_key: which environment to use (see `setup`).
        encoding: the charset of the response.
        status: the status of the rendered response.

    Raises:
        TypeError: at decoration time, when applied to a route definition, a class or
            something not callable; at startup (see `setup`), when applied above a route
            decorator; per request, when the handler returns neither a mapping nor a
            response.
    """

    def decorator(func: TemplateHandler[_P]) -> Callable[_P, Awaitable[web.StreamResponse]]:
        if isinstance(func, web.AbstractRouteDef):
            raise TypeError(
                f"@template({template_name!r}) was applied to {func!r}: apply it to the "
                "handler function, below the route decorator"
            )
        if isinstance(func, type):
            raise TypeError(
                f"@template({template_name!r}) was applied to the class {func.__qualname__}: "
                "decorate its handler methods (async def get(self): ...) instead"
            )
        if not callable(func):
            raise TypeError(f"@template({template_name!r}) needs a handler, got {func!r}")

        @functools.wraps(func)
        async def wrapped(*args: _P.args, **kwargs: _P.kwargs) -> web.StreamResponse:
            request = _find_request(args)
            outcome: Any = func(*args, **kwargs)
            result: object = await outcome if inspect.isawaitable(outcome) else outcome
            if isinstance(result, web.StreamResponse):
                return result
            if not isinstance(result, Mapping):
                raise TypeError(
                    f"handler {getattr(func, '__qualname__', func)!r} decorated with "
                    f"@template({template_name!r}) must return a mapping (the template "
                    f"context) or a web.StreamResponse, got {type(result).__name__}"
                )
            return await render_template(
                template_name, request, result, app_key=app_key, encoding=encoding, status=status
            )

        remember_wrapped(func, template_name)
        return wrapped

    return decorator
