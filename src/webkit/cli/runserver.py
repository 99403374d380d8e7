"""``webkit runserver``: the development server with reload on Python changes.

Only click is imported at module level so ``webkit --help`` stays fast; the dev-server logic
(`webkit.devtools`) is imported when the command runs.
"""

from __future__ import annotations

import asyncio
import functools
import os
from typing import TYPE_CHECKING

import click

from webkit.cli.errors import CLIError, from_devtools

if TYPE_CHECKING:
    from webkit.devtools.events import Event

__all__ = ["runserver"]


def _render(reload: bool, event: Event) -> None:
    from webkit.devtools.events import ChildFailed, ChildReady, Reloading, Started

    if isinstance(event, Started):
        watching = f"watching {', '.join(map(str, event.watch))}" if event.watch else "reload off"
        click.echo(f"webkit runserver: {event.app} at {event.url} ({watching}); Ctrl-C to quit")
    elif isinstance(event, Reloading):
        click.echo(f"Change in {', '.join(event.changes)}: restarting")
    elif isinstance(event, ChildReady):
        if event.changes:
            click.echo(f"Reloaded in {event.elapsed:.2f}s (pid {event.pid})")
        else:
            click.echo(f"Ready in {event.elapsed:.2f}s (pid {event.pid})")
    elif isinstance(event, ChildFailed):
        if event.traceback:
            click.echo(event.traceback.rstrip("\n"), err=True)
        hint = f" (hint: {event.hint})" if event.hint else ""
        click.echo(f"Error: {event.message}{hint}", err=True)
        if reload:
            click.echo("Waiting for changes to reload...", err=True)


@click.command("runserver")
@click.argument("app", required=False, envvar="WEBKIT_APP")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@click.option("--reload/--no-reload", default=True, help="Restart on Python file changes.")
def runserver(app: str | None, host: str, port: int, reload: bool) -> None:
    """Serve APP for development, restarting it when its Python files change.

    APP is package.module:attr, path/to/file.py[:attr] or a directory holding app.py or main.py
    (default: the current directory). attr is a web.Application or a factory returning one.
    """
    from webkit.devtools.appref import parse
    from webkit.devtools.errors import DevServerError
    from webkit.devtools.supervisor import Supervisor

    try:
        ref = parse(app or os.curdir)
        supervisor = Supervisor(
            ref, host, port, reload=reload, on_event=functools.partial(_render, reload)
        )
        asyncio.run(supervisor.run())
    except DevServerError as exc:
        raise from_devtools(exc) from None
    except KeyboardInterrupt:  # a second Ctrl-C while shutting down
        raise CLIError("interrupted") from None
