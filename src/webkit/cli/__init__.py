"""The ``webkit`` command: a click group whose commands import what they need lazily.

Errors become one line on stderr and a non-zero exit here, never a traceback.
"""

from __future__ import annotations

import click

from webkit import __version__

__all__ = ["cli", "main"]


@click.group(
    context_settings={"help_option_names": ["-h", "--help"]},
    help="webkit: an asyncio web framework with aiohttp.web's API and a development server.",
)
@click.version_option(__version__, "-V", "--version", prog_name="webkit")
def cli() -> None:
    pass


def main() -> None:
    """Entry point of the ``webkit`` console script and ``python -m webkit``."""
    cli(prog_name="webkit")


# Each command module imports only click at module level; the work is imported when it runs.
from webkit.cli.routes import routes  # noqa: E402
from webkit.cli.runserver import runserver  # noqa: E402
from webkit.cli.start import start  # noqa: E402

cli.add_command(runserver)
cli.add_command(start)
cli.add_command(routes)
