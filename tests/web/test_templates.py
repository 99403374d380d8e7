"""webkit.templates: Jinja2 rendering through @template, render_template and render_string."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

jinja2 = pytest.importorskip("jinja2", reason="webkit.templates needs the webkit[templates] extra")

import webkit.templates  # noqa: E402
from webkit import web  # noqa: E402

HERE = Path(__file__).parent


def app_with(templates: dict[str, str], **options: Any) -> web.Application:
    app = web.Application()
    webkit.templates.setup(app, loader=jinja2.DictLoader(templates), **options)
    return app


async def test_seed_example_with_file_system_loader(webkit_client) -> None:
    # The seed page's usage, imports changed only; @template under the route decorator.
    app = web.Application()
    webkit.templates.setup(app, loader=jinja2.FileSystemLoader(HERE / "templates"))
    routes = web.RouteTableDef()

    @routes.get("/path")
    @webkit.templates.template("tmpl.jinja2")
    async def handler(request: web.Request) -> dict[str, str]:
        return {"name": "Andrew", "surname": "Svetlov"}

    app.add_routes(routes)
    client = await webkit_client(app)
    resp = await client.get("/path")
    assert resp.status_code == 200
    assert resp.text == "<p>Andrew Svetlov</p>"
    assert resp.headers["content-type"] == "text/html; charset=utf-8"


async def test_file_system_loader_from_tmp_path(webkit_client, tmp_path: Path) -> None:
    (tmp_path / "page.html").write_text("<h1>{{ title }}</h1>", encoding="utf-8")
    app = web.Application()
    webkit.templates.setup(app, loader=jinja2.FileSystemLoader(tmp_path))

    @webkit.templates.template("page.html")
    async def page(request: web.Request) -> dict[str, str]:
        return {"title": "Привет"}

    app.router.add_get("/", page)
    client = await webkit_client(app)
    resp = await client.get("/")
    assert resp.text == "<h1>Привет</h1>"


async def test_class_based_view_methods(webkit_client) -> None:
    app = app_with({"item.html": "{{ verb }} {{ id }}", "made.html": "made {{ id }}"})

    class ItemView(web.View):
        @webkit.templates.template("item.html")
        async def get(self) -> dict[str, str]:
            return {"verb": "get", "id": self.request.match_info["id"]}

        @webkit.templates.template("made.html", status=201)
        async def post(self) -> dict[str, str]:
            return {"id": self.request.match_info["id"]}

    app.router.add_view("/items/{id}", ItemView)
    client = await webkit_client(app)
    got = await client.get("/items/7")
    assert (got.status_code, got.text) == (200, "get 7")
    made = await client.post("/items/8")
    assert (made.status_code, made.text) == (201, "made 8")


async def test_render_template_and_render_string(webkit_client) -> None:
    app = app_with({"hello.html": "hello {{ who }}"})

    async def via_template(request: web.Request) -> web.Response:
        return await webkit.templates.render_template(
            "hello.html", request, {"who": "response"}, status=202, encoding="latin-1"
        )

    async def via_string(request: web.Request) -> web.Response:
        text = await webkit.templates.render_string("hello.html", request, {"who": "string"})
        return web.Response(text=text.upper())

    app.router.add_get("/t", via_template)
    app.router.add_get("/s", via_string)
    client = await webkit_client(app)
    t = await client.get("/t")
    assert (t.status_code, t.text) == (202, "hello response")
    assert t.headers["content-type"] == "text/html; charset=latin-1"
    s = await client.get("/s")
    assert s.text == "HELLO STRING"


async def test_context_processors_then_handler_context(webkit_client) -> None:
    async def site(request: web.Request) -> dict[str, str]:
        return {"site": "webkit", "title": "from processor", "who": "processor"}

    def user(request: web.Request) -> dict[str, str]:  # plain functions work too
        return {"who": request.headers.get("X-User", "anon")}

    app = app_with(
        {"p.html": "{{ site }}|{{ title }}|{{ who }}|{{ request.path }}"},
        context_processors=[webkit.templates.request_processor, site, user],
    )

    @webkit.templates.template("p.html")
    async def page(request: web.Request) -> dict[str, str]:
        return {"title": "from handler"}

    app.router.add_get("/p", page)
    client = await webkit_client(app)
    resp = await client.get("/p", headers={"X-User": "ann"})
    assert resp.text == "webkit|from handler|ann|/p"


async def test_request_available_by_default(webkit_client) -> None:
    app = app_with({"r.html": "{{ request.method }} {{ request.query['q'] }}"})

    @webkit.templates.template("r.html")
    async def page(request: web.Request) -> dict[str, Any]:
        return {}

    app.router.add_get("/r", page)
    client = await webkit_client(app)
    assert (await client.get("/r?q=x")).text == "GET x"


async def test_url_helper_with_parts_and_query(webkit_client) -> None:
    app = app_with(
        {
            "u.html": "{{ url('user', id=42) }} {{ url('user', id='a b', query_={'tab': 'p q'}) }}"
            " {{ url('home') }}",
            "s.html": "{{ static('app.css') }}",
        },
        context_processors=[],  # url() and static() still find the request
    )

    async def user(request: web.Request) -> web.Response:
        return web.Response(text="user")

    @webkit.templates.template("u.html")
    async def links(request: web.Request) -> dict[str, Any]:
        return {}

    @webkit.templates.template("s.html")
    async def assets(request: web.Request) -> dict[str, Any]:
        return {}

    app.router.add_get("/", links, name="home")
    app.router.add_get("/users/{id}", user, name="user")
    app.router.add_get("/assets", assets)
    app.router.add_static("/static", HERE / "templates", name="static")
    client = await webkit_client(app)
    resp = await client.get("/")
    assert resp.text == "/users/42 /users/a%20b?tab=p+q /"
    assert (await client.get("/assets")).text == "/static/app.css"


async def test_async_environment(webkit_client) -> None:
    app = app_with(
        {"a.html": "{% for n in numbers() %}{{ n }}{% endfor %} {{ request.path }}"},
        enable_async=True,
    )
    assert webkit.templates.get_env(app).is_async

    async def numbers() -> Any:
        for n in range(3):
            yield n

    @webkit.templates.template("a.html")
    async def page(request: web.Request) -> dict[str, Any]:
        return {"numbers": numbers}

    app.router.add_get("/a", page)
    client = await webkit_client(app)
    assert (await client.get("/a")).text == "012 /a"


async def test_missing_template_is_a_logged_500(
    webkit_client, caplog: pytest.LogCaptureFixture
) -> None:
    app = app_with({"has_include.html": "x{% include 'gone.html' %}"})

    @webkit.templates.template("nope.html")
    async def missing(request: web.Request) -> dict[str, Any]:
        return {}

    @webkit.templates.template("has_include.html")
    async def include(request: web.Request) -> dict[str, Any]:
        return {}

    app.router.add_get("/missing", missing)
    app.router.add_get("/include", include)
    client = await webkit_client(app)
    with caplog.at_level(logging.ERROR, logger="webkit.templates"):
        resp = await client.get("/missing")
        included = await client.get("/include")
    assert resp.status_code == 500
    assert resp.text == "Template 'nope.html' not found"
    assert "Traceback" not in resp.text
    assert (included.status_code, included.text) == (500, "Template 'gone.html' not found")
    records = [r for r in caplog.records if r.name == "webkit.templates"]
    assert [r.levelno for r in records] == [logging.ERROR, logging.ERROR]
    assert "nope.html" in records[0].getMessage()
    assert "/missing" in records[0].getMessage()
    assert "gone.html" in records[1].getMessage()


async def test_wrong_decorator_order_fails_at_startup(webkit_client) -> None:
    app = app_with({"t.html": "t"})
    routes = web.RouteTableDef()

    @webkit.templates.template("t.html")  # wrong: above the route decorator
    @routes.get("/wrong")
    async def wrong(request: web.Request) -> dict[str, Any]:
        return {}

    app.add_routes(routes)
    with pytest.raises(
        TypeError, match=r"/wrong serves .*wrong\(\) without its @template\('t.html'\)"
    ):
        await webkit_client(app)


def test_template_rejects_route_defs_and_classes() -> None:
    async def handler(request: web.Request) -> dict[str, Any]:
        return {}

    with pytest.raises(TypeError, match="below the route decorator"):
        webkit.templates.template("t.html")(web.get("/", handler))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="decorate its handler methods"):
        webkit.templates.template("t.html")(web.View)


async def test_handler_returning_wrong_type_is_a_clear_error(
    webkit_client, caplog: pytest.LogCaptureFixture
) -> None:
    app = app_with({"t.html": "t"})

    @webkit.templates.template("t.html")
    async def broken(request: web.Request) -> Any:
        return ["not", "a", "mapping"]

    app.router.add_get("/", broken)
    client = await webkit_client(app)
    with caplog.at_level(logging.ERROR):
        resp = await client.get("/")
    assert resp.status_code == 500
    assert "must return a mapping (the template context) or a web.StreamResponse, got list" in (
        caplog.text
    )


async def test_response_bypasses_rendering(webkit_client) -> None:
    app = app_with({})  # no templates at all: rendering never happens

    @webkit.templates.template("never.html")
    async def redirect(request: web.Request) -> web.StreamResponse:
        if "json" in request.query:
            return web.json_response({"ok": True})
        raise web.HTTPFound("/elsewhere")

    app.router.add_get("/", redirect)
    client = await webkit_client(app)
    resp = await client.get("/?json")
    assert resp.json() == {"ok": True}
    assert (await client.get("/")).status_code == 302


async def test_status_and_content_type(webkit_client) -> None:
    app = app_with({"gone.html": "gone"})

    @webkit.templates.template("gone.html", status=410, encoding="iso-8859-1")
    async def gone(request: web.Request) -> dict[str, Any]:
        return {}

    app.router.add_get("/", gone)
    client = await webkit_client(app)
    resp = await client.get("/")
    assert resp.status_code == 410
    assert resp.headers["content-type"] == "text/html; charset=iso-8859-1"


async def test_user_data_is_autoescaped(webkit_client) -> None:
    app = app_with({"x.html": "<p>{{ comment }}</p>", "seed.jinja2": "{{ comment }}"})

    @webkit.templates.template("x.html")
    async def html(request: web.Request) -> dict[str, str]:
        return {"comment": request.query["c"]}

    @webkit.templates.template("seed.jinja2")
    async def other(request: web.Request) -> dict[str, str]:
        return {"comment": request.query["c"]}

    app.router.add_get("/html", html)
    app.router.add_get("/other", other)
    client = await webkit_client(app)
    attack = "<script>alert('x')</script>"
    resp = await client.get("/html", params={"c": attack})
    assert resp.text == "<p>&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;</p>"
    assert "<script>" not in (await client.get("/other", params={"c": attack})).text


async def test_sub_app_uses_parent_environment(webkit_client) -> None:
    app = app_with({"sub.html": "{{ url('leaf') }} {{ request.path }}"})
    sub = web.Application()

    @webkit.templates.template("sub.html")
    async def leaf(request: web.Request) -> dict[str, Any]:
        return {}

    sub.router.add_get("/leaf", leaf, name="leaf")
    app.add_subapp("/sub", sub)
    client = await webkit_client(app)
    assert (await client.get("/sub/leaf")).text == "/sub/leaf /sub/leaf"


async def test_without_setup_is_a_clear_error(webkit_client, caplog) -> None:
    app = web.Application()
    with pytest.raises(RuntimeError, match=r"webkit\.templates\.setup\(app"):
        webkit.templates.get_env(app)

    @webkit.templates.template("t.html")
    async def page(request: web.Request) -> dict[str, Any]:
        return {}

    app.router.add_get("/", page)
    client = await webkit_client(app)
    with caplog.at_level(logging.ERROR):
        assert (await client.get("/")).status_code == 500
    assert "call webkit.templates.setup(app, loader=...)" in caplog.text


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)


def test_import_is_lazy_and_names_the_extra() -> None:
    lazy = run_python(
        "import sys, webkit, webkit.web\n"
        "print(sorted(m for m in sys.modules if m == 'jinja2' or m.startswith('webkit.templates')))"
    )
    assert lazy.stdout.strip() == "[]", lazy.stderr
    missing = run_python("import sys\nsys.modules['jinja2'] = None\nimport webkit.templates")
    assert missing.returncode != 0
    assert "ImportError" in missing.stderr
    assert "pip install webkit[templates]" in missing.stderr
