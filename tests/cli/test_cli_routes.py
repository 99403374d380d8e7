"""``webkit routes`` end to end: a real process for the table, click's runner for the rest.

(Named apart from tests/devtools/test_routes.py: tests have no packages, so basenames must
differ.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from webkit.cli import cli

APP = '''\
from webkit import web


async def index(request):
    return web.Response(text="index")


async def page(request):
    return web.Response(text="page")


async def about(request):
    return web.Response(text="about")


async def user(request):
    return web.Response(text=request.match_info["id"])


class ItemView(web.View):
    async def get(self):
        return web.Response(text="item")


class Everything(web.AbstractResource):
    """A custom resource that answers every path under /any itself."""

    canonical = "/any"

    async def resolve(self, request):
        return None, set()

    def url_for(self, **kwargs):
        raise NotImplementedError

    def add_prefix(self, prefix):
        raise NotImplementedError

    def get_info(self):
        return {}

    def raw_match(self, path):
        return False


def create_app():
    app = web.Application()
    admin = web.Application()
    admin.router.add_get("/", index, name="admin")
    app.add_domain("*.example.com", admin)
    app.router.add_get("/", index, name="index")
    app.router.add_get("/{name}", page, name="page")
    app.router.add_get("/about", about, name="about")
    app.router.add_view("/items/{id}", ItemView)
    app.router.add_static("/static", "public")
    app.router.register_resource(Everything())
    api = web.Application()
    api.router.add_get("/users/{id}", user, name="user")
    app.add_subapp("/api", api)
    return app
'''

ROWS = [
    {"order": 0, "methods": [], "path": "", "domain": "*.example.com", "name": None,
     "handler": None, "location": None, "kind": "sub-app", "directory": None},
    {"order": 1, "methods": ["GET", "HEAD"], "path": "/", "domain": "*.example.com",
     "name": "admin", "handler": "app.index", "location": "app.py:4", "kind": "plain",
     "directory": None},
    {"order": 2, "methods": ["GET", "HEAD"], "path": "/", "domain": None, "name": "index",
     "handler": "app.index", "location": "app.py:4", "kind": "plain", "directory": None},
    {"order": 3, "methods": ["GET", "HEAD"], "path": "/{name}", "domain": None, "name": "page",
     "handler": "app.page", "location": "app.py:8", "kind": "dynamic", "directory": None},
    {"order": 4, "methods": ["GET", "HEAD"], "path": "/about", "domain": None, "name": "about",
     "handler": "app.about", "location": "app.py:12", "kind": "plain", "directory": None},
    {"order": 5, "methods": ["*"], "path": "/items/{id}", "domain": None, "name": None,
     "handler": "app.ItemView", "location": "app.py:20", "kind": "view", "directory": None},
    {"order": 6, "methods": ["GET", "HEAD"], "path": "/static", "domain": None, "name": None,
     "handler": None, "location": None, "kind": "static", "directory": "public"},
    {"order": 7, "methods": [], "path": "/any", "domain": None, "name": None, "handler": None,
     "location": None, "kind": "custom", "directory": None},
    {"order": 8, "methods": [], "path": "/api", "domain": None, "name": None, "handler": None,
     "location": None, "kind": "sub-app", "directory": None},
    {"order": 9, "methods": ["GET", "HEAD"], "path": "/api/users/{id}", "domain": None,
     "name": "user", "handler": "app.user", "location": "app.py:16", "kind": "dynamic",
     "directory": None},
]  # fmt: skip

SHADOWED = (
    "warning: GET, HEAD /about (app.about) can never be reached: /{name} (app.page), "
    "registered earlier, answers GET /about first"
)
REUSED = (
    "warning: app.index handles 2 routes (GET,HEAD *.example.com/; GET,HEAD /); fine if intended"
)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "200")
    before = set(sys.modules)
    saved_path = list(sys.path)
    (tmp_path / "public").mkdir()
    (tmp_path / "app.py").write_text(APP)
    yield tmp_path
    sys.path[:] = saved_path
    for name in set(sys.modules) - before:
        del sys.modules[name]


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, ["routes", *args], catch_exceptions=False)


def run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "webkit", "routes", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )


def table(stdout: str) -> list[list[str]]:
    return [line.split() for line in stdout.splitlines() if line.strip()]


def test_table_from_a_real_process(project: Path) -> None:
    result = run(project, "app.py")
    assert result.returncode == 0, result.stderr
    assert table(result.stdout) == [
        ["Method", "Path", "Name", "Handler", "Defined", "at", "Kind"],
        ["-", "*.example.com", "-", "-", "-", "sub-app"],
        ["GET,HEAD", "*.example.com/", "admin", "app.index", "app.py:4", "plain"],
        ["GET,HEAD", "/", "index", "app.index", "app.py:4", "plain"],
        ["GET,HEAD", "/{name}", "page", "app.page", "app.py:8", "dynamic"],
        ["GET,HEAD", "/about", "about", "app.about", "app.py:12", "plain"],
        ["*", "/items/{id}", "-", "app.ItemView", "app.py:20", "view"],
        ["GET,HEAD", "/static", "-", "-", "-", "static", "(public)"],
        ["-", "/any", "-", "-", "-", "custom"],
        ["-", "/api", "-", "-", "-", "sub-app"],
        ["GET,HEAD", "/api/users/{id}", "user", "app.user", "app.py:16", "dynamic"],
    ]
    # Not a terminal: plain columns, no box drawing, no escape codes.
    assert "\x1b[" not in result.stdout + result.stderr
    assert not any("\u2500" <= char <= "\u257f" for char in result.stdout)
    assert result.stderr.splitlines() == [SHADOWED, REUSED]


def test_table_folds_to_a_narrow_terminal(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "60")
    result = invoke("app.py")
    assert result.exit_code == 0
    assert max(len(line) for line in result.stdout.splitlines()) <= 60
    assert "/api/users/{id}" in result.stdout
    assert "dynamic" in result.stdout


def test_json_rows(project: Path) -> None:
    result = invoke("app.py", "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == ROWS
    assert result.stderr.splitlines() == [SHADOWED, REUSED]


@pytest.mark.parametrize(
    ("args", "orders"),
    [
        (("--sort", "path"), [0, 1, 2, 4, 7, 8, 9, 5, 6, 3]),
        (("--method", "get"), [1, 2, 3, 4, 5, 6, 9]),
        (("--path", "/api*"), [8, 9]),
        (("--path", "*.example.com/*"), [1]),
        (("--method", "POST", "--path", "/items/*"), [5]),
        (("--sort", "name", "--method", "GET"), [4, 1, 2, 3, 9, 5, 6]),
    ],
)
def test_sort_and_filters(project: Path, args: tuple[str, ...], orders: list[int]) -> None:
    result = invoke("app.py", "--json", *args)
    assert result.exit_code == 0
    assert [row["order"] for row in json.loads(result.stdout)] == orders


def test_warnings_follow_the_filters(project: Path) -> None:
    result = invoke("app.py", "--path", "/api/*")
    assert result.exit_code == 0
    assert result.stderr == ""
    assert invoke("app.py", "--path", "/about").stderr.splitlines() == [SHADOWED]


def test_resolve_found(project: Path) -> None:
    result = invoke("app.py", "--resolve", "GET", "/api/users/42")
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        "GET /api/users/42 -> /api/users/{id} (dynamic)",
        "  name        user",
        "  handler     app.user",
        "  defined at  app.py:16",
        "  match_info  id=42",
    ]
    domain = invoke("app.py", "--resolve", "GET", "http://www.example.com/")
    assert domain.exit_code == 0
    assert domain.stdout.splitlines()[0] == (
        "GET / (Host: www.example.com) -> *.example.com/ (plain)"
    )


def test_resolve_not_found_and_not_allowed_exit_1(project: Path) -> None:
    missing = invoke("app.py", "--resolve", "GET", "/items/1/2")
    assert missing.exit_code == 1
    assert missing.stdout.strip() == "GET /items/1/2 -> 404 Not Found"
    wrong = invoke("app.py", "--resolve", "PUT", "/about")
    assert wrong.exit_code == 1
    assert wrong.stdout.strip() == "PUT /about -> 405 Method Not Allowed; allowed: GET, HEAD"
    data = json.loads(invoke("app.py", "--json", "--resolve", "PUT", "/about").stdout)
    assert (data["found"], data["status"], data["allowed_methods"]) == (False, 405, ["GET", "HEAD"])


def test_resolve_target_must_be_a_path(project: Path) -> None:
    result = invoke("app.py", "--resolve", "GET", "about")
    assert result.exit_code == 2
    assert "'about' is neither a path starting with '/' nor an http(s) URL" in result.stderr


STARTUP_APP = """
from webkit import web

class Plugin(web.AbstractResource):
    canonical = "/plugin"
    routes = []
    async def resolve(self, request):
        return None, set()
    def url_for(self, **kwargs):
        raise NotImplementedError
    def add_prefix(self, prefix):
        raise NotImplementedError
    def get_info(self):
        return {}
    def raw_match(self, path):
        return False
    def __iter__(self):
        return iter(self.routes)

PLUGIN = Plugin()

async def hook(request):
    return web.Response()

async def install(app):
    PLUGIN.routes.append(web.ResourceRoute("GET", hook, PLUGIN))

app = web.Application()
app.router.register_resource(PLUGIN)
app.on_startup.append(install)
"""


def test_startup_shows_routes_set_up_in_on_startup(project: Path) -> None:
    (project / "plugin.py").write_text(STARTUP_APP)
    without = run(project, "plugin.py", "--json")
    assert [row["handler"] for row in json.loads(without.stdout)] == [None]
    started = run(project, "plugin.py", "--json", "--startup")
    assert started.returncode == 0, started.stderr
    assert [row["handler"] for row in json.loads(started.stdout)] == ["plugin.hook"]


def test_startup_lists_routes_added_by_on_startup(project: Path) -> None:
    (project / "late.py").write_text(
        "from webkit import web\n"
        "async def h(request):\n    return web.Response()\n"
        "async def add(app):\n    app.router.add_get('/late', h)\n"
        "app = web.Application()\napp.router.add_get('/', h)\napp.on_startup.append(add)\n"
    )
    assert [r[1] for r in table(invoke("late.py").stdout)[1:]] == ["/"]
    result = invoke("late.py", "--startup")
    assert result.exit_code == 0
    assert [r[1] for r in table(result.stdout)[1:]] == ["/", "/late"]


def test_no_routes(project: Path) -> None:
    (project / "empty.py").write_text("from webkit import web\napp = web.Application()\n")
    result = invoke("empty.py")
    assert result.exit_code == 0
    assert result.stdout.strip().endswith("empty.py: no routes")
    assert json.loads(invoke("empty.py", "--json").stdout) == []
    filtered = invoke("app.py", "--path", "/nothing*")
    assert filtered.stdout.strip() == "app.py: no routes match the filters (10 in all)"


@pytest.mark.parametrize(
    ("app", "message"),
    [
        ("nosuchmodule:app", "Error: no module named 'nosuchmodule' (APP 'nosuchmodule:app')"),
        ("app.py:nope", "Error: 'app' has no attribute 'nope' (APP 'app.py:nope')"),
        ("missing.py", "Error: file '"),
        ("app.py:bad name", "Error: 'bad name' in APP 'app.py:bad name' is not a Python name"),
    ],
)
def test_bad_app_is_a_one_line_error(project: Path, app: str, message: str) -> None:
    result = run(project, app)
    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith(message)
    assert "Traceback" not in result.stderr


def test_user_code_exception_shows_traceback_and_exits_1(project: Path) -> None:
    (project / "boom.py").write_text(
        "from webkit import web\n\ndef create_app():\n    return {}['missing']\n"
    )
    result = run(project, "boom.py")
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert lines[0] == "Traceback (most recent call last):"
    assert 'boom.py", line 4, in create_app' in result.stderr
    assert lines[-1] == "Error: the app raised KeyError: 'missing'"
    assert "webkit/devtools" not in result.stderr


def test_help_imports_neither_framework_rich_nor_the_app(project: Path) -> None:
    code = (
        "import sys, json\n"
        "sys.argv = ['webkit', 'routes', '--help']\n"
        "from webkit.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(json.dumps(sorted(sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=project, capture_output=True, text=True, check=True
    )
    assert "Usage: webkit routes" in out.stdout
    loaded = set(json.loads(out.stdout.strip().splitlines()[-1]))
    roots = {name.split(".")[0] for name in loaded}
    assert not {"rich", "yarl", "app"} & roots
    assert not {name for name in loaded if name.startswith(("webkit.web", "webkit.devtools"))}


def test_source_of_devtools_routes_imports_neither_click_nor_rich() -> None:
    import webkit.devtools.routes as module

    source = Path(module.__file__ or "").read_text()
    imports = [line for line in source.splitlines() if line.startswith(("import ", "from "))]
    assert not [line for line in imports if "click" in line or "rich" in line]
