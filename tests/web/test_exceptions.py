"""The HTTPException tree on the wire, redirects, and 500s for handler errors."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from webkit import web

EXPECTED_STATUS = {
    "HTTPOk": 200,
    "HTTPCreated": 201,
    "HTTPAccepted": 202,
    "HTTPNonAuthoritativeInformation": 203,
    "HTTPNoContent": 204,
    "HTTPResetContent": 205,
    "HTTPPartialContent": 206,
    "HTTPMultipleChoices": 300,
    "HTTPMovedPermanently": 301,
    "HTTPFound": 302,
    "HTTPSeeOther": 303,
    "HTTPNotModified": 304,
    "HTTPUseProxy": 305,
    "HTTPTemporaryRedirect": 307,
    "HTTPPermanentRedirect": 308,
    "HTTPBadRequest": 400,
    "HTTPUnauthorized": 401,
    "HTTPPaymentRequired": 402,
    "HTTPForbidden": 403,
    "HTTPNotFound": 404,
    "HTTPMethodNotAllowed": 405,
    "HTTPNotAcceptable": 406,
    "HTTPProxyAuthenticationRequired": 407,
    "HTTPRequestTimeout": 408,
    "HTTPConflict": 409,
    "HTTPGone": 410,
    "HTTPLengthRequired": 411,
    "HTTPPreconditionFailed": 412,
    "HTTPRequestEntityTooLarge": 413,
    "HTTPRequestURITooLong": 414,
    "HTTPUnsupportedMediaType": 415,
    "HTTPRequestRangeNotSatisfiable": 416,
    "HTTPExpectationFailed": 417,
    "HTTPMisdirectedRequest": 421,
    "HTTPUnprocessableEntity": 422,
    "HTTPFailedDependency": 424,
    "HTTPUpgradeRequired": 426,
    "HTTPPreconditionRequired": 428,
    "HTTPTooManyRequests": 429,
    "HTTPRequestHeaderFieldsTooLarge": 431,
    "HTTPUnavailableForLegalReasons": 451,
    "HTTPInternalServerError": 500,
    "HTTPNotImplemented": 501,
    "HTTPBadGateway": 502,
    "HTTPServiceUnavailable": 503,
    "HTTPGatewayTimeout": 504,
    "HTTPVersionNotSupported": 505,
    "HTTPVariantAlsoNegotiates": 506,
    "HTTPInsufficientStorage": 507,
    "HTTPNotExtended": 510,
    "HTTPNetworkAuthenticationRequired": 511,
}
BASES = {
    "HTTPException": None,
    "HTTPError": None,
    "HTTPSuccessful": (200, 300),
    "HTTPRedirection": (300, 400),
    "HTTPMove": (300, 400),
    "HTTPClientError": (400, 500),
    "HTTPServerError": (500, 600),
}
EXPORTED = sorted(
    name
    for name in web.__all__
    if name.startswith("HTTP")
    and isinstance(getattr(web, name), type)
    and issubclass(getattr(web, name), web.HTTPException)
)


def make(cls: type[web.HTTPException], **kwargs: Any) -> web.HTTPException:
    """An instance of ``cls`` with the arguments its constructor requires."""
    if issubclass(cls, web.HTTPMove):
        return cls("/target", **kwargs)
    if cls is web.HTTPMethodNotAllowed:
        return cls("DELETE", ["GET", "POST"], **kwargs)
    if cls is web.HTTPUnavailableForLegalReasons:
        return cls("https://authority.example/", **kwargs)
    if cls is web.HTTPRequestEntityTooLarge:
        return cls(max_size=10, actual_size=20, **kwargs)
    return cls(**kwargs)


def test_every_exported_exception_class_is_known() -> None:
    assert set(EXPORTED) == set(EXPECTED_STATUS) | set(BASES)
    # webkit's one extra: request.json()'s error is a 400 and a json.JSONDecodeError.
    assert issubclass(web.RequestJSONError, web.HTTPBadRequest)


@pytest.mark.parametrize("name", EXPORTED)
def test_class_hierarchy_and_status_code(name: str) -> None:
    cls = getattr(web, name)
    assert issubclass(cls, Exception)
    assert issubclass(cls, web.HTTPException)
    if name in BASES:
        return
    code = EXPECTED_STATUS[name]
    assert cls.status_code == code
    low, high = next(
        BASES[base] for base in BASES if BASES[base] and BASES[base][0] <= code < BASES[base][1]
    )
    assert low <= code < high
    family = {2: web.HTTPSuccessful, 3: web.HTTPRedirection, 4: web.HTTPClientError}
    assert issubclass(cls, family.get(code // 100, web.HTTPServerError))
    if code >= 400:
        assert issubclass(cls, web.HTTPError)
    exc = make(cls)
    assert exc.status == code
    assert exc.status_code == code


async def test_every_exception_on_the_wire(webkit_client) -> None:
    concrete = [name for name in EXPORTED if name not in BASES]

    async def handler(request: web.Request) -> web.Response:
        raise make(getattr(web, request.match_info["name"]))

    app = web.Application()
    app.router.add_get("/{name}", handler)
    client = await webkit_client(app)
    for name in concrete:
        code = EXPECTED_STATUS[name]
        exc = make(getattr(web, name))
        resp = await client.get(f"/{name}")
        assert resp.status_code == code, name
        assert resp.reason_phrase == exc.reason, name
        if code in (204, 205, 304):
            assert resp.content == b"", name
            assert "content-type" not in resp.headers, name
            continue
        assert resp.headers["content-type"] == "text/plain; charset=utf-8", name
        if code == 413:
            assert resp.text == "Maximum request body size 10 exceeded, actual body size 20"
        else:
            assert resp.text == f"{code}: {exc.reason}", name
        if issubclass(getattr(web, name), web.HTTPMove):
            assert resp.headers["location"] == "/target", name
    allow = await client.get("/HTTPMethodNotAllowed")
    assert allow.headers["allow"] == "GET, POST"
    link = await client.get("/HTTPUnavailableForLegalReasons")
    assert link.headers["link"] == '<https://authority.example/>; rel="blocked-by"'


async def test_text_headers_reason_and_body_on_the_wire(webkit_client) -> None:
    async def handler(request: web.Request) -> web.Response:
        kind = request.query["kind"]
        if kind == "text":
            raise web.HTTPForbidden(
                text="<h1>no</h1>",
                content_type="text/html",
                reason="Go Away",
                headers={"X-Why": "policy", "WWW-Authenticate": "Basic"},
            )
        if kind == "body":
            raise web.HTTPConflict(body=b'{"e": 1}', content_type="application/json")
        raise web.HTTPTooManyRequests(headers={"Retry-After": "30", "Content-Type": "text/x"})

    app = web.Application()
    app.router.add_get("/", handler)
    client = await webkit_client(app)
    resp = await client.get("/", params={"kind": "text"})
    assert (resp.status_code, resp.reason_phrase) == (403, "Go Away")
    assert resp.text == "<h1>no</h1>"
    assert resp.headers["content-type"].startswith("text/html")
    assert resp.headers["x-why"] == "policy"
    assert resp.headers["www-authenticate"] == "Basic"
    resp = await client.get("/", params={"kind": "body"})
    assert (resp.status_code, resp.content) == (409, b'{"e": 1}')
    assert resp.headers["content-type"] == "application/json"
    resp = await client.get("/", params={"kind": "headers"})
    assert resp.status_code == 429
    assert resp.headers["retry-after"] == "30"
    assert resp.headers["content-type"] == "text/x"
    assert resp.text == "429: Too Many Requests"


async def test_text_exception_with_a_content_type_gets_a_charset(webkit_client) -> None:
    async def handler(request: web.Request) -> web.Response:
        raise web.HTTPForbidden(text="<h1>né</h1>", content_type="text/html")

    app = web.Application()
    app.router.add_get("/", handler)
    client = await webkit_client(app)
    resp = await client.get("/")
    assert resp.headers["content-type"] == "text/html; charset=utf-8"
    assert resp.text == "<h1>né</h1>"


def test_exception_attributes() -> None:
    exc = web.HTTPBadRequest(reason="Bad Thing", headers={"X-A": "1"})
    assert (exc.status, exc.reason, str(exc)) == (400, "Bad Thing", "Bad Thing")
    assert (exc.text, exc.body, exc.content_type) == (
        "400: Bad Thing",
        b"400: Bad Thing",
        "text/plain",
    )
    assert dict(exc.headers) == {"X-A": "1"}
    assert web.HTTPNoContent().text is None
    assert web.HTTPNoContent().body is None
    assert web.HTTPNotModified().body is None
    with pytest.raises(ValueError):
        web.HTTPBadRequest(text="a", body=b"b")
    with pytest.raises(ValueError, match="charset"):
        web.HTTPBadRequest(text="a", content_type="text/html; charset=latin-1")
    not_allowed = web.HTTPMethodNotAllowed("PUT", ["POST", "GET", "GET"])
    assert (not_allowed.method, not_allowed.allowed_methods) == ("PUT", {"GET", "POST"})
    assert not_allowed.headers["Allow"] == "GET, POST"
    legal = web.HTTPUnavailableForLegalReasons(None)
    assert legal.link is None
    assert "Link" not in legal.headers


async def test_exception_raised_from_a_middleware(webkit_client) -> None:
    @web.middleware
    async def guard(request: web.Request, handler: Any) -> web.StreamResponse:
        if request.headers.get("Authorization") != "Bearer ok":
            raise web.HTTPUnauthorized(headers={"WWW-Authenticate": "Bearer"}, text="log in")
        response = await handler(request)
        return response

    @web.middleware
    async def convert(request: web.Request, handler: Any) -> web.StreamResponse:
        try:
            return await handler(request)
        except web.HTTPNotFound:
            raise web.HTTPGone(text="gone for good") from None

    async def handler(request: web.Request) -> web.Response:
        if request.path == "/old":
            raise web.HTTPNotFound()
        return web.Response(text="secret")

    app = web.Application(middlewares=[convert, guard])
    app.router.add_get("/", handler)
    app.router.add_get("/old", handler)
    client = await webkit_client(app)
    denied = await client.get("/")
    assert (denied.status_code, denied.text) == (401, "log in")
    assert denied.headers["www-authenticate"] == "Bearer"
    ok = await client.get("/", headers={"Authorization": "Bearer ok"})
    assert (ok.status_code, ok.text) == (200, "secret")
    gone = await client.get("/old", headers={"Authorization": "Bearer ok"})
    assert (gone.status_code, gone.text) == (410, "gone for good")


async def test_redirects(webkit_client) -> None:
    async def handler(request: web.Request) -> web.Response:
        kind = request.match_info["kind"]
        if kind == "found":
            raise web.HTTPFound("/other")
        if kind == "see-other":
            raise web.HTTPSeeOther(location="/done?id=7")
        if kind == "unicode":
            raise web.HTTPMovedPermanently("/café/menu?q=crème brûlée")
        if kind == "url":
            raise web.HTTPTemporaryRedirect(request.url.with_path("/abs"))
        raise web.HTTPPermanentRedirect("https://example.com/new", text="moved")

    app = web.Application()
    app.router.add_get("/{kind}", handler)
    client = await webkit_client(app)
    found = await client.get("/found")
    assert (found.status_code, found.headers["location"]) == (302, "/other")
    assert found.text == "302: Found"
    see_other = await client.get("/see-other")
    assert (see_other.status_code, see_other.headers["location"]) == (303, "/done?id=7")
    unicode = await client.get("/unicode")
    assert unicode.status_code == 301
    assert unicode.headers["location"] == "/caf%C3%A9/menu?q=cr%C3%A8me+br%C3%BBl%C3%A9e"
    absolute = await client.get("/url")
    assert absolute.status_code == 307
    assert absolute.headers["location"] == f"http://127.0.0.1:{client.port}/abs"
    permanent = await client.get("/perm")
    assert (permanent.status_code, permanent.text) == (308, "moved")
    assert permanent.headers["location"] == "https://example.com/new"


def test_redirect_location_argument() -> None:
    assert web.HTTPFound("/other").location == "/other"
    assert web.HTTPSeeOther(location="/x").headers["Location"] == "/x"
    for empty in ("", None):
        with pytest.raises(ValueError, match="need a location"):
            web.HTTPFound(empty)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="need a location"):
            web.HTTPMove(location=empty)  # type: ignore[arg-type]


async def test_204_and_304_exceptions_send_no_body(webkit_client) -> None:
    async def handler(request: web.Request) -> web.Response:
        if request.path == "/204":
            raise web.HTTPNoContent(headers={"X-Done": "1"})
        raise web.HTTPNotModified(headers={"ETag": '"v1"'})

    app = web.Application()
    app.router.add_get("/204", handler)
    app.router.add_get("/304", handler)
    client = await webkit_client(app)
    reader, writer = await asyncio.open_connection("127.0.0.1", client.port)
    try:
        writer.write(
            b"GET /204 HTTP/1.1\r\nHost: x\r\n\r\n"
            b"GET /304 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        data = await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()
        await writer.wait_closed()
    first, second = data.split(b"\r\n\r\n")[:2]
    assert data.endswith(b"\r\n\r\n")  # nothing follows the second head
    assert first.startswith(b"HTTP/1.1 204 No Content\r\n")
    assert second.startswith(b"HTTP/1.1 304 Not Modified\r\n")
    assert b"\r\nX-Done: 1" in first
    assert b'\r\nETag: "v1"' in second
    for head in (first, second):
        assert b"content-length" not in head.lower()
        assert b"transfer-encoding" not in head.lower()


async def test_handler_errors_are_500(webkit_client, caplog: pytest.LogCaptureFixture) -> None:
    async def handler(request: web.Request) -> Any:
        if request.path == "/none":
            return None
        if request.path == "/str":
            return "a string"
        raise ZeroDivisionError("secret detail")

    def make_app(debug: bool) -> web.Application:
        app = web.Application(debug=debug)
        for path in ("/none", "/str", "/boom"):
            app.router.add_get(path, handler)
        return app

    caplog.set_level(logging.CRITICAL, logger="webkit")
    client = await webkit_client(make_app(debug=False))
    for path in ("/none", "/str", "/boom"):
        resp = await client.get(path)
        assert resp.status_code == 500, path
        assert resp.text == "500 Internal Server Error\n\nServer got itself in trouble", path
        assert resp.headers["connection"] == "close"
    debug = await webkit_client(make_app(debug=True))
    resp = await debug.get("/boom")
    assert resp.status_code == 500
    assert resp.text.startswith("500 Internal Server Error\n\nServer got itself in trouble\n\n")
    assert "Traceback (most recent call last):" in resp.text
    assert "ZeroDivisionError: secret detail" in resp.text
    resp = await debug.get("/none")
    assert "RuntimeError: Web-handler should return a response instance, got None" in resp.text
