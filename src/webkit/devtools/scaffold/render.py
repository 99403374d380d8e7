"""Rendering a template into a project directory, all or nothing."""

from __future__ import annotations

import fnmatch
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from webkit.devtools.scaffold.template import ScaffoldError, Template

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


@dataclass(frozen=True)
class Project:
    """What `render_project` wrote: the target directory and its files, relative, sorted."""

    path: Path
    files: tuple[str, ...]


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
