"""Request paths in the canonical percent-encoded form routes are matched against."""

from __future__ import annotations

import re

__all__ = ["remove_dot_segments", "requote_path"]

# Paths made only of these characters are already canonical (nothing to decode or encode).
_CANONICAL = re.compile(r"[A-Za-z0-9\-._~!$&'()*+,;=:@/]*")
_TO_FIX = re.compile(r"%[0-9A-Fa-f]{2}|%|[^A-Za-z0-9\-._~!$&'()*+,;=:@/%]+")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def _fix(match: re.Match[str]) -> str:
    text = match.group(0)
    if text[0] == "%":
        if len(text) == 1:
            return "%25"
        char = chr(int(text[1:], 16))
        # RFC 3986 §2.3: percent-encoded unreserved characters are equivalent to the plain ones.
        return char if char in _UNRESERVED else text.upper()
    return "".join(f"%{byte:02X}" for byte in text.encode("utf-8", "surrogateescape"))


def remove_dot_segments(path: str) -> str:
    """Resolve ``.`` and ``..`` segments of an absolute path (RFC 3986 §5.2.4)."""
    segments = path.split("/")
    out: list[str] = []
    for segment in segments[1:]:
        if segment == "..":
            if out:
                out.pop()
        elif segment != ".":
            out.append(segment)
    result = "/" + "/".join(out)
    if segments[-1] in (".", "..") and not result.endswith("/"):
        result += "/"
    return result


def requote_path(raw: str) -> str:
    """The canonical percent-encoded form of a request path, as yarl writes route paths.

    Unreserved characters are decoded, other escapes upper-cased, characters not allowed in a
    path encoded as UTF-8, and dot segments removed. Most paths are already canonical and are
    returned as they are after one regex check.
    """
    if _CANONICAL.fullmatch(raw) is not None and "/." not in raw:
        return raw
    path = _TO_FIX.sub(_fix, raw)
    if "/." in path:
        path = remove_dot_segments(path)
    return path
