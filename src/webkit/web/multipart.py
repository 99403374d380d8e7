"""Streaming reader for ``multipart/*`` bodies (RFC 7578 form-data, RFC 2046 mixed).

`MultipartReader` walks the parts of a body as they arrive; each part is a `BodyPartReader` (or a
nested `MultipartReader` for a ``multipart/*`` part) whose data is streamed: the reader looks for
the next delimiter (``CRLF "--" boundary``) in a window of at most one chunk plus the delimiter's
length, so memory stays bounded however large a part is.

The API follows ``aiohttp.multipart``'s reader. Malformed input raises `MultipartError`, a
`ValueError` that the web layer answers with 400.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import json
import zlib
from collections.abc import AsyncIterator, Mapping
from functools import cached_property
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, unquote_to_bytes

from multidict import CIMultiDict, CIMultiDictProxy

from webkit.http.body import BodyStream

__all__ = [
    "BodyPartReader",
    "MultipartError",
    "MultipartReader",
    "content_disposition_filename",
    "parse_content_disposition",
]

#: Largest header block of one part, in bytes (line terminators included).
MAX_HEAD_SIZE = 8192
#: Most header lines in one part.
MAX_HEADERS = 100
#: Longest run of transport padding (spaces, tabs) accepted after a boundary.
_MAX_PADDING = 64
#: Bytes after ``CRLF--boundary`` needed to tell a delimiter line from data: ``--``, padding, CRLF.
_LOOKAHEAD = 2 + _MAX_PADDING + 2
#: The look-ahead buffer is refilled to at least this many bytes.
_MIN_BUFFER = 8192
#: Bytes skipped at a time while discarding a preamble, an epilogue or an unread part.
_SKIP_SIZE = 8192
#: Bytes read at a time by `BodyPartReader.read`.
_READ_SIZE = 64 * 1024

_TCHAR = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_TCHAR_BYTES = frozenset(map(ord, _TCHAR))
_BASE64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
_NOT_BASE64 = bytes(byte for byte in range(256) if byte not in _BASE64_ALPHABET)
_PADDING = b" \t"


class MultipartError(ValueError):
    """The multipart body is malformed or breaks a limit."""


# -- header parameter parsing -------------------------------------------------------------------


def _is_token(text: str) -> bool:
    return bool(text) and all(char in _TCHAR for char in text)


def _split_params(header: str) -> list[str] | None:
    """Split at ``;`` outside quoted strings; None if a quoted string is not closed."""
    items: list[str] = []
    start = 0
    quoted = False
    escaped = False
    for index, char in enumerate(header):
        if escaped:
            escaped = False
        elif quoted and char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == ";" and not quoted:
            items.append(header[start:index])
            start = index + 1
    if quoted:
        return None
    items.append(header[start:])
    return items


def _unquote(value: str) -> str:
    """Strip a quoted string's quotes and undo ``\\"`` and ``\\\\``.

    Other backslashes are kept: browsers send them unescaped in file names (WHATWG HTML's
    multipart/form-data encoding escapes only ``"``, CR and LF, as ``%22``, ``%0D``, ``%0A``).
    """
    if len(value) >= 2 and value[0] == value[-1] == '"':
        inner = value[1:-1]
        if "\\" not in inner:
            return inner
        out: list[str] = []
        index = 0
        while index < len(inner):
            char = inner[index]
            if char == "\\" and index + 1 < len(inner) and inner[index + 1] in '"\\':
                out.append(inner[index + 1])
                index += 2
            else:
                out.append(char)
                index += 1
        return "".join(out)
    return value


def _parse_media_type(header: str | None) -> tuple[str, str, dict[str, str]]:
    """``'multipart/mixed; boundary="x"'`` → ``('multipart', 'mixed', {'boundary': 'x'})``.

    A parameter given twice is dropped altogether: two readers of the same header must not be
    able to disagree on which one counts.
    """
    if not header:
        return "", "", {}
    items = _split_params(header)
    if items is None:
        return "", "", {}
    mtype, _, subtype = items[0].strip().lower().partition("/")
    params: dict[str, str] = {}
    repeated: set[str] = set()
    for item in items[1:]:
        key, sep, value = item.partition("=")
        key = key.strip().lower()
        if not sep or not _is_token(key):
            continue
        if key in params:
            repeated.add(key)
        params[key] = _unquote(value.strip())
    for key in repeated:
        del params[key]
    return mtype.strip(), subtype.strip(), params


def _decode_ext_value(value: str) -> str | None:
    """Decode an RFC 5987 ``charset'language'percent-encoded`` value; None if it is invalid."""
    value = _unquote(value)
    if value.count("'") < 2:
        return None
    charset, _, rest = value.partition("'")
    _, _, encoded = rest.partition("'")
    try:
        return unquote_to_bytes(encoded).decode(charset or "utf-8")
    except (LookupError, UnicodeDecodeError):
        return None


def parse_content_disposition(header: str | None) -> tuple[str | None, dict[str, str]]:
    """``'form-data; name="f"; filename="a.txt"'`` → ``('form-data', {'name': 'f', ...})``.

    The disposition type is lower-cased, as are parameter names; quoted values are unquoted.
    ``name*=charset'lang'value`` (RFC 5987/8187) is decoded and stored under ``name*``; RFC 2231
    continuations (``name*0``, ``name*1*``...) are kept as sent for
    `content_disposition_filename` to join. A missing or malformed header (bad type, unclosed
    quote, a parameter given twice) gives ``(None, {})``; a single malformed parameter is skipped.
    """
    if not header:
        return None, {}
    items = _split_params(header)
    if items is None:
        return None, {}
    disptype = items[0].strip()
    if not _is_token(disptype):
        return None, {}
    params: dict[str, str] = {}
    for item in items[1:]:
        key, sep, value = item.partition("=")
        key = key.strip().lower()
        value = value.strip()
        if not sep or not _is_token(key):
            continue
        if key in params:
            return None, {}
        base, star, index = key.partition("*")
        if not star:
            params[key] = _unquote(value)
        elif not index:
            # name*=charset'lang'value
            decoded = _decode_ext_value(value)
            if decoded is not None:
                params[key] = decoded
        elif index.removesuffix("*").isdigit() and base:
            # continuation: name*0, name*1*, ...
            params[key] = _unquote(value) if not index.endswith("*") else value
    return disptype.lower(), params


def content_disposition_filename(params: Mapping[str, str], name: str = "filename") -> str | None:
    """The ``name`` parameter from `parse_content_disposition`'s params.

    ``name*`` (RFC 5987) wins over RFC 2231 continuations, which win over plain ``name``.
    """
    if not params:
        return None
    extended = params.get(f"{name}*")
    if extended is not None:
        return extended
    joined = _join_continuations(params, name)
    if joined is not None:
        return joined
    return params.get(name)


def _join_continuations(params: Mapping[str, str], name: str) -> str | None:
    segments: list[tuple[str, bool]] = []
    while True:
        number = len(segments)
        if f"{name}*{number}*" in params:
            segments.append((params[f"{name}*{number}*"], True))
        elif f"{name}*{number}" in params:
            segments.append((params[f"{name}*{number}"], False))
        else:
            break
    if not segments:
        return None
    charset = "utf-8"
    raw = bytearray()
    try:
        for number, (value, encoded) in enumerate(segments):
            if encoded:
                text = value
                if number == 0:
                    if text.count("'") < 2:
                        return None
                    charset, _, rest = text.partition("'")
                    _, _, text = rest.partition("'")
                    charset = charset or "utf-8"
                    codecs.lookup(charset)
                raw += unquote_to_bytes(text)
            else:
                raw += value.encode(charset)
        return raw.decode(charset)
    except (LookupError, UnicodeError):
        return None


# -- the shared byte source ---------------------------------------------------------------------


class _Hit(NamedTuple):
    """A delimiter line found in the buffer."""

    start: int  # index of the CRLF that opens the delimiter
    end: int  # index past the delimiter line (past the CRLF; for the close delimiter, before it)
    close: bool  # ``--boundary--``


_NOT, _MORE, _PART, _CLOSE = range(4)


def _classify(buf: bytearray, pos: int, eof: bool) -> tuple[int, int]:
    """What follows ``CRLF--boundary`` ending at ``pos``: (kind, end of the delimiter line)."""
    size = len(buf)
    index = pos
    close = False
    if size - index < 2:
        if index == size or buf[index] == 0x2D:  # nothing yet, or a lone "-"
            return (_NOT if eof else _MORE), 0
    elif buf[index : index + 2] == b"--":
        close = True
        index += 2
    pad_start = index
    while index < size and buf[index] in _PADDING:
        index += 1
        if index - pad_start > _MAX_PADDING:
            return _NOT, 0
    if index == size:
        if eof:
            return (_CLOSE, index) if close else (_NOT, 0)
        return _MORE, 0
    if buf[index] != 0x0D:  # CR
        return _NOT, 0
    if index + 1 == size:
        return (_NOT if eof else _MORE), 0
    if buf[index + 1] != 0x0A:  # LF
        return _NOT, 0
    return (_CLOSE, index) if close else (_PART, index + 2)


class _Source:
    """A body stream with a small look-ahead buffer, shared by a reader and all its parts.

    The buffer holds at most the bytes a caller asked to look at plus one delimiter and its
    look-ahead (or 8 KiB if that is more); it is filled with ``read(n)`` calls for just the
    missing bytes.
    """

    __slots__ = ("buf", "content", "eof")

    def __init__(self, content: BodyStream, initial: bytes = b"") -> None:
        self.content = content
        self.buf = bytearray(initial)
        self.eof = False

    async def more(self, n: int) -> bool:
        """Append up to ``n`` (at least 1) more bytes; False at the end of the body."""
        if self.eof:
            return False
        data = await self.content.read(max(n, 1))
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def take(self, n: int) -> bytes:
        data = bytes(self.buf[:n])
        del self.buf[:n]
        return data

    def skip(self, n: int) -> None:
        del self.buf[:n]

    async def scan(self, delim: bytes, want: int) -> tuple[int, _Hit | None]:
        """Find the next delimiter line, or at least ``want`` bytes that precede any.

        Returns ``(n, hit)``: the first ``n`` buffered bytes are data; ``hit`` is the delimiter
        that follows them, or None if more data may follow (then ``n >= want``).

        Raises:
            MultipartError: the body ended before a delimiter line.
        """
        buf = self.buf
        dlen = len(delim)
        search = 0
        while True:
            index = buf.find(delim, search)
            while index >= 0:
                kind, end = _classify(buf, index + dlen, self.eof)
                if kind == _MORE:
                    break
                if kind != _NOT:
                    return index, _Hit(index, end, kind == _CLOSE)
                index = buf.find(delim, index + 1)
            # Without a candidate, a delimiter may still start in the last ``dlen - 1`` bytes.
            safe = index if index >= 0 else max(len(buf) - dlen + 1, search)
            search = safe
            if safe >= want:
                return safe, None
            if self.eof:
                raise MultipartError("the body ended before the closing boundary")
            # Read what is missing, but top the buffer up to a block at least: many small
            # parts should not cost one stream read each.
            await self.more(max(want + dlen + _LOOKAHEAD, _MIN_BUFFER) - len(buf))


def _find_header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is not None:
        return value
    lowered = name.lower()
    for key, item in headers.items():
        if key.lower() == lowered:
            return item
    return None


def _check_boundary(boundary: str) -> bytes:
    """RFC 2046 §5.1.1: 1 to 70 characters, not ending in a space (any printable ASCII here)."""
    if not 1 <= len(boundary) <= 70:
        raise MultipartError(f"invalid multipart boundary {boundary!r}: must be 1 to 70 characters")
    if not boundary.isascii() or not boundary.isprintable() or boundary.endswith(" "):
        raise MultipartError(f"invalid multipart boundary {boundary!r}")
    return boundary.encode("ascii")


# -- body parts ---------------------------------------------------------------------------------


class BodyPartReader:
    """One part of a multipart body: its headers and a stream of its data.

    Args:
        boundary: ``b"--" + boundary``, the dash-boundary that ends this part.
        headers: the part's headers.
        content: the body stream, positioned just after the blank line that ends the headers.
        subtype: the enclosing multipart subtype; in ``form-data``, ``Content-Encoding`` is
            ignored (RFC 7578 §4.8).
        default_charset: the charset for text when the part's ``Content-Type`` names none.
    """

    chunk_size = 8192

    def __init__(
        self,
        boundary: bytes,
        headers: CIMultiDictProxy[str] | Mapping[str, str],
        content: BodyStream,
        *,
        subtype: str = "mixed",
        default_charset: str | None = None,
    ) -> None:
        if not isinstance(headers, CIMultiDictProxy):
            headers = CIMultiDictProxy(CIMultiDict(headers))
        self.headers: CIMultiDictProxy[str] = headers
        self._boundary = boundary
        self._delim = b"\r\n" + boundary
        self._content = content
        # The body starts with the CRLF that ends the head: that CRLF may be the start of the
        # delimiter of an empty part.
        self._source = _Source(content, b"\r\n")
        self._subtype = subtype
        self._default_charset = default_charset
        self._started = False
        self._at_eof = False

    def __repr__(self) -> str:
        return f"<BodyPartReader name={self.name!r} filename={self.filename!r}>"

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self

    async def __anext__(self) -> bytes:
        chunk = await self.read_chunk(self.chunk_size)
        if not chunk:
            raise StopAsyncIteration
        return chunk

    async def next(self) -> bytes | None:
        """The rest of the part's data (aiohttp's contract), or None when none is left."""
        data = await self.read()
        return bytes(data) if data else None

    def at_eof(self) -> bool:
        """True once the part's data has all been read (or skipped)."""
        return self._at_eof

    async def _start(self) -> None:
        """Drop the CRLF that opens the body, or find that the part is empty."""
        source = self._source
        _, hit = await source.scan(self._delim, 1)
        if hit is not None and hit.start == 0:
            self._at_eof = True
        elif source.buf[:2] != b"\r\n":
            raise MultipartError("a part's headers do not end with an empty line")
        else:
            source.skip(2)
        self._started = True

    async def read_chunk(self, size: int = chunk_size) -> bytes:
        """Up to ``size`` bytes of the part's data (still encoded); ``b""`` at the end.

        With ``Content-Transfer-Encoding: base64`` a chunk holds whole 4-character groups, and
        with ``quoted-printable`` it does not end inside an ``=XX`` escape, so that each chunk can
        be passed to `decode` on its own. (A chunk is a few bytes longer than ``size`` only when
        ``size`` is too small to hold one such group.)
        """
        if size < 1:
            raise ValueError(f"chunk size must be positive, got {size}")
        if not self._started:
            await self._start()
        if self._at_eof:
            return b""
        source = self._source
        encoding = self._transfer_encoding()
        want = size
        while True:
            safe, hit = await source.scan(self._delim, want)
            if hit is not None and safe <= want:
                self._at_eof = True
                return source.take(safe)
            count = min(safe, want)
            if encoding == "base64":
                aligned = _align_base64(source.buf, count)
            elif encoding == "quoted-printable":
                aligned = _align_qp(source.buf, count)
            else:
                aligned = count
            if aligned:
                return source.take(aligned)
            want = count + 4

    async def readline(self) -> bytes:
        """The next line of the part's data, with its line end; ``b""`` at the end.

        The CRLF before the closing delimiter belongs to the delimiter, so the last line comes
        without it.
        """
        if not self._started:
            await self._start()
        if self._at_eof:
            return b""
        source = self._source
        want = self.chunk_size
        looked = 0
        while True:
            safe, hit = await source.scan(self._delim, want)
            newline = source.buf.find(b"\n", looked, safe)
            if newline >= 0:
                return source.take(newline + 1)
            if hit is not None:
                self._at_eof = True
                return source.take(safe)
            looked = safe
            want = safe + self.chunk_size

    async def read(self, *, decode: bool = False) -> bytearray:
        """The rest of the part's data; ``decode=True`` undoes its encodings (see `decode`)."""
        data = bytearray()
        while not self._at_eof:
            data += await self.read_chunk(_READ_SIZE)
        if decode and self._needs_decoding():
            return bytearray(self.decode(data))
        return data

    async def release(self) -> None:
        """Skip the rest of the part's data."""
        if not self._started:
            await self._start()
        source = self._source
        while not self._at_eof:
            safe, hit = await source.scan(self._delim, _SKIP_SIZE)
            source.skip(safe)
            if hit is not None:
                self._at_eof = True

    async def text(self, *, encoding: str | None = None) -> str:
        """The part's data decoded as text (charset from ``Content-Type``, else UTF-8)."""
        data = await self.read(decode=True)
        return _decode_text(data, encoding or self.get_charset(default="utf-8"))

    async def json(self, *, encoding: str | None = None) -> Any:
        """The part's data parsed as JSON; None if the part is empty."""
        data = await self.read(decode=True)
        if not data:
            return None
        return json.loads(_decode_text(data, encoding or self.get_charset(default="utf-8")))

    async def form(self, *, encoding: str | None = None) -> list[tuple[str, str]]:
        """The part's data parsed as ``application/x-www-form-urlencoded`` pairs."""
        data = await self.read(decode=True)
        if not data:
            return []
        charset = encoding or self.get_charset(default="utf-8")
        text = _decode_text(data.rstrip(), charset)
        return parse_qsl(text, keep_blank_values=True, encoding=charset)

    def _transfer_encoding(self) -> str:
        return self.headers.get("Content-Transfer-Encoding", "").strip().lower()

    def _content_encoding(self) -> str:
        if self._subtype == "form-data":
            return ""
        return self.headers.get("Content-Encoding", "").strip().lower()

    def _needs_decoding(self) -> bool:
        return self._transfer_encoding() not in ("", "binary", "8bit", "7bit") or (
            self._content_encoding() not in ("", "identity")
        )

    def decode(self, data: bytes | bytearray) -> bytes:
        """Undo ``Content-Transfer-Encoding`` then ``Content-Encoding`` (gzip, deflate).

        Raises:
            MultipartError: an unknown encoding, or data that is not validly encoded.
        """
        transfer = self._transfer_encoding()
        result: bytes
        if transfer == "base64":
            try:
                result = base64.b64decode(data)
            except binascii.Error as exc:
                raise MultipartError(f"invalid base64 data in part: {exc}") from None
        elif transfer == "quoted-printable":
            result = binascii.a2b_qp(data)
        elif transfer in ("", "binary", "8bit", "7bit"):
            result = bytes(data)
        else:
            raise MultipartError(f"unknown Content-Transfer-Encoding: {transfer!r}")
        encoding = self._content_encoding()
        if encoding in ("", "identity"):
            return result
        if encoding in ("gzip", "x-gzip"):
            return _inflate(result, 16 + zlib.MAX_WBITS)
        if encoding == "deflate":
            try:
                return _inflate(result, zlib.MAX_WBITS)
            except MultipartError:
                return _inflate(result, -zlib.MAX_WBITS)
        raise MultipartError(f"unknown Content-Encoding: {encoding!r}")

    def get_charset(self, default: str) -> str:
        """The ``charset`` of the part's ``Content-Type``, else the form's, else ``default``."""
        _, _, params = _parse_media_type(self.headers.get("Content-Type"))
        return params.get("charset") or self._default_charset or default

    @cached_property
    def name(self) -> str | None:
        """The ``name`` parameter of ``Content-Disposition``."""
        _, params = parse_content_disposition(self.headers.get("Content-Disposition"))
        return content_disposition_filename(params, "name")

    @cached_property
    def filename(self) -> str | None:
        """The ``filename`` (or ``filename*``) parameter of ``Content-Disposition``."""
        _, params = parse_content_disposition(self.headers.get("Content-Disposition"))
        return content_disposition_filename(params, "filename")


def _decode_text(data: bytes | bytearray, charset: str) -> str:
    try:
        return data.decode(charset)
    except LookupError:
        raise MultipartError(f"unknown charset {charset!r}") from None


def _inflate(data: bytes, wbits: int) -> bytes:
    decompressor = zlib.decompressobj(wbits)
    try:
        result = decompressor.decompress(data) + decompressor.flush()
    except zlib.error as exc:
        raise MultipartError(f"invalid compressed data in part: {exc}") from None
    if not decompressor.eof:
        raise MultipartError("compressed data in part is truncated")
    return result


def _align_base64(buf: bytearray, count: int) -> int:
    """The length of ``buf[:count]`` cut to whole base64 quartets (0 if none fits)."""
    chunk = bytes(buf[:count])
    extra = len(chunk.translate(None, _NOT_BASE64)) % 4
    cut = count
    while extra:
        cut -= 1
        if chunk[cut] in _BASE64_ALPHABET:
            extra -= 1
    return cut


def _align_qp(buf: bytearray, count: int) -> int:
    """The length of ``buf[:count]`` cut before a partial ``=XX`` or ``=CRLF`` (0 if none fits)."""
    cut = buf.rfind(b"=", max(count - 2, 0), count)
    return count if cut < 0 else cut


# -- the multipart body -------------------------------------------------------------------------


class MultipartReader:
    """Reads the parts of a ``multipart/*`` body one after another.

    Args:
        headers: the message headers; ``Content-Type`` must be ``multipart/*`` with a
            ``boundary``.
        content: the body stream.
        max_head_size: largest header block of one part, in bytes.
        max_headers: most header lines in one part.

    Raises:
        MultipartError: no usable boundary in ``Content-Type``.
    """

    #: Reader for nested ``multipart/*`` parts; None means ``type(self)``.
    multipart_reader_cls: type[MultipartReader] | None = None
    #: Reader for other parts.
    part_reader_cls: type[BodyPartReader] = BodyPartReader

    def __init__(
        self,
        headers: Mapping[str, str],
        content: BodyStream,
        *,
        max_head_size: int = MAX_HEAD_SIZE,
        max_headers: int = MAX_HEADERS,
    ) -> None:
        ctype = _find_header(headers, "Content-Type")
        mtype, subtype, params = _parse_media_type(ctype)
        if mtype != "multipart":
            raise MultipartError(f"multipart/* content type expected, got {ctype!r}")
        boundary = params.get("boundary")
        if boundary is None:
            raise MultipartError(f"boundary missing for Content-Type: {ctype}")
        self.headers = headers
        self._boundary = b"--" + _check_boundary(boundary)
        self._delim = b"\r\n" + self._boundary
        self._subtype = subtype
        self._content = content
        # A virtual CRLF lets the first boundary line be found as ``CRLF--boundary``.
        self._source = _Source(content, b"\r\n")
        self._max_head_size = max_head_size
        self._max_headers = max_headers
        self._default_charset: str | None = None
        self._last_part: MultipartReader | BodyPartReader | None = None
        self._parts = 0
        self._at_eof = False

    def __repr__(self) -> str:
        return f"<MultipartReader {self._subtype} boundary={self._boundary[2:]!r}>"

    def __aiter__(self) -> AsyncIterator[MultipartReader | BodyPartReader]:
        return self

    async def __anext__(self) -> MultipartReader | BodyPartReader:
        part = await self.next()
        if part is None:
            raise StopAsyncIteration
        return part

    def at_eof(self) -> bool:
        """True once the closing boundary has been read."""
        return self._at_eof

    async def next(self) -> MultipartReader | BodyPartReader | None:
        """The next part, or None after the last one.

        Whatever is left unread of the previous part is skipped. In ``form-data``, a first part
        named ``_charset_`` sets the default charset of the others (RFC 7578 §4.6) and is not
        returned.

        Raises:
            MultipartError: the body is malformed.
        """
        while not self._at_eof:
            self._abandon_last()
            if await self._skip_to_boundary():
                self._at_eof = True
                break
            headers = await self._read_headers()
            part = self._part_for(headers)
            self._parts += 1
            self._last_part = part
            if (
                self._parts == 1
                and self._subtype == "form-data"
                and isinstance(part, BodyPartReader)
                and part.name == "_charset_"
            ):
                await self._read_charset(part)
                continue
            return part
        return None

    async def release(self) -> None:
        """Skip all remaining parts, up to and including the closing boundary."""
        while not self._at_eof:
            self._abandon_last()
            if await self._skip_to_boundary():
                self._at_eof = True

    def _abandon_last(self) -> None:
        """Mark the previous part finished: its unread data will be skipped by this reader."""
        part = self._last_part
        self._last_part = None
        if isinstance(part, BodyPartReader):
            part._started = True
            part._at_eof = True
        elif part is not None:
            part._at_eof = True
            part._abandon_last()

    async def _skip_to_boundary(self) -> bool:
        """Skip to past the next delimiter line; True if it was the closing one."""
        source = self._source
        while True:
            safe, hit = await source.scan(self._delim, _SKIP_SIZE)
            if hit is not None:
                source.skip(hit.end)
                return hit.close
            source.skip(safe)

    async def _read_headers(self) -> CIMultiDictProxy[str]:
        """Parse a part's header lines; leaves the CRLF of the blank line that ends them."""
        source = self._source
        limit = self._max_head_size
        lines: list[bytes] = []
        pos = 0
        look = 0
        while True:
            buf = source.buf
            end = buf.find(b"\r\n", look)
            if end < 0:
                if len(buf) + 1 > limit:
                    raise MultipartError(f"part headers larger than {limit} bytes")
                look = max(len(buf) - 1, pos)
                if not await source.more(limit + 4 - len(buf)):
                    raise MultipartError("the body ended inside a part's headers")
                continue
            if end == pos:
                break
            lines.append(bytes(buf[pos:end]))
            pos = look = end + 2
            if pos > limit:
                raise MultipartError(f"part headers larger than {limit} bytes")
            if len(lines) > self._max_headers:
                raise MultipartError(f"more than {self._max_headers} header lines in a part")
        source.skip(pos)
        return CIMultiDictProxy(_parse_header_lines(lines))

    def _part_for(self, headers: CIMultiDictProxy[str]) -> MultipartReader | BodyPartReader:
        mtype, _, _ = _parse_media_type(headers.get("Content-Type"))
        if mtype == "multipart":
            cls = self.multipart_reader_cls or type(self)
            reader = cls(
                headers,
                self._content,
                max_head_size=self._max_head_size,
                max_headers=self._max_headers,
            )
            reader._source = self._source
            return reader
        part = self.part_reader_cls(
            self._boundary,
            headers,
            self._content,
            subtype=self._subtype,
            default_charset=self._default_charset,
        )
        part._source = self._source
        return part

    async def _read_charset(self, part: BodyPartReader) -> None:
        value = bytearray()
        while not part.at_eof():
            value += await part.read_chunk(64)
            if len(value) > 64:
                raise MultipartError("invalid _charset_ field")
        charset = value.decode("ascii", "replace").strip()
        try:
            codecs.lookup(charset)
        except LookupError:
            raise MultipartError(f"unknown charset in _charset_ field: {charset!r}") from None
        self._default_charset = charset


def _parse_header_lines(lines: list[bytes]) -> CIMultiDict[str]:
    """Header lines into a multidict; folded lines (leading space or tab) are unfolded."""
    names: list[str] = []
    values: list[str] = []
    for line in lines:
        if b"\n" in line or b"\r" in line or b"\x00" in line:
            raise MultipartError(f"invalid part header line {line[:80]!r}")
        if line[:1] in (b" ", b"\t"):
            if not names:
                raise MultipartError(f"invalid part header line {line[:80]!r}")
            values[-1] = f"{values[-1]} {_header_text(line.strip(_PADDING))}".strip()
            continue
        name, sep, value = line.partition(b":")
        if not sep or not name or any(byte not in _TCHAR_BYTES for byte in name):
            raise MultipartError(f"invalid part header line {line[:80]!r}")
        names.append(name.decode("ascii"))
        values.append(_header_text(value.strip(_PADDING)))
    return CIMultiDict(zip(names, values, strict=True))


def _header_text(value: bytes) -> str:
    """Header bytes as text: UTF-8 as browsers send it, else Latin-1."""
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value.decode("latin-1")
