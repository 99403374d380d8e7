"""The data of ``webkit routes``: rows, kinds, shadowing, reused handlers, resolution, startup."""

from __future__ import annotations

import asyncio
import importlib
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from webkit.devtools.appref import parse
from webkit.devtools.errors import UserCodeError
from webkit.devtools.routes import (
    RESOLUTION_KEYS,
    ROW_KEYS,
    RouteReport,
    inspect_app,
    parse_target,
)

# The example app of this module: every kind of route, one shadowed route, one handler
# on two routes. Line numbers matter: the rows below say where each handler is defined.
EXAMPLE = '''\
import functools
from webkit import web


def logged(func):
    @functools.wraps(func)
    async def wrapper(request):
        return await func(request)
    return wrapper


@logged
async def index(request):
    return web.Response(text="index")


async def page(request):
    return web.Response(text=request.match_info["name"])


async def about(request):
    return web.Response(text="about")


async def user(request):
    return web.Response(text=request.match_info["id"])


async def health(request):
    return web.Response(text="ok")


class ItemView(web.View):
    async def get(self):
        return web.Response(text="item")


class Echo(web.AbstractResource):
    """A custom resource: answers GET /echo/<anything> itself."""

    def __init__(self):
        super().__init__(name="echo")
        self.routes = [web.ResourceRoute("GET", health, self)]

    @property
    def canonical(self):
        return "/echo"

    def url_for(self, **kwargs):
        raise NotImplementedError

    async def resolve(self, request):
        if not request.path.startswith("/echo/") or not self.routes:
            return None, set()
        return web.UrlMappingMatchInfo({"rest": request.path[6:]}, self.routes[0]), {"GET"}

    def add_prefix(self, prefix):
        raise NotImplementedError

    def get_info(self):
        return {}

    def raw_match(self, path):
        return False

    def __iter__(self):
        return iter(self.routes)

    def __len__(self):
        return len(self.routes)


def create_app():
    app = web.Application()
    admin = web.Application()
    admin.router.add_get("/", about, name="admin-home")
    app.add_domain("admin.example.com", admin)
    app.router.add_get("/", index, name="index")
    app.router.add_get("/{name}", page, name="page")
    app.router.add_get("/about", about, name="about")
    app.router.add_view("/items/{id:\\\\d+}", ItemView, name="item")
    app.router.add_static("/static", "public", name="static")
    app.router.register_resource(Echo())
    api = web.Application()
    api.router.add_get("/users/{id}", user, name="user")
    api.router.add_post("/users", user)
    app.add_subapp("/api", api)
    app.router.add_get("/api/status", health, name="status")
    return app
'''

ROWS: list[dict[str, Any]] = [
    {"order": 0, "methods": [], "path": "", "domain": "admin.example.com", "name": None,
     "handler": None, "location": None, "kind": "sub-app", "directory": None},
    {"order": 1, "methods": ["GET", "HEAD"], "path": "/", "domain": "admin.example.com",
     "name": "admin-home", "handler": "app.about", "location": "app.py:21", "kind": "plain",
     "directory": None},
    {"order": 2, "methods": ["GET", "HEAD"], "path": "/", "domain": None, "name": "index",
     "handler": "app.index", "location": "app.py:12", "kind": "plain", "directory": None},
    {"order": 3, "methods": ["GET", "HEAD"], "path": "/{name}", "domain": None, "name": "page",
     "handler": "app.page", "location": "app.py:17", "kind": "dynamic", "directory": None},
    {"order": 4, "methods": ["GET", "HEAD"], "path": "/about", "domain": None, "name": "about",
     "handler": "app.about", "location": "app.py:21", "kind": "plain", "directory": None},
    {"order": 5, "methods": ["*"], "path": "/items/{id}", "domain": None, "name": "item",
     "handler": "app.ItemView", "location": "app.py:33", "kind": "view", "directory": None},
    {"order": 6, "methods": ["GET", "HEAD"], "path": "/static", "domain": None,
     "name": "static", "handler": None, "location": None, "kind": "static",
     "directory": "public"},
    {"order": 7, "methods": ["GET"], "path": "/echo", "domain": None, "name": "echo",
     "handler": "app.health", "location": "app.py:29", "kind": "custom", "directory": None},
    {"order": 8, "methods": [], "path": "/api", "domain": None, "name": None, "handler": None,
     "location": None, "kind": "sub-app", "directory": None},
    {"order": 9, "methods": ["GET", "HEAD"], "path": "/api/users/{id}", "domain": None,
     "name": "user", "handler": "app.user", "location": "app.py:25", "kind": "dynamic",
     "directory": None},
    {"order": 10, "methods": ["POST"], "path": "/api/users", "domain": None, "name": None,
     "handler": "app.user", "location": "app.py:25", "kind": "plain", "directory": None},
    {"order": 11, "methods": ["GET", "HEAD"], "path": "/api/status", "domain": None,
     "name": "status", "handler": "app.health", "location": "app.py:29", "kind": "plain",
     "directory": None},
]  # fmt: skip


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.chdir(tmp_path)
    before = set(sys.modules)
    saved_path = list(sys.path)
    (tmp_path / "public").mkdir()
    write(tmp_path / "app.py", EXAMPLE)
    yield tmp_path
    sys.path[:] = saved_path
    for name in set(sys.modules) - before:
        del sys.modules[name]


def write(path: Path, source: str) -> Path:
    path.write_text(textwrap.dedent(source))
    importlib.invalidate_caches()
    return path


def report(spec: str = "app.py", **kwargs: Any) -> RouteReport:
    return asyncio.run(inspect_app(parse(spec), **kwargs))


def messages(result: RouteReport, kind: str) -> list[str]:
    return [finding.message for finding in result.findings if finding.kind == kind]


def test_rows_in_resolution_order_with_sub_apps_expanded(project: Path) -> None:
    rows = report().rows
    assert [row.to_json() for row in rows] == ROWS
    assert all(list(row.to_json()) == list(ROW_KEYS) for row in rows)
    assert rows[1].display_path == "admin.example.com/"


def test_shadowed_routes_and_reused_handlers(project: Path) -> None:
    result = report()
    assert messages(result, "shadowed") == [
        "GET, HEAD /about (app.about) can never be reached: /{name} (app.page), registered "
        "earlier, answers GET /about first",
        "GET, HEAD /api/status (app.health) can never be reached: the sub-app at /api, "
        "registered earlier, answers GET /api/status with 404 Not Found",
    ]
    assert messages(result, "handler-reused") == [
        "app.about handles 2 routes (GET,HEAD admin.example.com/; GET,HEAD /about); "
        "fine if intended",
        "app.health handles 2 routes (GET /echo; GET,HEAD /api/status); fine if intended",
        "app.user handles 2 routes (GET,HEAD /api/users/{id}; POST /api/users); fine if intended",
    ]
    shadowed = [f.orders for f in result.findings if f.kind == "shadowed"]
    assert shadowed == [(4,), (11,)]


def test_static_prefix_shadows_a_later_plain_route_and_regex_samples(project: Path) -> None:
    write(
        project / "other.py",
        """
        from webkit import web
        async def h(request):
            return web.Response()
        async def g(request):
            return web.Response()
        app = web.Application()
        app.router.add_get("/n/{id:\\\\d+}/{slug:[a-z]+-[a-z]+}", h)
        app.router.add_get("/n/7/new-one", g)
        app.router.add_static("/assets", ".")
        app.router.add_get("/assets/app.js", h)
        app.router.add_get("/w/{rest:zz\\\\d{3}}", g)
        """,
    )
    result = report("other.py")
    assert messages(result, "shadowed") == [
        "GET, HEAD /n/7/new-one (other.g) can never be reached: /n/{id}/{slug} (other.h), "
        "registered earlier, answers GET /n/7/new-one first",
        "GET, HEAD /assets/app.js (other.h) can never be reached: /assets (static .), "
        "registered earlier, answers GET /assets/app.js first",
    ]


def test_a_route_answered_by_its_own_path_is_not_reported(project: Path) -> None:
    write(
        project / "fine.py",
        """
        from webkit import web
        async def h(request):
            return web.Response()
        async def g(request):
            return web.Response()
        app = web.Application()
        app.router.add_get("/users/me", h)
        app.router.add_get("/users/{id}", g)
        app.router.add_post("/{name}", g)
        app.router.add_get("/about", h)
        """,
    )
    assert messages(report("fine.py"), "shadowed") == []


def test_duplicate_names_are_refused_by_the_router(project: Path) -> None:
    write(
        project / "dup.py",
        """
        from webkit import web
        async def h(request):
            return web.Response()
        app = web.Application()
        app.router.add_get("/a", h, name="same")
        app.router.add_get("/b", h, name="same")
        """,
    )
    with pytest.raises(UserCodeError, match="duplicate route name 'same'") as info:
        report("dup.py")
    assert 'dup.py", line 7' in info.value.traceback_text


def test_select_and_sort(project: Path) -> None:
    from webkit.cli.routes import select, sort_rows

    rows = report().rows
    assert [r.order for r in select(rows, "post", None)] == [5, 10]  # the view takes any
    assert [r.order for r in select(rows, None, "/api/*")] == [9, 10, 11]
    assert [r.order for r in select(rows, "GET", "admin.example.com/*")] == [1]
    assert [r.order for r in sort_rows(rows, "path")] == [2, 4, 8, 11, 10, 9, 7, 5, 6, 3, 0, 1]
    assert [r.name for r in sort_rows(rows, "name")][:3] == ["about", "admin-home", "echo"]
    assert sort_rows(rows, "name")[-1].name is None
    by_method = sort_rows(rows, "method")
    assert [r.methods[0] for r in by_method[:1]] == ["*"]
    assert by_method[-1].methods == ()
    assert sort_rows(list(reversed(rows)), "order") == rows
    with pytest.raises(ValueError, match="unknown sort key"):
        sort_rows(rows, "size")


@pytest.mark.parametrize(
    ("method", "target", "expected"),
    [
        ("GET", "/api/users/7", {"found": True, "match_info": {"id": "7"}, "order": 9}),
        ("get", "/items/12?x=1", {"found": True, "match_info": {"id": "12"}, "order": 5}),
        ("GET", "/static/css/a.css", {"found": True, "match_info": {"filename": "css/a.css"}}),
        ("GET", "/echo/hi", {"found": True, "match_info": {"rest": "hi"}, "order": 7}),
        ("GET", "http://admin.example.com/", {"found": True, "order": 1}),
        ("GET", "/items/x/y", {"found": False, "status": 404, "allowed_methods": []}),
        ("DELETE", "/about", {"found": False, "status": 405, "allowed_methods": ["GET", "HEAD"]}),
        ("GET", "/api/nothing/here", {"found": False, "status": 404, "answered_by": "/api"}),
    ],
)
def test_resolve(project: Path, method: str, target: str, expected: dict[str, Any]) -> None:
    resolution = report(resolve=(method, target)).resolution
    assert resolution is not None
    data = resolution.to_json()
    assert list(data) == list(RESOLUTION_KEYS)
    order = expected.pop("order", None)
    assert {key: data[key] for key in expected} == expected
    if order is not None:
        assert data["route"]["order"] == order
    if not resolution.found:
        assert data["route"] is None


def test_resolve_json_shape(project: Path) -> None:
    resolution = report(resolve=("GET", "/api/users/7")).resolution
    assert resolution is not None
    assert resolution.to_json() == {
        "method": "GET",
        "path": "/api/users/7",
        "host": "localhost",
        "found": True,
        "status": None,
        "reason": None,
        "route": ROWS[9],
        "handler": "app.user",
        "match_info": {"id": "7"},
        "allowed_methods": [],
        "answered_by": None,
    }


def test_parse_target() -> None:
    assert parse_target("/a b/ü?q=1#frag") == (None, "/a%20b/%C3%BC?q=1")
    assert parse_target("/x%20y") == (None, "/x%20y")
    assert parse_target("https://api.example.com:8443") == ("api.example.com:8443", "/")
    for bad in ("users", "ftp://x/", "http:///nohost"):
        with pytest.raises(ValueError, match=r"neither|no host"):
            parse_target(bad)


STARTUP_APP = """
from pathlib import Path
from webkit import web
from app import Echo, health

ECHO = web.AppKey("echo", Echo)

async def register(app):
    # A plugin-style resource that learns its routes at startup: the router itself is frozen.
    Path("started").write_text("yes")
    app[ECHO].routes.append(web.ResourceRoute("POST", health, app[ECHO]))

async def goodbye(app):
    Path("cleaned").write_text("yes")

def create_app():
    app = web.Application()
    echo = Echo()
    echo.routes.clear()
    app[ECHO] = echo
    app.router.register_resource(echo)
    app.on_startup.append(register)
    app.on_cleanup.append(goodbye)
    return app
"""


def test_startup_runs_on_startup_then_cleanup(project: Path) -> None:
    write(project / "late.py", STARTUP_APP)
    without = report("late.py").rows
    assert [(r.methods, r.handler) for r in without] == [((), None)]
    assert not (project / "started").exists()
    started = report("late.py", startup=True).rows
    assert [(r.methods, r.handler) for r in started] == [(("POST",), "app.health")]
    assert (project / "started").exists()
    assert (project / "cleaned").exists()


def test_routes_added_in_on_startup_show_only_with_startup(project: Path) -> None:
    # As in aiohttp, on_startup may still add routes: only --startup sees them.
    write(
        project / "adds.py",
        """
        from webkit import web
        async def h(request):
            return web.Response()
        async def add(app):
            app.router.add_get("/late", h)
        app = web.Application()
        app.on_startup.append(add)
        """,
    )
    assert report("adds.py").rows == []
    assert [row.path for row in report("adds.py", startup=True).rows] == ["/late"]


def test_on_startup_error_still_runs_cleanup(project: Path) -> None:
    write(
        project / "fails.py",
        """
        from pathlib import Path
        from webkit import web
        async def boom(app):
            raise RuntimeError("no database")
        async def goodbye(app):
            Path("cleaned").write_text("yes")
        app = web.Application()
        app.on_startup.append(boom)
        app.on_cleanup.append(goodbye)
        """,
    )
    with pytest.raises(UserCodeError, match="RuntimeError: no database"):
        report("fails.py", startup=True)
    assert (project / "cleaned").exists()


def test_locations_outside_the_project_and_callable_objects(project: Path) -> None:
    write(
        project / "shared.py",
        """
        from webkit import web
        class Handler:
            async def __call__(self, request):
                return web.Response()
        """,
    )
    (project / "sub").mkdir()
    write(
        project / "sub" / "main.py",
        """
        from webkit import web
        from shared import Handler
        app = web.Application()
        app.router.add_get("/call", Handler())
        """,
    )
    sys.path.insert(0, str(project))  # the fixture restores sys.path
    # A file APP's project directory is its own: a handler elsewhere shows its full path.
    rows = report("sub/main.py").rows
    assert rows[0].handler == "shared.Handler"
    assert rows[0].location == f"{project / 'shared.py'}:3"
