"""Abstract base classes with aiohttp.abc's names, for type hints and custom components."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Generator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from webkit.web.app import Application
    from webkit.web.exceptions import HTTPException
    from webkit.web.request import BaseRequest, Request
    from webkit.web.response import StreamResponse

__all__ = [
    "AbstractAccessLogger",
    "AbstractMatchInfo",
    "AbstractRouter",
    "AbstractStreamWriter",
    "AbstractView",
]


class AbstractRouter(ABC):
    """Resolves a request to its match info."""

    def post_init(self, app: Application) -> None:
        """Called once the application that owns the router exists."""

    @property
    def frozen(self) -> bool:
        return False

    def freeze(self) -> None:
        """Refuse further changes."""

    @abstractmethod
    async def resolve(self, request: Request) -> AbstractMatchInfo:
        """Return the match info for ``request``."""


class AbstractMatchInfo(ABC):
    """The outcome of routing one request."""

    @property
    @abstractmethod
    def handler(self) -> Callable[[Request], Awaitable[StreamResponse]]: ...

    @property
    @abstractmethod
    def expect_handler(self) -> Callable[[Request], Awaitable[StreamResponse | None]]: ...

    @property
    @abstractmethod
    def http_exception(self) -> HTTPException | None: ...

    @abstractmethod
    def get_info(self) -> dict[str, Any]: ...

    @property
    @abstractmethod
    def apps(self) -> tuple[Application, ...]: ...

    @abstractmethod
    def add_app(self, app: Application) -> None: ...

    @abstractmethod
    def freeze(self) -> None: ...


class AbstractView(ABC):
    """A class-based handler: instantiated with the request, then awaited."""

    def __init__(self, request: Request) -> None:
        self._request = request

    @property
    def request(self) -> Request:
        return self._request

    @abstractmethod
    def __await__(self) -> Generator[Any, None, StreamResponse]: ...


class AbstractStreamWriter(ABC):
    """Writes a response body: what `StreamResponse` uses underneath."""

    buffer_size: int = 0
    output_size: int = 0
    length: int | None = 0

    @abstractmethod
    async def write(self, chunk: bytes | bytearray | memoryview) -> None: ...

    @abstractmethod
    async def write_eof(self, chunk: bytes = b"") -> None: ...

    @abstractmethod
    async def drain(self) -> None: ...

    @abstractmethod
    def enable_compression(self, encoding: str = "deflate") -> None: ...

    @abstractmethod
    def enable_chunking(self) -> None: ...

    @abstractmethod
    async def write_headers(self, status_line: str, headers: Any) -> None: ...


class AbstractAccessLogger(ABC):
    """Base class for access loggers: ``log(request, response, time)`` per request."""

    def __init__(self, logger: logging.Logger, log_format: str) -> None:
        self.logger = logger
        self.log_format = log_format

    @abstractmethod
    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None: ...

    @property
    def enabled(self) -> bool:
        """False when the logger would drop INFO records, so nothing is formatted."""
        return self.logger.isEnabledFor(logging.INFO)
