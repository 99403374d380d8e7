"""Reading HTML forms: urlencoded and multipart bodies into a MultiDict."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from typing import TYPE_CHECKING

from multidict import MultiDict, MultiDictProxy

from webkit.web.exceptions import HTTPBadRequest, HTTPRequestEntityTooLarge

if TYPE_CHECKING:
    from webkit.web.multipart import BodyPartReader
    from webkit.web.request import BaseRequest, FileField

__all__ = ["read_form"]

_FORM_METHODS = frozenset(("POST", "PUT", "PATCH", "TRACE", "DELETE"))
_CHUNK_SIZE = 64 * 1024


async def read_form(request: BaseRequest) -> MultiDictProxy[str | bytes | FileField]:
    """Fields of the request's form; empty for other methods and media types.

    Raises:
        HTTPRequestEntityTooLarge: the form exceeds the request's ``client_max_size``.
        HTTPBadRequest: the body is not a well-formed form.
    """
    form: MultiDict[str | bytes | FileField] = MultiDict()
    if request.method not in _FORM_METHODS:
        return MultiDictProxy(form)
    ctype = request.content_type
    if ctype == "application/x-www-form-urlencoded":
        from webkit.web.request import parse_urlencoded

        text = await request.text()
        # Percent-escapes stand for bytes in the form's charset (HTML's urlencoded parser).
        form.extend(parse_urlencoded(text.rstrip(), encoding=request.charset or "utf-8"))
    elif ctype == "multipart/form-data":
        await _read_multipart(request, form)
    return MultiDictProxy(form)


async def _read_multipart(request: BaseRequest, form: MultiDict[str | bytes | FileField]) -> None:
    from webkit.web.multipart import BodyPartReader, MultipartError
    from webkit.web.request import FileField

    limit = request.client_max_size
    size = 0
    try:
        reader = await request.multipart()
        while True:
            part = await reader.next()
            if part is None:
                break
            if not isinstance(part, BodyPartReader):
                raise HTTPBadRequest(text="nested multipart parts are not allowed in a form")
            name = part.name or ""
            content_type = part.headers.get("Content-Type", "text/plain")
            if part.filename is not None:
                tmp = tempfile.TemporaryFile()  # noqa: SIM115 - handed to the FileField
                try:
                    size = await _copy_part(part, tmp.write, size, limit)
                except BaseException:
                    tmp.close()
                    raise
                tmp.seek(0)
                form.add(name, FileField(name, part.filename, tmp, content_type, part.headers))
                continue
            data = bytearray()
            size = await _copy_part(part, data.extend, size, limit)
            if content_type.startswith("text/") or "Content-Type" not in part.headers:
                charset = part.get_charset(default="utf-8")
                try:
                    form.add(name, data.decode(charset))
                except (LookupError, UnicodeDecodeError):
                    raise HTTPBadRequest(
                        text=f"form field {name!r} is not valid {charset}"
                    ) from None
            else:
                form.add(name, bytes(data))
    except MultipartError as exc:
        raise HTTPBadRequest(text=f"Malformed multipart body: {exc}") from None


async def _copy_part(
    part: BodyPartReader, sink: Callable[[bytes], object], size: int, limit: int
) -> int:
    """Pass a part's decoded data to ``sink`` chunk by chunk; return the form's new size.

    The running size of the whole form is checked after every chunk, so neither a file nor a
    plain field larger than ``client_max_size`` is ever held (or spooled) whole.

    Raises:
        HTTPRequestEntityTooLarge: the form grew past ``limit`` (0 means no limit).
    """
    while True:
        chunk = await part.read_chunk(_CHUNK_SIZE)
        if not chunk:
            return size
        decoded = part.decode(chunk)
        size += len(decoded)
        if limit and size > limit:
            raise HTTPRequestEntityTooLarge(max_size=limit, actual_size=size)
        sink(decoded)
