"""FileResponse: a file from disk, with conditional requests, ranges and zero-copy sending."""

from __future__ import annotations

import asyncio
import errno
import mimetypes
import os
import stat
import weakref
from collections.abc import Mapping
from pathlib import Path
from typing import IO, TYPE_CHECKING

from webkit.web.exceptions import HTTPForbidden, HTTPNotFound
from webkit.web.response import StreamResponse

if TYPE_CHECKING:
    from webkit.web.request import BaseRequest

__all__ = ["FileResponse"]

# Files up to this size are read in the same executor hop as the open and sent in one write;
# larger ones (and ranges, HEAD and conditional requests) go out with loop.sendfile.
_INLINE_LIMIT = 256 * 1024
# Precompressed siblings, in order of preference.
_ENCODINGS = (("br", ".br"), ("gzip", ".gz"))
# A file that *is* compressed data, served as itself: its own media type, no
# Content-Encoding (a client would otherwise unpack it on the fly).
_COMPRESSED_TYPES = {
    "gzip": "application/gzip",
    "br": "application/x-brotli",
    "bzip2": "application/x-bzip2",
    "xz": "application/x-xz",
    "compress": "application/x-compress",
}
_TEXT_TYPES = frozenset(
    ("application/javascript", "application/json", "application/xml", "image/svg+xml")
)
# O_NONBLOCK keeps open() of a FIFO swapped in after the checks from hanging an executor thread.
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
_OPEN_FLAGS |= getattr(os, "O_BINARY", 0)


class _Opened:
    """The representation chosen in the executor hop: an open file or its whole content."""

    __slots__ = ("content", "encoding", "file", "path", "requested", "st", "varies")

    def __init__(
        self,
        requested: Path,
        path: Path,
        st: os.stat_result,
        file: IO[bytes] | None,
        content: bytes | None,
        encoding: str | None,
        varies: bool,
    ) -> None:
        self.varies = varies  # precompressed siblings exist: the choice varies by client
        self.requested = requested  # the name asked for: it gives the media type
        self.path = path  # the file opened: ``requested`` or a precompressed sibling
        self.st = st
        self.file = file
        self.content = content
        self.encoding = encoding


def accepted_codings(header: str) -> set[str]:
    """The content codings an ``Accept-Encoding`` value allows (RFC 9110 §12.5.3).

    A coding with ``q=0`` is refused, also when ``*`` would allow it; ``*`` with q > 0 allows
    the codings not named.
    """
    allowed: set[str] = set()
    refused: set[str] = set()
    star = False
    for item in header.split(","):
        coding, _, params = item.partition(";")
        coding = coding.strip().lower()
        if not coding:
            continue
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value.strip())
                except ValueError:
                    quality = 0.0
        if coding == "*":
            star = quality > 0
        elif quality > 0:
            allowed.add(coding)
        else:
            refused.add(coding)
    if star:
        allowed.update(c for c, _ in _ENCODINGS if c not in refused)
    return allowed - refused


def _open_regular(path: Path) -> tuple[IO[bytes], os.stat_result] | None:
    """Open ``path`` and fstat the open file; None when it is not a regular file."""
    fd = os.open(path, _OPEN_FLAGS)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            os.close(fd)
            return None
        if _OPEN_FLAGS & getattr(os, "O_NONBLOCK", 0):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb"), st
    except BaseException:
        try:
            os.close(fd)
        except OSError:
            pass
        raise


def open_representation(
    path: Path, accept_encoding: str, want_content: bool, root: Path | None = None
) -> _Opened:
    """Blocking part of a file request, for one executor hop: pick the variant, open, read.

    With ``root`` set, a precompressed sibling is used only when its real path stays under
    ``root`` (a ``.gz`` symlink must not leak a file from outside a static directory).

    Raises:
        IsADirectoryError: ``path`` is a directory.
        FileNotFoundError: ``path`` is missing or not a regular file.
        OSError: ``path`` cannot be opened (PermissionError and others).
    """
    codings = accepted_codings(accept_encoding) if accept_encoding else set()
    varies = False  # whether another Accept-Encoding could get another file
    for coding, suffix in _ENCODINGS:
        sibling = path.with_name(path.name + suffix)
        if coding not in codings:
            varies = varies or _usable_sibling(sibling, root)
            continue
        try:
            found = _open_regular(sibling)  # fails fast in the common case: no sibling
        except OSError:
            continue
        if found is not None and not _usable_sibling(sibling, root):
            found[0].close()  # a symlink out of the static root: never served
            found = None
        if found is not None:
            return _finish(path, sibling, found, want_content, coding, True)
    found = _open_regular(path)
    if found is None:
        if path.is_dir():
            raise IsADirectoryError(errno.EISDIR, "is a directory", str(path))
        raise FileNotFoundError(errno.ENOENT, "not a regular file", str(path))
    return _finish(path, path, found, want_content, None, varies)


def _inside(path: Path, root: Path | None) -> bool:
    return root is None or path.resolve(strict=True).is_relative_to(root)


def _usable_sibling(sibling: Path, root: Path | None) -> bool:
    try:
        return sibling.is_file() and _inside(sibling, root)
    except OSError:
        return False


def _finish(
    requested: Path,
    path: Path,
    found: tuple[IO[bytes], os.stat_result],
    want_content: bool,
    coding: str | None,
    varies: bool,
) -> _Opened:
    file, st = found
    if want_content and st.st_size <= _INLINE_LIMIT:
        try:
            content = file.read()
        finally:
            file.close()
        return _Opened(requested, path, st, None, content, coding, varies)
    return _Opened(requested, path, st, file, None, coding, varies)


def http_error_for(exc: OSError) -> HTTPForbidden | HTTPNotFound:
    """The answer to a file that cannot be opened: 403 for permissions, else 404."""
    if isinstance(exc, PermissionError) or exc.errno in (errno.EACCES, errno.EPERM):
        return HTTPForbidden()
    return HTTPNotFound()


class FileResponse(StreamResponse):
    """Serve the file at ``path``.

    Answers conditional requests (``If-None-Match``/``If-Modified-Since`` → 304,
    ``If-Match``/``If-Unmodified-Since`` → 412), single ``Range`` requests (206/416; several
    ranges get the whole file) and ``HEAD``; serves a ``.br``/``.gz`` sibling when the client
    accepts it. Files go out with ``loop.sendfile`` where the transport allows it (small
    files in one write). All blocking work is one executor hop.

    A file that is missing, not a regular file or a directory answers 404; one that cannot
    be opened for lack of permission answers 403.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        chunk_size: int = 256 * 1024,
        status: int = 200,
        reason: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(status=status, reason=reason, headers=headers)
        self._path = Path(path)
        self._chunk_size = chunk_size
        self._opened: _Opened | None = None

    @property
    def path(self) -> Path:
        """The file this response serves (a precompressed sibling may be sent instead)."""
        return self._path

    def _use_opened(self, opened: _Opened) -> None:
        """Take a representation opened by the caller's executor hop (the static handler)."""
        self._opened = opened
        if opened.file is not None:
            # Closed after sending; this only matters when the response is never prepared.
            weakref.finalize(self, opened.file.close)

    @staticmethod
    def wants_content(request: BaseRequest) -> bool:
        """Whether reading a small file whole in the executor hop is worth it."""
        headers = request.headers
        return request.method == "GET" and not (
            "Range" in headers or "If-None-Match" in headers or "If-Modified-Since" in headers
        )

    async def prepare(self, request: BaseRequest) -> None:
        if self.prepared:
            return
        opened = self._opened
        if opened is None:
            loop = asyncio.get_running_loop()
            accept = request.headers.get("Accept-Encoding", "")
            try:
                opened = await loop.run_in_executor(
                    None, open_representation, self._path, accept, self.wants_content(request)
                )
            except OSError as exc:
                # Prepared after the handler returned: answer here (as aiohttp does), since
                # an HTTPException raised from prepare() would become a 500.
                await self._answer_error(request, http_error_for(exc))
                return
        self._opened = None
        try:
            await self._send(request, opened)
        finally:
            if opened.file is not None:
                opened.file.close()

    async def _send(self, request: BaseRequest, opened: _Opened) -> None:
        from webkit.web import conditions

        st = opened.st
        # Strong validator of this representation: a precompressed variant has its own.
        etag_value = f"{st.st_mtime_ns:x}-{st.st_size:x}"
        if opened.encoding is not None:
            etag_value += f"-{opened.encoding}"
        self.etag = etag_value
        self.last_modified = st.st_mtime
        self._set_content_type(opened)
        verdict = conditions.evaluate(request, etag_value, st.st_mtime)
        if verdict is not None:
            await self._answer_empty(request, verdict)
            return
        self._headers["Accept-Ranges"] = "bytes"
        # A file that changed while being read inline: describe what was read.
        size = st.st_size if opened.content is None else len(opened.content)
        offset, count = 0, size
        window = conditions.byte_range(request, size, etag_value, st.st_mtime)
        if window == "unsatisfiable":
            # RFC 9110 §15.5.17: a 416 names the current length.
            self._headers["Content-Range"] = f"bytes */{size}"
            await self._answer_empty(request, 416)
            return
        if isinstance(window, tuple):
            offset, end = window
            count = end - offset
            self.set_status(206)
            self._headers["Content-Range"] = f"bytes {offset}-{end - 1}/{size}"
        self.content_length = count
        self._compression = False  # the body is sent as stored (sendfile needs a fixed length)
        if opened.content is not None:
            await super().prepare(request)
            await super().write_eof(opened.content[offset : offset + count])
            return
        await super().prepare(request)
        exchange = request.exchange
        if opened.file is not None:
            await exchange.sendfile(opened.file, offset, count)
        self._body_length = count
        self._eof_sent = True
        exchange.write_eof()

    async def _answer_error(
        self, request: BaseRequest, error: HTTPForbidden | HTTPNotFound
    ) -> None:
        body = f"{error.status}: {error.reason}".encode()
        self.set_status(error.status)
        self._headers["Content-Type"] = "text/plain; charset=utf-8"
        self.content_length = len(body)
        self._compression = False
        await super().prepare(request)
        await super().write_eof(body)

    async def _answer_empty(self, request: BaseRequest, status: int) -> None:
        self.set_status(status)
        if status != 304:
            self.content_length = 0
        self._compression = False
        await super().prepare(request)
        await super().write_eof()

    def _set_content_type(self, opened: _Opened) -> None:
        if "Content-Type" not in self._headers:
            ctype, encoding = mimetypes.guess_type(self._path.name)
            if encoding is not None:
                ctype = _COMPRESSED_TYPES.get(encoding, "application/octet-stream")
            ctype = ctype or "application/octet-stream"
            if ctype.startswith("text/") or ctype in _TEXT_TYPES:
                ctype += "; charset=utf-8"
            self._headers["Content-Type"] = ctype
        if opened.encoding is not None:
            self._headers["Content-Encoding"] = opened.encoding
        if opened.varies:
            # Which file is sent depends on Accept-Encoding (RFC 9110 §12.5.5), also when
            # it is the uncompressed one: caches must key on it.
            self._headers.add("Vary", "Accept-Encoding")

    async def write_eof(self, data: bytes = b"") -> None:
        if self._eof_sent:
            return
        await super().write_eof(data)
