"""``webkit routes``: the app's route table, its problems, and where a request would go.

Only click is imported at module level so ``webkit --help`` stays fast; the app, rich and
`webkit.devtools.routes` are imported when the command runs.

Exit codes: 0 the table (warnings included) or a ``--resolve`` that found a route; 1 the user's
code raised (its traceback is shown) or ``--resolve`` found no route (404/405), so scripts can
test reachability; 2 a usage error (bad APP or option), as one line.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import click

from webkit.cli.errors import AppFailedError, CLIError, from_devtools
from webkit.cli.runserver import _load_env_file

if TYPE_CHECKING:
    from collections.abc import Sequence

    from rich.console import Console

    from webkit.devtools.routes import Finding, Resolution, RouteReport, RouteRow

__all__ = ["SORT_KEYS", "routes", "select", "sort_rows"]

SORT_KEYS = ("order", "path", "name", "method")


@click.command("routes")
@click.argument("app", required=False, envvar="WEBKIT_APP")
@click.option(
    "--env-file",
    type=click.Path(dir_okay=False),
    is_eager=True,
    callback=_load_env_file,
    envvar="WEBKIT_ENV_FILE",
    help="Variables for the app  [default: .env when present]",
)
@click.option("--json", "as_json", is_flag=True, help="Print the rows as JSON, for scripts.")
@click.option(
    "--sort",
    type=click.Choice(SORT_KEYS),
    default="order",
    show_default=True,
    help="Row order; 'order' is registration order, the order requests are matched in.",
)
@click.option("--method", metavar="M", help="Only routes answering method M (e.g. GET).")
@click.option("--path", "path_glob", metavar="GLOB", help="Only paths matching GLOB ('/api/*').")
@click.option(
    "--resolve",
    nargs=2,
    metavar="METHOD PATH",
    help="Show the route METHOD PATH reaches (PATH may be a URL, whose host picks a domain "
    "sub-app) instead of the table; exit code 1 when it reaches none.",
)
@click.option(
    "--startup", is_flag=True, help="Run the app's on_startup first (and on_cleanup after)."
)
def routes(
    app: str | None,
    env_file: Any,
    as_json: bool,
    sort: str,
    method: str | None,
    path_glob: str | None,
    resolve: tuple[str, str] | None,
    startup: bool,
) -> None:
    """Print the routes of APP: method, path, name, handler, where it is defined, kind.

    APP is what `webkit runserver` takes (module:attr, file.py[:attr], a directory; default:
    the current directory). The app is built but not served; sub-apps and static routes are
    expanded in matching order. Warnings on stderr name routes an earlier one shadows and
    handlers registered on several routes.
    """
    import asyncio

    from webkit.devtools.appref import parse
    from webkit.devtools.errors import DevServerError, UserCodeError
    from webkit.devtools.routes import inspect_app, parse_target

    if resolve is not None:
        try:
            parse_target(resolve[1])
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="'--resolve'") from None
    try:
        ref = parse(app or os.curdir)
        report = asyncio.run(inspect_app(ref, startup=startup, resolve=resolve))
    except DevServerError as exc:
        raise from_devtools(exc) from None
    except UserCodeError as exc:
        if exc.traceback_text:
            click.echo(exc.traceback_text.rstrip("\n"), err=True)
        raise AppFailedError(f"the app raised {exc.message}") from None
    except KeyboardInterrupt:
        raise CLIError("interrupted") from None
    _Output(as_json).show(report, app or os.curdir, sort, method, path_glob)


class _Output:
    def __init__(self, as_json: bool) -> None:
        from rich.console import Console

        self.as_json = as_json
        # Same conventions as runserver's renderer: rich decides colour from the terminal,
        # NO_COLOR and TERM; file=None follows sys.stdout so click's test runner sees it.
        self.out = Console(highlight=False, markup=False, emoji=False)
        self.err: Console = Console(
            stderr=True, soft_wrap=True, highlight=False, markup=False, emoji=False
        )

    def show(
        self,
        report: RouteReport,
        app: str,
        sort: str,
        method: str | None,
        path_glob: str | None,
    ) -> None:
        if report.resolution is not None:
            self._resolution(report.resolution)
            if not report.resolution.found:
                raise click.exceptions.Exit(1)
            return
        rows = sort_rows(select(report.rows, method, path_glob), sort)
        if self.as_json:
            self._json([row.to_json() for row in rows])
        elif not report.rows:
            self.out.print(f"{app}: no routes")
        elif not rows:
            self.out.print(f"{app}: no routes match the filters ({len(report.rows)} in all)")
        else:
            self.out.print(self._table(rows))
        self._warnings(report.findings, {row.order for row in rows})

    def _json(self, data: Any) -> None:
        import json

        # Plain text, never rich: a script parses it, and rich would wrap long lines.
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))

    def _table(self, rows: list[RouteRow]) -> Any:
        from rich import box
        from rich.table import Table

        # Box-drawing characters only on a terminal; piped output is plain columns.
        table = Table(
            box=box.SIMPLE_HEAD if self.out.is_terminal else None,
            header_style="bold",
            pad_edge=False,
            expand=False,
        )
        # Too wide for the terminal: rich narrows the widest columns first. The path keeps a
        # readable width and folds (every character stays visible), as do name and handler;
        # the location and kind are cut short with an ellipsis.
        longest = max(len(row.display_path) for row in rows)
        table.add_column("Method", no_wrap=True)
        table.add_column("Path", overflow="fold", min_width=min(longest, 16))
        table.add_column("Name", overflow="fold")
        table.add_column("Handler", overflow="fold")
        table.add_column("Defined at", overflow="ellipsis")
        table.add_column("Kind", overflow="ellipsis", no_wrap=True, min_width=7)
        for row in rows:
            kind = f"{row.kind} ({row.directory})" if row.directory else row.kind
            table.add_row(
                ",".join(row.methods) or "-",
                row.display_path,
                row.name or "-",
                row.handler or "-",
                row.location or "-",
                kind,
                style="dim" if row.kind == "sub-app" else None,
            )
        return table

    def _resolution(self, resolution: Resolution) -> None:
        if self.as_json:
            self._json(resolution.to_json())
            return
        from rich.text import Text

        request = f"{resolution.method} {resolution.path}"
        if resolution.host != "localhost":
            request += f" (Host: {resolution.host})"
        if not resolution.found:
            line = Text(f"{request} -> {resolution.status} {resolution.reason}", style="yellow")
            if resolution.allowed_methods:
                line.append(f"; allowed: {', '.join(resolution.allowed_methods)}")
            if resolution.answered_by:
                line.append(f" (answered by the sub-app at {resolution.answered_by})")
            self.out.print(line)
            return
        row = resolution.route
        path = row.display_path if row is not None else "?"
        kind = row.kind if row is not None else "custom"
        self.out.print(Text(f"{request} -> {path} ({kind})", style="green"))
        details = [
            ("name", row.name if row is not None else None),
            ("handler", resolution.handler),
            ("defined at", row.location if row is not None else None),
            ("directory", row.directory if row is not None else None),
            ("match_info", " ".join(f"{k}={v}" for k, v in resolution.match_info.items())),
        ]
        for label, value in details:
            if value:
                self.out.print(f"  {label:<10}  {value}", soft_wrap=True)

    def _warnings(self, findings: list[Finding], shown: set[int]) -> None:
        from rich.text import Text

        # Warnings about rows the filters hid would point at nothing on screen.
        for finding in findings:
            if shown.intersection(finding.orders):
                self.err.print(Text(f"warning: {finding.message}", style="yellow"))


def select(rows: Sequence[RouteRow], method: str | None, path_glob: str | None) -> list[RouteRow]:
    """Rows with ``method`` (an any-method route has them all) and a path matching the glob,
    with or without its domain."""
    import fnmatch

    chosen = []
    for row in rows:
        if method is not None and not {method.upper(), "*"} & set(row.methods):
            continue
        paths = (row.path, row.display_path)
        if path_glob is not None and not any(fnmatch.fnmatchcase(p, path_glob) for p in paths):
            continue
        chosen.append(row)
    return chosen


def sort_rows(rows: Sequence[RouteRow], key: str) -> list[RouteRow]:
    """``order`` keeps matching order; the others are stable, ties in matching order.

    Raises:
        ValueError: ``key`` is not one of `SORT_KEYS`.
    """
    if key == "order":
        return sorted(rows, key=lambda row: row.order)
    if key == "path":
        return sorted(rows, key=lambda row: (row.display_path, row.order))
    if key == "name":  # unnamed routes last
        return sorted(rows, key=lambda row: (row.name is None, row.name or "", row.order))
    if key == "method":  # mounts and route-less custom resources have no method: last
        return sorted(rows, key=lambda row: (row.methods[:1] or ("~",), row.order))
    raise ValueError(f"unknown sort key {key!r}; use one of {', '.join(SORT_KEYS)}")
