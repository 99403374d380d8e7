"""Which file changes matter to the dev server, and a batching watcher over the project.

`ProjectFilter` decides whether a changed path should trigger anything: it drops VCS and tool
directories, virtualenvs, editor scratch files, whatever the project's ``.gitignore`` files
exclude and the user's ``--ignore`` globs. `classify` tells what kind of reload a path needs, and
`watch` delivers the filtered changes of several roots in batches.
"""

from __future__ import annotations

import asyncio
import fnmatch
import os
import re
from collections.abc import AsyncIterator, Iterable, Sequence
from pathlib import Path
from typing import Literal, NamedTuple

from watchfiles import BaseFilter, Change, awatch

__all__ = ["IGNORED_DIRS", "Kind", "ProjectFilter", "classify", "watch"]

FileChange = tuple[Change, str]
Kind = Literal["python", "static", "template", "other"]

IGNORED_DIRS = frozenset(
    {
        *(".git", ".hg", ".svn", ".bzr", "__pycache__", "node_modules", ".tox", ".nox"),
        *(".mypy_cache", ".pytest_cache", ".ruff_cache", ".idea", ".vscode"),
        *("build", "dist", ".eggs", "venv", ".venv", "env", "site-packages"),
    }
)
"""Directory names whose whole subtree never triggers (besides ``*.egg-info`` and venvs)."""

# Files editors and tools write next to the real ones while saving: vim swap files and its
# "4913" writability probe, emacs autosaves and locks, LibreOffice locks, JetBrains safe-write
# temporaries, backups and bytecode.
_SCRATCH = re.compile(
    r"""
    .*~ | \..*\.sw[a-px] | 4913 | \#.*\# | \.\#.* | \.~lock\..*\#
    | .*\.(?:tmp|bak|pyc|pyo) | \.DS_Store | .*___jb_(?:tmp|old)___
    """,
    re.VERBOSE,
)

_PYTHON_SUFFIXES = frozenset({".py", ".pth"})
_STATIC_SUFFIXES = frozenset(
    {
        *(".css", ".js", ".mjs", ".map", ".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp"),
        *(".avif", ".ico", ".woff", ".woff2", ".ttf", ".otf"),
    }
)
_TEMPLATE_SUFFIXES = frozenset({".html", ".htm", ".jinja", ".jinja2", ".j2"})


class _Rule(NamedTuple):
    regex: re.Pattern[str]
    negate: bool
    dir_only: bool


class _Root(NamedTuple):
    path: str  # absolute, no trailing separator (except the filesystem root)
    top: str  # where .gitignore lookup starts: the enclosing repository, else the root itself
    prefix: tuple[str, ...]  # components from ``top`` down to ``path``


def _class_end(pattern: str, start: int) -> int:
    """Index of the ``]`` closing the bracket expression at ``start``, or -1."""
    i = start + 1
    if i < len(pattern) and pattern[i] in "!^":
        i += 1
    if i < len(pattern) and pattern[i] == "]":
        i += 1  # a leading "]" is a member, not the end
    return pattern.find("]", i)


def _glob_regex(pattern: str) -> str:
    """Translate one gitignore glob (already stripped of ``!``, anchors and trailing ``/``)."""
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "*":
            j = i
            while j < n and pattern[j] == "*":
                j += 1
            whole_segment = j - i == 2 and (i == 0 or pattern[i - 1] == "/")
            if whole_segment and j == n:
                out.append(".*")  # "dir/**": everything inside
            elif whole_segment and pattern[j] == "/":
                out.append("(?:.*/)?")  # "**/": zero or more directories
                j += 1
            else:
                out.append("[^/]*")  # any other run of stars stays inside one component
            i = j
            continue
        if c == "?":
            out.append("[^/]")
        elif c == "[" and (end := _class_end(pattern, i)) > 0:
            body = pattern[i + 1 : end]
            negate = body[:1] in ("!", "^")
            body = re.sub(r"([\\\[\]^])", r"\\\1", body[1:] if negate else body)
            out.append(f"[^/{body}]" if negate else f"[{body}]")
            i = end
        elif c == "\\" and i + 1 < n:
            i += 1
            out.append(re.escape(pattern[i]))
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


def _parse_gitignore(text: str) -> tuple[_Rule, ...]:
    """Compile the rules of one ``.gitignore``, matched against paths relative to its directory."""
    rules: list[_Rule] = []
    for raw in text.splitlines():
        line = raw.rstrip(" ")
        if line.endswith("\\") and len(line) < len(raw):
            line += " "  # "\ " keeps the escaped trailing space
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        if negate:
            line = line[1:]
        dir_only = line.endswith("/")
        line = line.rstrip("/")
        anchored = "/" in line
        line = line.lstrip("/")
        if not line:
            continue
        body = _glob_regex(line)
        regex = re.compile(body if anchored else f"(?:.*/)?{body}", re.DOTALL)
        rules.append(_Rule(regex, negate, dir_only))
    return tuple(rules)


def _maybe_dir(path: str) -> bool:
    # A deleted path cannot be stat'ed; treating it as a possible directory lets "build/"-style
    # rules swallow the deletion of the ignored directory itself.
    return os.path.isdir(path) or not os.path.lexists(path)


def _repo_top(root: str) -> str:
    for candidate in (root, *map(str, Path(root).parents)):
        if os.path.lexists(os.path.join(candidate, ".git")):
            return candidate
    return root  # outside a repository only the project's own .gitignore files count


class ProjectFilter(BaseFilter):
    """A `watchfiles` filter: true for changes that should reload, false for noise.

    Args:
        roots: the watched directories; default ignores apply below them only, so a project
            that itself lives in, say, ``~/build/site`` is still watched.
        ignore: user globs (``--ignore``), matched against each path relative to its root and
            against every component's name: ``'*.log'``, ``'data/*'`` and ``'data'`` all work.
        keep: files that always trigger, whatever the rules say (an env file is usually
            gitignored, since it holds secrets, yet its edits must restart the app).
    """

    def __init__(
        self, roots: Sequence[Path], ignore: Sequence[str] = (), keep: Sequence[Path] = ()
    ) -> None:
        super().__init__()
        self._keep = frozenset(os.path.abspath(path) for path in keep)
        self._roots: list[_Root] = []
        for root in roots:
            # Watchers may report either spelling of a symlinked root (FSEvents resolves them).
            for spelling in dict.fromkeys((os.path.abspath(root), os.path.realpath(root))):
                top = _repo_top(spelling)
                prefix = tuple(Path(spelling).relative_to(top).parts)
                self._roots.append(_Root(spelling, top, prefix))
        self._roots.sort(key=lambda r: len(r.path), reverse=True)  # innermost root wins
        self._globs = tuple(
            g.replace(os.sep, "/").removeprefix("./").rstrip("/") or g for g in ignore
        )
        self._gitignores: dict[str, tuple[_Rule, ...]] = {}
        self._venvs: dict[str, bool] = {}

    def __repr__(self) -> str:
        return f"ProjectFilter(roots={[r.path for r in self._roots]!r}, ignore={self._globs!r})"

    def __call__(self, change: Change, path: str) -> bool:
        """True if this change should trigger a reload (``.gitignore`` edits only refresh rules)."""
        return not self._notice(path) and not self.ignored(path)

    def select(self, changes: Iterable[FileChange]) -> set[FileChange]:
        """The changes of one batch that should trigger.

        Unlike filtering with ``__call__`` one change at a time, a ``.gitignore`` or venv created
        in the same batch applies to every other change of the batch, whatever the set's order.
        """
        batch = list(changes)
        meta = {path for _, path in batch if self._notice(path)}
        return {c for c in batch if c[1] not in meta and not self.ignored(c[1])}

    def ignored(self, path: str) -> bool:
        """True if ``path`` (a file or directory) or any directory above it is ignored."""
        path = os.path.abspath(path)
        if path in self._keep:
            return False
        name = os.path.basename(path)
        if _SCRATCH.fullmatch(name):
            return True
        root = next((r for r in self._roots if _is_under(path, r.path)), None)
        if root is None:
            return self._glob_hit(name, name)
        if path == root.path:
            return False
        parts = tuple(path[len(root.path) :].lstrip(os.sep).split(os.sep))
        leaf_dir = _maybe_dir(path)
        current = root.path
        for i, part in enumerate(parts):
            current = os.path.join(current, part)
            if self._glob_hit("/".join(parts[: i + 1]), part):
                return True
            is_dir = i < len(parts) - 1 or leaf_dir
            if is_dir and (
                part in IGNORED_DIRS or part.endswith(".egg-info") or self._is_venv(current)
            ):
                return True
        return self._gitignored(root, parts, leaf_dir)

    def _notice(self, path: str) -> bool:
        """Refresh caches a changed file invalidates; true for files that are only bookkeeping."""
        directory, name = os.path.split(os.path.abspath(path))
        if name == ".gitignore":
            self._gitignores.pop(directory, None)
            return True
        if name == "pyvenv.cfg" and os.path.isfile(path):
            # Sticky: a venv being deleted loses pyvenv.cfg before its other files go.
            self._venvs[directory] = True
        return False

    def _glob_hit(self, relative: str, name: str) -> bool:
        for glob in self._globs:
            if fnmatch.fnmatchcase(name, glob) or fnmatch.fnmatchcase(relative, glob):
                return True
            if glob.startswith("**/") and fnmatch.fnmatchcase(relative, glob[3:]):
                return True
        return False

    def _is_venv(self, directory: str) -> bool:
        known = self._venvs.get(directory)
        if known is None:
            known = self._venvs[directory] = os.path.isfile(os.path.join(directory, "pyvenv.cfg"))
        return known

    def _rules(self, directory: str) -> tuple[_Rule, ...]:
        rules = self._gitignores.get(directory)
        if rules is None:
            try:
                with open(os.path.join(directory, ".gitignore"), encoding="utf-8") as f:
                    rules = _parse_gitignore(f.read())
            except (OSError, UnicodeDecodeError):
                rules = ()
            self._gitignores[directory] = rules
        return rules

    def _gitignored(self, root: _Root, parts: tuple[str, ...], leaf_dir: bool) -> bool:
        full = root.prefix + parts
        dirs = [root.top]  # dirs[j] is top joined with full[:j]
        for part in full[:-1]:
            dirs.append(os.path.join(dirs[-1], part))
        # Walk down from the root: once a directory is excluded nothing below can be re-included.
        for i in range(len(root.prefix), len(full)):
            is_dir = i < len(full) - 1 or leaf_dir
            excluded = False
            # Outer files first, lines in order: the last matching rule decides.
            for j in range(i + 1):
                rules = self._rules(dirs[j])
                if not rules:
                    continue
                relative = "/".join(full[j : i + 1])
                for rule in rules:
                    if (is_dir or not rule.dir_only) and rule.regex.fullmatch(relative):
                        excluded = not rule.negate
            if excluded:
                return True
        return False


def _is_under(path: str, directory: str) -> bool:
    return path == directory or path.startswith(directory.rstrip(os.sep) + os.sep)


def classify(path: str, *, static_dirs: Sequence[Path] = ()) -> Kind:
    """What a change to ``path`` means to the dev server.

    Anything under one of ``static_dirs`` is ``"static"``; otherwise ``.py``, ``.pth`` and
    ``.env``/``.env.*`` files are ``"python"`` (restart), assets by extension are ``"static"``,
    ``.html``/``.htm``/``.jinja``/``.jinja2``/``.j2`` are ``"template"``, the rest ``"other"``.
    """
    full = os.path.abspath(path)
    if any(_is_under(full, os.path.abspath(d)) for d in static_dirs):
        return "static"
    name = os.path.basename(full)
    suffix = os.path.splitext(name)[1].lower()
    if suffix in _PYTHON_SUFFIXES or name == ".env" or name.startswith(".env."):
        return "python"
    if suffix in _STATIC_SUFFIXES:
        return "static"
    if suffix in _TEMPLATE_SUFFIXES:
        return "template"
    return "other"


def _outermost(roots: Sequence[Path]) -> list[str]:
    kept: list[str] = []
    for root in sorted({os.path.abspath(r) for r in roots}, key=len):
        if not any(_is_under(root, k) for k in kept):
            kept.append(root)  # a nested root would only duplicate the outer one's events
    return kept


async def watch(
    roots: Sequence[Path],
    filter: ProjectFilter,
    stop: asyncio.Event,
    *,
    step_ms: int = 15,
    debounce_ms: int = 300,
) -> AsyncIterator[set[FileChange]]:
    """Yield batches of relevant changes under ``roots`` (recursively) until ``stop`` is set.

    A batch closes once ``step_ms`` pass without a new change, or ``debounce_ms`` after it
    opened, so a burst of writes (a ``git checkout``, an editor's save dance) comes as one or
    two batches. Batches whose changes are all filtered out are not yielded.
    """
    async for raw in awatch(
        *_outermost(roots),
        watch_filter=None,  # filtered here per batch, so .gitignore edits apply to their batch
        stop_event=stop,
        step=step_ms,
        debounce=debounce_ms,
        recursive=True,
        # An unreadable directory in the tree (a container's data volume) must not kill reload.
        ignore_permission_denied=True,
    ):
        changes = filter.select(raw)
        if changes:
            yield changes
