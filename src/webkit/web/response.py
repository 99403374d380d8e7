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
        self.set_status(status, reason)
        self._cookies: SimpleCookie | None = None
        self._req: BaseRequest | None = None
        self._exchange: Exchange | None = None
        self._eof_sent = False
        self._chunked = False
        self._compression = False
        self._compression_force: ContentCoding | None = None
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

    def enable_chunked_encoding(self) -> None:
        """Send the body with chunked transfer coding.

        Raises:
            RuntimeError: a Content-Length is already set.
        """
        if "Content-Length" in self._headers:
            raise RuntimeError("cannot enable chunked encoding when a Content-Length is set")
        self._chunked = True

    @property
    def compression(self) -> bool:
        return self._compression

    def enable_compression(self, force: ContentCoding | bool | None = None) -> None:
        """Compress the body with the best coding the client accepts (or ``force`` one)."""
        if isinstance(force, bool):
            force = ContentCoding.deflate if force else ContentCoding.identity
        self._compression = True
        self._compression_force = force

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
    ) -> None:
        """Add a ``Set-Cookie`` (RFC 6265)."""
        cookies = self.cookies
        old = cookies.get(name)
        if old is not None and old.coded_value == "":
            cookies.pop(name, None)
        cookies[name] = value
        morsel: Morsel[str] = cookies[name]
        if expires is not None:
            morsel["expires"] = expires
        elif morsel.get("expires") == "Thu, 01 Jan 1970 00:00:00 GMT":
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

    def del_cookie(self, name: str, *, domain: str | None = None, path: str = "/") -> None:
        """Ask the client to delete cookie ``name`` (an expired, empty cookie)."""
        self.cookies.pop(name, None)
        self.set_cookie(
            name,
            "",
            max_age=0,
            expires="Thu, 01 Jan 1970 00:00:00 GMT",
            domain=domain,
            path=path,
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
        if value is None:
            self._headers.pop("ETag", None)
            return
        if isinstance(value, str):
            value = ETag(value)
        if value.value == "*" and not value.is_weak:
            self._headers["ETag"] = "*"
            return
        if '"' in value.value or not value.value.isprintable():
            raise ValueError(f"invalid ETag value {value.value!r}")
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
        accept = request.headers.get("Accept-Encoding", "").lower()
        for coding in (ContentCoding.deflate, ContentCoding.gzip):
            if coding.value in accept:
                return coding
        return None

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
        self._compressor = zlib.compressobj(wbits=wbits)
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
        body: bytes | bytearray | memoryview | None = None,
        status: int = 200,
        reason: str | None = None,
        text: str | None = None,
        headers: Mapping[str, str] | None = None,
        content_type: str | None = None,
        charset: str | None = None,
        zlib_executor_size: int | None = None,
        zlib_executor: Executor | None = None,
    ) -> None:
        if body is not None and text is not None:
            raise ValueError("body and text are not allowed together")
        super().__init__(status=status, reason=reason, headers=headers)
        has_ctype = headers is not None and "Content-Type" in self._headers
        if has_ctype and (content_type is not None or charset is not None):
            raise ValueError(
                "passing both Content-Type header and content_type or charset params is forbidden"
            )
        if text is not None:
            if not isinstance(text, str):
                raise TypeError(f"text argument must be str, got {type(text).__name__}")
            if not has_ctype:
                content_type = content_type or "text/plain"
                charset = charset or "utf-8"
                self._headers["Content-Type"] = f"{content_type}; charset={charset}"
            else:
                charset = self.charset or "utf-8"
            self._body: bytes | None = text.encode(charset)
        else:
            if not has_ctype and (content_type is not None or charset is not None):
                ctype = content_type or "application/octet-stream"
                self._headers["Content-Type"] = ctype + (f"; charset={charset}" if charset else "")
            self.body = body
        self._zlib_executor_size = zlib_executor_size
        self._zlib_executor = zlib_executor

    @property
    def body(self) -> bytes | None:
        return self._body

    @body.setter
    def body(self, value: bytes | bytearray | memoryview | None) -> None:
        if value is None:
            self._body = None
        elif isinstance(value, (bytes, bytearray, memoryview)):
            self._body = bytes(value)
        else:
            raise TypeError(f"body must be bytes-like or None, got {type(value).__name__}")

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

    def _can_send_now(self, request: BaseRequest) -> bool:
        return (
            not self._compression
            and not self._chunked
            and not getattr(request, "_has_prepare_hook", False)
        )

    def _send_now(self, request: BaseRequest) -> None:
        """Send head and body in one write: the path every plain ``Response`` takes."""
        self._req = request
        exchange = request.exchange
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

    async def _start(self, request: BaseRequest) -> None:
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

        def compress() -> bytes:
            compressor = zlib.compressobj(wbits=wbits)
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
