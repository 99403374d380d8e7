# ruff: noqa: RUF001  (Cyrillic paths and values are the point of the Unicode tests)
"""UrlDispatcher: plain and dynamic routes, names and url_for, 404/405, Unicode, ordering."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from yarl import URL

from webkit import web
from webkit.test_utils import make_mocked_request


async def text_of(request: web.Request) -> web.Response:
    """Echo the route's name and the match info, so each test sees which handler ran."""
    info = dict(request.match_info)
    name = request.match_info.route.name
    return web.json_response({"route": name, "match": info, "method": request.method})


def named(label: str) -> Any:
    async def handler(request: web.Request) -> web.Response:
        return web.json_response({"handler": label, "match": dict(request.match_info)})

    handler.__name__ = f"handler_{label}"
    return handler


async def raw_request(port: int, head: bytes) -> tuple[int, bytes]:
    """Send raw bytes (paths httpx would normalise) and return the status and body."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(head)
        await writer.drain()
        data = await asyncio.wait_for(reader.read(), timeout=10)
    finally:
        writer.close()
        await writer.wait_closed()
    status_line, _, rest = data.partition(b"\r\n")
    _, _, body = rest.partition(b"\r\n\r\n")
    return int(status_line.split()[1]), body


def get_bytes(path: bytes) -> bytes:
    return b"GET " + path + b" HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"


# -- plain and dynamic routes ----------------------------------------------------------------


async def test_plain_and_dynamic_routes(webkit_client) -> None:
    app = web.Application()
    app.router.add_get("/", named("root"))
    app.router.add_get("/users", named("users"))
    app.router.add_get("/users/{name}", named("user"))
    app.router.add_get(r"/items/{id:\d+}", named("item"))
    app.router.add_get(r"/years/{year:\d{4}}/{slug}", named("year"))
    app.router.add_get(r"/codes/{code:[A-Z]{2,4}}", named("code"))
    client = await webkit_client(app)

    assert (await client.get("/")).json() == {"handler": "root", "match": {}}
    assert (await client.get("/users")).json() == {"handler": "users", "match": {}}
    assert (await client.get("/users/bob")).json() == {"handler": "user", "match": {"name": "bob"}}
    assert (await client.get("/items/42")).json() == {"handler": "item", "match": {"id": "42"}}
    assert (await client.get("/items/x42")).status_code == 404
    assert (await client.get("/years/2024/hello")).json() == {
        "handler": "year",
        "match": {"year": "2024", "slug": "hello"},
    }
    assert (await client.get("/years/24/hello")).status_code == 404
    assert (await client.get("/codes/AB")).json()["match"] == {"code": "AB"}
    assert (await client.get("/codes/ABCD")).json()["match"] == {"code": "ABCD"}
    assert (await client.get("/codes/ABCDE")).status_code == 404
    assert (await client.get("/codes/A")).status_code == 404
    # {name} stops at a slash; trailing slashes are distinct paths.
    assert (await client.get("/users/bob/extra")).status_code == 404
    assert (await client.get("/users/")).status_code == 404


def test_regex_with_braces_is_one_variable() -> None:
    router = web.UrlDispatcher()
    resource = router.add_resource(r"/id/{id:\d{2,4}}/{rest:[a-z]{1}x{0,2}}")
    assert isinstance(resource, web.DynamicResource)
    assert resource.canonical == "/id/{id}/{rest}"
    assert str(resource.url_for(id="123", rest="ax")) == "/id/123/ax"


def test_invalid_paths_rejected() -> None:
    router = web.UrlDispatcher()
    with pytest.raises(ValueError, match="must start with '/'"):
        router.add_get("users", named("x"))
    with pytest.raises(ValueError, match="not a valid variable"):
        router.add_get("/users/{1bad}", named("x"))
    with pytest.raises(ValueError, match="bad pattern"):
        router.add_get("/users/{name:(}", named("x"))


async def test_every_method_helper(webkit_client) -> None:
    app = web.Application()
    router = app.router
    router.add_route("GET", "/r", named("get"))
    router.add_post("/r", named("post"))
    router.add_put("/r", named("put"))
    router.add_patch("/r", named("patch"))
    router.add_delete("/r", named("delete"))
    router.add_options("/r", named("options"))
    router.add_head("/h", named("head"))
    router.add_route("*", "/any", named("any"))
    client = await webkit_client(app)

    for method in ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"):
        resp = await client.request(method, "/r")
        assert resp.status_code == 200, method
        assert resp.json()["handler"] == method.lower()
    head = await client.head("/h")
    assert head.status_code == 200
    assert head.content == b""
    for method in ("GET", "POST", "PROPFIND", "DELETE"):
        resp = await client.request(method, "/any")
        assert resp.json()["handler"] == "any", method


async def test_404_vs_405_and_exact_allow(webkit_client) -> None:
    app = web.Application()
    app.router.add_get("/thing", named("get"))
    app.router.add_post("/thing", named("post"))
    app.router.add_delete("/thing", named("delete"))
    app.router.add_get("/only-get", named("g"), allow_head=False)
    app.router.add_put("/obj/{id}", named("put"))
    client = await webkit_client(app)

    resp = await client.patch("/thing")
    assert resp.status_code == 405
    assert resp.headers["allow"] == "DELETE, GET, HEAD, POST"
    assert resp.text == "405: Method Not Allowed"

    # allow_head=False: HEAD is not routed.
    resp = await client.head("/only-get")
    assert resp.status_code == 405
    assert resp.headers["allow"] == "GET"
    assert (await client.get("/only-get")).status_code == 200

    resp = await client.get("/obj/7")
    assert resp.status_code == 405
    assert resp.headers["allow"] == "PUT"

    resp = await client.get("/nothing-here")
    assert resp.status_code == 404
    assert resp.text == "404: Not Found"
    assert "allow" not in resp.headers


async def test_405_collects_methods_of_every_matching_resource(webkit_client) -> None:
    app = web.Application()
    app.router.add_post("/x/{id}", named("dyn-post"))
    app.router.add_put("/x/1", named("plain-put"))
    client = await webkit_client(app)
    resp = await client.get("/x/1")
    assert resp.status_code == 405
    assert resp.headers["allow"] == "POST, PUT"


async def test_head_served_by_get_without_body(webkit_client) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(text="x" * 100, headers={"X-Method": request.method})

    app = web.Application()
    app.router.add_get("/", handler)
    client = await webkit_client(app)
    resp = await client.head("/")
    assert resp.status_code == 200
    assert resp.headers["x-method"] == "HEAD"
    assert resp.headers["content-length"] == "100"
    assert resp.content == b""


def test_same_method_twice_on_one_resource() -> None:
    router = web.UrlDispatcher()
    router.add_get("/a", named("one"))
    with pytest.raises(RuntimeError, match="already registered"):
        router.add_get("/a", named("two"))


# -- route definitions and tables --------------------------------------------------------------


async def test_route_defs(webkit_client, tmp_path: Path) -> None:
    (tmp_path / "file.txt").write_text("static!")
    app = web.Application()
    app.add_routes(
        [
            web.get("/g", named("get")),
            web.get("/g-nohead", named("get2"), allow_head=False),
            web.post("/p", named("post")),
            web.put("/p", named("put")),
            web.patch("/p", named("patch")),
            web.delete("/p", named("delete")),
            web.head("/h", named("head")),
            web.options("/p", named("options")),
            web.route("PROPFIND", "/p", named("propfind")),
            web.static("/s", tmp_path),
        ]
    )
    client = await webkit_client(app)
    assert (await client.get("/g")).json()["handler"] == "get"
    assert (await client.head("/g")).status_code == 200
    assert (await client.head("/g-nohead")).status_code == 405
    for method in ("POST", "PUT", "PATCH", "DELETE", "OPTIONS", "PROPFIND"):
        assert (await client.request(method, "/p")).json()["handler"] == method.lower()
    assert (await client.head("/h")).status_code == 200
    static = await client.get("/s/file.txt")
    assert static.status_code == 200
    assert static.text == "static!"


async def test_route_table_def(webkit_client, tmp_path: Path) -> None:
    (tmp_path / "a.css").write_text("body{}")
    routes = web.RouteTableDef()

    @routes.get("/", name="index")
    async def index(request: web.Request) -> web.Response:
        return web.Response(text="index")

    @routes.post("/", name="create")
    async def create(request: web.Request) -> web.Response:
        return web.Response(text="created", status=201)

    @routes.put("/x")
    async def put(request: web.Request) -> web.Response:
        return web.Response(text="put")

    @routes.patch("/x")
    async def patch(request: web.Request) -> web.Response:
        return web.Response(text="patch")

    @routes.delete("/x")
    async def delete(request: web.Request) -> web.Response:
        return web.Response(text="delete")

    @routes.head("/x")
    async def head(request: web.Request) -> web.Response:
        return web.Response(headers={"X-Head": "yes"})

    @routes.options("/x")
    async def options(request: web.Request) -> web.Response:
        return web.Response(text="options")

    @routes.route("REPORT", "/x")
    async def report(request: web.Request) -> web.Response:
        return web.Response(text="report")

    @routes.view("/view")
    class MyView(web.View):
        async def get(self) -> web.Response:
            return web.Response(text="view get")

    routes.static("/static", tmp_path, name="static")

    # The decorators return the function unchanged.
    assert index.__name__ == "index"
    assert len(routes) == 10
    assert isinstance(routes[0], web.RouteDef)
    assert isinstance(routes[-1], web.StaticDef)
    assert repr(routes) == "<RouteTableDef count=10>"

    app = web.Application()
    app.router.add_routes(routes)
    client = await webkit_client(app)
    assert (await client.get("/")).text == "index"
    assert (await client.post("/")).status_code == 201
    for method in ("PUT", "PATCH", "DELETE", "OPTIONS", "REPORT"):
        assert (await client.request(method, "/x")).text == method.lower()
    assert (await client.head("/x")).headers["x-head"] == "yes"
    assert (await client.get("/view")).text == "view get"
    assert (await client.get("/static/a.css")).text == "body{}"
    assert str(app.router["static"].url_for(filename="a.css")) == "/static/a.css"
    assert str(app.router["index"].url_for()) == "/"


def test_routedef_repr() -> None:
    definition = web.get("/x", named("rep"), name="n")
    assert repr(definition) == "<RouteDef GET /x -> 'handler_rep', allow_head=True, name='n'>"


# -- names, url_for, introspection ------------------------------------------------------------


def test_url_for_encodes_parts() -> None:
    router = web.UrlDispatcher()
    router.add_get("/user/{name}", named("u"), name="user")
    router.add_get("/files/{path}/raw", named("f"), name="file")
    router.add_get("/статья/{id}", named("a"), name="article")
    router.add_get("/plain/path", named("p"), name="plain")

    user = router["user"]
    assert user.url_for(name="bob") == URL("/user/bob")
    assert str(user.url_for(name="a b")) == "/user/a%20b"
    assert str(user.url_for(name="a/b")) == "/user/a%2Fb"
    assert str(user.url_for(name="50%")) == "/user/50%25"
    assert str(user.url_for(name="q?x#y")) == "/user/q%3Fx%23y"
    assert str(user.url_for(name="боб")) == "/user/%D0%B1%D0%BE%D0%B1"
    assert str(router["file"].url_for(path="../etc")) == "/files/..%2Fetc/raw"
    assert str(router["article"].url_for(id="1")) == ("/%D1%81%D1%82%D0%B0%D1%82%D1%8C%D1%8F/1")
    assert str(user.url_for(name="bob").with_query(tab="info", q="a b")) == (
        "/user/bob?tab=info&q=a+b"
    )
    assert str(router["plain"].url_for().with_query({"x": 1})) == "/plain/path?x=1"
    with pytest.raises(KeyError, match="name"):
        user.url_for()


async def test_url_for_round_trips_through_match_info(webkit_client) -> None:
    app = web.Application()
    app.router.add_get("/user/{name}", named("u"), name="user")
    client = await webkit_client(app)
    for value in ("a/b", "a b", "50%", "боб", "x?y", "~tilde", "plus+sign"):
        url = app.router["user"].url_for(name=value)
        resp = await client.get(str(url))
        assert resp.status_code == 200, value
        assert resp.json()["match"] == {"name": value}


def test_router_introspection() -> None:
    router = web.UrlDispatcher()
    get_route = router.add_get("/a", named("a"), name="a")
    post_route = router.add_post("/a", named("a-post"), name="a")
    router.add_get("/b/{x}", named("b"), name="b")
    router.add_post("/c", named("c"))

    resources = router.resources()
    assert [r.canonical for r in resources] == ["/a", "/b/{x}", "/c"]
    assert len(resources[0]) == 3  # GET, HEAD, POST share the resource
    routes = router.routes()
    assert len(routes) == 6
    assert get_route in routes
    assert post_route in routes
    assert [r.method for r in routes] == ["HEAD", "GET", "POST", "HEAD", "GET", "POST"]
    named_resources = router.named_resources()
    assert set(named_resources) == {"a", "b"}
    assert named_resources["b"] is resources[1]
    assert router["a"] is resources[0]
    assert "a" in router
    assert "c" not in router
    assert len(router) == 2
    assert list(router) == ["a", "b"]
    assert get_route.name == "a"
    assert get_route.resource is resources[0]
    assert resources[1].get_info()["formatter"] == "/b/{x}"
    assert resources[0].get_info() == {"path": "/a"}
    with pytest.raises(KeyError):
        router["missing"]


def test_duplicate_and_invalid_names() -> None:
    router = web.UrlDispatcher()
    router.add_get("/a", named("a"), name="dup")
    with pytest.raises(ValueError, match="duplicate route name 'dup'"):
        router.add_get("/b", named("b"), name="dup")
    for bad in ("1abc", "a b", "a/b", "", "a..b", "a.1b", "-a", "api.class"):
        with pytest.raises(ValueError, match="incorrect route name"):
            router.add_get(f"/bad{len(bad)}{bad.replace('/', '')}", named("x"), name=bad)
    for good in ("a", "a.b", "a:b", "a-b", "user_list", "api.v1:user-detail", "_x"):
        router.add_get(f"/good/{good}", named("x"), name=good)
    assert "api.v1:user-detail" in router


async def test_adding_routes_after_start_is_refused(webkit_client) -> None:
    app = web.Application()
    app.router.add_get("/", named("root"))
    await webkit_client(app)
    assert app.router.frozen
    with pytest.raises(RuntimeError, match="frozen router: the application has already started"):
        app.router.add_get("/late", named("late"))
    with pytest.raises(RuntimeError, match="already started"):
        app.add_routes([web.get("/late2", named("late"))])
    with pytest.raises(RuntimeError, match="already started"):
        app.router.register_resource(web.PlainResource("/late3"))


# -- registration order ----------------------------------------------------------------------


async def test_dynamic_registered_first_wins(webkit_client) -> None:
    app = web.Application()
    app.router.add_get("/user/{name}", named("dynamic"))
    app.router.add_get("/user/me", named("plain"))
    client = await webkit_client(app)
    assert (await client.get("/user/me")).json() == {
        "handler": "dynamic",
        "match": {"name": "me"},
    }
    assert (await client.get("/user/you")).json()["handler"] == "dynamic"


async def test_plain_registered_first_wins(webkit_client) -> None:
    app = web.Application()
    app.router.add_get("/user/me", named("plain"))
    app.router.add_get("/user/{name}", named("dynamic"))
    client = await webkit_client(app)
    assert (await client.get("/user/me")).json() == {"handler": "plain", "match": {}}
    assert (await client.get("/user/you")).json()["handler"] == "dynamic"


async def test_earlier_route_with_other_method_does_not_hide_later_match(webkit_client) -> None:
    app = web.Application()
    app.router.add_post("/user/{name}", named("dyn-post"))
    app.router.add_get("/user/me", named("plain-get"))
    client = await webkit_client(app)
    assert (await client.get("/user/me")).json()["handler"] == "plain-get"
    assert (await client.post("/user/me")).json()["handler"] == "dyn-post"


# -- custom resources and the seed's AcceptChooser -------------------------------------------


class SuffixResource(web.AbstractResource):
    """Any path ending in ``suffix`` (a user resource, as the seed's register_resource)."""

    def __init__(self, suffix: str, handler: Any, *, name: str | None = None) -> None:
        super().__init__(name=name)
        self._suffix = suffix
        self._prefix = ""
        self._route = web.ResourceRoute("GET", handler, self)

    @property
    def canonical(self) -> str:
        return f"{self._prefix}/*{self._suffix}"

    def url_for(self, **kwargs: str) -> URL:
        return URL.build(path=f"{self._prefix}/{kwargs['stem']}{self._suffix}")

    async def resolve(
        self, request: web.Request
    ) -> tuple[web.UrlMappingMatchInfo | None, set[str]]:
        path = request.path
        if not (path.startswith(self._prefix + "/") and path.endswith(self._suffix)):
            return None, set()
        if request.method != "GET":
            return None, {"GET"}
        stem = path[len(self._prefix) + 1 : -len(self._suffix)]
        return web.UrlMappingMatchInfo({"stem": stem}, self._route), {"GET"}

    def add_prefix(self, prefix: str) -> None:
        self._prefix = prefix + self._prefix

    def get_info(self) -> dict[str, Any]:
        return {"suffix": self._suffix}

    def raw_match(self, path: str) -> bool:
        return False

    def __len__(self) -> int:
        return 1

    def __iter__(self) -> Iterator[web.AbstractRoute]:
        return iter([self._route])


async def test_register_custom_resource(webkit_client) -> None:
    async def stem_handler(request: web.Request) -> web.Response:
        return web.Response(text=f"stem={request.match_info['stem']}")

    app = web.Application()
    app.router.add_get("/plain.json", named("plain"))
    resource = SuffixResource(".json", stem_handler, name="json")
    app.router.register_resource(resource)
    client = await webkit_client(app)

    # Earlier registrations still win; the custom resource gets the rest.
    assert (await client.get("/plain.json")).json()["handler"] == "plain"
    assert (await client.get("/report.json")).text == "stem=report"
    assert (await client.get("/a/b.json")).text == "stem=a/b"
    resp = await client.post("/report.json")
    assert resp.status_code == 405
    assert resp.headers["allow"] == "GET"
    assert (await client.get("/report.xml")).status_code == 404
    assert app.router["json"] is resource
    assert str(app.router["json"].url_for(stem="x")) == "/x.json"
    assert resource in app.router.resources()
    assert len(app.router.routes()) == 3  # plain GET + HEAD, custom GET


async def test_custom_resource_in_subapp_gets_prefix(webkit_client) -> None:
    async def stem_handler(request: web.Request) -> web.Response:
        return web.Response(text=f"sub stem={request.match_info['stem']}")

    sub = web.Application()
    sub.router.register_resource(SuffixResource(".txt", stem_handler, name="txt"))
    app = web.Application()
    app.add_subapp("/sub", sub)
    client = await webkit_client(app)
    assert (await client.get("/sub/note.txt")).text == "sub stem=note"
    assert str(sub.router["txt"].url_for(stem="n")) == "/sub/n.txt"


class AcceptChooser:
    """The seed's second layer of routing on the Accept header."""

    def __init__(self) -> None:
        self._accepts: dict[str, Any] = {}

    async def do_route(self, request: web.Request) -> web.StreamResponse:
        for accept in request.headers.getall("ACCEPT", []):
            acceptor = self._accepts.get(accept)
            if acceptor is not None:
                return await acceptor(request)  # type: ignore[no-any-return]
        raise web.HTTPNotAcceptable()

    def reg_acceptor(self, accept: str, handler: Any) -> None:
        self._accepts[accept] = handler


async def test_seed_accept_chooser(webkit_client) -> None:
    async def handle_json(request: web.Request) -> web.Response:
        return web.json_response({"format": "json"})

    async def handle_xml(request: web.Request) -> web.Response:
        return web.Response(text="<format>xml</format>", content_type="application/xml")

    app = web.Application()
    chooser = AcceptChooser()
    app.add_routes([web.get("/", chooser.do_route)])
    chooser.reg_acceptor("application/json", handle_json)
    chooser.reg_acceptor("application/xml", handle_xml)
    client = await webkit_client(app)

    resp = await client.get("/", headers={"Accept": "application/json"})
    assert resp.status_code == 200
    assert resp.json() == {"format": "json"}
    resp = await client.get("/", headers={"Accept": "application/xml"})
    assert resp.text == "<format>xml</format>"
    assert resp.headers["content-type"] == "application/xml; charset=utf-8"
    # Several Accept fields: the first registered one in request order wins.
    resp = await client.get("/", headers=[("Accept", "text/html"), ("Accept", "application/xml")])
    assert resp.text == "<format>xml</format>"
    resp = await client.get("/", headers={"Accept": "text/html"})
    assert resp.status_code == 406
    assert resp.text == "406: Not Acceptable"
    # An acceptor registered after startup is used too: it lives in the chooser.
    chooser.reg_acceptor("text/html", handle_xml)
    assert (await client.get("/", headers={"Accept": "text/html"})).status_code == 200


# -- Unicode and requoting ---------------------------------------------------------------------


async def test_unicode_routes_resolve_percent_encoded_requests(
    webkit_client, tmp_path: Path
) -> None:
    static_dir = tmp_path / "статика"
    static_dir.mkdir()
    (static_dir / "файл.txt").write_text("unicode file", encoding="utf-8")
    app = web.Application()
    app.router.add_get("/статья", named("plain"))
    app.router.add_get("/статья/{id}", named("dynamic"))
    app.router.add_get("/tag/{tag}", named("tag"))
    app.router.add_static("/статика", static_dir)
    client = await webkit_client(app)

    # httpx sends the percent-encoded UTF-8 form.
    assert (await client.get("/статья")).json() == {"handler": "plain", "match": {}}
    assert (await client.get("/%D1%81%D1%82%D0%B0%D1%82%D1%8C%D1%8F")).json()["handler"] == (
        "plain"
    )
    assert (await client.get("/статья/42")).json() == {
        "handler": "dynamic",
        "match": {"id": "42"},
    }
    # match_info values are decoded.
    assert (await client.get("/tag/%D0%BA%D0%BE%D1%82")).json()["match"] == {"tag": "кот"}
    assert (await client.get("/статья/%D0%BA%D0%BE%D1%82")).json()["match"] == {"id": "кот"}
    static = await client.get("/статика/файл.txt")
    assert static.status_code == 200
    assert static.text == "unicode file"

    port = client.port
    # Lower-case escapes are requoted to the canonical upper-case form.
    status, body = await raw_request(port, get_bytes(b"/%d1%81%d1%82%d0%b0%d1%82%d1%8c%d1%8f"))
    assert status == 200
    assert b'"plain"' in body


async def test_custom_regex_must_be_percent_encoded(webkit_client) -> None:
    app = web.Application()
    app.router.add_get("/raw/{word:статья}", named("raw"))
    encoded = "%D1%81%D1%82%D0%B0%D1%82%D1%8C%D1%8F"
    app.router.add_get("/enc/{word:" + encoded + "}", named("encoded"))
    app.router.add_get("/cyr/{word:[а-я]+}", named("cyrillic-class"))
    client = await webkit_client(app)
    # The seed: Unicode patterns do not match the requoted path...
    assert (await client.get("/raw/статья")).status_code == 404
    assert (await client.get("/cyr/кот")).status_code == 404
    # ...their percent-encoded form does, and the value is decoded.
    resp = await client.get("/enc/статья")
    assert resp.status_code == 200
    assert resp.json() == {"handler": "encoded", "match": {"word": "статья"}}


async def test_requoting_of_request_paths(webkit_client) -> None:
    app = web.Application()
    app.router.add_get("/~user", named("tilde"))
    app.router.add_get("/b", named("b"))
    app.router.add_get("/a/b/", named("ab-slash"))
    app.router.add_get("/p/{v}", named("pv"))
    client = await webkit_client(app)
    port = client.port

    cases = [
        (b"/%7Euser", 200, b'"tilde"'),
        (b"/%7euser", 200, b'"tilde"'),
        (b"/a/../b", 200, b'"b"'),
        (b"/a/./../b", 200, b'"b"'),
        (b"/./b", 200, b'"b"'),
        (b"/../../b", 200, b'"b"'),
        (b"/a/%2e%2e/b", 200, b'"b"'),
        (b"/a/b/.", 200, b'"ab-slash"'),
        (b"/a/b/c/..", 200, b'"ab-slash"'),
        (b"/p/%2f", 200, b'"v": "/"'),
        (b"/p/%41%42", 200, b'"v": "AB"'),
        (b"/p/%e2%82%ac", 200, b'"v": "\\u20ac"'),
        (b"/b/..%2f", 404, b""),
    ]
    for path, status, fragment in cases:
        got_status, body = await raw_request(port, get_bytes(path))
        assert got_status == status, path
        assert fragment in body, (path, body)


def test_requote_path_table() -> None:
    from webkit.web.urls import remove_dot_segments, requote_path

    table = {
        "/": "/",
        "/plain/path": "/plain/path",
        "/%7E": "/~",
        "/%7e": "/~",
        "/%41": "/A",
        "/%2f": "/%2F",
        "/%2F": "/%2F",
        "/%d1%81": "/%D1%81",
        "/с": "/%D1%81",
        "/a b": "/a%20b",
        "/%": "/%25",
        "/%zz": "/%25zz",
        "/a/../b": "/b",
        "/a/./b": "/a/b",
        "/a/b/..": "/a/",
        "/..": "/",
        "/a//b": "/a//b",
        "/a/%2E%2E/b": "/b",
        "/a/%2e/b": "/a/b",
    }
    for raw, expected in table.items():
        assert requote_path(raw) == expected, raw
    assert remove_dot_segments("/a/b/../../../c/./d/") == "/c/d/"


# -- resolution cost ---------------------------------------------------------------------------


async def test_resolution_only_tries_candidates() -> None:
    calls: list[str] = []

    class CountingResource(web.DynamicResource):
        async def resolve(
            self, request: web.Request
        ) -> tuple[web.UrlMappingMatchInfo | None, set[str]]:
            calls.append(self.canonical)
            return await super().resolve(request)

        def _match(self, path: str) -> dict[str, str] | None:
            calls.append("match:" + self.canonical)
            return super()._match(path)

    app = web.Application()
    router = app.router
    handler = named("h")
    for i in range(500):
        router.add_get(f"/plain{i}/page", handler)
        resource = CountingResource(f"/seg{i % 100}/item{i}/{{id}}")
        router.register_resource(resource)
        resource.add_route("GET", handler)
    assert len(router.resources()) == 1000
    app.freeze()

    calls.clear()
    for i in (0, 250, 499):
        info = await router.resolve(make_mocked_request("GET", f"/plain{i}/page", app=app))
        assert info.http_exception is None
        assert info.route.resource is not None
        assert info.route.resource.canonical == f"/plain{i}/page"
    assert calls == []

    info = await router.resolve(make_mocked_request("GET", "/seg7/item207/abc", app=app))
    assert dict(info) == {"id": "abc"}
    # Only resources whose first segment is "seg7" were tried, in registration order.
    assert calls
    assert all(call.removeprefix("match:").startswith("/seg7/") for call in calls)
    tried = [call for call in calls if not call.startswith("match:")]
    assert tried == ["/seg7/item7/{id}", "/seg7/item107/{id}", "/seg7/item207/{id}"]

    calls.clear()
    info = await router.resolve(make_mocked_request("GET", "/elsewhere/x", app=app))
    assert info.http_exception is not None
    assert info.http_exception.status == 404
    assert calls == []
