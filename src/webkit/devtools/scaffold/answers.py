"""The answers to a template's questions: defaults, suggestions, prompting and the checks."""

from __future__ import annotations

import keyword
import re
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

import jinja2

from webkit.devtools.scaffold.template import SLUG, ScaffoldError, Template, Variable

# Names a project package must not take: its tests directory, the stdlib's test package, webkit
# and the distributions a generated project imports (they would be shadowed by the package).
RESERVED_NAMES = frozenset(
    {
        "test",
        "tests",
        "webkit",
        "jinja2",
        "markupsafe",
        "click",
        "rich",
        "httptools",
        "websockets",
        "yarl",
        "multidict",
        "watchfiles",
        "uvloop",
        "pytest",
        "httpx",
        "hatchling",
    }
)
# Words cookiecutter accepts for a boolean answer.
_YES = frozenset({"1", "true", "t", "yes", "y", "on"})
_NO = frozenset({"0", "false", "f", "no", "n", "off"})
_PACKAGE_NAME = re.compile(r"[A-Za-z](?:[A-Za-z0-9_]*[A-Za-z0-9])?\Z")
_TEXT_ANSWERS = ("project_name", "description", "author")


class Prompter(Protocol):
    """Asks the user; implemented by the CLI with rich prompts."""

    def ask(self, variable: Variable, default: Any) -> Any:
        """The answer to ``variable``; ``default`` is a string, a bool or (choices) a list."""

    def reject(self, variable: Variable, error: ScaffoldError) -> None:
        """Tell the user why an answer was refused (it is asked again)."""


def suggested_defaults(target: Path, template: Template) -> dict[str, Any]:
    """Better defaults than ``cookiecutter.json``'s, for the variables the template has.

    The project name comes from the directory name, the author from ``git config user.name``,
    the Python version is the running interpreter's when it is one of the choices.
    """
    names = {variable.name: variable for variable in template.variables}
    found: dict[str, Any] = {}
    if "project_name" in names and names["project_name"].kind == "text":
        found["project_name"] = _humanize(target.absolute().name)
    if "author" in names and names["author"].kind == "text":
        author = _git_user_name()
        if author:
            found["author"] = author
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    choices = names["python_version"].raw if "python_version" in names else None
    if isinstance(choices, list) and version in choices:
        found["python_version"] = version
    return found


def _humanize(directory_name: str) -> str:
    """``my-blog`` → ``My Blog``; a name with capitals or spaces is kept as it is."""
    if re.fullmatch(r"[a-z0-9_\-.]+", directory_name):
        words = re.split(r"[-_.]+", directory_name)
        return " ".join(word[:1].upper() + word[1:] for word in words if word)
    return directory_name


def _git_user_name() -> str | None:
    try:
        done = subprocess.run(
            ["git", "config", "user.name"],
            capture_output=True,
            text=True,
            timeout=5,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    name = done.stdout.strip()
    return name if done.returncode == 0 and name else None


def collect_answers(
    template: Template,
    *,
    answers: Mapping[str, str] | None = None,
    suggestions: Mapping[str, Any] | None = None,
    prompter: Prompter | None = None,
) -> dict[str, Any]:
    """Work out the ``cookiecutter`` context: the value of every variable, in order.

    ``suggestions`` replace the template's defaults (as cookiecutter's user config does), then
    ``answers`` (``--set``) replace those (as its extra context does) and are not asked again.
    With a ``prompter`` the other variables are asked, each default rendered from the answers
    before it; without one the defaults are taken.

    Raises:
        ScaffoldError: an unknown key in ``answers``, an answer that is not one of the choices
            or not a boolean, a default that does not render, or an answer `check_answer`
            refuses.
    """
    given = dict(answers or {})
    unknown = [key for key in given if key not in template.context or key.startswith("_")]
    if unknown:
        known = ", ".join(v.name for v in template.variables)
        raise ScaffoldError(
            f"the template has no variable {unknown[0]!r}", f"--set takes one of: {known}"
        )
    raw = {
        key: (list(value) if isinstance(value, list) else value)
        for key, value in template.context.items()
    }
    for source in (suggestions or {}), given:
        for key, value in source.items():
            if key in raw:
                raw[key] = _overwrite(key, raw[key], value)
    env = template.environment()
    # Two passes, as cookiecutter makes them: everything but dicts in order, then the dicts
    # (which may refer to any other value). The context keeps that insertion order.
    values: dict[str, Any] = {}
    for variable in _every_variable(template):
        name = variable.name
        if _is_raw(name):
            values[name] = raw[name]
        elif variable.kind != "dict" or name.startswith("__"):
            values[name] = _answer(template, env, variable, raw, values, given, prompter)
    for variable in _every_variable(template):
        if variable.kind == "dict" and not _is_raw(variable.name):
            values[variable.name] = _render_value(env, raw[variable.name], values, variable.name)
    return values


def _is_raw(name: str) -> bool:
    """``_key`` values are used as they are; ``__key`` ones are rendered."""
    return name.startswith("_") and not name.startswith("__")


def _every_variable(template: Template) -> tuple[Variable, ...]:
    public = {variable.name: variable for variable in template.variables}
    return tuple(
        public.get(name) or Variable(name, raw, name) for name, raw in template.context.items()
    )


def _overwrite(key: str, current: Any, value: Any) -> Any:
    if isinstance(current, list):
        if value not in current:
            choices = ", ".join(map(str, current))
            raise ScaffoldError(
                f"{value!r} is not a choice for {key!r}", f"{key} is one of: {choices}"
            )
        return [value, *(choice for choice in current if choice != value)]
    if isinstance(current, bool) and isinstance(value, str):
        word = value.strip().lower()
        if word not in _YES | _NO:
            raise ScaffoldError(f"{value!r} is not a yes/no answer for {key!r}", "use yes or no")
        return word in _YES
    return value


def _answer(
    template: Template,
    env: jinja2.Environment,
    variable: Variable,
    raw: dict[str, Any],
    values: dict[str, Any],
    given: Mapping[str, str],
    prompter: Prompter | None,
) -> Any:
    name = variable.name
    if name.startswith("__"):
        return _render_value(env, raw[name], values, name)
    default = _render_value(env, raw[name], values, name)
    if variable.kind == "choice" and not default:
        raise ScaffoldError(f"the choices of {name!r} are empty", "fix cookiecutter.json")
    if prompter is None or name in given:
        value = default[0] if variable.kind == "choice" else default
        check_answer(template, name, value)
        return value
    while True:
        value = prompter.ask(variable, default)
        try:
            check_answer(template, name, value)
        except ScaffoldError as exc:
            prompter.reject(variable, exc)
            continue
        return value


def _render_value(env: jinja2.Environment, raw: Any, values: dict[str, Any], name: str) -> Any:
    if raw is None or isinstance(raw, bool):
        return raw
    if isinstance(raw, dict):
        return {
            _render_value(env, key, values, name): _render_value(env, value, values, name)
            for key, value in raw.items()
        }
    if isinstance(raw, list):
        return [_render_value(env, item, values, name) for item in raw]
    try:
        return env.from_string(str(raw)).render(cookiecutter=values)
    except jinja2.TemplateError as exc:
        raise ScaffoldError(
            f"cannot work out the default of {name!r}: {exc}",
            f"give it with --set {name}=VALUE, or fix cookiecutter.json",
        ) from None


def check_answer(template: Template, name: str, value: Any) -> None:
    """Refuse answers that cannot make a working project.

    ``project_slug`` must be a Python package name that shadows nothing the project imports;
    in webkit's own template the texts that land in quoted strings must fit on one line without
    quotes or backslashes.

    Raises:
        ScaffoldError: the answer is refused; the message names the rule.
    """
    if name == SLUG and isinstance(value, str):
        _check_package_name(value, template.package_names)
    elif template.builtin and name in _TEXT_ANSWERS and isinstance(value, str):
        bad = next((c for c in value if c in '"\\' or not c.isprintable()), None)
        if bad is not None:
            raise ScaffoldError(
                f"{name} {value!r} contains {bad!r}, which the project's files cannot quote",
                "leave out double quotes, backslashes and control characters",
            )


def _check_package_name(slug: str, own_modules: frozenset[str]) -> None:
    hint = f"choose another package name: --set {SLUG}=NAME"
    if not _PACKAGE_NAME.match(slug):
        raise ScaffoldError(
            f"{slug!r} cannot be a Python package name: use ASCII letters, digits and "
            "underscores, starting with a letter and not ending with an underscore",
            hint,
        )
    if keyword.iskeyword(slug):
        raise ScaffoldError(f"{slug!r} is a Python keyword, not a package name", hint)
    lowered = slug.lower()
    if lowered in sys.stdlib_module_names or lowered in RESERVED_NAMES:
        what = "the standard library's" if lowered in sys.stdlib_module_names else "the"
        raise ScaffoldError(
            f"{slug!r} would shadow {what} module {lowered!r} that the project needs", hint
        )
    if lowered in own_modules:
        raise ScaffoldError(
            f"{slug!r} is the name of a module inside the project's package, which "
            "`webkit runserver PACKAGE/app.py` puts first on sys.path",
            hint,
        )
