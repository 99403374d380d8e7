"""What to run after ``webkit start``: the shell commands for the new project."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from webkit.devtools.scaffold.render import Project
from webkit.devtools.scaffold.template import SLUG


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
