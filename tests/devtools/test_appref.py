"""APP discovery: every accepted form, and a typed error for every wrong one."""

from __future__ import annotations

import asyncio
import importlib
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from webkit import web
from webkit.devtools.appref import AppRef, load_app, parse
from webkit.devtools.errors import (
    AmbiguousAppError,
    AppAttributeError,
    AppNotFoundError,
    AppRefError,
    AppRefSyntaxError,
    FactoryArgumentsError,
    NotAnAppError,
    UserCodeError,
)

APP = """
from webkit import web
from marks import NAME
app = web.Application()
app[NAME] = "plain"
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    before = set(sys.modules)
    write(tmp_path / "marks.py", "from webkit import web\nNAME = web.AppKey('name', str)\n")
    yield tmp_path
    for name in set(sys.modules) - before:
        del sys.modules[name]


def write(path: Path, source: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source))
    importlib.invalidate_caches()
    return path


def load(spec: str) -> web.Application:
    return asyncio.run(load_app(parse(spec)))


def name_of(app: web.Application) -> str:
    name: str = app[sys.modules["marks"].NAME]
    return name


# --- parse: forms, without importing ---------------------------------------------------------


def test_parse_module_and_attr(project: Path) -> None:
    ref = parse("pkg.mod:make")
    assert (ref.module, ref.path, ref.attr) == ("pkg.mod", None, "make")
    assert ref.watch_dir == project


def test_parse_file_with_and_without_attr(project: Path) -> None:
    write(project / "src" / "site.py", APP)
    ref = parse("src/site.py:app")
    assert (ref.module, ref.path, ref.attr) == (None, project / "src" / "site.py", "app")
    assert ref.watch_dir == project / "src"
    assert parse("src/site.py").attr is None


@pytest.mark.parametrize("filename", ["app.py", "main.py"])
def test_parse_directory_finds_app_or_main(project: Path, filename: str) -> None:
    write(project / "proj" / filename, APP)
    assert parse("proj").path == project / "proj" / filename
    assert parse("proj/").path == project / "proj" / filename


def test_parse_directory_prefers_app_py(project: Path) -> None:
    write(project / "app.py", APP)
    write(project / "main.py", APP)
    assert parse(".").path == project / "app.py"


@pytest.mark.parametrize(
    ("spec", "error", "words"),
    [
        ("missing.py", AppNotFoundError, "does not exist"),
        ("sub/missing.py:app", AppNotFoundError, "does not exist"),
        ("emptydir", AppNotFoundError, "no app.py or main.py"),
        ("not-a-module", AppRefSyntaxError, "neither a module name"),
        ("mod:1x", AppRefSyntaxError, "not a Python name"),
        (":app", AppRefSyntaxError, "names no module"),
        ("data.txt", AppRefSyntaxError, "not a .py file"),
    ],
)
def test_parse_errors(project: Path, spec: str, error: type[AppRefError], words: str) -> None:
    (project / "emptydir").mkdir()
    (project / "data.txt").write_text("x")
    with pytest.raises(error) as info:
        parse(spec)
    assert words in info.value.message
    assert info.value.hint


# --- load: what attr may be ------------------------------------------------------------------


def test_load_application_attr_from_module(project: Path) -> None:
    write(project / "pkg" / "__init__.py", "")
    write(project / "pkg" / "web_app.py", APP)
    assert name_of(load("pkg.web_app:app")) == "plain"


def test_load_file_without_attr_finds_single_application(project: Path) -> None:
    write(project / "app.py", APP + "also = app\n")  # the same app twice is still one app
    assert name_of(load("app.py")) == "plain"
    assert name_of(load(".")) == "plain"


def test_file_form_imports_siblings(project: Path) -> None:
    write(project / "proj" / "helpers.py", "LABEL = 'sibling'\n")
    write(
        project / "proj" / "main.py",
        """
        from webkit import web
        from marks import NAME
        from helpers import LABEL
        app = web.Application()
        app[NAME] = LABEL
        """,
    )
    assert name_of(load("proj")) == "sibling"


def test_load_sync_factory(project: Path) -> None:
    write(
        project / "app.py",
        """
        from webkit import web
        from marks import NAME
        def make(debug=False):
            app = web.Application()
            app[NAME] = "sync"
            return app
        """,
    )
    assert name_of(load("app.py:make")) == "sync"


def test_load_async_factory(project: Path) -> None:
    write(
        project / "app.py",
        """
        import asyncio
        from webkit import web
        from marks import NAME
        async def make():
            await asyncio.sleep(0)
            app = web.Application()
            app[NAME] = "async"
            return app
        """,
    )
    assert name_of(load("app.py:make")) == "async"


@pytest.mark.parametrize("name", ["create_app", "app_factory", "init_app"])
def test_load_without_attr_finds_named_factory(project: Path, name: str) -> None:
    write(
        project / "app.py",
        f"""
        from webkit import web
        from marks import NAME
        def helper():
            return 1
        async def {name}():
            app = web.Application()
            app[NAME] = "{name}"
            return app
        """,
    )
    assert name_of(load("app.py")) == name


# --- load: usage errors ----------------------------------------------------------------------


@pytest.mark.parametrize("spec", ["nosuchmodule:app", "nosuchmodule", "pkg.nosuch:app"])
def test_missing_module(project: Path, spec: str) -> None:
    write(project / "pkg" / "__init__.py", "")
    with pytest.raises(AppNotFoundError) as info:
        load(spec)
    assert "no module named" in info.value.message


def test_missing_attr_lists_candidates(project: Path) -> None:
    write(
        project / "app.py",
        """
        from webkit import web
        from marks import NAME
        application = web.Application()
        def build():
            return application
        _private = 1
        """,
    )
    with pytest.raises(AppAttributeError) as info:
        load("app.py:nope")
    assert "'nope'" in info.value.message
    assert info.value.candidates == ("application", "build")
    assert "application, build" in info.value.hint


def test_no_app_and_no_factory(project: Path) -> None:
    write(project / "app.py", "def helper():\n    return 1\n")
    with pytest.raises(AppAttributeError) as info:
        load("app.py")
    assert "create_app" in info.value.message
    assert "helper" in info.value.hint


def test_several_apps_are_ambiguous(project: Path) -> None:
    write(
        project / "app.py", "from webkit import web\na = web.Application()\nb = web.Application()\n"
    )
    with pytest.raises(AmbiguousAppError) as info:
        load("app.py")
    assert "a, b" in info.value.message


def test_attr_that_is_not_an_app(project: Path) -> None:
    write(project / "app.py", "app = 42\n")
    with pytest.raises(NotAnAppError) as info:
        load("app.py:app")
    assert "int" in info.value.message


def test_factory_returning_something_else(project: Path) -> None:
    write(project / "app.py", "def create_app():\n    return 'nope'\n")
    with pytest.raises(NotAnAppError) as info:
        load("app.py")
    assert "returned str" in info.value.message


def test_factory_needing_arguments(project: Path) -> None:
    write(project / "app.py", "def create_app(config):\n    return None\n")
    with pytest.raises(FactoryArgumentsError) as info:
        load("app.py:create_app")
    assert "config" in info.value.message


# --- load: the user's own bugs carry their traceback -----------------------------------------


def assert_user_frames_only(error: UserCodeError, filename: str) -> None:
    assert filename in error.traceback_text
    assert "importlib" not in error.traceback_text
    assert "webkit/devtools" not in error.traceback_text


def test_import_error_inside_user_module_is_user_code(project: Path) -> None:
    write(project / "app.py", "import not_installed_dependency\n")
    with pytest.raises(UserCodeError) as info:
        load("app.py")
    assert "not_installed_dependency" in info.value.message
    assert_user_frames_only(info.value, "app.py")


def test_import_error_inside_user_package_is_user_code(project: Path) -> None:
    write(project / "pkg" / "__init__.py", "")
    write(project / "pkg" / "mod.py", "import pkg.missing_helper\n")
    with pytest.raises(UserCodeError) as info:
        load("pkg.mod:app")
    assert "pkg.missing_helper" in info.value.message


def test_syntax_error_is_user_code(project: Path) -> None:
    write(project / "app.py", "def broken(:\n    pass\n")
    with pytest.raises(UserCodeError) as info:
        load("app.py")
    assert info.value.message.startswith("SyntaxError")
    assert_user_frames_only(info.value, "app.py")
    assert "line 1" in info.value.traceback_text


def test_exception_in_factory_is_user_code(project: Path) -> None:
    write(
        project / "app.py",
        """
        def create_app():
            raise RuntimeError("database unreachable")
        """,
    )
    with pytest.raises(UserCodeError) as info:
        load("app.py")
    assert info.value.message == "RuntimeError: database unreachable"
    assert_user_frames_only(info.value, "app.py")
    assert "in create_app" in info.value.traceback_text


def test_load_does_not_confuse_ref_types() -> None:
    ref = AppRef("x:y", "x", None, "y")
    assert ref.display == "x:y"


# --- factory calls: module:factory(literal, key=literal) ---------------------------------------


FACTORY = """
from webkit import web
from marks import NAME
def create_app(env, *, debug=False, names=(), cfg=None):
    app = web.Application()
    app[NAME] = repr((env, debug, names, cfg))
    return app
async def make_async(env: str, port: int = 0) -> web.Application:
    app = web.Application()
    app[NAME] = repr((env, port))
    return app
def mutate(items):
    items.append("x")
    app = web.Application()
    app[NAME] = repr(items)
    return app
application = web.Application()
"""


@pytest.mark.parametrize(
    ("spec", "attr", "args", "kwargs"),
    [
        ("pkg.mod:create_app()", "create_app", (), ()),
        ('pkg.mod:create_app("dev", debug=True)', "create_app", ("dev",), (("debug", True),)),
        (
            'pkg.mod:make(port=3, names=["a", "b"])',
            "make",
            (),
            (("port", 3), ("names", ["a", "b"])),
        ),
        ('pkg.mod:make("http://x:80/a")', "make", ("http://x:80/a",), ()),
        (
            "pkg.mod:make({'a': {'b': [1, (2, 3)]}, 'c:d': None})",
            "make",
            ({"a": {"b": [1, (2, 3)]}, "c:d": None},),
            (),
        ),
        (
            "pkg.mod:make(-1, 2.5, b'x', {1, 2}, url='a:b')",
            "make",
            (-1, 2.5, b"x", {1, 2}),
            (("url", "a:b"),),
        ),
        ("pkg.mod:make('\"):x(')", "make", ('"):x(',), ()),
    ],
)
def test_parse_calls(
    project: Path, spec: str, attr: str, args: tuple[object, ...], kwargs: tuple[object, ...]
) -> None:
    ref = parse(spec)
    assert (ref.module, ref.attr, ref.args, ref.kwargs, ref.is_call) == (
        "pkg.mod",
        attr,
        args,
        kwargs,
        True,
    )
    assert ref.spec == spec


def test_parse_call_on_file_and_directory(project: Path) -> None:
    write(project / "dir" / "app.py", FACTORY)
    ref = parse('dir/app.py:create_app("dev")')
    assert (ref.path, ref.attr, ref.args) == (project / "dir" / "app.py", "create_app", ("dev",))
    assert parse('dir:create_app("dev")').path == project / "dir" / "app.py"


def test_plain_attr_is_no_call(project: Path) -> None:
    ref = parse("pkg.mod:create_app")
    assert (ref.args, ref.kwargs, ref.is_call) == ((), (), False)
    assert ref.display == "pkg.mod:create_app"


def test_display_shows_the_call(project: Path) -> None:
    assert parse('pkg.mod:f( "dev" ,debug = True)').display == "pkg.mod:f('dev', debug=True)"
    assert parse("pkg.mod:f()").display == "pkg.mod:f()"


def test_call_ref_stays_hashable(project: Path) -> None:
    ref = parse('pkg.mod:f(["a"], cfg={"k": [1]})')
    assert hash(ref) == hash(parse('pkg.mod:f(["a"], cfg={"k": [1]})'))
    assert ref == parse('pkg.mod:f(["a"], cfg={"k": [1]})')
    assert ref != parse('pkg.mod:f(["b"], cfg={"k": [1]})')


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ("pkg.mod:create_app(os.environ)", "os.environ in APP"),
        ("pkg.mod:create_app(env=os.environ['X'])", "is not a literal"),
        ("pkg.mod:create_app(*x)", "unpacks *x"),
        ("pkg.mod:create_app(**x)", "unpacks **x"),
        ("pkg.mod:create_app(1 + 2)", "1 + 2 in APP"),
        ("pkg.mod:create_app(f())", "f() in APP"),
        ("pkg.mod:create_app({[1]: 2})", "is not a literal"),
        ("pkg.mod:create_app(a=1, a=2)", "repeats the keyword argument 'a'"),
        ("pkg.mod:create_app('dev'", "was never closed"),
        ("pkg.mod:create_app(a=1, 2)", "not a Python name or call"),
        ("pkg.mod:obj.create_app()", "'obj.create_app' in APP"),
        ("pkg.mod:make()()", "'make()' in APP"),
        ("pkg.mod:obj.attr", "not a Python name"),
        (":create_app()", "names no module"),
    ],
)
def test_parse_bad_calls(project: Path, spec: str, words: str) -> None:
    with pytest.raises(AppRefSyntaxError) as info:
        parse(spec)
    assert words in info.value.message
    assert "\n" not in info.value.message
    assert info.value.hint


def test_path_holding_a_colon_wins_when_it_exists(project: Path) -> None:
    write(project / "a:b(1)" / "app.py", FACTORY)
    ref = parse("a:b(1):create_app('x')")
    assert (ref.path, ref.attr, ref.args) == (project / "a:b(1)" / "app.py", "create_app", ("x",))


def test_load_factory_with_arguments(project: Path) -> None:
    write(project / "app.py", FACTORY)
    app = load('app.py:create_app("dev", debug=True, names=["a", "b"], cfg={"url": "http://x"})')
    assert name_of(app) == repr(("dev", True, ["a", "b"], {"url": "http://x"}))


def test_load_async_factory_with_arguments(project: Path) -> None:
    write(project / "pkg" / "__init__.py", "")
    write(project / "pkg" / "mod.py", FACTORY)
    assert name_of(load("pkg.mod:make_async('prod', port=3)")) == repr(("prod", 3))


def test_factory_gets_a_copy_of_mutable_arguments(project: Path) -> None:
    write(project / "app.py", FACTORY)
    ref = parse("app.py:mutate(['a'])")
    assert name_of(asyncio.run(load_app(ref))) == repr(["a", "x"])
    assert name_of(asyncio.run(load_app(ref))) == repr(["a", "x"])
    assert ref.args == (["a"],)


@pytest.mark.parametrize(
    ("spec", "reason", "signature"),
    [
        ("app.py:create_app()", "missing a required argument: 'env'", "create_app(env, *, "),
        ("app.py:create_app", "missing a required argument: 'env'", "create_app(env, *, "),
        ("app.py:create_app('a', 'b')", "too many positional arguments", "debug=False"),
        ("app.py:create_app('a', verbose=1)", "unexpected keyword argument 'verbose'", "cfg=None"),
        (
            "app.py:make_async(port=1)",
            "missing a required argument: 'env'",
            "make_async(env, port=0)",
        ),
    ],
)
def test_wrong_arguments(project: Path, spec: str, reason: str, signature: str) -> None:
    write(project / "app.py", FACTORY)
    with pytest.raises(FactoryArgumentsError) as info:
        load(spec)
    assert reason in info.value.message
    assert spec.partition(":")[2].partition("(")[0] in info.value.message
    assert signature in info.value.hint
    assert ":" not in info.value.hint.partition("signature is ")[2].partition(";")[0]


def test_wrong_arguments_message_shows_the_call(project: Path) -> None:
    write(project / "app.py", FACTORY)
    with pytest.raises(FactoryArgumentsError) as info:
        load("app.py:create_app('a', verbose=1)")
    assert info.value.message.startswith(
        "factory 'create_app' cannot be called with ('a', verbose=1): "
    )
    assert info.value.hint == "its signature is create_app(env, *, debug=False, names=(), cfg=None)"


def test_application_takes_no_arguments(project: Path) -> None:
    write(project / "app.py", FACTORY)
    for spec in ("app.py:application(1)", "app.py:application()"):
        with pytest.raises(NotAnAppError) as info:
            load(spec)
        assert "'application' is an Application; it takes no arguments" in info.value.message
        assert info.value.hint == f"drop the call: {project / 'app.py'}:application"


def test_calling_a_non_callable(project: Path) -> None:
    write(project / "app.py", "app = 42\n")
    with pytest.raises(NotAnAppError) as info:
        load("app.py:app(1)")
    assert "int" in info.value.message


def test_factory_raising_with_arguments_is_user_code(project: Path) -> None:
    write(
        project / "app.py",
        """
        def create_app(env):
            raise RuntimeError(f"no config for {env}")
        """,
    )
    with pytest.raises(UserCodeError) as info:
        load("app.py:create_app('dev')")
    assert info.value.message == "RuntimeError: no config for dev"
    assert_user_frames_only(info.value, "app.py")
