"""``webkit start``: render a cookiecutter template into a new project directory.

The template is an ordinary cookiecutter template (``cookiecutter.json`` next to one
``{{cookiecutter.*}}`` directory) and the ``cookiecutter`` command renders it to the same files;
webkit renders it itself with Jinja2 so that cookiecutter is not needed at run time. What is
implemented of cookiecutter's semantics:

- variables in the order of ``cookiecutter.json``; a string default is a Jinja expression over the
  earlier variables; a list is a choice (its first item is the default); a boolean is a yes/no;
  a dict is rendered (never prompted); ``_key`` values are kept as they are, ``__key`` values are
  rendered and never prompted; ``__prompts__`` gives the question for each variable;
- answers given up front (``--set key=value``) replace defaults the way cookiecutter's extra
  context does: a choice must be one of the choices, a boolean accepts yes/no words;
- file and directory names are rendered; ``_copy_without_render`` globs (matched against the
  unrendered path inside the project directory) copy files, or whole directories, untouched;
  binary files are copied as they are; text files keep a trailing newline and the newline style
  of their first line (or ``_new_lines``); files keep their permission bits;
- the Jinja environment is strict (an undefined name is an error), autoescape off, with
  ``_jinja2_env_vars`` as extra options. Cookiecutter's own Jinja extensions (``jsonify``,
  ``slugify``, ``now``...), ``_extensions``, hooks and nested templates are not supported: a
  template that needs them is refused with a `ScaffoldError` rather than rendered differently.

Nothing is written unless everything renders: the project is rendered into a temporary
directory next to the target, then moved into place. This package never imports click or rich;
the CLI asks questions through a `Prompter`.
"""

from __future__ import annotations

from webkit.devtools.scaffold.answers import (
    Prompter,
    check_answer,
    collect_answers,
    suggested_defaults,
)
from webkit.devtools.scaffold.render import Project, check_target, render_project
from webkit.devtools.scaffold.steps import next_steps, webkit_checkout
from webkit.devtools.scaffold.template import (
    ScaffoldError,
    Template,
    Variable,
    builtin_template,
    load_template,
)

__all__ = [
    "Project",
    "Prompter",
    "ScaffoldError",
    "Template",
    "Variable",
    "builtin_template",
    "check_answer",
    "check_target",
    "collect_answers",
    "load_template",
    "next_steps",
    "render_project",
    "suggested_defaults",
    "webkit_checkout",
]
