"""Encoding response heads: status lines, header blocks, the cached Date header."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable
from email.utils import formatdate
from http import HTTPStatus

from webkit import __version__

__all__ = [
    "SERVER_SOFTWARE",
    "encode_head",
    "error_response",
    "http_date",
    "reason_phrase",
    "status_line",
]

SERVER_SOFTWARE = f"webkit/{__version__} Python/{sys.version_info[0]}.{sys.version_info[1]}"

_REASONS: dict[int, str] = {s.value: s.phrase for s in HTTPStatus}
_STATUS_LINES: dict[tuple[int, int, int], str] = {}

_date_second = 0
_date_value = ""


def http_date() -> str:
    """The current time as an IMF-fixdate (RFC 9110 §5.6.7), recomputed at most once a second."""
    global _date_second, _date_value
    now = time.time()
    second = int(now)
    if second != _date_second:
        _date_second = second
        _date_value = formatdate(second, usegmt=True)
    return _date_value


def reason_phrase(status: int) -> str:
    """The standard reason phrase for ``status``, or an empty string."""
    return _REASONS.get(status, "")


def status_line(version: tuple[int, int], status: int, reason: str | None) -> str:
    """``HTTP/1.1 200 OK\\r\\n``, cached for standard reasons."""
    if reason is None:
        key = (version[1], status, 0)
        line = _STATUS_LINES.get(key)
        if line is None:
            line = f"HTTP/{version[0]}.{version[1]} {status} {_REASONS.get(status, '')}\r\n"
            _STATUS_LINES[key] = line
        return line
    if "\r" in reason or "\n" in reason:
        raise ValueError(f"reason phrase {reason!r} must not contain CR or LF")
    return f"HTTP/{version[0]}.{version[1]} {status} {reason}\r\n"


def encode_head(status_text: str, headers: Iterable[tuple[str, str]], tail: str = "") -> bytes:
    """Serialize a status line and header fields into the bytes of a response head.

    ``tail`` holds further header lines already formatted by the caller (each ending in
    CRLF), appended after ``headers``.

    Raises:
        ValueError: a header name or value holds CR or LF, which would let a value inject
            headers or a second response (RFC 9110 §5.5).
    """
    lines = [f"{name}: {value}\r\n" for name, value in headers]
    block = "".join(lines)
    # One count over the joined block instead of a check per field: every line ends in
    # exactly one CRLF unless a name or value smuggled in another.
    if block.count("\n") != len(lines) or block.count("\r") != len(lines):
        bad = next(line for line in lines if line.count("\n") != 1 or line.count("\r") != 1)
        raise ValueError(f"header line {bad!r} holds CR or LF; newlines are not allowed")
    return (status_text + block + tail + "\r\n").encode("utf-8", "surrogateescape")


def error_response(status: int, message: str, version: tuple[int, int] = (1, 1)) -> bytes:
    """A complete plain-text response that closes the connection, for protocol errors."""
    body = f"{status} {_REASONS.get(status, '')}: {message}\n".encode("utf-8", "replace")
    head = encode_head(
        status_line(version, status, None),
        (
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Length", str(len(body))),
            ("Date", http_date()),
            ("Server", SERVER_SOFTWARE),
            ("Connection", "close"),
        ),
    )
    return head + body
