"""Responses: `StreamResponse` for streaming, `Response` for a body known up front."""

from __future__ import annotations

import asyncio
import datetime
import enum
import json
import math
import zlib
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from concurrent.futures import Executor
from email.utils import formatdate
from http.cookies import Morsel, SimpleCookie
from typing import TYPE_CHECKING, Any, NamedTuple

from multidict import CIMultiDict

from webkit.http import SERVER_SOFTWARE, Exchange, encode_head, http_date, status_line
from webkit.web.conditions import parse_http_date
from webkit.web.mime import parse_content_type

if TYPE_CHECKING:
    from webkit.web.request import BaseRequest

__all__ = ["ContentCoding", "ETag", "Response", "StreamResponse", "json_response"]

_NO_BODY_STATUSES = frozenset((204, 304))
_CONTENT_TYPE = "Content-Type"
_SENTINEL: Any = object()


class ContentCoding(enum.Enum):
    """Codings `StreamResponse.enable_compression` can apply, in order of preference."""

    deflate = "deflate"
    gzip = "gzip"
    identity = "identity"


class ETag(NamedTuple):
    """An entity tag; ``is_weak`` for ``W/"..."`` tags (RFC 9110 §8.8.3)."""

    value: str
    is_weak: bool = False


class _DateLines:
    """``Date`` and ``Server`` header lines, rebuilt only when the Date value changes."""

    source = ""
    lines = ""


def _date_server_lines() -> str:
    date = http_date()
    if date is not _DateLines.source:  # http_date() returns the same object within a second
        _DateLines.source = date
        _DateLines.lines = f"Date: {date}\r\nServer: {SERVER_SOFTWARE}\r\n"
    return _DateLines.lines


class _Morsel(Morsel[str]):
    """A `Morsel` that also writes the ``Partitioned`` flag (CHIPS), unknown before Python 3.14."""

    _reserved = {**Morsel._reserved, "partitioned": "Partitioned"}  # type: ignore[attr-defined]
    _flags = Morsel._flags | {"partitioned"}  # type: ignore[attr-defined]


_EXPIRED = "Thu, 01 Jan 1970 00:00:00 GMT"


def _valid_etag_value(value: str) -> bool:
    """Whether every character is an ``etagc`` (RFC 9110 §8.8.3): no DQUOTE, space or CTL."""
    return all(char == "!" or "#" <= char <= "~" or char >= "\x80" for char in value)


def _status_has_no_body(status: int) -> bool:
    return status < 200 or status in _NO_BODY_STATUSES


class StreamResponse(MutableMapping[str, Any]):
    """A response whose body is written piece by piece after `prepare`.

    Args:
        status: the status code.
        reason: a reason phrase other than the standard one.
        headers: initial headers.
    """

    _length_check = True

    def __init__(
        self,
        *,
        status: int = 200,
        reason: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self._headers: CIMultiDict[str] = CIMultiDict(headers) if headers else CIMultiDict()
        self._init_state(status, reason)

    def _init_state(self, status: int, reason: str | None) -> None:
        self._exchange: Exchange | None = None
        if type(status) is int and 100 <= status <= 999 and reason is None:
            self._status = status
            self._reason: str | None = None
        else:
            self.set_status(status, reason)
        self._cookies: SimpleCookie | None = None
        self._req: BaseRequest | None = None
        self._eof_sent = False
        self._chunked = False
        self._compression = False
        self._compression_force: ContentCoding | None = None
        self._compression_strategy = zlib.Z_DEFAULT_STRATEGY
        self._compressor: Any = None
        self._keep_alive: bool | None = None
        self._state: dict[str, Any] | None = None
        self._body_length = 0

    # -- MutableMapping storage -------------------------------------------------------

    def _storage(self) -> dict[str, Any]:
        if self._state is None:
            self._state = {}
        return self._state

    def __getitem__(self, key: str) -> Any:
        return self._storage()[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._storage()[key] = value

    def __delitem__(self, key: str) -> None:
        del self._storage()[key]

    def __len__(self) -> int:
        return 0 if self._state is None else len(self._state)

    def __iter__(self) -> Iterator[str]:
        return iter(()) if self._state is None else iter(self._state)

    def __hash__(self) -> int:
        return id(self)

    def __eq__(self, other: object) -> bool:
        return self is other

    def __bool__(self) -> bool:
        return True

    def __repr__(self) -> str:
        info = "eof" if self._eof_sent else ("prepared" if self.prepared else "not prepared yet")
        return f"<{type(self).__name__} {self.reason} {info}>"

    # -- status and flags ---------------------------------------------------------------

    @property
    def prepared(self) -> bool:
        return self._exchange is not None or self._eof_sent

    @property
    def task(self) -> asyncio.Task[Any] | None:
        return None if self._req is None else self._req.task

    @property
    def status(self) -> int:
        return self._status

    @property
    def reason(self) -> str:
        from webkit.http import reason_phrase

        return self._reason if self._reason is not None else reason_phrase(self._status)

    def set_status(self, status: int, reason: str | None = None) -> None:
        """Change the status before the response is prepared.

        Raises:
            RuntimeError: the headers were already sent.
            ValueError: the status is outside 100-999 or the reason holds a newline.
        """
        if getattr(self, "_exchange", None) is not None:
            raise RuntimeError("cannot change the status after the headers were sent")
        status = int(status)
        if not 100 <= status <= 999:
            raise ValueError(f"status {status} is outside 100-999")
        if reason is not None and ("\r" in reason or "\n" in reason):
            raise ValueError("reason must not contain CR or LF")
        self._status = status
        self._reason = reason

    @property
    def keep_alive(self) -> bool | None:
        return self._keep_alive

    def force_close(self) -> None:
        """Close the connection after this response."""
        self._keep_alive = False

    @property
    def body_length(self) -> int:
        return self._body_length

    @property
    def chunked(self) -> bool:
        return self._chunked

    def enable_chunked_encoding(self, chunk_size: int | None = None) -> None:
        """Send the body with chunked transfer coding (``chunk_size`` is ignored, as in aiohttp).

        Raises:
            RuntimeError: a Content-Length is already set.
        """
        if "Content-Length" in self._headers:
            raise RuntimeError("cannot enable chunked encoding when a Content-Length is set")
        self._chunked = True

    @property
    def compression(self) -> bool:
        return self._compression

    def enable_compression(
        self, force: ContentCoding | bool | None = None, strategy: int | None = None
    ) -> None:
        """Compress the body with a coding the client accepts, or with ``force``.

        Negotiation follows ``Accept-Encoding`` (RFC 9110 §12.5.3, ``q=0`` refuses a coding);
        deflate is preferred over gzip at equal weight, as in aiohttp. ``strategy`` is a
        ``zlib`` strategy constant (``zlib.Z_DEFAULT_STRATEGY`` when None).

        Raises:
            TypeError: ``force`` is not a `ContentCoding`, bool or None.
        """
        if isinstance(force, bool):
            force = ContentCoding.deflate if force else ContentCoding.identity
        elif force is not None and not isinstance(force, ContentCoding):
            raise TypeError(
                f"force must be a ContentCoding, bool or None, not {type(force).__name__}"
            )
        self._compression = True
        self._compression_force = force
        self._compression_strategy = zlib.Z_DEFAULT_STRATEGY if strategy is None else strategy

    # -- headers ------------------------------------------------------------------------

    @property
    def headers(self) -> CIMultiDict[str]:
        return self._headers

    @property
    def cookies(self) -> SimpleCookie:
        if self._cookies is None:
            self._cookies = SimpleCookie()
        return self._cookies

    def set_cookie(
        self,
        name: str,
        value: str,
        *,
        expires: str | None = None,
        domain: str | None = None,
        max_age: int | str | None = None,
        path: str = "/",
        secure: bool | None = None,
        httponly: bool | None = None,
        version: str | None = None,
        samesite: str | None = None,
        partitioned: bool | None = None,
    ) -> None:
        """Add or update the ``Set-Cookie`` for ``name`` (RFC 6265 §4.1).

        Attributes left as None keep their previous value when the cookie was already set.

        Raises:
            http.cookies.CookieError: ``name`` is not a valid cookie name.
        """
        cookies = self.cookies
        old = cookies.get(name)
        if old is None or old.value == "":
            # A new cookie, or one that `del_cookie` expired: start from fresh attributes.
            dict.__setitem__(cookies, name, _Morsel())
        cookies[name] = value
        morsel: Morsel[str] = cookies[name]
        if expires is not None:
            morsel["expires"] = expires
        elif morsel.get("expires") == _EXPIRED:
            del morsel["expires"]
        if domain is not None:
            morsel["domain"] = domain
        if max_age is not None:
            morsel["max-age"] = str(max_age)
        elif "max-age" in morsel:
            del morsel["max-age"]
        morsel["path"] = path
        if secure is not None:
            morsel["secure"] = secure
        if httponly is not None:
            morsel["httponly"] = httponly
        if version is not None:
            morsel["version"] = version
        if samesite is not None:
            morsel["samesite"] = samesite
        if partitioned is not None:
            morsel["partitioned"] = partitioned

    def del_cookie(
        self,
        name: str,
        *,
        domain: str | None = None,
        path: str = "/",
        secure: bool | None = None,
        httponly: bool | None = None,
        samesite: str | None = None,
    ) -> None:
        """Ask the client to delete cookie ``name``: an empty value that expired in 1970.

        ``domain`` and ``path`` must match the cookie's for the client to drop it; browsers
        refuse a ``SameSite=None`` cookie without ``secure``.
        """
        self.cookies.pop(name, None)
        self.set_cookie(
            name,
            "",
            max_age=0,
            expires=_EXPIRED,
            domain=domain,
            path=path,
            secure=secure,
            httponly=httponly,
            samesite=samesite,
        )

    @property
    def content_length(self) -> int | None:
        value = self._headers.get("Content-Length")
        return None if value is None else int(value)

    @content_length.setter
    def content_length(self, value: int | None) -> None:
        if value is None:
            self._headers.pop("Content-Length", None)
            return
        if self._chunked:
            raise RuntimeError("cannot set a Content-Length on a chunked response")
        self._headers["Content-Length"] = str(int(value))

    @property
    def content_type(self) -> str:
        return parse_content_type(self._headers.get("Content-Type"))[0]

    @content_type.setter
    def content_type(self, value: str) -> None:
        charset = self.charset
        self._headers["Content-Type"] = str(value) + (f"; charset={charset}" if charset else "")

    @property
    def charset(self) -> str | None:
        if "Content-Type" not in self._headers:
            return None
        return parse_content_type(self._headers["Content-Type"])[1].get("charset")

    @charset.setter
    def charset(self, value: str | None) -> None:
        ctype = self.content_type
        if ctype == "application/octet-stream" and value is not None:
            raise RuntimeError("set content_type before charset (octet-stream has no charset)")
        self._headers["Content-Type"] = ctype + (f"; charset={value.lower()}" if value else "")

    @property
    def last_modified(self) -> datetime.datetime | None:
        return parse_http_date(self._headers.get("Last-Modified"))

    @last_modified.setter
    def last_modified(self, value: int | float | datetime.datetime | str | None) -> None:
        if value is None:
            self._headers.pop("Last-Modified", None)
        elif isinstance(value, (int, float)):
            self._headers["Last-Modified"] = formatdate(math.ceil(value), usegmt=True)
        elif isinstance(value, datetime.datetime):
            self._headers["Last-Modified"] = formatdate(value.timestamp(), usegmt=True)
        elif isinstance(value, str):
            self._headers["Last-Modified"] = value
        else:
            raise TypeError(f"last_modified takes a timestamp, datetime or str, not {type(value)}")

    @property
    def etag(self) -> ETag | None:
        value = self._headers.get("ETag")
        if not value:
            return None
        weak = value.startswith("W/")
        raw = value[2:] if weak else value
        if raw == "*":
            return ETag(raw, weak)
        if len(raw) >= 2 and raw[0] == raw[-1] == '"':
            return ETag(raw[1:-1], weak)
        return None

    @etag.setter
    def etag(self, value: ETag | str | None) -> None:
        """Set the ``ETag`` header from a value (quoted here) or an `ETag`; None removes it.

        Raises:
            ValueError: the value holds a character an entity tag cannot (``"``, space,
                control characters), or is neither str, `ETag` nor None.
        """
        if value is None:
            self._headers.pop("ETag", None)
            return
        if isinstance(value, str):
            value = ETag(value)
        elif not isinstance(value, ETag):
            raise ValueError(f"etag must be a str, an ETag or None, not {type(value).__name__}")
        if value.value == "*" and not value.is_weak:
            self._headers["ETag"] = "*"
            return
        if not isinstance(value.value, str) or not _valid_etag_value(value.value):
            raise ValueError(
                f"invalid ETag value {value.value!r}: quotes, spaces and control characters "
                "are not allowed (RFC 9110 §8.8.3)"
            )
        self._headers["ETag"] = ('W/"%s"' if value.is_weak else '"%s"') % value.value

    # -- sending ---------------------------------------------------------------------

    async def prepare(self, request: BaseRequest) -> None:
        """Run ``on_response_prepare`` handlers and send the headers."""
        if self._eof_sent:
            return
        if self._exchange is not None:
            return
        await self._start(request)

    def _negotiate_coding(self, request: BaseRequest) -> ContentCoding | None:
        if not self._compression:
            return None
        if self._compression_force is not None:
            return (
                None
                if self._compression_force is ContentCoding.identity
                else self._compression_force
            )
        return _negotiate(request.headers.get("Accept-Encoding", ""))

    def _base_headers(self, request: BaseRequest, exchange: Exchange) -> CIMultiDict[str]:
        headers = self._headers
        keep_alive = self._keep_alive
        if keep_alive is None:
            keep_alive = exchange.keep_alive and not exchange.server_closing
        self._keep_alive = keep_alive
        if self._cookies:
            for morsel in self._cookies.values():
                headers.add("Set-Cookie", morsel.OutputString())
        if "Date" not in headers:
            headers["Date"] = http_date()
        if "Server" not in headers:
            headers["Server"] = SERVER_SOFTWARE
        version = exchange.version
        if not keep_alive:
            if version == (1, 1):
                headers["Connection"] = "close"
        elif version == (1, 0):
            headers["Connection"] = "keep-alive"
        return headers

    async def _start(self, request: BaseRequest) -> None:
        self._req = request
        exchange = request.exchange
        headers = self._base_headers(request, exchange)
        coding = self._negotiate_coding(request)
        if coding is not None:
            self._start_compression(coding)
        if _status_has_no_body(self._status):
            headers.pop("Content-Length", None)
            headers.pop("Transfer-Encoding", None)
            self._chunked = False
        elif self._chunked or "Content-Length" not in headers:
            if exchange.version >= (1, 1):
                self._chunked = True
                headers["Transfer-Encoding"] = "chunked"
                headers.pop("Content-Length", None)
            else:
                # HTTP/1.0 has no chunked coding: the body ends when the connection does.
                self._keep_alive = False
                headers.pop("Connection", None)
        headers.setdefault("Content-Type", "application/octet-stream")
        await self._send_prepare_signal(request)
        head = encode_head(
            status_line(exchange.version, self._status, self._reason), headers.items()
        )
        if not self._keep_alive:
            exchange.keep_alive = False
        exchange.write_head(head, chunked=self._chunked)
        self._exchange = exchange

    async def _send_prepare_signal(self, request: BaseRequest) -> None:
        hook = getattr(request, "_prepare_hook", None)
        if hook is not None:
            await hook(self)

    def _start_compression(self, coding: ContentCoding) -> None:
        wbits = 16 + zlib.MAX_WBITS if coding is ContentCoding.gzip else zlib.MAX_WBITS
        self._compressor = zlib.compressobj(wbits=wbits, strategy=self._compression_strategy)
        self._headers["Content-Encoding"] = coding.value
        self._headers.add("Vary", "Accept-Encoding")
        self._headers.pop("Content-Length", None)
        self._chunked = True

    async def write(self, data: bytes | bytearray | memoryview) -> None:
        """Send body bytes (compressed and chunk-framed as negotiated).

        Raises:
            RuntimeError: `prepare` was not called, or the body has ended.
            ConnectionResetError: the client has disconnected.
        """
        exchange = self._exchange
        if exchange is None:
            raise RuntimeError("Cannot call write() before prepare()")
        if self._eof_sent:
            raise RuntimeError("Cannot call write() after write_eof()")
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"data must be bytes-like, got {type(data).__name__}")
        self._body_length += len(data)
        if self._compressor is not None:
            data = self._compressor.compress(data)
        if data:
            exchange.write(bytes(data))
        await exchange.drain()

    async def drain(self) -> None:
        if self._exchange is None:
            raise RuntimeError("Cannot call drain() before prepare()")
        await self._exchange.drain()

    async def write_eof(self, data: bytes = b"") -> None:
        """Send the last bytes and end the response."""
        if self._eof_sent:
            return
        exchange = self._exchange
        if exchange is None:
            raise RuntimeError("response has not been started")
        if data:
            self._body_length += len(data)
        if self._compressor is not None:
            data = self._compressor.compress(data) + self._compressor.flush()
        exchange.write_eof(bytes(data))
        self._eof_sent = True


class Response(StreamResponse):
    """A response with its whole body known before it is sent.

    Args:
        body: the body as bytes.
        text: the body as text (``text/plain; charset=utf-8`` unless told otherwise).
        content_type: the media type.
        charset: the text's encoding.
        zlib_executor_size: bodies larger than this are compressed in an executor.
        zlib_executor: the executor for that.
    """

    def __init__(
        self,
        *,
        body: bytes | bytearray | memoryview | str | None = None,
        status: int = 200,
        reason: str | None = None,
        text: str | None = None,
        headers: Mapping[str, str] | None = None,
        content_type: str | None = None,
        charset: str | None = None,
        zlib_executor_size: int | None = None,
        zlib_executor: Executor | None = None,
    ) -> None:
        self._zlib_executor_size = zlib_executor_size
        self._zlib_executor = zlib_executor
        if (
            headers is None
            and body is None
            and charset is None
            and type(text) is str
            and (content_type is None or "charset" not in content_type.lower())
        ):
            # The common Response(text=...) and json_response(...): straight to the fields.
            ctype = "text/plain" if content_type is None else content_type
            self._headers = CIMultiDict(((_CONTENT_TYPE, ctype + "; charset=utf-8"),))
            self._init_state(status, reason)
            self._body: bytes | None = text.encode()
            return
        if body is not None and text is not None:
            raise ValueError("body and text are not allowed together")
        super().__init__(status=status, reason=reason, headers=headers)
        has_ctype = headers is not None and "Content-Type" in self._headers
        if has_ctype and (content_type is not None or charset is not None):
            raise ValueError(
                "passing both Content-Type header and content_type or charset params is forbidden"
            )
        if content_type is not None and "charset" in content_type.lower():
            raise ValueError("charset must not be in content_type argument; pass charset=")
        if isinstance(body, str):
            # aiohttp takes a str body too: text in the given charset, else UTF-8, under the
            # given media type (no charset added to it), else text/plain; charset=utf-8.
            if not has_ctype and content_type is None:
                content_type, charset = "text/plain", charset or "utf-8"
            body = body.encode(charset or (self.charset if has_ctype else None) or "utf-8")
        if text is not None:
            if not isinstance(text, str):
                raise TypeError(f"text argument must be str, got {type(text).__name__}")
            if not has_ctype:
                content_type = content_type or "text/plain"
                charset = charset or "utf-8"
                self._headers["Content-Type"] = f"{content_type}; charset={charset}"
            else:
                charset = self.charset or "utf-8"
            self._body = text.encode(charset)
        else:
            if not has_ctype and content_type is not None:
                charset_param = f"; charset={charset}" if charset else ""
                self._headers["Content-Type"] = content_type + charset_param
            self.body = body

    @property
    def body(self) -> bytes | None:
        return self._body

    @body.setter
    def body(self, value: bytes | bytearray | memoryview | str | None) -> None:
        """Replace the body; a str is encoded with the response's charset (UTF-8 if none).

        Raises:
            TypeError: the value is not bytes-like, str or None.
        """
        if value is None:
            self._body = None
        elif isinstance(value, (bytes, bytearray, memoryview)):
            self._body = bytes(value)
        elif isinstance(value, str):
            if "Content-Type" not in self._headers:
                self._headers["Content-Type"] = "text/plain; charset=utf-8"
            self._body = value.encode(self.charset or "utf-8")
        else:
            raise TypeError(f"body must be bytes-like, str or None, got {type(value).__name__}")

    @property
    def text(self) -> str | None:
        if self._body is None:
            return None
        return self._body.decode(self.charset or "utf-8")

    @text.setter
    def text(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError(f"text must be str, got {type(value).__name__}")
        if "Content-Type" not in self._headers:
            self._headers["Content-Type"] = "text/plain; charset=utf-8"
        self._body = value.encode(self.charset or "utf-8")

    @property
    def content_length(self) -> int | None:
        if self._chunked:
            return None
        if "Content-Length" in self._headers:
            return super().content_length
        return len(self._body) if self._body is not None else 0

    @content_length.setter
    def content_length(self, value: int | None) -> None:
        raise RuntimeError("Content-Length is computed from the body of a Response")

    def _can_send_now(self) -> bool:
        """Whether `_send_now` may be used (the caller knows no prepare signal is connected)."""
        return not self._compression and not self._chunked

    def _send_now(self, request: BaseRequest) -> None:
        """Send head and body in one write: the path every plain ``Response`` takes.

        The common case (no cookies, no framing headers set by the handler, a status with a
        body) formats the head straight from the handler's headers plus the computed ones,
        without copying them into the header multidict first.
        """
        self._req = request
        exchange = request.exchange
        self._close_if_body_unread(exchange)
        headers = self._headers
        status = self._status
        if len(headers) == 1 and _CONTENT_TYPE in headers:
            # Only the Content-Type the constructor set: nothing else can conflict.
            plain = not self._cookies and status not in _NO_BODY_STATUSES and status >= 200
        else:
            plain = not (
                self._cookies
                or _status_has_no_body(status)
                or "Content-Length" in headers
                or "Date" in headers
                or "Server" in headers
                or "Connection" in headers
            )
        if not plain or exchange.version != (1, 1):
            self._send_general(request, exchange)
            return
        keep_alive = self._keep_alive
        if keep_alive is None:
            keep_alive = self._keep_alive = exchange.keep_alive and not exchange.server_closing
        body = self._body or b""
        if body and _CONTENT_TYPE not in headers:
            headers[_CONTENT_TYPE] = "application/octet-stream"
        tail = f"Content-Length: {len(body)}\r\n{_date_server_lines()}"
        if not keep_alive:
            exchange.keep_alive = False
            tail += "Connection: close\r\n"
        head = encode_head(
            status_line(exchange.version, status, self._reason), headers.items(), tail
        )
        self._body_length = len(body)
        self._eof_sent = True
        exchange.send(head, body)

    def _send_general(self, request: BaseRequest, exchange: Exchange) -> None:
        headers = self._base_headers(request, exchange)
        self._finish_headers(headers)
        body = self._body or b""
        head = encode_head(
            status_line(exchange.version, self._status, self._reason), headers.items()
        )
        if not self._keep_alive:
            exchange.keep_alive = False
        self._body_length = len(body)
        self._eof_sent = True
        if _status_has_no_body(self._status):
            exchange.send(head)
        else:
            exchange.send(head, body)

    def _finish_headers(self, headers: CIMultiDict[str]) -> None:
        if _status_has_no_body(self._status):
            headers.pop("Content-Length", None)
            return
        if "Content-Length" not in headers:
            headers["Content-Length"] = str(len(self._body)) if self._body else "0"
        if "Content-Type" not in headers and self._body:
            headers["Content-Type"] = "application/octet-stream"

    def _close_if_body_unread(self, exchange: Exchange) -> None:
        """Announce the close when the request body has not all arrived.

        A whole `Response` is sent once the handler is done with the request; if part of the
        body is still on its way, the server closes the connection rather than read it, and
        says so in the head (RFC 9112 §9.6).
        """
        if self._keep_alive is None and not exchange.body.is_eof():
            self._keep_alive = False

    async def _start(self, request: BaseRequest) -> None:
        self._close_if_body_unread(request.exchange)
        coding = self._negotiate_coding(request)
        if coding is not None and self._body and not _status_has_no_body(self._status):
            await self._compress_body(coding)
            self._compression = False
        if not self._chunked:
            self._finish_headers(self._headers)
        await super()._start(request)

    async def _compress_body(self, coding: ContentCoding) -> None:
        body = self._body or b""
        wbits = 16 + zlib.MAX_WBITS if coding is ContentCoding.gzip else zlib.MAX_WBITS

        strategy = self._compression_strategy

        def compress() -> bytes:
            compressor = zlib.compressobj(wbits=wbits, strategy=strategy)
            return compressor.compress(body) + compressor.flush()

        limit = self._zlib_executor_size
        if limit is not None and len(body) > limit:
            loop = asyncio.get_running_loop()
            self._body = await loop.run_in_executor(self._zlib_executor, compress)
        else:
            self._body = compress()
        self._headers["Content-Encoding"] = coding.value
        self._headers.add("Vary", "Accept-Encoding")
        self._headers["Content-Length"] = str(len(self._body))

    async def write_eof(self, data: bytes = b"") -> None:
        if self._eof_sent:
            return
        if self._exchange is None:
            raise RuntimeError("response has not been started")
        if self._chunked or self._compressor is not None:
            await super().write_eof((self._body or b"") + data)
            return
        body = self._body or b""
        self._body_length = len(body)
        exchange = self._exchange
        if body and not _status_has_no_body(self._status):
            exchange.write(body)
        exchange.write_eof(data)
        self._eof_sent = True


def _negotiate(accept: str) -> ContentCoding | None:
    """The coding to use for an ``Accept-Encoding`` value (RFC 9110 §12.5.3), or None.

    The coding of highest weight among deflate and gzip wins, deflate on a tie (aiohttp's
    order); ``*`` stands for codings not listed; ``q=0`` means "not acceptable".
    """
    if not accept:
        return None
    weights: dict[str, float] = {}
    for item in accept.lower().split(","):
        name, _, params = item.partition(";")
        name = name.strip()
        if not name:
            continue
        weight = 1.0
        for param in params.split(";"):
            key, _, value = param.partition("=")
            if key.strip() == "q":
                try:
                    weight = float(value.strip())
                except ValueError:
                    weight = 0.0
        weights[name] = weight
    best: ContentCoding | None = None
    best_weight = 0.0
    for coding in (ContentCoding.deflate, ContentCoding.gzip):
        weight = weights.get(coding.value, weights.get("*", 0.0))
        if weight > best_weight:
            best, best_weight = coding, weight
    return best


def json_response(
    data: Any = _SENTINEL,
    *,
    text: str | None = None,
    body: bytes | None = None,
    status: int = 200,
    reason: str | None = None,
    headers: Mapping[str, str] | None = None,
    content_type: str = "application/json",
    dumps: Callable[[Any], str] = json.dumps,
) -> Response:
    """A `Response` with ``data`` serialized as JSON.

    Raises:
        ValueError: ``data`` is given together with ``text`` or ``body``.
    """
    if data is not _SENTINEL:
        if text or body:
            raise ValueError("only one of data, text, or body should be specified")
        text = dumps(data)
    return Response(
        text=text,
        body=body,
        status=status,
        reason=reason,
        headers=headers,
        content_type=content_type,
    )
