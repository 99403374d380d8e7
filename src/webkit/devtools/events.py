"""What the dev server reports while it runs; ``webkit.cli`` renders each event.

The supervisor never prints: it hands these frozen records to a callback, so the terminal output
(rich, colours, verbosity) lives in the CLI layer and tests can collect events directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "BrowserReload",
    "ChildExited",
    "ChildFailed",
    "ChildReady",
    "Event",
    "LiveReloadClient",
    "Reloading",
    "RequestDone",
    "Started",
]


@dataclass(frozen=True)
class Started:
    """The socket is bound; the first child is about to start."""

    url: str
    app: str
    watch: tuple[Path, ...] = ()  # empty: reload is off
    livereload: bool = True
    static: tuple[str, Path] | None = None  # (url prefix, directory) from --static
    public: bool = False  # bound to every interface (0.0.0.0 / ::)


@dataclass(frozen=True)
class Reloading:
    """Python files changed: the child is being restarted."""

    changes: tuple[str, ...]


@dataclass(frozen=True)
class ChildReady:
    """A child serves; ``elapsed`` runs from the start (or the change) to its "ready"."""

    pid: int
    elapsed: float
    changes: tuple[str, ...] = ()


@dataclass(frozen=True)
class ChildFailed:
    """A child could not start: ``kind`` is "usage" (bad APP), "user" (its code raised) or
    "crash" (it died without saying why)."""

    kind: str
    message: str
    hint: str = ""
    traceback: str = ""


@dataclass(frozen=True)
class ChildExited:
    """A child that was serving died on its own (not restarted by us)."""

    pid: int
    returncode: int


@dataclass(frozen=True)
class BrowserReload:
    """Browsers were told to reload (or, for CSS and images, to swap the file in place)."""

    changes: tuple[str, ...]
    clients: int
    live: bool  # swapped in place, no page reload


@dataclass(frozen=True)
class RequestDone:
    """One request served by the child (the dev server's access log)."""

    method: str
    path: str
    status: int
    duration: float  # seconds
    size: int  # body bytes sent, -1 when unknown


@dataclass(frozen=True)
class LiveReloadClient:
    """A browser connected to (or left) the live-reload WebSocket; shown with ``-v``."""

    connected: bool
    clients: int
    page: str = field(default="")


Event = (
    Started
    | Reloading
    | ChildReady
    | ChildFailed
    | ChildExited
    | BrowserReload
    | RequestDone
    | LiveReloadClient
)
