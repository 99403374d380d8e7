"""Parsing media types (``Content-Type``) and their parameters."""

from __future__ import annotations

__all__ = ["parse_content_type"]

_DEFAULT = "application/octet-stream"


def parse_content_type(header: str | None) -> tuple[str, dict[str, str]]:
    """``'text/html; charset="UTF-8"'`` → ``('text/html', {'charset': 'UTF-8'})``.

    A missing or empty header gives ``application/octet-stream`` (RFC 9110 §8.3).
    """
    if not header:
        return _DEFAULT, {}
    media, _, rest = header.partition(";")
    media = media.strip().lower() or _DEFAULT
    params: dict[str, str] = {}
    while rest:
        item, rest = _split_param(rest)
        key, sep, value = item.partition("=")
        key = key.strip().lower()
        if not key or not sep:
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        params[key] = value
    return media, params


def _split_param(text: str) -> tuple[str, str]:
    """The next ``;``-separated parameter, honouring quoted strings."""
    quoted = False
    escaped = False
    for index, char in enumerate(text):
        if escaped:
            escaped = False
        elif char == "\\" and quoted:
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == ";" and not quoted:
            return text[:index], text[index + 1 :]
    return text, ""
