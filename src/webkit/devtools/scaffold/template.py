"""A cookiecutter template on disk: ``cookiecutter.json``, its variables, webkit's own template."""

from __future__ import annotations

import contextlib
import importlib.resources
import json
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import jinja2

from webkit.devtools.errors import DevServerError

SLUG = "project_slug"


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


def _prompt_text(entry: Any, name: str) -> str:
    if isinstance(entry, dict):  # a choice's prompts: {"__prompt__": ..., "choice": ...}
        entry = entry.get("__prompt__")
    return entry if isinstance(entry, str) else name


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
