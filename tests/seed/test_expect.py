"""Seed: "Expect Header" (raw sockets: what matters is which bytes go out, and when)."""

from __future__ import annotations

import asyncio

from seedkit import close, connect, read_head, read_response

import webkit
from webkit import web
from webkit.web import HTTPExpectationFailed, HTTPForbidden

CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


async def nothing_arrives(reader: asyncio.StreamReader, wait: float = 0.2) -> bool:
    """True if the server sends nothing for ``wait`` seconds."""
    try:
        data = await asyncio.wait_for(reader.read(1), wait)
    except TimeoutError:
        return True
    raise AssertionError(f"unexpected bytes from the server: {data!r}")


# -- the default expect handler ---------------------------------------------------------------


async def test_100_continue_is_sent_when_the_body_is_read(webkit_client) -> None:
    started = asyncio.Event()
    release = asyncio.Event()

    async def echo(request: web.Request) -> web.Response:
        started.set()
        await release.wait()
        return web.Response(body=await request.read())

    app = web.Application()
    app.router.add_post("/", echo)
    client = await webkit_client(app)
    reader, writer = await connect(client.port)
    writer.write(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
    await started.wait()
    # The handler runs but has not asked for the body: no 100 yet.
    assert await nothing_arrives(reader)
    release.set()
    interim = await read_head(reader)
    assert (interim.status, interim.reason) == (100, "Continue")
    writer.write(b"hello")
    final = await read_response(reader)
    assert final.status == 200
    assert final.body == b"hello"
    await close(writer)


async def test_no_100_after_a_final_response(webkit_client) -> None:
    """A handler that answers without reading the body never triggers a 100."""

    async def refuse(request: web.Request) -> web.Response:
        return web.Response(status=401, text="log in first")

    app = web.Application()
    app.router.add_post("/", refuse)
    client = await webkit_client(app)
    reader, writer = await connect(client.port)
    writer.write(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
    final = await read_response(reader)
    assert final.status == 401
    assert final.text == "log in first"
    # Nothing else follows; the unread body means the connection is closed.
    rest = await asyncio.wait_for(reader.read(), 5)
    assert CONTINUE not in rest
    await close(writer)


async def test_unknown_expectation_is_417(webkit_client) -> None:
    called: list[str] = []

    async def handler(request: web.Request) -> web.Response:
        called.append("handler")
        return web.Response(text="never")

    app = web.Application()
    app.router.add_post("/", handler)
    client = await webkit_client(app)
    reader, writer = await connect(client.port)
    writer.write(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: teapot\r\n\r\n")
    final = await read_response(reader)
    assert final.status == 417
    assert final.text == "Unknown Expect: teapot"
    assert called == []
    await close(writer)


async def test_http10_expectation_is_ignored(webkit_client) -> None:
    """RFC 9110 §10.1.1: a server MUST ignore 100-continue in an HTTP/1.0 request."""

    reading = asyncio.Event()

    async def echo(request: web.Request) -> web.Response:
        read = asyncio.ensure_future(request.read())
        await asyncio.sleep(0)  # the read is now waiting for the body
        reading.set()
        return web.Response(body=await read)

    app = web.Application()
    app.router.add_post("/", echo)
    client = await webkit_client(app)
    reader, writer = await connect(client.port)
    writer.write(b"POST / HTTP/1.0\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
    await reading.wait()
    writer.write(b"hello")
    data = await asyncio.wait_for(reader.read(), 5)
    assert data.startswith(b"HTTP/1.0 200 OK\r\n") or data.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"100 Continue" not in data
    assert data.endswith(b"hello")
    await close(writer)


# -- the seed's custom check_auth ----------------------------------------------------------------


async def check_auth(request):  # type: ignore[no-untyped-def]
    if request.version != webkit.HttpVersion11:
        return

    # (The seed's snippet uses ``expect`` without defining it; this is the value it means.)
    expect = request.headers.get("EXPECT")
    if request.headers.get("EXPECT") != "100-continue":
        raise HTTPExpectationFailed(text="Unknown Expect: %s" % expect)  # noqa: UP031

    if request.headers.get("AUTHORIZATION") is None:
        raise HTTPForbidden()

    request.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")


async def hello(request):  # type: ignore[no-untyped-def]
    return web.Response(body=b"Hello, world")


def auth_app() -> web.Application:
    app = web.Application()
    # (The seed writes ``web.add_get``; the route definition is ``web.get``.)
    app.add_routes([web.get("/", hello, expect_handler=check_auth)])
    return app


async def test_check_auth_without_authorization_is_403_without_100(webkit_client) -> None:
    client = await webkit_client(auth_app())
    reader, writer = await connect(client.port)
    writer.write(b"GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
    final = await read_response(reader)
    assert final.status == 403
    assert CONTINUE not in await asyncio.wait_for(reader.read(), 5)
    await close(writer)


async def test_check_auth_with_authorization_sends_100_then_200(webkit_client) -> None:
    client = await webkit_client(auth_app())
    reader, writer = await connect(client.port)
    writer.write(
        b"GET / HTTP/1.1\r\nHost: t\r\nAuthorization: Basic dTpw\r\nContent-Length: 4\r\n"
        b"Expect: 100-continue\r\n\r\n"
    )
    interim = await read_head(reader)
    assert interim.status == 100
    writer.write(b"data")
    final = await read_response(reader)
    assert final.status == 200
    assert final.body == b"Hello, world"
    # Exactly one 100 was sent (the custom handler's; the lazy default one is disarmed).
    writer.write_eof()
    assert CONTINUE not in await asyncio.wait_for(reader.read(), 5)
    await close(writer)


async def test_check_auth_unknown_expectation_is_417(webkit_client) -> None:
    client = await webkit_client(auth_app())
    reader, writer = await connect(client.port)
    writer.write(b"GET / HTTP/1.1\r\nHost: t\r\nAuthorization: x\r\nExpect: magic\r\n\r\n")
    final = await read_response(reader)
    assert final.status == 417
    assert final.text == "Unknown Expect: magic"
    await close(writer)


async def test_check_auth_skips_http10(webkit_client) -> None:
    client = await webkit_client(auth_app())
    reader, writer = await connect(client.port)
    writer.write(b"GET / HTTP/1.0\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\ndata")
    data = await asyncio.wait_for(reader.read(), 5)
    assert b" 200 OK\r\n" in data.split(b"\r\n", 1)[0] + b"\r\n"
    assert b"100 Continue" not in data
    assert data.endswith(b"Hello, world")
    await close(writer)


async def test_expect_handler_returning_a_response(webkit_client) -> None:
    called: list[str] = []

    async def expect_handler(request: web.Request) -> web.StreamResponse | None:
        if request.headers.get("X-Quota") == "exceeded":
            return web.Response(status=413, text="quota exceeded")
        return None

    async def upload(request: web.Request) -> web.Response:
        called.append("upload")
        return web.Response(text=f"got {len(await request.read())} bytes")

    app = web.Application()
    app.router.add_post("/", upload, expect_handler=expect_handler)
    client = await webkit_client(app)
    reader, writer = await connect(client.port)
    writer.write(
        b"POST / HTTP/1.1\r\nHost: t\r\nX-Quota: exceeded\r\nContent-Length: 3\r\n"
        b"Expect: 100-continue\r\n\r\n"
    )
    final = await read_response(reader)
    assert (final.status, final.text) == (413, "quota exceeded")
    assert called == []
    await close(writer)

    # Returning None continues as usual (and the handler reads without any 100 sent,
    # as the custom handler took over that job and chose not to send one).
    resp = await client.post("/", content=b"abc")
    assert resp.text == "got 3 bytes"
    assert called == ["upload"]


async def test_expect_handler_runs_before_middlewares(webkit_client) -> None:
    log: list[str] = []

    @web.middleware
    async def middleware(request, handler):  # type: ignore[no-untyped-def]
        log.append("middleware")
        return await handler(request)

    async def expect_handler(request: web.Request) -> None:
        log.append("expect handler")
        raise HTTPForbidden()

    async def handler(request: web.Request) -> web.Response:
        log.append("handler")
        return web.Response()

    app = web.Application(middlewares=[middleware])
    app.router.add_post("/", handler, expect_handler=expect_handler)
    client = await webkit_client(app)
    reader, writer = await connect(client.port)
    writer.write(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n")
    assert (await read_response(reader)).status == 403
    assert log == ["expect handler"]
    await close(writer)
