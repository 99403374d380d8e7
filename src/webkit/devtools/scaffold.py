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
directory next to the target, then moved into place. This module never imports click or rich;
the CLI asks questions through a `Prompter`.
"""

from __future__ import annotations

import contextlib
import fnmatch
import importlib.resources
import json
import keyword
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, Protocol

import jinja2

from webkit.devtools.errors import DevServerError

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

SLUG = "project_slug"
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
# Extensions cookiecutter (binaryornot) treats as binary whatever their content.
# fmt: off
_BINARY_SUFFIXES = frozenset((
    ".png", ".jpg", ".jpeg", ".gif", ".webp", ".ico", ".bmp", ".tif", ".tiff", ".pdf", ".zip",
    ".gz", ".tgz", ".bz2", ".xz", ".7z", ".jar", ".whl", ".woff", ".woff2", ".ttf", ".otf",
    ".eot", ".mp3", ".mp4", ".ogg", ".wav", ".webm", ".sqlite3", ".db", ".pyc", ".so", ".dll",
    ".exe", ".bin",
))
# fmt: on
_SNIFF = 4096  # bytes read to tell a binary file
_PACKAGE_NAME = re.compile(r"[A-Za-z](?:[A-Za-z0-9_]*[A-Za-z0-9])?\Z")
_TEXT_ANSWERS = ("project_name", "description", "author")


class ScaffoldError(DevServerError):
    """The template or an answer cannot make a project; nothing has been written."""


@dataclass(frozen=True)
class Variable:
    """One question of the template: ``raw`` is its value in ``cookiecutter.json``."""

    name: str
    raw: Any
    prompt: str

    @property
    def kind(self) -> str:
        """``"choice"``, ``"bool"``, ``"dict"`` or ``"text"``."""
        if isinstance(self.raw, list):
            return "choice"
        if isinstance(self.raw, bool):
            return "bool"
        if isinstance(self.raw, dict):
            return "dict"
        return "text"


@dataclass(frozen=True)
class Template:
    """A loaded cookiecutter template."""

    root: Path
    project_dir: Path
    context: dict[str, Any]
    builtin: bool = False
    prompts: dict[str, Any] = field(default_factory=dict)

    @property
    def variables(self) -> tuple[Variable, ...]:
        """The questions, in order (private ``_`` keys left out)."""
        return tuple(
            Variable(name, raw, _prompt_text(self.prompts.get(name), name))
            for name, raw in self.context.items()
            if not name.startswith("_")
        )

    @property
    def package_names(self) -> frozenset[str]:
        """Module names inside the template's ``{{cookiecutter.project_slug}}`` package."""
        inner = [p for p in self.project_dir.iterdir() if p.is_dir() and SLUG in p.name]
        return frozenset(
            entry.stem if entry.suffix == ".py" else entry.name
            for package in inner
            for entry in package.iterdir()
            if not entry.name.startswith(("_", "."))
        )

    def environment(self) -> jinja2.Environment:
        """Cookiecutter's: strict undefined names, trailing newlines kept, no autoescape.

        Raises:
            ScaffoldError: ``_jinja2_env_vars`` holds options Jinja does not take.
        """
        options: dict[str, Any] = {"autoescape": False}
        options.update(self.context.get("_jinja2_env_vars") or {})
        options.update(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
        loader = jinja2.FileSystemLoader([self.project_dir, self.root / "templates"])
        try:
            return jinja2.Environment(loader=loader, **options)
        except TypeError as exc:
            raise ScaffoldError(
                f"_jinja2_env_vars in the template's cookiecutter.json: {exc}", "fix the file"
            ) from None


@dataclass(frozen=True)
class Project:
    """What `render_project` wrote: the target directory and its files, relative, sorted."""

    path: Path
    files: tuple[str, ...]


class Prompter(Protocol):
    """Asks the user; implemented by the CLI with rich prompts."""

    def ask(self, variable: Variable, default: Any) -> Any:
        """The answer to ``variable``; ``default`` is a string, a bool or (choices) a list."""

    def reject(self, variable: Variable, error: ScaffoldError) -> None:
        """Tell the user why an answer was refused (it is asked again)."""


def _prompt_text(entry: Any, name: str) -> str:
    if isinstance(entry, dict):  # a choice's prompts: {"__prompt__": ..., "choice": ...}
        entry = entry.get("__prompt__")
    return entry if isinstance(entry, str) else name


# ----------------------------------------------------------------------------- loading


@contextlib.contextmanager
def builtin_template() -> Iterator[Path]:
    """The directory of webkit's own project template.

    Installed webkit carries it at ``webkit/_templates/cookiecutter`` (hatchling's force-include
    maps the repository's ``templates/cookiecutter`` there). A checkout or an editable install,
    whose ``webkit`` package is ``src/webkit``, has no such directory: the repository's own is
    used. A zip-imported webkit has its template extracted to a temporary directory.

    Raises:
        ScaffoldError: neither exists (a broken installation).
    """
    packaged = importlib.resources.files("webkit").joinpath("_templates").joinpath("cookiecutter")
    if packaged.is_dir():
        if isinstance(packaged, Path):
            yield packaged
            return
        with tempfile.TemporaryDirectory(prefix="webkit-template-") as tmp:
            extracted = Path(tmp) / "cookiecutter"
            _extract(packaged, extracted)
            yield extracted
        return
    import webkit

    checkout = Path(webkit.__file__).resolve().parents[2] / "templates" / "cookiecutter"
    if (checkout / "cookiecutter.json").is_file():
        yield checkout
        return
    raise ScaffoldError(
        "webkit's project template is missing from this installation",
        "reinstall webkit, or pass --template PATH to a cookiecutter template",
    )


def _extract(source: Traversable, destination: Path) -> None:
    destination.mkdir()
    for entry in source.iterdir():
        if entry.is_dir():
            _extract(entry, destination / entry.name)
        else:
            (destination / entry.name).write_bytes(entry.read_bytes())


def load_template(path: Path, *, builtin: bool = False) -> Template:
    """Read ``cookiecutter.json`` and find the project directory of the template at ``path``.

    Raises:
        ScaffoldError: not a cookiecutter template, or one using features webkit does not run.
    """
    config = path / "cookiecutter.json"
    try:
        context = json.loads(config.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ScaffoldError(
            f"{str(path)!r} has no cookiecutter.json",
            "--template takes a cookiecutter template directory",
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ScaffoldError(f"cannot read {str(config)!r}: {exc}", "fix the file") from None
    if not isinstance(context, dict):
        raise ScaffoldError(f"{str(config)!r} is not a JSON object", "fix the file")
    _refuse_unsupported(path, context)
    candidates = sorted(
        p for p in path.iterdir() if p.is_dir() and "cookiecutter" in p.name and "{{" in p.name
    )
    if len(candidates) != 1:
        found = ", ".join(p.name for p in candidates) or "none"
        raise ScaffoldError(
            f"{str(path)!r} needs exactly one '{{{{cookiecutter.*}}}}' directory (found: {found})",
            "a cookiecutter template keeps the project under a directory named with a variable",
        )
    prompts = context.pop("__prompts__", {})
    return Template(
        path, candidates[0], context, builtin, prompts if isinstance(prompts, dict) else {}
    )


def _refuse_unsupported(path: Path, context: dict[str, Any]) -> None:
    hooks = path / "hooks"
    if hooks.is_dir() and any(p.stem.endswith("gen_project") for p in hooks.iterdir()):
        raise ScaffoldError(
            f"the template {str(path)!r} has hooks, which webkit start does not run",
            "use the cookiecutter command for this template",
        )
    if context.get("_extensions"):
        raise ScaffoldError(
            f"the template {str(path)!r} needs Jinja extensions {context['_extensions']}",
            "use the cookiecutter command for this template",
        )
    if "templates" in context and isinstance(context["templates"], dict):
        raise ScaffoldError(
            f"{str(path)!r} is a nested template (it lists templates to choose from)",
            "pass --template the chosen template's own directory",
        )


# ----------------------------------------------------------------------------- answers


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


# ----------------------------------------------------------------------------- rendering


def render_project(
    template: Template, context: Mapping[str, Any], target: Path, *, force: bool = False
) -> Project:
    """Render ``template`` with the ``cookiecutter`` ``context`` into ``target``.

    The files are rendered into a temporary directory beside ``target`` and moved into place
    only when all of them rendered; on any error nothing is left behind.

    Raises:
        ScaffoldError: ``target`` is a file or a non-empty directory (without ``force``), a file
            does not render, or a rendered name leaves the project directory.
    """
    target = target.absolute()
    check_target(target, force=force)
    anchor = target.parent
    while not anchor.exists():
        anchor = anchor.parent
    try:
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.webkit-start-", dir=anchor))
    except OSError as exc:
        raise ScaffoldError(f"cannot write in {str(anchor)!r}: {exc.strerror}", "") from None
    try:
        out = staging / "project"
        out.mkdir()
        _render_tree(template, {"cookiecutter": dict(context)}, out)
        files = tuple(sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()))
        _move_into_place(out, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return Project(target, files)


def check_target(target: Path, *, force: bool = False) -> None:
    """Refuse a target that is a file, or a non-empty directory unless ``force``.

    Raises:
        ScaffoldError: the target cannot take the project.
    """
    if target.exists() and not target.is_dir():
        raise ScaffoldError(f"{str(target)!r} is a file", "give a new or empty directory")
    if target.is_dir() and not force and any(target.iterdir()):
        raise ScaffoldError(
            f"{str(target)!r} is not empty", "give a new or empty directory, or pass --force"
        )


def _render_tree(template: Template, context: dict[str, Any], out: Path) -> None:
    env = template.environment()
    copy_only = list(context["cookiecutter"].get("_copy_without_render") or [])
    source = template.project_dir

    def place(unrendered: str) -> Path:
        rendered = _render_text(env, unrendered, context, unrendered)
        path = out / rendered
        inside = os.path.abspath(path)
        if inside != str(out) and not inside.startswith(str(out) + os.sep):
            raise ScaffoldError(
                f"{unrendered!r} renders to {rendered!r}, outside the project", "check the answers"
            )
        return path

    for root, dirs, files in os.walk(source):
        base = Path(root).relative_to(source)
        descend = []
        for name in sorted(dirs):
            unrendered = (base / name).as_posix()
            if _matches(unrendered, copy_only):
                destination = place(unrendered)
                shutil.rmtree(destination, ignore_errors=True)
                shutil.copytree(Path(root) / name, destination)
            else:
                place(unrendered).mkdir(parents=True, exist_ok=True)
                descend.append(name)
        dirs[:] = descend
        for name in sorted(files):
            unrendered = (base / name).as_posix()
            destination = place(unrendered)
            if destination.is_dir():  # the name rendered empty: cookiecutter skips the file
                continue
            infile = Path(root) / name
            if _matches(unrendered, copy_only) or _is_binary(infile):
                shutil.copyfile(infile, destination)
            else:
                _render_file(env, unrendered, infile, destination, context)
            shutil.copymode(infile, destination)


def _matches(path: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatch(path, pattern) for pattern in patterns)


def _is_binary(path: Path) -> bool:
    if path.suffix.lower() in _BINARY_SUFFIXES:
        return True
    with path.open("rb") as file:
        head = file.read(_SNIFF)
    if b"\0" in head:
        return True
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A character cut by the end of the read is no reason.
        return not (len(head) == _SNIFF and exc.start >= _SNIFF - 3)
    return False


def _render_text(env: jinja2.Environment, text: str, context: dict[str, Any], where: str) -> str:
    try:
        return env.from_string(text).render(context)
    except jinja2.TemplateError as exc:
        raise _template_error(where, exc) from None


def _render_file(
    env: jinja2.Environment,
    name: str,
    infile: Path,
    outfile: Path,
    context: dict[str, Any],
) -> None:
    try:
        text = env.get_template(name).render(context)
    except jinja2.TemplateError as exc:
        raise _template_error(name, exc) from None
    except UnicodeDecodeError:
        raise ScaffoldError(
            f"{name!r} in the template is neither UTF-8 text nor binary", "save it as UTF-8"
        ) from None
    newline = context["cookiecutter"].get("_new_lines") or _first_newline(infile)
    with outfile.open("w", encoding="utf-8", newline=newline) as file:
        file.write(text)


def _first_newline(path: Path) -> str | None:
    """The newline style of the file's first line, as text mode's ``newlines`` reports it."""
    with path.open(encoding="utf-8") as file:
        file.readline()
        seen = file.newlines
    return seen[0] if isinstance(seen, tuple) else seen


def _template_error(where: str, exc: jinja2.TemplateError) -> ScaffoldError:
    line = getattr(exc, "lineno", None)
    if line is None:  # a render-time error: Jinja puts the template's lines in the traceback
        import traceback

        frames = traceback.extract_tb(exc.__traceback__)
        line = next(
            (f.lineno for f in reversed(frames) if Path(f.filename).as_posix().endswith(where)),
            None,
        )
    at = f"{where}:{line}" if line else where
    return ScaffoldError(
        f"cannot render {at}: {exc.message or type(exc).__name__}",
        "the template uses a name or filter webkit does not provide; try the cookiecutter command",
    )


def _move_into_place(out: Path, target: Path) -> None:
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        out.rename(target)
        return
    conflicts = [
        rel
        for rel in (p.relative_to(out) for p in out.rglob("*"))
        if (target / rel).exists() and (target / rel).is_dir() != (out / rel).is_dir()
    ]
    if conflicts:
        raise ScaffoldError(
            f"{str(target / conflicts[0])!r} is in the way (a file where the project has a "
            "directory, or the other way round)",
            "move it away and try again",
        )
    for source in sorted(out.rglob("*")):
        destination = target / source.relative_to(out)
        if source.is_dir():
            destination.mkdir(exist_ok=True)
        else:
            os.replace(source, destination)


# ----------------------------------------------------------------------------- after


def webkit_checkout() -> Path | None:
    """The source checkout webkit runs from (an editable install), or None for a wheel.

    A new project depends on ``webkit``; when this webkit is not from a package index, the
    project's venv must get the same one first, or pip would look for it on the index.
    """
    import webkit

    root = Path(webkit.__file__).resolve().parent.parent.parent
    pyproject = root / "pyproject.toml"
    try:
        text = pyproject.read_text(encoding="utf-8")
    except OSError:
        return None
    return root if 'name = "webkit"' in text else None


def next_steps(
    project: Project,
    context: Mapping[str, Any],
    cwd: Path | None = None,
    webkit_source: Path | None = None,
) -> list[str]:
    """The commands to run next in a shell, for the files the project has.

    ``webkit_source``: a checkout to install webkit from before the project itself.
    """
    import shlex
    import tomllib

    steps: list[str] = []
    here = (cwd or Path.cwd()).absolute()
    if project.path != here:
        try:
            shown = project.path.relative_to(here).as_posix()
        except ValueError:
            shown = str(project.path)
        steps.append(f"cd {shlex.quote(shown)}")
    files = set(project.files)
    if "pyproject.toml" in files:
        activate = r".venv\Scripts\activate" if os.name == "nt" else ". .venv/bin/activate"
        steps += ["python -m venv .venv", activate]
        if webkit_source is not None:
            steps.append(f"pip install -e {shlex.quote(str(webkit_source))}")
        try:
            meta = tomllib.loads((project.path / "pyproject.toml").read_text(encoding="utf-8"))
            extras = meta.get("project", {}).get("optional-dependencies", {})
        except (OSError, tomllib.TOMLDecodeError):
            extras = {}
        steps.append("pip install -e '.[test]'" if "test" in extras else "pip install -e .")
    slug = context.get(SLUG)
    if isinstance(slug, str) and f"{slug}/app.py" in files:
        steps.append(f"webkit runserver {slug}/app.py:create_app")
    if any(name.startswith("tests/") for name in files):
        steps.append("pytest")
    return steps
