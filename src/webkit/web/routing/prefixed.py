"""Resources that own a whole subtree: static directories, sub-applications, domains."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from yarl import URL

from webkit.web.routing.resources import (
    AbstractResource,
    AbstractRoute,
    Resource,
    UrlMappingMatchInfo,
    encode_path,
)
from webkit.web.static_files import StaticHandler

if TYPE_CHECKING:
    from collections.abc import Iterator

    from webkit.web.app import Application
    from webkit.web.request import Request

__all__ = ["DomainResource", "PrefixResource", "PrefixedSubAppResource", "StaticResource"]


class PrefixResource(Resource):
    """A resource matching every path under ``prefix``."""

    def __init__(self, prefix: str, *, name: str | None = None) -> None:
        if not prefix.startswith("/"):
            raise ValueError(f"prefix {prefix!r} must start with '/'")
        if prefix in ("/", ""):
            raise ValueError("prefix must not be '/'")
        super().__init__(name=name)
        self._prefix = encode_path(prefix.rstrip("/"))
        self._prefix2 = self._prefix + "/"

    @property
    def canonical(self) -> str:
        return self._prefix

    @property
    def first_segment(self) -> str:
        return self._prefix.split("/", 2)[1]

    def add_prefix(self, prefix: str) -> None:
        self._prefix = prefix + self._prefix
        self._prefix2 = self._prefix + "/"

    def raw_match(self, prefix: str) -> bool:
        return False


class StaticResource(PrefixResource):
    """Files under a directory, served by GET and HEAD (``web.static``)."""

    def __init__(
        self,
        prefix: str,
        directory: str | Path,
        *,
        name: str | None = None,
        expect_handler: Any = None,
        chunk_size: int = 256 * 1024,
        show_index: bool = False,
        follow_symlinks: bool = False,
        append_version: bool = False,
    ) -> None:
        super().__init__(prefix, name=name)
        try:
            directory = Path(directory).expanduser().resolve(strict=True)
        except FileNotFoundError as exc:
            raise ValueError(f"static directory {str(directory)!r} does not exist") from exc
        if not directory.is_dir():
            raise ValueError(f"static path {str(directory)!r} is not a directory")
        self._directory = directory
        self._chunk_size = chunk_size
        self._show_index = show_index
        self._follow_symlinks = follow_symlinks
        self._append_version = append_version
        self._static = StaticHandler(self)
        for method in ("GET", "HEAD"):
            self.add_route(method, self._static.handle, expect_handler=expect_handler)

    @property
    def directory(self) -> Path:
        return self._directory

    @property
    def show_index(self) -> bool:
        return self._show_index

    @property
    def follow_symlinks(self) -> bool:
        return self._follow_symlinks

    @property
    def chunk_size(self) -> int:
        return self._chunk_size

    def _match(self, path: str) -> dict[str, str] | None:
        if path.startswith(self._prefix2):
            return {"filename": path[len(self._prefix2) :]}
        if path == self._prefix:
            return {"filename": ""}  # the root directory itself: 403 or its index
        return None

    def _allowed_methods(self) -> set[str]:
        return {"GET", "HEAD"}

    def url_for(  # type: ignore[override]
        self, *, filename: str | Path, append_version: bool | None = None
    ) -> URL:
        if append_version is None:
            append_version = self._append_version
        filename = str(filename).lstrip("/")
        url = URL.build(path=self._prefix, encoded=True) / filename
        if append_version:
            version = self._static.version_of(filename)
            if version is not None:
                url = url.with_query(v=version)
        return url

    def get_info(self) -> dict[str, Any]:
        return {"directory": self._directory, "prefix": self._prefix}

    def __repr__(self) -> str:
        name = f"'{self.name}' " if self.name is not None else ""
        return f"<StaticResource {name} {self._prefix} -> {self._directory}>"


class PrefixedSubAppResource(PrefixResource):
    """Routes of a sub-application mounted under a prefix."""

    def __init__(self, prefix: str, app: Application) -> None:
        super().__init__(prefix)
        self._app = app
        app.router.add_prefix(self._prefix)

    @property
    def app(self) -> Application:
        return self._app

    def add_prefix(self, prefix: str) -> None:
        super().add_prefix(prefix)
        self._app.router.add_prefix(prefix)

    def url_for(self, *args: str, **kwargs: str) -> URL:
        raise RuntimeError(".url_for() is not supported by sub-application root")

    def get_info(self) -> dict[str, Any]:
        return {"app": self._app, "prefix": self._prefix}

    async def resolve(self, request: Request) -> tuple[UrlMappingMatchInfo | None, set[str]]:
        path = request._match_path
        if path != self._prefix and not path.startswith(self._prefix2):
            return None, set()
        match_info = await self._app.router.resolve(request)
        match_info.add_app(self._app)
        methods: set[str] = set()
        if match_info.http_exception is not None:
            methods = getattr(match_info.http_exception, "allowed_methods", set())
        return match_info, methods

    def _match(self, path: str) -> dict[str, str] | None:
        # Only the router's shadowing check calls this (resolve is overridden): a fixed path
        # under the prefix, registered later, must not bypass the sub-application.
        if path == self._prefix or path.startswith(self._prefix2):
            return {}
        return None

    def __len__(self) -> int:
        return len(self._app.router.routes())

    def __iter__(self) -> Iterator[AbstractRoute]:
        return iter(self._app.router.routes())

    def __repr__(self) -> str:
        return f"<PrefixedSubAppResource {self._prefix} -> {self._app!r}>"


class DomainResource(AbstractResource):
    """Routes of a sub-application chosen by the request's host (``add_domain``)."""

    def __init__(self, domain: str, app: Application) -> None:
        super().__init__()
        self._domain = domain.lower()
        self._app = app
        if "*" in domain:
            # ``*`` stands for one or more labels: ``*.example.com`` matches a.b.example.com.
            pattern = re.escape(self._domain).replace(r"\*", r"[^.:/\s]+(?:\.[^.:/\s]+)*")
            self._host_re: re.Pattern[str] | None = re.compile(pattern + r"(?::\d+)?")
        else:
            self._host_re = None
            if domain.startswith(("http://", "https://")) or "/" in domain:
                raise ValueError(f"domain {domain!r} must be a host name, not a URL")

    @property
    def canonical(self) -> str:
        return self._domain

    @property
    def app(self) -> Application:
        return self._app

    def url_for(self, *args: str, **kwargs: str) -> URL:
        raise RuntimeError(".url_for() is not supported by domain sub-application root")

    def add_prefix(self, prefix: str) -> None:
        raise RuntimeError("a domain sub-application cannot take a path prefix")

    def raw_match(self, path: str) -> bool:
        return False

    def get_info(self) -> dict[str, Any]:
        return {"domain": self._domain, "app": self._app}

    def _host_matches(self, host: str) -> bool:
        host = host.lower()
        if self._host_re is not None:
            return self._host_re.fullmatch(host) is not None
        return host == self._domain or host.rsplit(":", 1)[0] == self._domain

    async def resolve(self, request: Request) -> tuple[UrlMappingMatchInfo | None, set[str]]:
        if not self._host_matches(request.host):
            return None, set()
        # The host chose this application: its 404/405 is the answer (as aiohttp).
        match_info = await self._app.router.resolve(request)
        match_info.add_app(self._app)
        methods: set[str] = set()
        if match_info.http_exception is not None:
            methods = getattr(match_info.http_exception, "allowed_methods", set())
        return match_info, methods

    def __len__(self) -> int:
        return len(self._app.router.routes())

    def __iter__(self) -> Iterator[AbstractRoute]:
        return iter(self._app.router.routes())

    def __repr__(self) -> str:
        return f"<DomainResource {self._domain} -> {self._app!r}>"
