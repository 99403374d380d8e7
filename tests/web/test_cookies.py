"""Cookies: request.cookies parsing and Set-Cookie headers from set_cookie/del_cookie."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from webkit import web


async def raw_exchange(port: int, data: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()
        await writer.wait_closed()


# -- request.cookies ---------------------------------------------------------------------------


async def cookie_echo(request: web.Request) -> web.Response:
    cookies = request.cookies
    with pytest.raises(TypeError):
        cookies["new"] = "x"  # type: ignore[index]
    return web.json_response(dict(cookies))


async def test_request_cookies(webkit_client) -> None:
    app = web.Application()
    app.router.add_get("/", cookie_echo)
    client = await webkit_client(app)

    async def cookies_for(*headers: str) -> Any:
        resp = await client.get("/", headers=[("Cookie", value) for value in headers])
        assert resp.status_code == 200
        return resp.json()

    assert await cookies_for() == {}
    assert await cookies_for("a=1; b=two; c=") == {"a": "1", "b": "two", "c": ""}
    # Several Cookie header lines are combined (as HTTP/2 proxies send them).
    assert await cookies_for("a=1; b=2", "c=3", "b=last") == {"a": "1", "b": "last", "c": "3"}
    # A malformed pair is skipped, not the whole header.
    assert await cookies_for("a=1; no equals sign; b=2") == {"a": "1", "b": "2"}
    assert await cookies_for('a=1; bad"name=x; b=2;;c=3') == {"a": "1", "b": "2", "c": "3"}
    assert await cookies_for('json={"k":1}; n=2') == {"json": '{"k":1}', "n": "2"}
    # Quoted values lose their quotes and escapes (as http.cookies writes them).
    assert await cookies_for('q="a b"; e="\\"x\\""; o="\\351t\\351"') == {
        "q": "a b",
        "e": '"x"',
        "o": "été",
    }
    # Names that are attributes in Set-Cookie are ordinary cookies here.
    assert await cookies_for("path=/; expires=never; id=7") == {
        "path": "/",
        "expires": "never",
        "id": "7",
    }
    assert await cookies_for("spaced  =  value  ;x=1") == {"spaced": "value", "x": "1"}


async def test_request_cookies_with_non_ascii_value(webkit_client) -> None:
    app = web.Application()
    app.router.add_get("/", cookie_echo)
    client = await webkit_client(app)
    raw = await raw_exchange(
        client.port,
        "GET / HTTP/1.1\r\nHost: x\r\nCookie: name=café; other=1\r\n"
        "Connection: close\r\n\r\n".encode(),
    )
    assert raw.endswith(b'{"name": "caf\\u00e9", "other": "1"}')


# -- Set-Cookie ----------------------------------------------------------------------------------


def set_cookies(build: Any) -> web.Application:
    async def handler(request: web.Request) -> web.StreamResponse:
        return build()

    app = web.Application()
    app.router.add_get("/", handler)
    return app


async def set_cookie_headers(webkit_client: Any, build: Any) -> list[str]:
    client = await webkit_client(set_cookies(build))
    resp = await client.get("/")
    assert resp.status_code == 200
    return list(resp.headers.get_list("set-cookie"))


async def test_set_cookie_with_every_attribute(webkit_client) -> None:
    def build() -> web.Response:
        resp = web.Response(text="ok")
        resp.set_cookie(
            "session",
            "abc123",
            expires="Wed, 21 Oct 2015 07:28:00 GMT",
            domain="example.com",
            max_age=3600,
            path="/app",
            secure=True,
            httponly=True,
            version="1",
            samesite="Lax",
        )
        resp.set_cookie("chips", "1", secure=True, samesite="None", partitioned=True)
        resp.set_cookie("plain", "v")
        resp.set_cookie("quoted", "a b;c")
        return resp

    assert await set_cookie_headers(webkit_client, build) == [
        "session=abc123; Domain=example.com; expires=Wed, 21 Oct 2015 07:28:00 GMT; "
        "HttpOnly; Max-Age=3600; Path=/app; SameSite=Lax; Secure; Version=1",
        "chips=1; Partitioned; Path=/; SameSite=None; Secure",
        "plain=v; Path=/",
        'quoted="a b\\073c"; Path=/',
    ]


async def test_set_cookie_updates_and_del_cookie(webkit_client) -> None:
    def build() -> web.StreamResponse:
        resp = web.StreamResponse()
        # Updating keeps attributes that are not given again, except max-age.
        resp.set_cookie("kept", "1", domain="example.com", max_age=10, httponly=True)
        resp.set_cookie("kept", "2")
        # del_cookie: an empty value that expired in 1970, with the same domain and path.
        resp.del_cookie("gone", domain="example.com", path="/app")
        resp.del_cookie("strict", secure=True, httponly=True, samesite="Strict")
        # Setting a deleted cookie again starts from fresh attributes.
        resp.del_cookie("back", domain="old.example")
        resp.set_cookie("back", "again")
        assert resp.cookies["kept"].value == "2"
        return resp

    assert await set_cookie_headers(webkit_client, build) == [
        "kept=2; Domain=example.com; HttpOnly; Path=/",
        'gone=""; Domain=example.com; expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/app',
        'strict=""; expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; Max-Age=0; Path=/; '
        "SameSite=Strict; Secure",
        "back=again; Path=/",
    ]


async def test_cookies_on_a_streamed_response_and_a_json_response(webkit_client) -> None:
    async def stream(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        resp.set_cookie("s", "1", max_age="60")
        await resp.prepare(request)
        await resp.write(b"body")
        return resp

    async def as_json(request: web.Request) -> web.Response:
        resp = web.json_response({"ok": True})
        resp.set_cookie("j", "2")
        return resp

    app = web.Application()
    app.router.add_get("/stream", stream)
    app.router.add_get("/json", as_json)
    client = await webkit_client(app)
    streamed = await client.get("/stream")
    assert streamed.headers.get_list("set-cookie") == ["s=1; Max-Age=60; Path=/"]
    assert streamed.text == "body"
    resp = await client.get("/json")
    assert resp.headers.get_list("set-cookie") == ["j=2; Path=/"]


async def test_cookie_round_trip_through_a_client(webkit_client) -> None:
    async def login(request: web.Request) -> web.Response:
        resp = web.Response(text="in")
        resp.set_cookie("user", "Zoë O'Neil; admin")
        return resp

    app = web.Application()
    app.router.add_get("/login", login)
    app.router.add_get("/me", cookie_echo)
    client = await webkit_client(app)
    await client.get("/login")
    me = await client.get("/me")
    assert me.json() == {"user": "Zoë O'Neil; admin"}


def test_invalid_cookie_name_is_refused() -> None:
    from http.cookies import CookieError

    resp = web.Response()
    with pytest.raises(CookieError):
        resp.set_cookie("bad name", "x")
    with pytest.raises(CookieError):
        resp.set_cookie("path", "x")  # a reserved attribute name
