"""The ``Forwarded`` header (RFC 7239), parsed but never trusted by default."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from types import MappingProxyType

__all__ = ["parse_forwarded"]

_PAIR = re.compile(
    r"\s*([!#$%&\'*+.^_`|~0-9A-Za-z-]+)\s*=\s*"
    r'("(?:[^"\\]|\\.)*"|[!#$%&\'*+.^_`|~0-9A-Za-z:\[\]-]*)\s*'
)


def parse_forwarded(headers: Iterable[str]) -> tuple[Mapping[str, str], ...]:
    """One read-only mapping per hop, nearest the client first; malformed pairs are skipped."""
    hops: list[Mapping[str, str]] = []
    for header in headers:
        for element in _split(header, ","):
            params: dict[str, str] = {}
            for pair in _split(element, ";"):
                match = _PAIR.fullmatch(pair)
                if match is None:
                    continue
                key, value = match.group(1).lower(), match.group(2)
                if value.startswith('"'):
                    value = re.sub(r"\\(.)", r"\1", value[1:-1])
                params.setdefault(key, value)
            hops.append(MappingProxyType(params))
    return tuple(hops)


def _split(text: str, sep: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for char in text:
        if escaped:
            escaped = False
        elif char == "\\" and quoted:
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == sep and not quoted:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    return [part for part in parts if part.strip()]
