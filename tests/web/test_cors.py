"""The CORS middleware over real TCP: preflights, actual requests, errors, per-route policies."""

from __future__ import annotations

from typing import Any

import pytest

from webkit import web
from webkit.web.cross_origin import CorsPolicy, cors, cors_policy

APP = "https://app.example"
OTHER = "https://other.example"

API = CorsPolicy(
    allow_origins=[APP, "http://localhost:3000"],
    allow_headers=["Content-Type", "X-Token"],
    expose_headers=["X-Request-Id", "X-Total"],
    max_age=600,
)


async def ok(request: web.Request) -> web.Response:
    return web.Response(text="ok", headers={"X-Request-Id": "42"})


def preflight(origin: str, method: str, headers: str | None = None) -> dict[str, str]:
    sent = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers is not None:
        sent["Access-Control-Request-Headers"] = headers
    return sent


def vary(resp: Any) -> set[str]:
    return {
        token.strip().lower()
        for value in resp.headers.get_list("vary")
        for token in value.split(",")
        if token.strip()
    }


def no_cors(resp: Any) -> bool:
    return not any(name.lower().startswith("access-control-") for name in resp.headers)


async def serve(webkit_client: Any, middleware: Any, **routes: Any) -> Any:
    app = web.Application(middlewares=[middleware])
    app.router.add_get("/api", ok)
    app.router.add_post("/api", ok)
    for path, handler in routes.items():
        app.router.add_route("*", "/" + path, handler)
    return await webkit_client(app)


# -- preflight -------------------------------------------------------------------------------


async def test_preflight_answered_without_options_route(webkit_client) -> None:
    client = await serve(webkit_client, cors(API))
    resp = await client.options("/api", headers=preflight(APP, "POST", "content-type, X-Token"))
    assert resp.status_code == 204
    assert resp.headers["access-control-allow-origin"] == APP
    assert resp.headers["access-control-allow-methods"] == "POST"
    assert resp.headers["access-control-allow-headers"] == "content-type, x-token"
    assert resp.headers["access-control-max-age"] == "600"
    assert "access-control-allow-credentials" not in resp.headers
    assert "access-control-expose-headers" not in resp.headers
    assert {"origin", "access-control-request-method"} <= vary(resp)
    assert resp.content == b""
    # Without the preflight, OPTIONS is still a 405 there.
    plain = await client.options("/api")
    assert plain.status_code == 405


@pytest.mark.parametrize(
    ("headers", "complaint"),
    [
        (preflight(OTHER, "POST"), "origin 'https://other.example' is not allowed"),
        (preflight("null", "POST"), "origin 'null' is not allowed"),
        (preflight(APP + "/", "POST"), "is not allowed"),
        (preflight(APP, "POST", "content-type, x-secret"), "x-secret are not allowed"),
        (preflight(APP, "PUT"), "/api does not serve PUT (it serves GET, HEAD, POST)"),
        (preflight(APP, "P(T"), "not a method name"),
    ],
)
async def test_preflight_refused(webkit_client, headers: dict[str, str], complaint: str) -> None:
    client = await serve(webkit_client, cors(API))
    resp = await client.options("/api", headers=headers)
    assert resp.status_code == 403
    assert complaint in resp.text
    assert no_cors(resp)


async def test_preflight_method_list(webkit_client) -> None:
    policy = CorsPolicy(allow_origins="*", allow_methods=["GET", "put"], max_age=0)
    app = web.Application(middlewares=[cors(policy)])
    app.router.add_route("*", "/any", ok)
    client = await webkit_client(app)
    resp = await client.options("/any", headers=preflight(APP, "PUT"))
    assert resp.status_code == 204
    assert resp.headers["access-control-allow-methods"] == "GET, PUT"
    assert resp.headers["access-control-allow-origin"] == "*"
    assert resp.headers["access-control-max-age"] == "0"
    resp = await client.options("/any", headers=preflight(APP, "DELETE"))
    assert resp.status_code == 403
    assert "method DELETE is not allowed" in resp.text
    # An actual DELETE gets no CORS headers; HEAD is allowed along with GET.
    assert no_cors(await client.delete("/any", headers={"Origin": APP}))
    head = await client.head("/any", headers={"Origin": APP})
    assert head.headers["access-control-allow-origin"] == "*"


async def test_preflight_to_missing_path_is_404(webkit_client) -> None:
    client = await serve(webkit_client, cors(API))
    resp = await client.options("/nowhere", headers=preflight(APP, "GET"))
    assert resp.status_code == 404


async def test_preflight_any_header(webkit_client) -> None:
    policy = CorsPolicy(allow_origins=[APP], allow_headers="*", allow_credentials=True)
    client = await serve(webkit_client, cors(policy))
    resp = await client.options("/api", headers=preflight(APP, "POST", "X-Anything,x-more"))
    assert resp.status_code == 204
    # With credentials '*' is no wildcard: the names are echoed.
    assert resp.headers["access-control-allow-headers"] == "x-anything, x-more"
    assert resp.headers["access-control-allow-credentials"] == "true"
    assert resp.headers["access-control-allow-origin"] == APP


# -- actual requests -------------------------------------------------------------------------


async def test_actual_request_allowed_origin(webkit_client) -> None:
    client = await serve(webkit_client, cors(API))
    resp = await client.post("/api", headers={"Origin": "http://localhost:3000"})
    assert resp.status_code == 200
    assert resp.headers["access-control-allow-origin"] == "http://localhost:3000"
    assert resp.headers["access-control-expose-headers"] == "X-Request-Id, X-Total"
    assert "access-control-allow-credentials" not in resp.headers
    assert "origin" in vary(resp)


async def test_actual_request_other_or_no_origin(webkit_client) -> None:
    client = await serve(webkit_client, cors(API))
    for headers in ({"Origin": OTHER}, {}):
        resp = await client.get("/api", headers=headers)
        assert resp.status_code == 200
        assert no_cors(resp)
        # The answer depends on Origin: caches must keep the variants apart.
        assert "origin" in vary(resp)


async def test_wildcard_without_credentials(webkit_client) -> None:
    client = await serve(webkit_client, cors(CorsPolicy(allow_origins="*", expose_headers="*")))
    resp = await client.get("/api", headers={"Origin": OTHER})
    assert resp.headers["access-control-allow-origin"] == "*"
    assert resp.headers["access-control-expose-headers"] == "*"
    assert "origin" not in vary(resp)
    resp = await client.get("/api", headers={"Origin": "null"})
    assert resp.headers["access-control-allow-origin"] == "*"


async def test_credentials_echo_origin_never_star(webkit_client) -> None:
    policy = CorsPolicy(allow_origins="*", allow_credentials=True)
    client = await serve(webkit_client, cors(policy))
    resp = await client.get("/api", headers={"Origin": OTHER})
    assert resp.headers["access-control-allow-origin"] == OTHER
    assert resp.headers["access-control-allow-credentials"] == "true"
    assert "origin" in vary(resp)
    # 'null' (sandboxed pages, file:) is not covered by '*' when credentials are allowed.
    assert no_cors(await client.get("/api", headers={"Origin": "null"}))
    # Something that is not an origin is never echoed.
    assert no_cors(await client.get("/api", headers={"Origin": "https://a.example/path"}))


async def test_origin_predicate_and_null(webkit_client) -> None:
    policy = CorsPolicy(allow_origins=lambda origin: origin.endswith(".trusted.example"))
    client = await serve(webkit_client, cors(policy))
    resp = await client.get("/api", headers={"Origin": "https://a.trusted.example"})
    assert resp.headers["access-control-allow-origin"] == "https://a.trusted.example"
    assert no_cors(await client.get("/api", headers={"Origin": "https://trusted.example.evil"}))
    nulls = await serve(webkit_client, cors(CorsPolicy(allow_origins=["null"])))
    resp = await nulls.get("/api", headers={"Origin": "null"})
    assert resp.headers["access-control-allow-origin"] == "null"


async def test_origins_compared_case_insensitively(webkit_client) -> None:
    client = await serve(webkit_client, cors(CorsPolicy(allow_origins=["HTTPS://App.Example"])))
    resp = await client.get("/api", headers={"Origin": APP})
    assert resp.headers["access-control-allow-origin"] == APP


# -- errors ----------------------------------------------------------------------------------


async def test_headers_on_raised_http_exceptions(webkit_client) -> None:
    async def missing(request: web.Request) -> web.Response:
        raise web.HTTPNotFound(text="no such item")

    async def moved(request: web.Request) -> web.Response:
        raise web.HTTPFound("/api")

    client = await serve(webkit_client, cors(API), missing=missing, moved=moved)
    resp = await client.get("/missing", headers={"Origin": APP})
    assert resp.status_code == 404
    assert resp.text == "no such item"
    assert resp.headers["access-control-allow-origin"] == APP
    assert resp.headers["access-control-expose-headers"] == "X-Request-Id, X-Total"
    resp = await client.get("/moved", headers={"Origin": APP})
    assert resp.status_code == 302
    assert resp.headers["access-control-allow-origin"] == APP
    # Router errors use the defaults.
    resp = await client.get("/nowhere", headers={"Origin": APP})
    assert resp.status_code == 404
    assert resp.headers["access-control-allow-origin"] == APP
    resp = await client.delete("/api", headers={"Origin": APP})
    assert resp.status_code == 405
    assert resp.headers["allow"] == "GET, HEAD, POST"
    assert resp.headers["access-control-allow-origin"] == APP


async def test_outer_middleware_still_sees_the_exception(webkit_client) -> None:
    seen: list[Any] = []

    @web.middleware
    async def outer(request: web.Request, handler: Any) -> web.StreamResponse:
        try:
            return await handler(request)
        except web.HTTPNotFound as exc:
            seen.append(exc.headers.get("Access-Control-Allow-Origin"))
            return web.json_response({"error": "not found"}, status=404, headers=exc.headers)

    app = web.Application(middlewares=[outer, cors(API)])
    client = await webkit_client(app)
    resp = await client.get("/nowhere", headers={"Origin": APP})
    assert resp.json() == {"error": "not found"}
    assert seen == [APP]
    assert resp.headers["access-control-allow-origin"] == APP


async def test_shared_exception_instance_does_not_leak(webkit_client) -> None:
    gone = web.HTTPGone()

    async def handler(request: web.Request) -> web.Response:
        raise gone

    client = await serve(webkit_client, cors(API), gone=handler)
    first = await client.get("/gone", headers={"Origin": APP})
    assert first.headers["access-control-allow-origin"] == APP
    for headers in ({"Origin": OTHER}, {}):
        resp = await client.get("/gone", headers=headers)
        assert no_cors(resp)
        assert resp.headers.get_list("vary") == ["Origin"]


# -- per-route policies ----------------------------------------------------------------------


async def test_decorated_handler_overrides_defaults(webkit_client) -> None:
    @cors_policy(CorsPolicy(allow_origins="*"))
    async def public(request: web.Request) -> web.Response:
        return web.Response(text="public")

    @cors_policy(None)
    async def private(request: web.Request) -> web.Response:
        return web.Response(text="private", headers={"Access-Control-Allow-Origin": "mine"})

    client = await serve(webkit_client, cors(API), public=public, private=private)
    resp = await client.get("/public", headers={"Origin": OTHER})
    assert resp.headers["access-control-allow-origin"] == "*"
    resp = await client.options("/public", headers=preflight(OTHER, "PATCH"))
    assert resp.status_code == 204
    # CORS off: the handler's own header stays, the preflight reaches the handler.
    resp = await client.get("/private", headers={"Origin": APP})
    assert resp.headers["access-control-allow-origin"] == "mine"
    assert "vary" not in resp.headers
    resp = await client.options("/private", headers=preflight(APP, "GET"))
    assert resp.status_code == 200
    assert resp.text == "private"


async def test_routes_table_by_name_path_and_resource(webkit_client) -> None:
    everyone = CorsPolicy(allow_origins="*")
    app = web.Application()
    app.router.add_get("/named", ok, name="named")
    app.router.add_get("/items/{id}", ok)
    resource = app.router.add_resource("/res")
    resource.add_route("GET", ok)
    app.router.add_get("/plain", ok)
    app.router.add_get("/off", ok)
    middleware = cors(
        API,
        routes={"named": everyone, "/items/{id}": everyone, resource: everyone, "/off": None},
    )
    app.middlewares.append(middleware)
    client = await webkit_client(app)
    for path in ("/named", "/items/7", "/res"):
        resp = await client.get(path, headers={"Origin": OTHER})
        assert resp.headers["access-control-allow-origin"] == "*", path
    assert no_cors(await client.get("/plain", headers={"Origin": OTHER}))
    resp = await client.get("/plain", headers={"Origin": APP})
    assert resp.headers["access-control-allow-origin"] == APP
    assert no_cors(await client.get("/off", headers={"Origin": APP}))


async def test_no_defaults_only_listed_routes(webkit_client) -> None:
    @cors_policy(API)
    async def shared(request: web.Request) -> web.Response:
        return web.Response(text="shared")

    client = await serve(webkit_client, cors(), shared=shared)
    resp = await client.get("/shared", headers={"Origin": APP})
    assert resp.headers["access-control-allow-origin"] == APP
    assert no_cors(await client.get("/api", headers={"Origin": APP}))
    # No policy for /api: the preflight is not answered (no OPTIONS route: 405).
    resp = await client.options("/api", headers=preflight(APP, "POST"))
    assert resp.status_code == 405
    assert no_cors(resp)
    assert no_cors(await client.get("/nowhere", headers={"Origin": APP}))


async def test_class_based_view(webkit_client) -> None:
    @cors_policy(CorsPolicy(allow_origins=[APP], allow_methods=["GET", "PUT"]))
    class Item(web.View):
        async def get(self) -> web.Response:
            return web.Response(text="item")

        async def put(self) -> web.Response:
            return web.Response(text="put")

    app = web.Application(middlewares=[cors()])
    app.router.add_view("/item", Item)
    client = await webkit_client(app)
    resp = await client.options("/item", headers=preflight(APP, "PUT"))
    assert resp.status_code == 204
    assert resp.headers["access-control-allow-methods"] == "GET, PUT"
    resp = await client.put("/item", headers={"Origin": APP})
    assert resp.text == "put"
    assert resp.headers["access-control-allow-origin"] == APP


async def test_sub_application(webkit_client) -> None:
    sub = web.Application()
    sub.router.add_post("/things", ok)
    app = web.Application(middlewares=[cors(API)])
    app.add_subapp("/v1", sub)
    client = await webkit_client(app)
    resp = await client.options("/v1/things", headers=preflight(APP, "POST", "content-type"))
    assert resp.status_code == 204
    resp = await client.post("/v1/things", headers={"Origin": APP})
    assert resp.headers["access-control-allow-origin"] == APP
    resp = await client.options("/v1/things", headers=preflight(APP, "GET"))
    assert resp.status_code == 403


async def test_streamed_response_is_left_alone(webkit_client) -> None:
    async def stream(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        await response.write(b"chunk")
        return response

    client = await serve(webkit_client, cors(API), stream=stream)
    resp = await client.get("/stream", headers={"Origin": APP})
    assert resp.content == b"chunk"
    assert no_cors(resp)  # documented limitation: sent before the middleware sees it


# -- construction ----------------------------------------------------------------------------


def test_policy_normalized() -> None:
    policy = CorsPolicy(
        allow_origins=("HTTPS://A.example:8443", "https://a.example:8443"),
        allow_methods=["get", "Post"],
        allow_headers=("X-A",),
    )
    assert policy.allow_origins == ("https://a.example:8443",)
    assert policy.allow_methods == ("GET", "POST")
    assert policy.method_allowed("head")
    assert policy.header_allowed("x-a")
    assert not policy.header_allowed("x-b")
    assert policy == CorsPolicy(
        allow_origins=["https://a.example:8443"],
        allow_methods=("GET", "POST"),
        allow_headers=["X-A"],
    )


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"allow_origins": "https://a.example"}, TypeError, "not the string"),
        ({"allow_origins": ["https://a.example/"]}, ValueError, "trailing slash"),
        ({"allow_origins": ["a.example"]}, ValueError, "is not an origin"),
        ({"allow_origins": ["*"]}, ValueError, "'\\*' alone"),
        ({"allow_origins": [1]}, TypeError, "not a str"),
        ({"allow_origins": "*", "allow_methods": "GET"}, TypeError, "allow_methods"),
        ({"allow_origins": "*", "allow_methods": ["GE T"]}, ValueError, "token"),
        ({"allow_origins": "*", "allow_headers": ["X:Y"]}, ValueError, "token"),
        ({"allow_origins": "*", "allow_headers": ["X-A", "*"]}, ValueError, "alone"),
        ({"allow_origins": "*", "max_age": -1}, ValueError, "max_age"),
        ({"allow_origins": "*", "max_age": 1.5}, ValueError, "max_age"),
        ({"allow_origins": "*", "allow_credentials": 1}, TypeError, "bool"),
        (
            {"allow_origins": "*", "allow_credentials": True, "expose_headers": "*"},
            ValueError,
            "list the header names",
        ),
    ],
)
def test_policy_errors(kwargs: dict[str, Any], error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        CorsPolicy(**kwargs)


def test_factory_errors() -> None:
    with pytest.raises(TypeError, match="defaults"):
        cors({"allow_origins": "*"})  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="routes"):
        cors(routes={"/x": "*"})  # type: ignore[dict-item]
    with pytest.raises(TypeError, match="CorsPolicy or None"):
        cors_policy("*")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="cannot set a CORS policy"):
        cors_policy(None)(print)


async def test_route_with_cors_off_gets_untouched_405(webkit_client) -> None:
    @cors_policy(None)
    async def internal(request: web.Request) -> web.Response:
        return web.Response(text="internal")

    app = web.Application(middlewares=[cors(CorsPolicy(allow_origins="*"))])
    app.router.add_get("/internal", internal)
    client = await webkit_client(app)
    resp = await client.options("/internal", headers=preflight(APP, "GET"))
    assert resp.status_code == 405
    assert no_cors(resp)
    assert "vary" not in resp.headers


async def test_middleware_on_a_sub_application(webkit_client) -> None:
    sub = web.Application(middlewares=[cors(CorsPolicy(allow_origins="*"))])
    sub.router.add_post("/things", ok)
    app = web.Application()
    app.router.add_post("/root", ok)
    app.add_subapp("/v1", sub)
    client = await webkit_client(app)
    resp = await client.options("/v1/things", headers=preflight(APP, "POST"))
    assert resp.status_code == 204
    assert resp.headers["access-control-allow-origin"] == "*"
    # The root app's routes are not the sub-application's business.
    resp = await client.options("/root", headers=preflight(APP, "POST"))
    assert resp.status_code == 405
    assert no_cors(resp)
