"""Serving a directory: safe path resolution, directory indexes, versioned URLs."""

from __future__ import annotations

import asyncio
import hashlib
import html
import os
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING
from urllib.parse import quote

from yarl import URL

from webkit.web.exceptions import HTTPForbidden, HTTPNotFound
from webkit.web.fileresponse import (
    FileResponse,
    _Opened,
    http_error_for,
    open_representation,
)
from webkit.web.response import Response, StreamResponse

if TYPE_CHECKING:
    from webkit.web.request import Request
    from webkit.web.routing.prefixed import StaticResource

__all__ = ["StaticHandler"]


class StaticHandler:
    """The GET/HEAD handler of a `StaticResource`."""

    def __init__(self, resource: StaticResource) -> None:
        self._resource = resource
        self._versions: dict[str, tuple[int, int, str]] = {}

    def resolve(self, filename: str) -> Path:
        """The file a (percent-encoded) request path names, never outside the root.

        Raises:
            HTTPForbidden: the name is absolute, holds a NUL or backslash, or climbs out.
            HTTPNotFound: the file does not exist, or a symlink leads outside the root and
                ``follow_symlinks`` is off.
        """
        resource = self._resource
        name = URL.build(path=filename, encoded=True).path if "%" in filename else filename
        if "\x00" in name or "\\" in name:
            raise HTTPForbidden()
        relative = PurePosixPath(name)
        if relative.is_absolute() or ".." in relative.parts:
            raise HTTPForbidden()
        root = resource.directory
        unresolved = root.joinpath(*relative.parts) if relative.parts else root
        if resource.follow_symlinks:
            normalized = Path(os.path.normpath(unresolved))
            if not normalized.is_relative_to(root):
                raise HTTPForbidden()
            target = normalized
        else:
            try:
                target = unresolved.resolve(strict=True)
            except (FileNotFoundError, NotADirectoryError, RuntimeError, OSError):
                raise HTTPNotFound() from None
            if not target.is_relative_to(root):
                # A symlink that leaves the root: hidden unless follow_symlinks (the seed).
                raise HTTPNotFound()
        return target

    async def handle(self, request: Request) -> StreamResponse:
        filename = request.match_info.get("filename", "")
        loop = asyncio.get_running_loop()
        # One executor hop does all the blocking work: resolve, open (or list), maybe read.
        found = await loop.run_in_executor(
            None,
            self._locate,
            filename,
            request.headers.get("Accept-Encoding", ""),
            FileResponse.wants_content(request),
            request.rel_url.raw_path,
        )
        if isinstance(found, Response):
            return found
        response = FileResponse(found.requested, chunk_size=self._resource.chunk_size)
        response._use_opened(found)
        return response

    def _locate(
        self, filename: str, accept_encoding: str, want_content: bool, raw_path: str
    ) -> _Opened | Response:
        """Blocking: the file a request names, opened, or a directory's index page.

        Raises:
            HTTPForbidden: a directory without ``show_index``, a hostile name, or no
                permission to open the file.
            HTTPNotFound: no such file inside the root.
        """
        resource = self._resource
        path = self.resolve(filename)
        root = None if resource.follow_symlinks else resource.directory
        try:
            return open_representation(path, accept_encoding, want_content, root)
        except IsADirectoryError:
            if resource.show_index:
                # The encoded path: links stay valid for non-ASCII prefixes and directories.
                return self._index(path, raw_path)
            raise HTTPForbidden() from None
        except OSError as exc:
            raise http_error_for(exc) from None

    def _index(self, directory: Path, url_path: str) -> Response:
        root = self._resource.directory
        relative = directory.relative_to(root).as_posix()
        title = "Index of /" + ("" if relative == "." else relative)
        items = []
        base = url_path.rstrip("/")
        try:
            entries = sorted(directory.iterdir())
        except PermissionError:
            raise HTTPForbidden() from None
        for entry in entries:
            label = entry.name + ("/" if entry.is_dir() else "")
            href = f"{base}/{quote(entry.name)}"
            items.append(f'<li><a href="{html.escape(href)}">{html.escape(label)}</a></li>')
        body = (
            '<!DOCTYPE html>\n<html>\n<head>\n<meta charset="utf-8">\n'
            f"<title>{html.escape(title)}</title>\n</head>\n<body>\n<h1>{html.escape(title)}</h1>\n"
            "<ul>\n" + "\n".join(items) + "\n</ul>\n</body>\n</html>\n"
        )
        return Response(text=body, content_type="text/html")

    def version_of(self, filename: str) -> str | None:
        """A short content hash for ``append_version``, or None when the file is not there."""
        try:
            path = self.resolve(filename)
            st = path.stat()
        except (HTTPForbidden, HTTPNotFound, OSError):
            return None
        if not path.is_file():
            return None
        cached = self._versions.get(str(path))
        if cached is not None and cached[:2] == (st.st_mtime_ns, st.st_size):
            return cached[2]
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(65536), b""):
                digest.update(block)
        version = digest.hexdigest()[:16]
        self._versions[str(path)] = (st.st_mtime_ns, st.st_size, version)
        return version
