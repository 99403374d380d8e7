"""The dev server's file watcher: what triggers, what is noise, and how bursts are batched."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest
from watchfiles import Change

from webkit.devtools.watcher import ProjectFilter, classify, watch

FileChange = tuple[Change, str]


def touch(path: Path, text: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A project at the top of a git repository."""
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    return root


def triggers(flt: ProjectFilter, path: Path) -> bool:
    return flt(Change.modified, str(path))


def verdicts(root: Path, gitignore: str, *paths: str) -> dict[str, bool]:
    """Write ``gitignore`` at the root and each path as a file; map path -> triggers."""
    touch(root / ".gitignore", gitignore)
    for path in paths:
        touch(root / path)
    flt = ProjectFilter([root])
    return {path: triggers(flt, root / path) for path in paths}


# -- default ignores ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "directory",
    [
        *(".git", ".hg", ".svn", ".bzr", "__pycache__", "node_modules", ".tox", ".nox"),
        *(".mypy_cache", ".pytest_cache", ".ruff_cache", ".idea", ".vscode", "build", "dist"),
        *("webkit.egg-info", ".eggs", "venv", ".venv", "env", "lib/python3.11/site-packages"),
    ],
)
def test_tool_directories_are_ignored_with_their_subtree(tmp_path: Path, directory: str) -> None:
    flt = ProjectFilter([tmp_path])
    assert not triggers(flt, touch(tmp_path / directory / "mod.py"))
    assert not triggers(flt, touch(tmp_path / directory / "deep" / "er" / "mod.py"))
    assert not triggers(flt, tmp_path / directory)
    assert triggers(flt, touch(tmp_path / "pkg" / "mod.py"))


@pytest.mark.parametrize(
    "name",
    [
        *("app.py~", ".app.py.swp", ".app.py.swo", ".app.py.swx", "4913", "#app.py#"),
        *(".#app.py", ".~lock.report.odt#", "upload.tmp", "settings.py.bak", ".DS_Store"),
        *("app.py___jb_tmp___", "app.py___jb_old___", "app.pyc", "app.pyo"),
    ],
)
def test_editor_scratch_files_are_ignored(tmp_path: Path, name: str) -> None:
    flt = ProjectFilter([tmp_path])
    assert not triggers(flt, touch(tmp_path / name))
    assert not triggers(flt, touch(tmp_path / "pkg" / name))


@pytest.mark.parametrize(
    "name", ["app.py", "49130.py", "#include.h", "swp.py", "tmp.py", "backup.py", "build.py"]
)
def test_near_misses_still_trigger(tmp_path: Path, name: str) -> None:
    assert triggers(ProjectFilter([tmp_path]), touch(tmp_path / name))


def test_a_file_named_like_an_ignored_directory_triggers(tmp_path: Path) -> None:
    assert triggers(ProjectFilter([tmp_path]), touch(tmp_path / "conf" / "env"))


def test_any_directory_with_pyvenv_cfg_is_a_venv(tmp_path: Path) -> None:
    touch(tmp_path / "py311" / "pyvenv.cfg", "home = /usr/bin\n")
    flt = ProjectFilter([tmp_path])
    assert not triggers(flt, touch(tmp_path / "py311" / "lib" / "thing.py"))
    assert not triggers(flt, tmp_path / "py311")
    assert triggers(flt, touch(tmp_path / "tools" / "thing.py"))


def test_venv_created_after_its_directory_was_seen(tmp_path: Path) -> None:
    flt = ProjectFilter([tmp_path])
    assert triggers(flt, touch(tmp_path / "tools" / "a.py"))  # "tools" cached as not a venv
    cfg = touch(tmp_path / "tools" / "pyvenv.cfg")
    batch = {(Change.added, str(cfg)), (Change.added, str(touch(tmp_path / "tools" / "b.py")))}
    assert flt.select(batch) == set()
    # Stays a venv while it is being deleted, pyvenv.cfg first.
    cfg.unlink()
    assert not triggers(flt, tmp_path / "tools" / "b.py")


def test_defaults_apply_only_below_the_root(tmp_path: Path) -> None:
    root = tmp_path / "build" / "env" / "site"
    flt = ProjectFilter([root])
    assert triggers(flt, touch(root / "app.py"))
    assert not triggers(flt, touch(root / "build" / "app.py"))


# -- .gitignore --------------------------------------------------------------------------------


def test_gitignore_unanchored_patterns_match_at_any_depth(repo: Path) -> None:
    assert verdicts(repo, "*.log\n", "a.log", "sub/deep/b.log", "a.py") == {
        "a.log": False,
        "sub/deep/b.log": False,
        "a.py": True,
    }


def test_gitignore_anchored_patterns(repo: Path) -> None:
    rules = "/todo.txt\nsrc/gen.py\nsrc/*.txt\n"
    paths = ("todo.txt", "sub/todo.txt", "src/gen.py", "x/src/gen.py", "src/a.txt", "src/b/a.txt")
    assert verdicts(repo, rules, *paths) == {
        "todo.txt": False,
        "sub/todo.txt": True,
        "src/gen.py": False,
        "x/src/gen.py": True,
        "src/a.txt": False,
        "src/b/a.txt": True,  # "*" does not cross "/"
    }


def test_gitignore_trailing_slash_matches_directories_only(repo: Path) -> None:
    paths = ("cache/x.py", "sub/cache/y/z.py", "other/cache")
    assert verdicts(repo, "cache/\n", *paths) == {
        "cache/x.py": False,
        "sub/cache/y/z.py": False,
        "other/cache": True,  # a file
    }


def test_gitignore_negation_later_rules_win(repo: Path) -> None:
    paths = ("a.py", "keep.py", "pkg/keep.py", "out/keep.py", "late.txt")
    rules = "*.py\n!keep.py\nout/\n!out/keep.py\n!late.txt\n*.txt\n"
    assert verdicts(repo, rules, *paths) == {
        "a.py": False,
        "keep.py": True,
        "pkg/keep.py": True,
        "out/keep.py": False,  # nothing is re-included below an excluded directory
        "late.txt": False,
    }


def test_gitignore_double_star(repo: Path) -> None:
    rules = "**/gen/*.py\na/**/b.py\nlogs/**\n"
    paths = ("gen/x.py", "p/q/gen/x.py", "gen/sub/x.py", "a/b.py", "a/x/y/b.py", "logs/1/2.txt")
    assert verdicts(repo, rules, *paths) == {
        "gen/x.py": False,
        "p/q/gen/x.py": False,
        "gen/sub/x.py": True,
        "a/b.py": False,
        "a/x/y/b.py": False,
        "logs/1/2.txt": False,
    }


def test_gitignore_wildcards_classes_escapes_and_comments(repo: Path) -> None:
    rules = "# a.py\n\nfile?.txt\n[ab].md\n[!x]y.cfg\n\\#notes.txt\n\\!bang.txt\nsp\\ \n"
    paths: tuple[str, ...] = ("a.py", "file1.txt", "file10.txt", "a.md", "c.md", "zy.cfg", "xy.cfg")
    paths += ("#notes.txt", "!bang.txt", "sp ", "sp")
    assert verdicts(repo, rules, *paths) == {
        "a.py": True,
        "file1.txt": False,
        "file10.txt": True,
        "a.md": False,
        "c.md": True,
        "zy.cfg": False,
        "xy.cfg": True,
        "#notes.txt": False,
        "!bang.txt": False,
        "sp ": False,
        "sp": True,
    }


def test_nested_gitignore_applies_to_its_subtree(repo: Path) -> None:
    touch(repo / "sub" / ".gitignore", "*.txt\n/only.cfg\n!keep.log\n")
    paths: tuple[str, ...] = ("a.txt", "sub/a.txt", "sub/deep/b.txt", "sub/only.cfg")
    paths += ("sub/deep/only.cfg", "keep.log", "sub/keep.log")
    assert verdicts(repo, "*.log\n", *paths) == {
        "a.txt": True,
        "sub/a.txt": False,
        "sub/deep/b.txt": False,
        "sub/only.cfg": False,
        "sub/deep/only.cfg": True,
        "keep.log": False,
        "sub/keep.log": True,  # the deeper file overrides its parent's rule
    }


def test_parent_gitignores_count_up_to_the_repository_root(tmp_path: Path, repo: Path) -> None:
    touch(tmp_path / ".gitignore", "*.py\n")  # outside the repository: not ours
    touch(repo / ".gitignore", "*.log\n/proj/generated/\n")
    touch(repo / "proj" / ".gitignore", "*.tmpl\n")
    root = repo / "proj"
    flt = ProjectFilter([root])
    assert not triggers(flt, touch(root / "a.log"))
    assert not triggers(flt, touch(root / "generated" / "x.html"))
    assert not triggers(flt, touch(root / "page.tmpl"))
    assert triggers(flt, touch(root / "app.py"))


def test_without_a_repository_only_the_roots_own_gitignores_count(tmp_path: Path) -> None:
    if any((parent / ".git").exists() for parent in tmp_path.parents):
        pytest.skip("the temporary directory lies inside a git repository")
    touch(tmp_path / ".gitignore", "*.py\n")
    root = tmp_path / "proj"
    touch(root / ".gitignore", "*.log\n")
    flt = ProjectFilter([root])
    assert triggers(flt, touch(root / "app.py"))
    assert not triggers(flt, touch(root / "a.log"))


def test_edited_gitignore_takes_effect_and_does_not_trigger(repo: Path) -> None:
    gitignore = touch(repo / ".gitignore", "*.log\n")
    flt = ProjectFilter([repo])
    assert triggers(flt, touch(repo / "a.txt"))
    gitignore.write_text("*.log\n*.txt\n")
    assert not flt(Change.modified, str(gitignore))
    assert not triggers(flt, repo / "a.txt")
    assert not triggers(flt, touch(repo / "a.log"))
    gitignore.unlink()
    assert not flt(Change.deleted, str(gitignore))
    assert triggers(flt, repo / "a.log")


def test_gitignore_created_in_a_batch_applies_to_the_whole_batch(repo: Path) -> None:
    flt = ProjectFilter([repo])
    out = touch(repo / "sub" / "out.html")
    assert triggers(flt, out)
    gitignore = touch(repo / "sub" / ".gitignore", "*.html\n")
    app = touch(repo / "app.py")
    batch = {(Change.added, str(gitignore)), (Change.modified, str(out)), (Change.added, str(app))}
    assert flt.select(batch) == {(Change.added, str(app))}


# -- --ignore ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("globs", "ignored", "kept"),
    [
        (["*.log"], ["a.log", "sub/deep/b.log"], ["a.py", "log.py"]),
        (["data/*"], ["data/x.csv", "data/sub/y.py"], ["data.py", "other/data.py"]),
        (["data"], ["data/x/y.py", "pkg/data/z.py"], ["database.py", "datax/a.py"]),
        (["./media/"], ["media/a.png"], ["app.py"]),
        (["**/gen.py"], ["gen.py", "a/b/gen.py"], ["gen.pyx"]),
    ],
)
def test_user_ignore_globs(
    tmp_path: Path, globs: list[str], ignored: list[str], kept: list[str]
) -> None:
    flt = ProjectFilter([tmp_path], ignore=globs)
    assert [p for p in ignored if triggers(flt, touch(tmp_path / p))] == []
    assert [p for p in kept if not triggers(flt, touch(tmp_path / p))] == []


# -- classify ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        *[(n, "python") for n in ("app.py", "pkg/mod.py", "local.pth", ".env", ".env.local")],
        *[(f"assets/a.{e}", "static") for e in ("css", "js", "mjs", "map", "png", "jpg")],
        *[(f"a.{e}", "static") for e in ("jpeg", "gif", "svg", "webp", "avif", "ico", "woff")],
        *[(f"a.{e}", "static") for e in ("woff2", "ttf", "otf", "PNG")],
        *[(f"templates/a.{e}", "template") for e in ("html", "htm", "jinja", "jinja2", "j2")],
        *[(n, "other") for n in ("README.md", "data.json", "a.pyi", "env", "Makefile")],
        ("static/app.py", "static"),
        ("static/deep/page.html", "static"),
        ("staticfiles/app.py", "python"),
    ],
)
def test_classify(tmp_path: Path, name: str, kind: str) -> None:
    assert classify(str(tmp_path / name), static_dirs=[tmp_path / "static"]) == kind


# -- watching for real -------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def watching(
    roots: Sequence[Path], flt: ProjectFilter | None = None
) -> AsyncIterator[asyncio.Queue[set[FileChange]]]:
    """Run `watch` in a task; yield the queue of its batches once it demonstrably sees changes."""
    stop = asyncio.Event()
    batches: asyncio.Queue[set[FileChange]] = asyncio.Queue()

    async def pump() -> None:
        async for batch in watch(roots, flt or ProjectFilter(roots), stop):
            batches.put_nowait(batch)

    task = asyncio.create_task(pump())
    probe = roots[0] / "probe.py"
    try:
        for _ in range(40):  # poke until a batch proves the watcher is armed
            probe.write_text("")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(batches.get(), 0.1)
                break
        else:
            pytest.fail("the watcher never reported the probe")
        await asyncio.sleep(0.1)
        while not batches.empty():
            batches.get_nowait()
        yield batches
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)


def paths_of(batch: set[FileChange]) -> set[str]:
    return {path for _, path in batch}


async def test_editing_a_python_file_is_one_batch(tmp_path: Path) -> None:
    app = touch(tmp_path / "app.py", "x = 1\n")
    async with watching([tmp_path]) as batches:
        app.write_text("x = 2\n")
        batch = await asyncio.wait_for(batches.get(), 2)
        assert batch == {(Change.modified, str(app))}
        await asyncio.sleep(0.2)
        assert batches.empty()


async def test_noise_is_not_delivered(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    gitignore = touch(tmp_path / ".gitignore", "secret.py\n")
    app = touch(tmp_path / "app.py")
    async with watching([tmp_path]) as batches:
        touch(tmp_path / ".git" / "index", "x")
        touch(tmp_path / "__pycache__" / "app.cpython-311.pyc", "x")
        touch(tmp_path / "secret.py", "x")
        touch(tmp_path / ".app.py.swp", "x")
        touch(tmp_path / "4913")
        (tmp_path / "4913").unlink()
        gitignore.write_text("secret.py\n# same rules\n")
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(batches.get(), 0.5)
        app.write_text("x = 1\n")
        assert paths_of(await asyncio.wait_for(batches.get(), 2)) == {str(app)}


async def test_a_burst_of_writes_is_one_or_two_batches(tmp_path: Path) -> None:
    files = [tmp_path / "pkg" / f"mod_{i}.py" for i in range(30)]
    files[0].parent.mkdir()
    async with watching([tmp_path]) as batches:

        def checkout() -> float:
            # Spread out like a checkout, and off the loop so the watcher runs meanwhile.
            started = time.monotonic()
            for path in files:
                path.write_text("x = 1\n")
                time.sleep(0.001)
            return time.monotonic() - started

        assert await asyncio.to_thread(checkout) < 0.1
        seen: set[str] = set()
        count = 0
        while not {str(f) for f in files} <= seen:
            seen |= paths_of(await asyncio.wait_for(batches.get(), 2))
            count += 1
        await asyncio.sleep(0.35)  # longer than the debounce: stragglers would be here by now
        assert count + batches.qsize() <= 2
        assert seen == {str(f) for f in files}


async def test_several_roots_are_watched(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    x, y = touch(a / "inner" / "x.py"), touch(b / "y.py")
    async with watching([a, b, a / "inner"]) as batches:
        x.write_text("x = 1\n")
        y.write_text("y = 1\n")
        seen: list[FileChange] = []
        while {p for _, p in seen} != {str(x), str(y)}:
            seen += await asyncio.wait_for(batches.get(), 2)
        assert sorted(p for _, p in seen) == [str(x), str(y)]
