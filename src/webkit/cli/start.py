"""``webkit start``: create a project from webkit's cookiecutter template (or another one).

Only click is imported at module level so ``webkit --help`` stays fast; the scaffolding logic
(`webkit.devtools.scaffold`, which imports jinja2) and rich are imported when the command runs.
"""

from __future__ import annotations

import sys
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from webkit.cli.errors import CLIError, from_devtools

if TYPE_CHECKING:
    from rich.console import Console

    from webkit.devtools.scaffold import ScaffoldError, Variable

__all__ = ["start"]


def _parse_sets(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> dict[str, str]:
    answers: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", ctx, param)
        answers[key.strip()] = value
    return answers


@click.command("start")
@click.argument("project_dir", type=click.Path(path_type=Path))
@click.option(
    "--set",
    "answers",
    multiple=True,
    metavar="KEY=VALUE",
    callback=_parse_sets,
    help="Answer one of the template's questions, e.g. --set project_slug=blog (repeatable).",
)
@click.option(
    "--no-input",
    is_flag=True,
    help="Ask nothing: take the defaults (implied when stdin is not a terminal).",
)
@click.option(
    "--template",
    "template_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="A cookiecutter template directory to use instead of webkit's own.",
)
@click.option(
    "--force", is_flag=True, help="Write into a non-empty PROJECT_DIR, replacing same-named files."
)
def start(
    project_dir: Path,
    answers: dict[str, str],
    no_input: bool,
    template_dir: Path | None,
    force: bool,
) -> None:
    """Create a new webkit project in PROJECT_DIR.

    Asks for the project's name, package name, description, author and Python version (Enter
    keeps the default shown), then writes a ready-to-run project: an app factory, routes, a
    Jinja2 page with a stylesheet, a JSON endpoint, a WebSocket, settings from the
    environment, tests and a README. The template is a cookiecutter template; the cookiecutter
    command renders it to the same files.
    """
    from rich.console import Console

    from webkit.devtools import scaffold
    from webkit.devtools.errors import DevServerError

    console = Console(highlight=False)
    interactive = not no_input and sys.stdin.isatty()
    try:
        scaffold.check_target(project_dir, force=force)
        source: AbstractContextManager[Path] = (
            scaffold.builtin_template() if template_dir is None else nullcontext(template_dir)
        )
        with source as path:
            template = scaffold.load_template(path, builtin=template_dir is None)
            if interactive:
                shown = click.format_filename(project_dir)
                console.print(
                    f"Creating a project in [bold]{_escape(shown)}[/] "
                    "[dim](Enter keeps the default in parentheses)[/]"
                )
            context = scaffold.collect_answers(
                template,
                answers=answers,
                suggestions=scaffold.suggested_defaults(project_dir, template),
                prompter=_RichPrompter(console) if interactive else None,
            )
            project = scaffold.render_project(template, context, project_dir, force=force)
    except DevServerError as exc:
        raise from_devtools(exc) from None
    except KeyboardInterrupt:
        raise CLIError("interrupted: nothing was written") from None
    name = context.get("project_name", project.path.name)
    console.print(
        f"[green]Created[/] {_escape(str(name))} in [bold]{_escape(str(project.path))}[/] "
        f"({len(project.files)} files)",
        soft_wrap=True,
    )
    steps = scaffold.next_steps(project, context, webkit_source=scaffold.webkit_checkout())
    if steps:
        console.print("\nNext:")
        for step in steps:
            console.print(f"  {_escape(step)}", soft_wrap=True)


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


class _RichPrompter:
    """Asks with rich prompts on the console; EOF (Ctrl-D) aborts."""

    def __init__(self, console: Console) -> None:
        self.console = console

    def ask(self, variable: Variable, default: Any) -> Any:
        from rich.prompt import Confirm, Prompt

        label = _escape(variable.prompt)
        try:
            if variable.kind == "bool":
                return Confirm.ask(label, default=bool(default), console=self.console)
            if variable.kind == "choice":
                choices = [str(choice) for choice in default]
                return Prompt.ask(label, choices=choices, default=choices[0], console=self.console)
            return Prompt.ask(label, default=str(default), console=self.console)
        except EOFError:
            self.console.print()
            raise CLIError("no answer (end of input): nothing was written") from None

    def reject(self, variable: Variable, error: ScaffoldError) -> None:
        self.console.print(f"[red]{_escape(error.message)}[/]: try again")
