"""The one place errors become one-line exits: `CLIError` and the converters to it."""

from __future__ import annotations

from typing import IO, TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from webkit.devtools.errors import DevServerError

__all__ = ["AppFailedError", "CLIError", "from_devtools"]

USAGE_EXIT = 2


class CLIError(click.ClickException):
    """Shown as ``Error: <message> (hint: <hint>)`` on one line; exit code 2, no traceback."""

    exit_code = USAGE_EXIT

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint

    def format_message(self) -> str:
        one_line = " ".join(self.message.split())
        return f"{one_line} (hint: {' '.join(self.hint.split())})" if self.hint else one_line

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"Error: {self.format_message()}", file=file, err=True)


class AppFailedError(CLIError):
    """The user's app failed and nothing will restart it: exit code 1."""

    exit_code = 1


def from_devtools(exc: DevServerError) -> CLIError:
    """Turn a ``webkit.devtools`` error into a `CLIError`: exit 1 when the app itself failed."""
    from webkit.devtools.errors import AppStartError

    cls = AppFailedError if isinstance(exc, AppStartError) else CLIError
    return cls(exc.message, exc.hint)
