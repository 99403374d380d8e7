"""``webkit runserver``: the development server with reload and live browser reload.

Only click is imported at module level so ``webkit --help`` stays fast; the dev-server logic
(`webkit.devtools`) and rich are imported when the command runs.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import click

from webkit.cli.errors import CLIError, from_devtools

if TYPE_CHECKING:
    from pathlib import Path

    from webkit.devtools.events import Event

__all__ = ["runserver"]


def _load_env_file(ctx: click.Context, param: click.Parameter, value: str | None) -> Path | None:
    """Eager: the file's variables must be in the environment before WEBKIT_* options are read."""
    from pathlib import Path

    from webkit.devtools.envfile import load_env_file

    if value is None:
        default = Path(".env")
        if not default.is_file():
            return None
        path = default
    else:
        path = Path(value)
        if not path.is_file():
            raise click.BadParameter(f"{value!r} is not a file", ctx, param)
    load_env_file(path)
    return path.resolve()


def _static_url(ctx: click.Context, param: click.Parameter, value: str) -> str:
    if not value.startswith("/"):
        raise click.BadParameter(f"{value!r} must start with '/' (e.g. /static/)", ctx, param)
    return value if value.endswith("/") else value + "/"


@click.command("runserver")
@click.argument("app", required=False, envvar="WEBKIT_APP")
@click.option(
    "--env-file",
    type=click.Path(dir_okay=False),
    is_eager=True,
    expose_value=True,
    callback=_load_env_file,
    envvar="WEBKIT_ENV_FILE",
    help="Variables for the app and WEBKIT_* options  [default: .env when present]",
)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    envvar="WEBKIT_HOST",
    help="Address to listen on (0.0.0.0: every interface).",
)
@click.option(
    "--port", default=8000, show_default=True, type=int, envvar="WEBKIT_PORT", help="Port."
)
@click.option(
    "--reload/--no-reload",
    default=True,
    envvar="WEBKIT_RELOAD",
    help="Restart the app when its files change.  [default: reload]",
)
@click.option(
    "--livereload/--no-livereload",
    default=True,
    envvar="WEBKIT_LIVERELOAD",
    help="Reload browsers (swap CSS in place) on change.  [default: livereload]",
)
@click.option(
    "--watch",
    "watch",
    multiple=True,
    type=click.Path(exists=True, file_okay=False),
    envvar="WEBKIT_WATCH",
    help="Directory to watch (repeatable)  [default: the app's directory]",
)
@click.option(
    "--ignore",
    multiple=True,
    envvar="WEBKIT_IGNORE",
    metavar="GLOB",
    help="Changes to ignore, e.g. '*.log' or 'data/*' (repeatable; .gitignore is respected).",
)
@click.option(
    "--static",
    "static_dir",
    type=click.Path(exists=True, file_okay=False),
    envvar="WEBKIT_STATIC",
    help="Directory of static files, served without caching and live-reloaded.",
)
@click.option(
    "--static-url",
    default="/static/",
    show_default=True,
    envvar="WEBKIT_STATIC_URL",
    callback=_static_url,
    help="URL prefix of --static.",
)
@click.option("--open", "open_browser", is_flag=True, envvar="WEBKIT_OPEN", help="Open a browser.")
@click.option("-v", "--verbose", is_flag=True, envvar="WEBKIT_VERBOSE", help="Say more.")
def runserver(
    app: str | None,
    env_file: Path | None,
    host: str,
    port: int,
    reload: bool,
    livereload: bool,
    watch: tuple[str, ...],
    ignore: tuple[str, ...],
    static_dir: str | None,
    static_url: str,
    open_browser: bool,
    verbose: bool,
) -> None:
    """Serve APP for development: restart it when its files change, reload the browser.

    APP is package.module:attr, path/to/file.py[:attr] or a directory holding app.py or main.py
    (default: the current directory). attr is a web.Application or a factory returning one,
    optionally called with literal arguments: 'app.py:create_app("dev", debug=True)'.
    Every option can also be set as WEBKIT_<OPTION> (e.g. WEBKIT_PORT) or in .env.
    """
    import asyncio
    from pathlib import Path

    from webkit.cli.render import Renderer
    from webkit.devtools.appref import parse
    from webkit.devtools.errors import DevServerError
    from webkit.devtools.events import ChildReady, Started
    from webkit.devtools.supervisor import Options, Supervisor

    renderer = Renderer(verbose=verbose)
    url = ""
    opened = False

    def on_event(event: Event) -> None:
        nonlocal url, opened
        renderer(event)
        if isinstance(event, Started):
            url = event.url
        elif open_browser and not opened and isinstance(event, ChildReady):
            opened = True
            _open_browser(url)

    try:
        ref = parse(app or os.curdir)
        options = Options(
            host=host,
            port=port,
            reload=reload,
            livereload=livereload,
            watch=tuple(Path(p) for p in watch),
            ignore=ignore,
            static=(static_url, Path(static_dir).resolve()) if static_dir else None,
            env_file=env_file,
        )
        asyncio.run(Supervisor(ref, options, on_event=on_event).run())
    except DevServerError as exc:
        raise from_devtools(exc) from None
    except KeyboardInterrupt:  # a second Ctrl-C while shutting down
        raise CLIError("interrupted") from None


def _open_browser(url: str) -> None:
    import threading
    import webbrowser

    # Some browsers block until they exit; the dev server must not.
    threading.Thread(target=webbrowser.open, args=(url,), daemon=True).start()
