"""Middlewares: the ``@middleware`` marker and the path-normalizing middleware."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

from yarl import URL

from webkit.web.exceptions import HTTPMove, HTTPPermanentRedirect
from webkit.web.urls import requote_path

if TYPE_CHECKING:
    from webkit.web.request import Request
    from webkit.web.response import StreamResponse

__all__ = ["middleware", "normalize_path_middleware"]

_F = TypeVar("_F", bound=Callable[..., Any])
Handler = Callable[["Request"], Awaitable["StreamResponse"]]


def middleware(func: _F) -> _F:
    """Mark ``async def mw(request, handler)`` as a (new-style) middleware."""
    func.__middleware_version__ = 1  # type: ignore[attr-defined]
    return func


def normalize_path_middleware(
    *,
    append_slash: bool = True,
    remove_slash: bool = False,
    merge_slashes: bool = True,
    redirect_class: type[HTTPMove] = HTTPPermanentRedirect,
) -> Callable[[Request, Handler], Awaitable[StreamResponse]]:
    """Redirect a path that does not resolve to a variant that does.

    Tried in order: merged slashes, an added trailing slash, a removed trailing slash (the
    last two are exclusive). Only redirects when the variant resolves to a route, and never
    to a path starting with ``//`` (a browser reads that as another host).

    Raises:
        ValueError: both ``append_slash`` and ``remove_slash`` are set.
    """
    if append_slash and remove_slash:
        raise ValueError("append_slash and remove_slash cannot both be True")

    @middleware
    async def normalize(request: Request, handler: Handler) -> StreamResponse:
        from webkit.web.exceptions import HTTPNotFound

        if request.match_info.http_exception is None or not isinstance(
            request.match_info.http_exception, HTTPNotFound
        ):
            return await handler(request)
        path = request.raw_path.split("?", 1)[0]
        query = request.raw_query_string
        candidates: list[str] = []
        if merge_slashes:
            candidates.append(re.sub("//+", "/", path))
        if append_slash and not path.endswith("/"):
            candidates.append(path + "/")
            if merge_slashes:
                candidates.append(re.sub("//+", "/", path + "/"))
        if remove_slash and path.endswith("/") and path != "/":
            candidates.append(path[:-1])
            if merge_slashes:
                candidates.append(re.sub("//+", "/", path[:-1]))
        for candidate in candidates:
            # "//host/..." in a Location is another site (an open redirect, CVE-2021-21330).
            if candidate == path or candidate.startswith("//"):
                continue
            rel_url = URL.build(path=requote_path(candidate), encoded=True)
            clone = request.clone(rel_url=rel_url)
            match_info = await request.app.router.resolve(cast("Request", clone))
            if match_info.http_exception is None:
                target = candidate + ("?" + query if query else "")
                raise redirect_class(target)
        return await handler(request)

    return normalize
