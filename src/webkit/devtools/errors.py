"""Typed errors of the development server; ``webkit.cli`` renders them as one-line exits."""

from __future__ import annotations

__all__ = [
    "AmbiguousAppError",
    "AppAttributeError",
    "AppNotFoundError",
    "AppRefError",
    "AppRefSyntaxError",
    "AppStartError",
    "DevServerError",
    "FactoryArgumentsError",
    "NotAnAppError",
    "PortInUseError",
    "UserCodeError",
]


class DevServerError(Exception):
    """A usage or environment error: shown as one line with a hint, never a traceback."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class AppRefError(DevServerError):
    """The APP argument does not lead to an application."""


class AppRefSyntaxError(AppRefError):
    """The APP argument has none of the accepted forms."""


class AppNotFoundError(AppRefError):
    """The module, file or directory named by APP does not exist."""


class AppAttributeError(AppRefError):
    """The attribute named by APP does not exist; ``candidates`` lists what was found."""

    def __init__(self, message: str, hint: str = "", candidates: tuple[str, ...] = ()) -> None:
        super().__init__(message, hint)
        self.candidates = candidates


class AmbiguousAppError(AppRefError):
    """APP names no attribute and the module holds several applications."""


class NotAnAppError(AppRefError):
    """The attribute (or what its factory returned) is not an Application."""


class FactoryArgumentsError(AppRefError):
    """The factory cannot be called with the arguments APP gives it (none, or literals)."""


class AppStartError(DevServerError):
    """The app failed to start and nothing will restart it (``--no-reload``)."""


class PortInUseError(DevServerError):
    """The listening address is taken."""


class UserCodeError(Exception):
    """The user's own code raised (import-time error, SyntaxError, factory, on_startup).

    Not a usage error: ``traceback_text`` holds the traceback trimmed to the user's frames.
    """

    def __init__(self, message: str, traceback_text: str) -> None:
        super().__init__(message)
        self.message = message
        self.traceback_text = traceback_text
