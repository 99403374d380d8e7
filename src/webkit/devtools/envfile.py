"""``.env`` files: ``KEY=value`` lines for the app's environment (and ``WEBKIT_*`` options)."""

from __future__ import annotations

import os
import re
from pathlib import Path

__all__ = ["load_env_file", "parse_env"]

_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}
# Keys this process set from the file, so a re-read may replace them but nothing else.
_loaded: dict[str, str] = {}


def _unquote(raw: str) -> str:
    if len(raw) >= 2 and raw[0] == raw[-1] == "'":
        return raw[1:-1]
    if len(raw) >= 2 and raw[0] == raw[-1] == '"':
        return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), "\\" + m.group(1)), raw[1:-1])
    # Unquoted: a " #" starts a comment, as in shells.
    return re.split(r"\s+#", raw, maxsplit=1)[0].strip()


def parse_env(text: str) -> dict[str, str]:
    """The variables of a .env text; blank lines, comments and malformed lines are skipped."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _LINE.match(line)
        if match:
            values[match.group(1)] = _unquote(match.group(2))
    return values


def load_env_file(path: Path, *, override: bool = False) -> dict[str, str]:
    """Put the file's variables in ``os.environ``; the real environment wins over the file.

    With ``override`` (a re-read after an edit), variables that came from this file earlier are
    replaced or removed; variables set outside the file are still never touched.
    """
    try:
        values = parse_env(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, IsADirectoryError):
        values = {}
    if override:
        for key in list(_loaded):
            if key not in values and os.environ.get(key) == _loaded[key]:
                del os.environ[key]
                del _loaded[key]
    for key, value in values.items():
        if key not in os.environ or (override and os.environ.get(key) == _loaded.get(key)):
            os.environ[key] = value
            _loaded[key] = value
    return values
