"""`webkit.devtools.scaffold`: cookiecutter's semantics, answers, checks and all-or-nothing writes.

The semantics are checked against the real ``cookiecutter`` command (the test extra installs
it) on a small template that uses every feature webkit implements.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from webkit.devtools import scaffold
from webkit.devtools.scaffold import ScaffoldError, Template, Variable

CHECKOUT_TEMPLATE = Path(__file__).resolve().parents[2] / "templates" / "cookiecutter"
BINARY = b"\x89BIN\x00\x01{{ cookiecutter.project_slug }}\x00\xff\xfe"

MINI_CONFIG: dict[str, Any] = {
    "full_name": "Ada Lovelace",
    "project_name": "Analytical Engine",
    "project_slug": "{{ cookiecutter.project_name|lower|replace(' ', '_') }}",
    "license": ["MIT", "BSD-3-Clause", "Apache-2.0"],
    "use_docker": False,
    "version": 1,
    "__note": "{{ cookiecutter.full_name }} wrote {{ cookiecutter.project_slug }}",
    "_copy_without_render": ["raw/*", "*.raw.txt", "verbatim"],
    "meta": {"owner": "{{ cookiecutter.full_name }}", "tags": ["a", "{{ cookiecutter.license }}"]},
    "__prompts__": {"full_name": "Your name", "license": {"__prompt__": "License"}},
}
MINI_FILES: dict[str, bytes] = {
    "README.md": (
        b"# {{ cookiecutter.project_name }}\n{{ cookiecutter.__note }}\n"
        b"{{ cookiecutter.meta.owner }} {{ cookiecutter.meta.tags|join(',') }}\n"
        b"version {{ cookiecutter.version }}, docker {{ cookiecutter.use_docker }}\n"
    ),
    "no_newline.txt": b"{{ cookiecutter.license }}",
    "trailing.txt": b"{{ cookiecutter.full_name }}\n\n",
    "crlf.txt": b"line {{ cookiecutter.version }}\r\n{% if true %}second{% endif %}\r\n",
    ".hidden": b"slug={{ cookiecutter.project_slug }}\n",
    "run.sh": b"#!/bin/sh\necho {{ cookiecutter.project_slug }}\n",
    "{{cookiecutter.project_slug}}/__init__.py": b"NAME = '{{ cookiecutter.project_slug }}'\n",
    "{{cookiecutter.project_slug}}/logo-{{cookiecutter.license}}.dat": BINARY,
    "{% if cookiecutter.use_docker %}Dockerfile{% endif %}": b"FROM python:3.12\n",
    "raw/page.html": b"<p>{{ kept }}</p>\n",
    "notes.raw.txt": b"{% kept %}\n",
    "verbatim/{{cookiecutter.project_slug}}.txt": b"{{ kept }}\n",
}


def make_template(root: Path, config: Mapping[str, Any], files: Mapping[str, bytes]) -> Path:
    root.mkdir(parents=True)
    (root / "cookiecutter.json").write_text(json.dumps(config, indent=2))
    project = root / "{{cookiecutter.project_slug}}"
    for name, data in files.items():
        path = project / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    if (project / "run.sh").exists():
        (project / "run.sh").chmod(0o755)
    return root


def tree(root: Path) -> dict[str, tuple[str, bytes | None, int]]:
    """Every entry under root: kind, content (files) and permission bits."""
    found: dict[str, tuple[str, bytes | None, int]] = {}
    for path in sorted(root.rglob("*")):
        mode = stat.S_IMODE(path.stat().st_mode)
        if path.is_dir():
            found[path.relative_to(root).as_posix()] = ("dir", None, mode)
        else:
            found[path.relative_to(root).as_posix()] = ("file", path.read_bytes(), mode)
    return found


def run_cookiecutter(template: Path, out: Path, home: Path, **extra: str) -> Path:
    home.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("COOKIECUTTER")}
    env["HOME"] = str(home)  # its replay file goes there
    args = [f"{key}={value}" for key, value in extra.items()]
    done = subprocess.run(
        [sys.executable, "-m", "cookiecutter", "--no-input", "-o", str(out), str(template), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    (project,) = out.iterdir()
    return project


def render_with_webkit(template_dir: Path, target: Path, **answers: str) -> scaffold.Project:
    template = scaffold.load_template(template_dir)
    context = scaffold.collect_answers(template, answers=answers)
    return scaffold.render_project(template, context, target)


@pytest.fixture
def mini(tmp_path: Path) -> Path:
    return make_template(tmp_path / "mini", MINI_CONFIG, MINI_FILES)


# ----------------------------------------------------------------------------- cookiecutter


@pytest.mark.parametrize(
    "answers",
    [
        {},
        {"full_name": "Grace Hopper", "license": "Apache-2.0", "use_docker": "yes"},
        {"project_name": "Difference Engine", "version": "2"},
    ],
    ids=["defaults", "choice-and-bool", "derived-slug"],
)
def test_renders_what_cookiecutter_renders(
    mini: Path, tmp_path: Path, answers: dict[str, str]
) -> None:
    expected = run_cookiecutter(mini, tmp_path / "cc", tmp_path / "home", **answers)
    ours = render_with_webkit(mini, tmp_path / "ours", **answers)
    assert tree(ours.path) == tree(expected)
    assert ours.files == tuple(
        path for path, (kind, _, _) in sorted(tree(expected).items()) if kind == "file"
    )


def test_the_mini_template_exercises_each_feature(mini: Path, tmp_path: Path) -> None:
    project = render_with_webkit(mini, tmp_path / "out", use_docker="no").path
    slug = "analytical_engine"
    assert (project / "README.md").read_text() == (
        "# Analytical Engine\nAda Lovelace wrote analytical_engine\n"
        "Ada Lovelace a,MIT\nversion 1, docker False\n"
    )
    assert (project / "no_newline.txt").read_bytes() == b"MIT"
    assert (project / "trailing.txt").read_bytes() == b"Ada Lovelace\n\n"
    assert (project / "crlf.txt").read_bytes() == b"line 1\r\nsecond\r\n"
    assert os.access(project / "run.sh", os.X_OK)
    assert (project / slug / "logo-MIT.dat").read_bytes() == BINARY
    assert not list(project.glob("*Dockerfile*"))
    assert (project / "raw/page.html").read_bytes() == MINI_FILES["raw/page.html"]
    assert (project / "notes.raw.txt").read_bytes() == b"{% kept %}\n"
    assert (project / "verbatim/{{cookiecutter.project_slug}}.txt").read_bytes() == b"{{ kept }}\n"


def test_builtin_template_matches_cookiecutter(tmp_path: Path) -> None:
    answers = {"project_name": "Tea Shop", "author": "Ann Author", "python_version": "3.12"}
    expected = run_cookiecutter(CHECKOUT_TEMPLATE, tmp_path / "cc", tmp_path / "home", **answers)
    ours = render_with_webkit(CHECKOUT_TEMPLATE, tmp_path / "ours", **answers)
    assert expected.name == "tea_shop"
    assert tree(ours.path) == tree(expected)


# ----------------------------------------------------------------------------- answers


def test_builtin_template_is_the_checkouts_in_a_checkout() -> None:
    with scaffold.builtin_template() as path:
        assert path == CHECKOUT_TEMPLATE
        template = scaffold.load_template(path, builtin=True)
    assert [v.name for v in template.variables] == [
        "project_name",
        "project_slug",
        "description",
        "author",
        "python_version",
    ]
    assert template.variables[0].prompt == "Project name"
    assert template.package_names >= {"app", "views", "settings", "static", "templates"}


def test_defaults_render_over_earlier_answers(mini: Path) -> None:
    template = scaffold.load_template(mini)
    context = scaffold.collect_answers(template, answers={"project_name": "Big Sky"})
    assert context["project_slug"] == "big_sky"
    assert context["license"] == "MIT"
    assert context["use_docker"] is False
    assert context["version"] == "1"
    assert context["__note"] == "Ada Lovelace wrote big_sky"
    assert context["meta"] == {"owner": "Ada Lovelace", "tags": ["a", "MIT"]}
    assert context["_copy_without_render"] == MINI_CONFIG["_copy_without_render"]
    assert "__prompts__" not in context


def test_answers_follow_cookiecutters_rules(mini: Path) -> None:
    template = scaffold.load_template(mini)
    context = scaffold.collect_answers(
        template, answers={"license": "BSD-3-Clause", "use_docker": "on"}
    )
    assert (context["license"], context["use_docker"]) == ("BSD-3-Clause", True)
    with pytest.raises(ScaffoldError, match=r"'GPL' is not a choice for 'license'"):
        scaffold.collect_answers(template, answers={"license": "GPL"})
    with pytest.raises(ScaffoldError, match="yes/no"):
        scaffold.collect_answers(template, answers={"use_docker": "perhaps"})
    with pytest.raises(ScaffoldError, match="no variable 'colour'") as info:
        scaffold.collect_answers(template, answers={"colour": "red"})
    assert "full_name" in info.value.hint
    with pytest.raises(ScaffoldError, match="no variable '_copy_without_render'"):
        scaffold.collect_answers(template, answers={"_copy_without_render": "[]"})


def test_suggestions_replace_defaults_and_answers_replace_suggestions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gitconfig = tmp_path / "gitconfig"
    gitconfig.write_text("[user]\n\tname = Grace Hopper\n")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(gitconfig))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.chdir(tmp_path)
    template = scaffold.load_template(CHECKOUT_TEMPLATE, builtin=True)
    suggestions = scaffold.suggested_defaults(Path("my-blog"), template)
    running = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert suggestions["project_name"] == "My Blog"
    if running in template.context["python_version"]:
        assert suggestions["python_version"] == running
    if "author" in suggestions:  # git is installed
        assert suggestions["author"] == "Grace Hopper"
    context = scaffold.collect_answers(
        template, suggestions=suggestions, answers={"description": "Notes"}
    )
    assert context["project_name"] == "My Blog"
    assert context["project_slug"] == "my_blog"
    assert context["description"] == "Notes"
    assert scaffold.suggested_defaults(Path("CamelCase"), template)["project_name"] == "CamelCase"


class FakePrompter:
    def __init__(self, replies: dict[str, list[Any]]) -> None:
        self.replies = replies
        self.asked: list[tuple[str, Any]] = []
        self.rejected: list[str] = []

    def ask(self, variable: Variable, default: Any) -> Any:
        self.asked.append((variable.name, default))
        queue = self.replies.get(variable.name)
        return queue.pop(0) if queue else (default[0] if variable.kind == "choice" else default)

    def reject(self, variable: Variable, error: ScaffoldError) -> None:
        self.rejected.append(f"{variable.name}: {error.message}")


def test_prompts_in_order_with_rendered_defaults_and_ask_again_on_bad_answers() -> None:
    template = scaffold.load_template(CHECKOUT_TEMPLATE, builtin=True)
    prompter = FakePrompter({"project_name": ["Wiki Farm"], "project_slug": ["class", "wiki"]})
    context = scaffold.collect_answers(template, answers={"author": "Lin"}, prompter=prompter)
    assert [name for name, _ in prompter.asked] == [
        "project_name",
        "project_slug",
        "project_slug",
        "description",
        "python_version",  # author was given with --set: not asked
    ]
    assert prompter.asked[1] == ("project_slug", "wiki_farm")
    assert prompter.asked[3] == ("description", "Wiki Farm: a web application built with webkit.")
    assert prompter.asked[4][1] == ["3.11", "3.12", "3.13"]
    assert prompter.rejected == ["project_slug: 'class' is a Python keyword, not a package name"]
    assert (context["project_slug"], context["author"]) == ("wiki", "Lin")


@pytest.mark.parametrize(
    ("slug", "reason"),
    [
        ("2fast", "cannot be a Python package name"),
        ("my-app", "cannot be a Python package name"),
        ("café", "cannot be a Python package name"),
        ("_private", "cannot be a Python package name"),
        ("trailing_", "cannot be a Python package name"),
        ("", "cannot be a Python package name"),
        ("class", "Python keyword"),
        ("json", "shadow the standard library's module 'json'"),
        ("asyncio", "shadow the standard library's module"),
        ("test", "shadow the module 'test'"),
        ("tests", "shadow the module 'tests'"),
        ("webkit", "shadow the module 'webkit'"),
        ("Jinja2", "shadow the module 'jinja2'"),
        ("pytest", "shadow the module 'pytest'"),
        ("app", "module inside the project's package"),
        ("static", "module inside the project's package"),
    ],
)
def test_refuses_slugs_that_cannot_be_the_package(slug: str, reason: str) -> None:
    template = scaffold.load_template(CHECKOUT_TEMPLATE, builtin=True)
    with pytest.raises(ScaffoldError, match=reason) as info:
        scaffold.check_answer(template, "project_slug", slug)
    assert "--set project_slug=" in info.value.hint


@pytest.mark.parametrize("slug", ["blog", "my_app2", "Shop", "x"])
def test_accepts_package_names(slug: str) -> None:
    template = scaffold.load_template(CHECKOUT_TEMPLATE, builtin=True)
    scaffold.check_answer(template, "project_slug", slug)


def test_refuses_texts_the_builtin_template_cannot_quote() -> None:
    template = scaffold.load_template(CHECKOUT_TEMPLATE, builtin=True)
    with pytest.raises(ScaffoldError, match="contains '\"'"):
        scaffold.collect_answers(template, answers={"description": 'The "best" app'})
    with pytest.raises(ScaffoldError, match="contains"):
        scaffold.check_answer(template, "author", "two\nlines")
    scaffold.check_answer(template, "author", "Seán O'Brien")


# ----------------------------------------------------------------------------- templates


def test_refuses_templates_it_would_render_differently(tmp_path: Path) -> None:
    hooks = make_template(tmp_path / "hooks", {"project_slug": "x"}, {"a.txt": b"a\n"})
    (hooks / "hooks").mkdir()
    (hooks / "hooks" / "post_gen_project.py").write_text("print('hi')\n")
    with pytest.raises(ScaffoldError, match="has hooks"):
        scaffold.load_template(hooks)
    extensions = make_template(
        tmp_path / "ext", {"project_slug": "x", "_extensions": ["jinja2_time.TimeExtension"]}, {}
    )
    with pytest.raises(ScaffoldError, match="Jinja extensions"):
        scaffold.load_template(extensions)
    with pytest.raises(ScaffoldError, match=r"has no cookiecutter\.json"):
        scaffold.load_template(tmp_path)
    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "cookiecutter.json").write_text("{}")
    with pytest.raises(ScaffoldError, match="exactly one"):
        scaffold.load_template(bare)
    (bare / "cookiecutter.json").write_text("[1, 2]")
    with pytest.raises(ScaffoldError, match="not a JSON object"):
        scaffold.load_template(bare)


def test_a_file_that_does_not_render_leaves_nothing(tmp_path: Path) -> None:
    files = {"a/first.txt": b"{{ cookiecutter.project_slug }}\n", "z/last.txt": b"{{ nope }}\n"}
    broken = make_template(tmp_path / "broken", {"project_slug": "x"}, files)
    parent = tmp_path / "parent"
    parent.mkdir()
    with pytest.raises(ScaffoldError, match=r"cannot render z/last.txt:1: 'nope' is undefined"):
        render_with_webkit(broken, parent / "deeper" / "project")
    assert list(parent.iterdir()) == []


def test_a_default_that_does_not_render_names_the_variable(tmp_path: Path) -> None:
    config = {"project_slug": "{{ cookiecutter.missing }}"}
    broken = make_template(tmp_path / "broken", config, {"a.txt": b"a\n"})
    with pytest.raises(ScaffoldError, match="default of 'project_slug'"):
        render_with_webkit(broken, tmp_path / "out")


def test_rendered_names_stay_inside_the_project(tmp_path: Path) -> None:
    files = {"{{ cookiecutter.where }}/x.txt": b"x\n"}
    template = make_template(tmp_path / "t", {"project_slug": "p", "where": ".."}, files)
    with pytest.raises(ScaffoldError, match="outside the project"):
        render_with_webkit(template, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert not (tmp_path / "x.txt").exists()


# ----------------------------------------------------------------------------- the target


def snapshot(root: Path) -> dict[str, tuple[str, bytes | None, int]]:
    return tree(root) if root.exists() else {}


def test_refuses_a_non_empty_directory_and_writes_nothing(mini: Path, tmp_path: Path) -> None:
    target = tmp_path / "existing"
    target.mkdir()
    (target / "keep.txt").write_text("mine\n")
    before = snapshot(tmp_path)
    with pytest.raises(ScaffoldError, match="is not empty") as info:
        render_with_webkit(mini, target)
    assert "--force" in info.value.hint
    assert snapshot(tmp_path) == before


def test_an_empty_directory_is_filled(mini: Path, tmp_path: Path) -> None:
    target = tmp_path / "empty"
    target.mkdir()
    project = render_with_webkit(mini, target)
    assert project.path == target
    assert (target / "README.md").is_file()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_force_replaces_files_and_keeps_the_others(mini: Path, tmp_path: Path) -> None:
    target = tmp_path / "existing"
    (target / "raw").mkdir(parents=True)
    (target / "keep.txt").write_text("mine\n")
    (target / "README.md").write_text("old\n")
    (target / "raw" / "other.html").write_text("other\n")
    template = scaffold.load_template(mini)
    context = scaffold.collect_answers(template)
    scaffold.render_project(template, context, target, force=True)
    assert (target / "keep.txt").read_text() == "mine\n"
    assert (target / "raw" / "other.html").read_text() == "other\n"
    assert (target / "README.md").read_text().startswith("# Analytical Engine\n")
    assert (target / "raw" / "page.html").is_file()


def test_force_refuses_a_file_where_the_project_has_a_directory(mini: Path, tmp_path: Path) -> None:
    target = tmp_path / "existing"
    target.mkdir()
    (target / "raw").write_text("a file\n")
    before = snapshot(tmp_path)
    template = scaffold.load_template(mini)
    with pytest.raises(ScaffoldError, match="is in the way"):
        scaffold.render_project(template, scaffold.collect_answers(template), target, force=True)
    assert snapshot(tmp_path) == before


def test_refuses_a_file_as_target(mini: Path, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(ScaffoldError, match="is a file"):
        scaffold.check_target(tmp_path / "file", force=True)


def test_next_steps(mini: Path, tmp_path: Path) -> None:
    template = scaffold.load_template(CHECKOUT_TEMPLATE, builtin=True)
    context = scaffold.collect_answers(template, answers={"project_name": "Blog"})
    project = scaffold.render_project(template, context, tmp_path / "my blog")
    steps = scaffold.next_steps(project, context, cwd=tmp_path)
    activate = r".venv\Scripts\activate" if os.name == "nt" else ". .venv/bin/activate"
    assert steps == [
        "cd 'my blog'",
        "python -m venv .venv",
        activate,
        "pip install -e '.[test]'",
        "webkit runserver blog/app.py:create_app",
        "pytest",
    ]
    assert scaffold.next_steps(project, context, cwd=project.path)[0] == "python -m venv .venv"
    other = render_with_webkit(mini, tmp_path / "mini-out")
    assert scaffold.next_steps(other, {}, cwd=tmp_path) == ["cd mini-out"]
    # From a checkout, webkit itself is installed first (it may not be on any package index).
    checkout = scaffold.webkit_checkout()
    assert checkout is not None
    assert (checkout / "src" / "webkit" / "__init__.py").is_file()
    steps = scaffold.next_steps(project, context, cwd=tmp_path, webkit_source=checkout)
    assert steps.index(f"pip install -e {checkout}") == steps.index("pip install -e '.[test]'") - 1


def test_the_generated_project_is_ruff_clean(tmp_path: Path) -> None:
    pytest.importorskip("ruff")
    template = scaffold.load_template(CHECKOUT_TEMPLATE, builtin=True)
    context = scaffold.collect_answers(template, answers={"project_name": "Lint Me"})
    project = scaffold.render_project(template, context, tmp_path / "lint-me").path
    for command in (["check"], ["format", "--check"]):
        done = subprocess.run(
            [sys.executable, "-m", "ruff", *command, "--no-cache", "."],
            cwd=project,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stdout + done.stderr


def test_template_dataclass_lists_no_private_variables(mini: Path) -> None:
    template: Template = scaffold.load_template(mini)
    names = [v.name for v in template.variables]
    assert names == [
        "full_name",
        "project_name",
        "project_slug",
        "license",
        "use_docker",
        "version",
        "meta",
    ]
    kinds = {v.name: v.kind for v in template.variables}
    assert kinds["license"] == "choice"
    assert kinds["use_docker"] == "bool"
    assert kinds["meta"] == "dict"
    assert template.variables[0].prompt == "Your name"
    assert template.variables[3].prompt == "License"
