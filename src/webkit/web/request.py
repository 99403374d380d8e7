"""Request: one HTTP request as handlers see it, with attributes built only when asked for."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final, TypeVar, cast, overload
from urllib.parse import parse_qsl

from multidict import CIMultiDict, CIMultiDictProxy, MultiDict, MultiDictProxy
from yarl import URL

from webkit.http import EMPTY_BODY, BodyStream, Exchange, HttpVersion, ProtocolError
from webkit.web.exceptions import HTTPBadRequest, HTTPRequestEntityTooLarge
from webkit.web.mime import parse_content_type
from webkit.web.response import ETag
from webkit.web.urls import requote_path

if TYPE_CHECKING:
    from webkit.web.app import AppKey, Application
    from webkit.web.multipart import MultipartReader
    from webkit.web.routing.resources import UrlMappingMatchInfo

__all__ = ["BaseRequest", "FileField", "Request", "RequestJSONError"]

_T = TypeVar("_T")
_SENTINEL: Final = object()
_POST_METHODS = frozenset(("POST", "PUT", "PATCH", "TRACE", "DELETE"))
_EMPTY_QUERY: MultiDictProxy[str] = MultiDictProxy(MultiDict())


class RequestJSONError(HTTPBadRequest, json.JSONDecodeError):
    """The request body is not valid JSON: a 400 that is also a `json.JSONDecodeError`."""

    def __init__(self, error: json.JSONDecodeError) -> None:
        HTTPBadRequest.__init__(self, text=f"Invalid JSON in request body: {error}")
        self.msg, self.doc, self.pos = error.msg, error.doc, error.pos
        self.lineno, self.colno = error.lineno, error.colno


class FileField:
    """An uploaded file from a multipart form (``await request.post()``)."""

    __slots__ = ("content_type", "file", "filename", "headers", "name")

    def __init__(
        self,
        name: str,
        filename: str,
        file: Any,
        content_type: str,
        headers: CIMultiDictProxy[str],
    ) -> None:
        self.name = name
        self.filename = filename
        self.file = file
        self.content_type = content_type
        self.headers = headers

    def __repr__(self) -> str:
        return f"<FileField {self.name}={self.filename!r} {self.content_type}>"


class BaseRequest(MutableMapping[str, Any]):
    """A request without routing (the low-level `Server` passes these).

    Attributes that cost something (headers proxy, URL, query, cookies) are built on first use
    and cached, so a handler pays only for what it reads.
    """

    __slots__ = (
        "__weakref__",
        "_cache",
        "_client_max_size",
        "_exchange",
        "_headers",
        "_host",
        "_match_path",
        "_method",
        "_query_string",
        "_raw_path",
        "_read_bytes",
        "_rel_url",
        "_remote",
        "_scheme",
        "_state",
        "_task",
    )

    def __init__(
        self,
        exchange: Exchange,
        *,
        client_max_size: int = 1024**2,
        task: asyncio.Task[Any] | None = None,
    ) -> None:
        self._exchange = exchange
        self._method = exchange.method
        self._client_max_size = client_max_size
        self._task = task
        self._headers: CIMultiDictProxy[str] | None = None
        self._rel_url: URL | None = None
        self._state: dict[str, Any] | None = None
        self._cache: dict[str, Any] | None = None
        self._read_bytes: bytes | None = None
        self._scheme: str | None = None
        self._host: str | None = None
        self._remote: str | None = None
        target = exchange.target
        q = target.find("?")
        if q < 0:
            raw_path, self._query_string = target, ""
        else:
            raw_path, self._query_string = target[:q], target[q + 1 :]
        if not raw_path.startswith("/"):
            raw_path = self._absolute_form(raw_path)
        self._raw_path = raw_path
        self._match_path = requote_path(raw_path)

    def _absolute_form(self, raw_path: str) -> str:
        """Absolute-form targets (RFC 9112 §3.2.2) carry the host; '*' stays as it is."""
        if raw_path == "*" or not raw_path:
            return raw_path
        try:
            url = URL(raw_path, encoded=True)
        except ValueError:
            return raw_path
        if url.host and not self._host:
            self._host = url.raw_authority
        return url.raw_path or "/"

    # -- MutableMapping storage ------------------------------------------------------------

    def _storage(self) -> dict[str, Any]:
        state = self._state
        if state is None:
            state = self._state = {}
        return state

    def __getitem__(self, key: str) -> Any:
        if self._state is None:
            raise KeyError(key)
        return self._state[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._storage()[key] = value

    def __delitem__(self, key: str) -> None:
        if self._state is None:
            raise KeyError(key)
        del self._state[key]

    def __len__(self) -> int:
        return 0 if self._state is None else len(self._state)

    def __iter__(self) -> Iterator[str]:
        return iter(()) if self._state is None else iter(self._state)

    def __eq__(self, other: object) -> bool:
        return self is other

    def __hash__(self) -> int:
        return id(self)

    def __bool__(self) -> bool:
        return True

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._method} {self._raw_path} >"

    # -- the request line ------------------------------------------------------------------

    @property
    def method(self) -> str:
        return self._method

    @property
    def version(self) -> HttpVersion:
        return self._exchange.version

    @property
    def raw_path(self) -> str:
        """The target as received, query included, still percent-encoded."""
        cache = self._cache
        if cache is not None and "raw_target" in cache:
            return str(cache["raw_target"])
        return self._exchange.target

    @property
    def rel_url(self) -> URL:
        """Path and query as a relative `URL` (the path requoted, dot segments removed)."""
        url = self._rel_url
        if url is None:
            url = self._rel_url = URL.build(
                path=self._match_path, query_string=self._query_string, encoded=True
            )
        return url

    @property
    def path(self) -> str:
        """The decoded path, e.g. ``/статья``."""
        return self.rel_url.path

    @property
    def path_qs(self) -> str:
        """The percent-encoded path and query, e.g. ``/app/blog?id=10``."""
        return str(self.rel_url)

    @property
    def raw_query_string(self) -> str:
        return self._query_string

    @property
    def query_string(self) -> str:
        return self.rel_url.query_string

    @property
    def query(self) -> MultiDictProxy[str]:
        if not self._query_string:
            return _EMPTY_QUERY
        return self.rel_url.query

    @property
    def url(self) -> URL:
        """The absolute URL: scheme and host (as this request sees them) plus rel_url.

        Raises:
            HTTPBadRequest: the Host header is not a valid authority.
        """
        cache = self._cached()
        url = cache.get("url")
        if url is None:
            try:
                url = URL.build(
                    scheme=self.scheme,
                    authority=self.host,
                    path=self._match_path,
                    query_string=self._query_string,
                    encoded=True,
                )
            except ValueError as exc:
                raise HTTPBadRequest(text=f"Invalid Host header {self.host!r}: {exc}") from None
            cache["url"] = url
        return url

    def _cached(self) -> dict[str, Any]:
        cache = self._cache
        if cache is None:
            cache = self._cache = {}
        return cache

    # -- headers and connection facts -------------------------------------------------------

    @property
    def headers(self) -> CIMultiDictProxy[str]:
        headers = self._headers
        if headers is None:
            headers = self._headers = CIMultiDictProxy(
                CIMultiDict(
                    (
                        name.decode("utf-8", "surrogateescape"),
                        value.decode("utf-8", "surrogateescape"),
                    )
                    for name, value in self._exchange.raw_headers
                )
            )
        return headers

    @property
    def raw_headers(self) -> tuple[tuple[bytes, bytes], ...]:
        """The header fields as received (or as `clone` replaced them), as bytes pairs."""
        cache = self._cache
        if cache is not None and "raw_headers" in cache:
            return cache["raw_headers"]  # type: ignore[no-any-return]
        return tuple(self._exchange.raw_headers)

    @property
    def keep_alive(self) -> bool:
        return self._exchange.keep_alive

    @property
    def transport(self) -> asyncio.Transport | None:
        return self._exchange.transport

    @property
    def task(self) -> asyncio.Task[Any] | None:
        """The task running the handler."""
        return self._task or self._exchange.task

    @property
    def exchange(self) -> Exchange:
        """The server-level exchange (webkit specific)."""
        return self._exchange

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._exchange.get_extra_info(name, default)

    @property
    def scheme(self) -> str:
        """``https`` on a TLS connection, else ``http`` (see `clone` for proxies)."""
        scheme = self._scheme
        if scheme is None:
            scheme = self._scheme = (
                "https" if self._exchange.get_extra_info("sslcontext") is not None else "http"
            )
        return scheme

    @property
    def secure(self) -> bool:
        return self.scheme == "https"

    @property
    def host(self) -> str:
        """The Host header, or the server's own address when there is none."""
        host = self._host
        if host is None:
            value = self.headers.get("Host")
            if value is None:
                sockname = self._exchange.get_extra_info("sockname")
                if isinstance(sockname, tuple) and len(sockname) >= 2:
                    value = f"{sockname[0]}:{sockname[1]}"
                else:
                    value = "localhost"
            host = self._host = value
        return host

    @property
    def remote(self) -> str | None:
        """The peer's IP address (the proxy's, unless `clone(remote=...)` replaced it)."""
        remote = self._remote
        if remote is None:
            peer = self._exchange.get_extra_info("peername")
            if isinstance(peer, (list, tuple)) and peer:
                remote = str(peer[0])
            elif isinstance(peer, str):
                remote = peer
            else:
                return None
            self._remote = remote
        return remote

    @property
    def forwarded(self) -> tuple[Mapping[str, str], ...]:
        """The parsed ``Forwarded`` header (RFC 7239), one mapping per hop; never trusted."""
        from webkit.web.forwarded import parse_forwarded

        return parse_forwarded(self.headers.getall("Forwarded", []))

    @property
    def cookies(self) -> Mapping[str, str]:
        """Cookies of every ``Cookie`` header, read-only; malformed pairs are skipped.

        A name sent twice keeps its last value (as aiohttp does).
        """
        cache = self._cached()
        cookies = cache.get("cookies")
        if cookies is None:
            parsed: dict[str, str] = {}
            for header in self.headers.getall("Cookie", ()):
                parsed.update(parse_cookie_header(header))
            cookies = cache["cookies"] = MappingProxyType(parsed)
        return cookies

    def _content_type(self) -> tuple[str, dict[str, str]]:
        cache = self._cached()
        parsed = cache.get("ctype")
        if parsed is None:
            parsed = cache["ctype"] = parse_content_type(self.headers.get("Content-Type"))
        return parsed

    @property
    def content_type(self) -> str:
        """The media type, ``application/octet-stream`` when the header is absent."""
        return self._content_type()[0]

    @property
    def charset(self) -> str | None:
        return self._content_type()[1].get("charset")

    @property
    def content_length(self) -> int | None:
        return self._exchange.content_length

    @property
    def if_modified_since(self) -> Any:
        from webkit.web.conditions import parse_http_date

        return parse_http_date(self.headers.get("If-Modified-Since"))

    @property
    def if_unmodified_since(self) -> Any:
        from webkit.web.conditions import parse_http_date

        return parse_http_date(self.headers.get("If-Unmodified-Since"))

    @property
    def if_range(self) -> Any:
        """The ``If-Range`` header as an aware datetime, or None (absent or an entity tag)."""
        from webkit.web.conditions import parse_http_date

        return parse_http_date(self.headers.get("If-Range"))

    @property
    def if_match(self) -> tuple[ETag, ...] | None:
        """The entity tags of ``If-Match`` (``*`` as ``ETag("*")``), or None when absent."""
        return _etag_header(self.headers.get("If-Match"))

    @property
    def if_none_match(self) -> tuple[ETag, ...] | None:
        """The entity tags of ``If-None-Match`` (``*`` as ``ETag("*")``), or None when absent."""
        return _etag_header(self.headers.get("If-None-Match"))

    @property
    def http_range(self) -> slice:
        """The single byte range of a ``Range: bytes=...`` header as a `slice`.

        ``slice(None, None, 1)`` without the header; a suffix range ``bytes=-N`` gives
        ``slice(-N, None, 1)``; the end is made exclusive.

        Raises:
            ValueError: the header is not one ``bytes=start-end`` range, or start > end.
        """
        header = self.headers.get("Range")
        if header is None:
            return slice(None, None, 1)
        match = _RANGE.fullmatch(header)
        if match is None:
            raise ValueError(f"Range header {header!r} is not a single bytes=start-end range")
        first, last = match.group(1), match.group(2)
        if not first and not last:
            raise ValueError(f"Range header {header!r} has neither start nor end")
        if not first:
            return slice(-int(last), None, 1)
        start = int(first)
        if not last:
            return slice(start, None, 1)
        end = int(last) + 1
        if start >= end:
            raise ValueError(f"Range header {header!r} starts after it ends")
        return slice(start, end, 1)

    # -- body ------------------------------------------------------------------------

    @property
    def content(self) -> BodyStream:
        """The body as a stream: read(n), readany(), readline(), iter_chunked(n), ..."""
        return self._exchange.body

    @property
    def body_exists(self) -> bool:
        return self._exchange.body is not EMPTY_BODY

    @property
    def can_read_body(self) -> bool:
        return not self._exchange.body.at_eof()

    @property
    def has_body(self) -> bool:
        return self.can_read_body

    @property
    def client_max_size(self) -> int:
        return self._client_max_size

    async def release(self) -> None:
        """Read and discard the rest of the body, so the connection can be reused."""
        body = self._exchange.body
        while await body.readany():
            pass

    async def read(self) -> bytes:
        """The whole body, at most ``client_max_size`` bytes.

        Raises:
            HTTPRequestEntityTooLarge: the body is larger than ``client_max_size`` (413).
            HTTPBadRequest: the body's framing is broken (e.g. a bad chunk size).
            ConnectionResetError: the client disconnected first.
        """
        if self._read_bytes is not None:
            return self._read_bytes
        limit = self._client_max_size
        declared = self._exchange.content_length
        if limit and declared is not None and declared > limit:
            raise HTTPRequestEntityTooLarge(max_size=limit, actual_size=declared)
        body = self._exchange.body
        parts: list[bytes] = []
        size = 0
        try:
            while True:
                chunk = await body.readany()
                if not chunk:
                    break
                size += len(chunk)
                if limit and size > limit:
                    raise HTTPRequestEntityTooLarge(max_size=limit, actual_size=size)
                parts.append(chunk)
        except ProtocolError as exc:
            raise HTTPBadRequest(text=f"Malformed request body: {exc.reason}") from None
        data = self._read_bytes = b"".join(parts)
        return data

    async def text(self) -> str:
        """The body decoded with its charset (UTF-8 by default).

        Raises:
            HTTPBadRequest: the body cannot be decoded with that charset.
        """
        data = await self.read()
        encoding = self.charset or "utf-8"
        try:
            return data.decode(encoding)
        except LookupError:
            raise HTTPBadRequest(text=f"Unknown charset {encoding!r}") from None
        except UnicodeDecodeError as exc:
            raise HTTPBadRequest(text=f"Body is not valid {encoding}: {exc}") from None

    async def json(
        self,
        *,
        loads: Callable[[str], Any] = json.loads,
        content_type: str | None = "application/json",
    ) -> Any:
        """The body parsed as JSON.

        Raises:
            HTTPBadRequest: unexpected Content-Type, or the body is not valid JSON (the error is
                also a `json.JSONDecodeError`).
        """
        if content_type and not _is_json(self.headers.get("Content-Type", ""), content_type):
            raise HTTPBadRequest(
                text=f"Attempt to decode JSON with unexpected mimetype: {self.content_type}"
            )
        body = await self.text()
        try:
            return loads(body)
        except json.JSONDecodeError as exc:
            raise RequestJSONError(exc) from None

    async def multipart(self) -> MultipartReader:
        """A streaming reader over a ``multipart/*`` body."""
        from webkit.web.multipart import MultipartReader

        return MultipartReader(self.headers, self._exchange.body)

    async def post(self) -> MultiDictProxy[str | bytes | FileField]:
        """Form fields of an urlencoded or multipart body (files as `FileField`).

        Raises:
            HTTPRequestEntityTooLarge: the form is larger than ``client_max_size``.
            HTTPBadRequest: the form is malformed.
        """
        cache = self._cached()
        post = cache.get("post")
        if post is not None:
            return post  # type: ignore[no-any-return]
        from webkit.web.forms import read_form

        post = cache["post"] = await read_form(self)
        return post

    # -- cloning --------------------------------------------------------------------------

    POST_METHODS = _POST_METHODS

    def clone(
        self,
        *,
        method: str | object = _SENTINEL,
        rel_url: str | URL | object = _SENTINEL,
        headers: Mapping[str, str] | object = _SENTINEL,
        scheme: str | object = _SENTINEL,
        host: str | object = _SENTINEL,
        remote: str | object = _SENTINEL,
        client_max_size: int | object = _SENTINEL,
    ) -> BaseRequest:
        """A copy with some attributes replaced (what a trusted proxy middleware needs).

        The copy shares the body stream and connection with the original, and the body
        if `read` already cached it (aiohttp refuses to clone after a read; webkit shares it).

        Raises:
            ValueError: ``rel_url`` is absolute.
            TypeError: ``scheme``, ``host`` or ``remote`` is not a str.
        """
        new = object.__new__(type(self))
        for slot in BaseRequest.__slots__:
            if slot != "__weakref__" and hasattr(self, slot):
                object.__setattr__(new, slot, getattr(self, slot))
        new._cache = None
        if self._cache is not None and "raw_target" in self._cache:
            new._cached()["raw_target"] = self._cache["raw_target"]
        new._state = None if self._state is None else dict(self._state)
        if method is not _SENTINEL:
            new._method = str(method).upper()
        if rel_url is not _SENTINEL:
            url = URL(str(rel_url)) if not isinstance(rel_url, URL) else rel_url
            if url.is_absolute():
                raise ValueError(f"rel_url must be relative, got {url}")
            new._rel_url = url
            new._raw_path = url.raw_path
            new._match_path = url.raw_path
            new._query_string = url.raw_query_string
            new._cached()["raw_target"] = str(url)
        if headers is not _SENTINEL:
            new_headers: CIMultiDictProxy[str] = CIMultiDictProxy(
                CIMultiDict(headers)  # type: ignore[arg-type]
            )
            new._headers = new_headers
            new._cached()["raw_headers"] = tuple(
                (name.encode("utf-8", "surrogateescape"), value.encode("utf-8", "surrogateescape"))
                for name, value in new_headers.items()
            )
            # The host came from the old headers: the new ones decide it now.
            new._host = None
        if scheme is not _SENTINEL:
            if not isinstance(scheme, str):
                raise TypeError("scheme must be str")
            new._scheme = scheme
        if host is not _SENTINEL:
            if not isinstance(host, str):
                raise TypeError("host must be str")
            new._host = host
        if remote is not _SENTINEL:
            if not isinstance(remote, str):
                raise TypeError("remote must be str")
            new._remote = remote
        if client_max_size is not _SENTINEL:
            new._client_max_size = int(cast(int, client_max_size))
        self._clone_extra(new)
        return new

    def _clone_extra(self, new: BaseRequest) -> None:
        pass


class Request(BaseRequest):
    """A routed request: adds ``match_info``, ``app`` and ``config_dict``."""

    __slots__ = ("_match_info",)

    def __init__(self, exchange: Exchange, **kwargs: Any) -> None:
        super().__init__(exchange, **kwargs)
        self._match_info: UrlMappingMatchInfo | None = None

    def _clone_extra(self, new: BaseRequest) -> None:
        assert isinstance(new, Request)
        new._match_info = self._match_info

    @property
    def _has_prepare_hook(self) -> bool:
        info = self._match_info
        return info is not None and bool(info._apps) and info._apps[0]._has_prepare_signal

    async def _prepare_hook(self, response: Any) -> None:
        """Send ``on_response_prepare`` of every app on the route, outermost first."""
        info = self._match_info
        if info is None:
            return
        for app in info._apps:
            if app.on_response_prepare:
                await app.on_response_prepare.send(self, response)

    @property
    def match_info(self) -> UrlMappingMatchInfo:
        """Path variables of the matched route, plus the route itself."""
        info = self._match_info
        if info is None:
            raise RuntimeError("the request has not been routed yet")
        return info

    @property
    def app(self) -> Application:
        """The application (or sub-application) that owns the matched route."""
        return self.match_info.current_app

    @property
    def config_dict(self) -> ChainMapProxy:
        """Application storage looked up in this app, then its parents."""
        info = self._match_info
        if info is None:
            raise RuntimeError("the request has not been routed yet")
        apps = list(info.apps)
        current = info.current_app
        index = apps.index(current) if current in apps else len(apps) - 1
        return ChainMapProxy(list(reversed(apps[: index + 1])))


class ChainMapProxy(Mapping[Any, Any]):
    """Read-only lookup through several mappings, first match wins."""

    __slots__ = ("_maps",)

    def __init__(self, maps: list[Mapping[Any, Any]]) -> None:
        self._maps = tuple(maps)

    @overload
    def __getitem__(self, key: AppKey[_T]) -> _T: ...
    @overload
    def __getitem__(self, key: str) -> Any: ...
    def __getitem__(self, key: Any) -> Any:
        for mapping in self._maps:
            try:
                return mapping[key]
            except KeyError:
                pass
        raise KeyError(key)

    @overload
    def get(self, key: AppKey[_T], default: Any = ...) -> _T | None: ...
    @overload
    def get(self, key: str, default: Any = ...) -> Any: ...
    def get(self, key: Any, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default

    def __len__(self) -> int:
        return len(set().union(*self._maps))

    def __iter__(self) -> Iterator[Any]:
        seen: dict[Any, None] = {}
        for mapping in self._maps:
            for key in mapping:
                seen.setdefault(key, None)
        return iter(seen)

    def __contains__(self, key: object) -> bool:
        return any(key in mapping for mapping in self._maps)

    def __bool__(self) -> bool:
        return any(self._maps)

    def __repr__(self) -> str:
        return f"ChainMapProxy({', '.join(map(repr, self._maps))})"


def _is_json(header: str, expected: str) -> bool:
    media = header.split(";", 1)[0].strip().lower()
    if media == expected:
        return True
    return expected == "application/json" and bool(
        re.fullmatch(r"application/[\w.+-]+\+json", media)
    )


def parse_urlencoded(data: str, encoding: str = "utf-8") -> list[tuple[str, str]]:
    """``a=1&b=%C3%A9`` → ``[("a", "1"), ("b", "é")]``, escapes decoded with ``encoding``."""
    return parse_qsl(data, keep_blank_values=True, encoding=encoding)


# A cookie name is an HTTP token (RFC 6265 §4.1.1, RFC 9110 §5.6.2).
_COOKIE_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
# Backslash escapes inside a quoted value, as `http.cookies` writes them (octal for bytes).
_COOKIE_ESCAPE = re.compile(r"\\(?:([0-3][0-7][0-7])|(.))")
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")
_ETAG = re.compile(r'\s*(?:(W/)?"([^"]*)"|(\*))\s*(?:,|$)')


def _unescape_cookie(match: re.Match[str]) -> str:
    octal = match.group(1)
    return chr(int(octal, 8)) if octal is not None else match.group(2)


def parse_cookie_header(header: str) -> Iterator[tuple[str, str]]:
    """The ``name=value`` pairs of one ``Cookie`` header (RFC 6265 §5.4).

    Browsers send pairs separated by ``;``. A pair without ``=`` or whose name is not a token
    is skipped, not the whole header; a quoted value loses its quotes and escapes.
    """
    for pair in header.split(";"):
        name, sep, value = pair.partition("=")
        name = name.strip()
        if not sep or _COOKIE_NAME.fullmatch(name) is None:
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = _COOKIE_ESCAPE.sub(_unescape_cookie, value[1:-1])
        yield name, value


def _etag_header(header: str | None) -> tuple[ETag, ...] | None:
    """The tags of an ``If-Match``/``If-None-Match`` list (RFC 9110 §13.1.1), or None."""
    if not header:
        return None
    tags: list[ETag] = []
    pos = 0
    while pos < len(header):
        match = _ETAG.match(header, pos)
        if match is None or match.end() == pos:
            break  # a malformed rest is ignored, as aiohttp does
        if match.group(3):
            tags.append(ETag("*"))
        else:
            tags.append(ETag(match.group(2), is_weak=bool(match.group(1))))
        pos = match.end()
    return tuple(tags)
