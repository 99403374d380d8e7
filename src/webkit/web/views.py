"""Class-based views: one method per HTTP verb."""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

from webkit.abc import AbstractView
from webkit.web.exceptions import HTTPMethodNotAllowed

if TYPE_CHECKING:
    from webkit.web.response import StreamResponse

__all__ = ["AbstractView", "View"]

_METHODS = ("get", "post", "put", "patch", "delete", "head", "options", "trace", "connect")


class View(AbstractView):
    """Dispatches to the method named after the request's HTTP method (``async def get``).

    HEAD is answered by ``get`` when the class has no ``head`` method.

    Raises:
        HTTPMethodNotAllowed: the class has no method for the request's verb.
    """

    async def _iter(self) -> StreamResponse:
        method = self.request.method.lower()
        handler = getattr(self, method, None) if method in _METHODS else None
        if handler is None and method == "head":
            handler = getattr(self, "get", None)
        if handler is None:
            allowed = {m.upper() for m in _METHODS if hasattr(self, m)}
            if "GET" in allowed:
                allowed.add("HEAD")  # answered by get (RFC 9110 §9.3.2)
            raise HTTPMethodNotAllowed(self.request.method, allowed)
        return await handler()  # type: ignore[no-any-return]

    def __await__(self) -> Generator[Any, None, StreamResponse]:
        return self._iter().__await__()
