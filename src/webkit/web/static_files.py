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
from webkit.web.fileresponse import FileResponse
from webkit.web.response import Response, StreamResponse

if TYPE_CHECKING:
    from webkit.web.request import Request
    from webkit.web.routing.prefixed import StaticResource

__all__ = ["StaticHandler"]


class StaticHandler:
    """The GET/HEAD handler of a `StaticResource`."""

    def __init__(self, resource: StaticResource) -> None:
        self._resource = resource
        self._versions: dict[str, tuple[int, str]] = {}

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
        path = await loop.run_in_executor(None, self._locate, filename)
        if path.is_dir():
            if self._resource.show_index:
                # The encoded path: links stay valid for non-ASCII prefixes and directories.
                raw_path = request.rel_url.raw_path
                return await loop.run_in_executor(None, self._index, path, raw_path)
            raise HTTPForbidden()
        return FileResponse(path, chunk_size=self._resource.chunk_size)

    def _locate(self, filename: str) -> Path:
        path = self.resolve(filename)
        if not path.exists():
            raise HTTPNotFound()
        return path

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
        if cached is not None and cached[0] == st.st_mtime_ns:
            return cached[1]
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(65536), b""):
                digest.update(block)
        version = digest.hexdigest()[:16]
        self._versions[str(path)] = (st.st_mtime_ns, version)
        return version
