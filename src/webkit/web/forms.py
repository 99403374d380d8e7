"""Reading HTML forms: urlencoded and multipart bodies into a MultiDict."""

from __future__ import annotations

import tempfile
from typing import TYPE_CHECKING

from multidict import MultiDict, MultiDictProxy

from webkit.web.exceptions import HTTPBadRequest, HTTPRequestEntityTooLarge

if TYPE_CHECKING:
    from webkit.web.request import BaseRequest, FileField

__all__ = ["read_form"]

_FORM_METHODS = frozenset(("POST", "PUT", "PATCH", "TRACE", "DELETE"))


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
    if ctype == "application/x-www-form-urlencoded" or (ctype == "" and request.body_exists):
        from webkit.web.request import parse_urlencoded

        text = await request.text()
        form.extend(parse_urlencoded(text))
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
                while True:
                    chunk = await part.read_chunk(65536)
                    if not chunk:
                        break
                    chunk = part.decode(chunk)
                    size += len(chunk)
                    if limit and size > limit:
                        tmp.close()
                        raise HTTPRequestEntityTooLarge(max_size=limit, actual_size=size)
                    tmp.write(chunk)
                tmp.seek(0)
                form.add(name, FileField(name, part.filename, tmp, content_type, part.headers))
            else:
                data = await part.read(decode=True)
                size += len(data)
                if limit and size > limit:
                    raise HTTPRequestEntityTooLarge(max_size=limit, actual_size=size)
                if content_type.startswith("text/") or "Content-Type" not in part.headers:
                    charset = part.get_charset(default="utf-8")
                    try:
                        form.add(name, bytes(data).decode(charset))
                    except (LookupError, UnicodeDecodeError):
                        raise HTTPBadRequest(
                            text=f"form field {name!r} is not valid {charset}"
                        ) from None
                else:
                    form.add(name, bytes(data))
    except MultipartError as exc:
        raise HTTPBadRequest(text=f"Malformed multipart body: {exc}") from None
