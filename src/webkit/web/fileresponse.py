"""FileResponse: a file from disk, with conditional requests, ranges and zero-copy sending."""

from __future__ import annotations

import asyncio
import mimetypes
import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import IO, TYPE_CHECKING

from webkit.web.exceptions import HTTPForbidden, HTTPNotFound
from webkit.web.response import StreamResponse

if TYPE_CHECKING:
    from webkit.web.request import BaseRequest

__all__ = ["FileResponse"]

# Files up to this size are read in the same executor hop as the stat and sent in one write.
_INLINE_LIMIT = 256 * 1024
_ENCODINGS = (("br", ".br"), ("gzip", ".gz"))


class _Opened:
    __slots__ = ("content", "encoding", "file", "path", "st")

    def __init__(
        self,
        path: Path,
        st: os.stat_result,
        file: IO[bytes] | None,
        content: bytes | None,
        encoding: str | None,
    ) -> None:
        self.path = path
        self.st = st
        self.file = file
        self.content = content
        self.encoding = encoding


class FileResponse(StreamResponse):
    """Serve the file at ``path``.

    Answers conditional requests (``If-None-Match``/``If-Modified-Since`` → 304,
    ``If-Match``/``If-Unmodified-Since`` → 412), single ``Range`` requests (206/416) and
    ``HEAD``; serves a ``.br``/``.gz`` sibling when the client accepts it. A file that is
    missing or unreadable answers 404/403, never 500.
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

    def _open(self, accept_encoding: str, want_content: bool) -> _Opened:
        """Blocking part, run in one executor hop: pick the variant, stat, open, maybe read."""
        candidates: list[tuple[Path, str | None]] = []
        for coding, suffix in _ENCODINGS:
            if coding in accept_encoding:
                candidates.append((self._path.with_name(self._path.name + suffix), coding))
        candidates.append((self._path, None))
        for path, variant in candidates:
            try:
                st = path.stat()
            except (FileNotFoundError, NotADirectoryError):
                if variant is None:
                    raise
                continue
            if not stat.S_ISREG(st.st_mode):
                if variant is None:
                    raise IsADirectoryError(str(path))
                continue
            file = path.open("rb")
            content = None
            if want_content and st.st_size <= _INLINE_LIMIT:
                try:
                    content = file.read()
                finally:
                    file.close()
                return _Opened(path, st, None, content, variant)
            return _Opened(path, st, file, None, variant)
        raise FileNotFoundError(str(self._path))  # pragma: no cover

    async def prepare(self, request: BaseRequest) -> None:
        if self.prepared:
            return
        loop = asyncio.get_running_loop()
        accept = request.headers.get("Accept-Encoding", "").lower()
        ranged = "Range" in request.headers
        try:
            opened = await loop.run_in_executor(
                None, self._open, accept, not ranged and request.method != "HEAD"
            )
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise HTTPNotFound() from None
        except PermissionError:
            raise HTTPForbidden() from None
        try:
            await self._send(request, opened)
        finally:
            if opened.file is not None:
                opened.file.close()

    async def _send(self, request: BaseRequest, opened: _Opened) -> None:
        from webkit.web import conditions

        st = opened.st
        etag_value = f"{st.st_mtime_ns:x}-{st.st_size:x}"
        self.etag = etag_value
        self.last_modified = st.st_mtime
        self._set_content_type(opened)
        verdict = conditions.evaluate(request, etag_value, st.st_mtime)
        if verdict is not None:
            self.set_status(verdict)
            if verdict == 412:
                self.content_length = 0
            await super().prepare(request)
            await super().write_eof()
            return
        self._headers["Accept-Ranges"] = "bytes"
        size = st.st_size
        offset, count = 0, size
        window = conditions.byte_range(request, size, etag_value, st.st_mtime)
        if window == "unsatisfiable":
            self.set_status(416)
            self._headers["Content-Range"] = f"bytes */{size}"
            self.content_length = 0
            await super().prepare(request)
            await super().write_eof()
            return
        if isinstance(window, tuple):
            offset, end = window
            count = end - offset
            self.set_status(206)
            self._headers["Content-Range"] = f"bytes {offset}-{end - 1}/{size}"
        self.content_length = count
        if opened.content is not None:
            await super().prepare(request)
            await super().write_eof(opened.content)
            return
        await super().prepare(request)
        exchange = request.exchange
        if opened.file is not None:
            await exchange.sendfile(opened.file, offset, count)
        self._body_length = count
        self._eof_sent = True
        exchange.write_eof()

    def _set_content_type(self, opened: _Opened) -> None:
        if "Content-Type" not in self._headers:
            ctype, encoding = mimetypes.guess_type(self._path.name)
            ctype = ctype or "application/octet-stream"
            if ctype.startswith("text/") or ctype in ("application/javascript", "application/json"):
                ctype += "; charset=utf-8"
            self._headers["Content-Type"] = ctype
            if encoding and opened.encoding is None:
                self._headers["Content-Encoding"] = encoding
        if opened.encoding is not None:
            self._headers["Content-Encoding"] = opened.encoding
            self._headers.add("Vary", "Accept-Encoding")

    async def write_eof(self, data: bytes = b"") -> None:
        if self._eof_sent:
            return
        await super().write_eof(data)
