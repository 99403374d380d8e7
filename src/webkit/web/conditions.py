"""HTTP dates for conditional requests (RFC 9110 §5.6.7, §13)."""

from __future__ import annotations

import datetime
import math
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from webkit.web.request import BaseRequest

__all__ = ["byte_range", "evaluate", "parse_http_date"]


def parse_http_date(value: str | None) -> datetime.datetime | None:
    """The aware UTC datetime of an HTTP date, or None when absent or invalid."""
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.UTC)
    return parsed


def _etag_list(header: str) -> list[str]:
    return [part.strip() for part in header.split(",") if part.strip()]


def _strip_weak(tag: str) -> str:
    return tag[2:] if tag.startswith("W/") else tag


def evaluate(request: BaseRequest, etag: str, mtime: float) -> int | None:
    """The status a conditional request gets instead of 200 (RFC 9110 §13.2.2), or None.

    ``etag`` is the representation's strong tag value (without quotes). Dates compare with
    the ``Last-Modified`` value sent, which is the modification time rounded up to a second.
    """
    headers = request.headers
    quoted = f'"{etag}"'
    if_match = headers.get("If-Match")
    if if_match is not None:
        tags = _etag_list(if_match)
        # Strong comparison (RFC 9110 §8.8.3.2): weak tags never match If-Match.
        if "*" not in tags and quoted not in tags:
            return 412
    else:
        since = parse_http_date(headers.get("If-Unmodified-Since"))
        if since is not None and math.ceil(mtime) > since.timestamp():
            return 412
    if_none_match = headers.get("If-None-Match")
    method = request.method
    if if_none_match is not None:
        tags = [_strip_weak(tag) for tag in _etag_list(if_none_match)]
        if "*" in tags or quoted in tags:
            return 304 if method in ("GET", "HEAD") else 412
    elif method in ("GET", "HEAD"):
        since = parse_http_date(headers.get("If-Modified-Since"))
        if since is not None and math.ceil(mtime) <= since.timestamp():
            return 304
    return None


def byte_range(
    request: BaseRequest, size: int, etag: str, mtime: float
) -> tuple[int, int] | str | None:
    """The single byte range asked for as ``(start, end_exclusive)``.

    None serves the whole file (no Range, an If-Range that does not match, several ranges or
    a header this server does not parse); ``"unsatisfiable"`` means 416 (RFC 9110 §14).
    ``If-Range`` (RFC 9110 §13.1.5) keeps the range only for the same strong tag or the exact
    ``Last-Modified`` date.
    """
    if request.method not in ("GET", "HEAD"):
        return None
    header = request.headers.get("Range")
    if header is None:
        return None
    if_range = request.headers.get("If-Range")
    if if_range is not None:
        if if_range.startswith(('"', "W/")):
            if if_range != f'"{etag}"':
                return None
        else:
            since = parse_http_date(if_range)
            if since is None or math.ceil(mtime) != int(since.timestamp()):
                return None
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, dash, last = (part.strip() for part in spec.strip().partition("-"))
    # RFC 9110 §14.1.1: positions are 1*DIGIT; int() would also take "+1", "1_0" and
    # non-ASCII digits.
    if not dash or not _digits(first, last):
        return None
    if first == "":
        if last == "":
            return None
        suffix = int(last)
        if suffix == 0:
            return "unsatisfiable"
        start, end = max(0, size - suffix), size
    else:
        start = int(first)
        end = size if last == "" else min(int(last) + 1, size)
        if last != "" and int(last) < start:
            return None
    if start >= size or start >= end:
        return "unsatisfiable"
    return start, end


def _digits(*parts: str) -> bool:
    return all(part == "" or (part.isascii() and part.isdigit()) for part in parts)
