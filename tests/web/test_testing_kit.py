"""The test kit: servers and client as context managers, the fixtures, mocked requests."""

from __future__ import annotations

import asyncio
import ssl

import httpx
import pytest
from multidict import CIMultiDictProxy

from webkit import web
from webkit.test_utils import AioHTTPTestCase, loop_context, make_mocked_request, unused_port
from webkit.testing import RawTestServer, TestClient, TestServer

app_key = web.AppKey("app_key", str)


async def hello(request: web.Request) -> web.Response:
    return web.Response(text=f"hello {request.match_info.get('name', 'world')}")


def make_app() -> web.Application:
    app = web.Application()
    app.router.add_get("/", hello)
    app.router.add_get("/{name}", hello)
    return app


async def raw_handler(request: web.BaseRequest) -> web.StreamResponse:
    return web.Response(text=f"raw {request.method} {request.path}")


async def test_test_server_context_manager() -> None:
    app = make_app()
    async with TestServer(app) as server:
        assert server.started
        assert not server.closed
        assert server.host == "127.0.0.1"
        assert isinstance(server.port, int)
        assert server.port > 0
        url = server.make_url("/bob?x=1")
        assert str(url) == f"http://127.0.0.1:{server.port}/bob?x=1"
        async with httpx.AsyncClient() as client:
            assert (await client.get(str(url))).text == "hello bob"
        port = server.port
    assert server.closed
    with pytest.raises(httpx.ConnectError):
        async with httpx.AsyncClient() as client:
            await client.get(f"http://127.0.0.1:{port}/")


async def test_raw_test_server_context_manager() -> None:
    async with RawTestServer(raw_handler) as server, httpx.AsyncClient() as client:
        resp = await client.post(str(server.make_url("/x/y")))
        assert resp.text == "raw POST /x/y"
    assert server.closed


async def test_test_client_context_manager() -> None:
    app = make_app()
    async with TestClient(app) as client:
        assert client.app is app
        assert isinstance(client.server, TestServer)
        assert client.host == "127.0.0.1"
        assert client.port == client.server.port
        resp = await client.get("/")
        assert isinstance(resp, httpx.Response)
        assert resp.status_code == 200
        assert resp.text == "hello world"
        assert (await client.get("/ann")).text == "hello ann"
        assert str(client.make_url("/a")) == f"http://127.0.0.1:{client.port}/a"
        assert isinstance(client.session, httpx.AsyncClient)
        for method in ("post", "put", "patch", "delete", "options"):
            resp = await getattr(client, method)("/")
            assert resp.status_code == 405, method
        assert (await client.head("/")).status_code == 200
    assert client.server.closed

    async with TestClient(RawTestServer(raw_handler)) as raw_client:
        assert raw_client.app is None
        assert (await raw_client.get("/z")).text == "raw GET /z"


async def test_fixtures(webkit_loop, webkit_server, webkit_raw_server, webkit_client) -> None:
    assert asyncio.get_running_loop() is webkit_loop
    assert webkit_loop.get_debug()

    server = await webkit_server(make_app())
    assert isinstance(server, TestServer)
    assert server.started
    raw = await webkit_raw_server(raw_handler)
    assert isinstance(raw, RawTestServer)
    assert raw.started

    client = await webkit_client(server)
    assert client.server is server
    assert (await client.get("/x")).text == "hello x"
    raw_client = await webkit_client(raw)
    assert (await raw_client.get("/q")).text == "raw GET /q"
    # httpx options pass through; server options go to the TestServer.
    redirecting = web.Application()

    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound("/target")

    redirecting.router.add_get("/", redirect)
    other = await webkit_client(redirecting, follow_redirects=False, max_line_size=500)
    resp = await other.get("/")
    assert resp.status_code == 302
    assert resp.headers["location"] == "/target"
    assert other.server.runner.server.limits.max_line_size == 500


async def test_fixture_servers_are_closed_after_the_test(webkit_client) -> None:
    events: list[str] = []

    async def on_cleanup(app: web.Application) -> None:
        events.append("cleanup")

    app = make_app()
    app.on_cleanup.append(on_cleanup)
    client = await webkit_client(app)
    await client.close()
    assert events == ["cleanup"]
    await client.close()  # closing twice is harmless
    assert events == ["cleanup"]


async def test_make_mocked_request() -> None:
    app = web.Application()
    with pytest.warns(web.NotAppKeyWarning):
        app["legacy"] = "x"
    app[app_key] = "value"
    request = make_mocked_request(
        "post",
        "/users/42?tab=info&tab=more",
        headers={"X-Token": "secret", "Content-Type": "text/plain"},
        match_info={"id": "42"},
        app=app,
        payload=b"body text",
    )
    assert request.method == "POST"
    assert request.path == "/users/42"
    assert request.query.getall("tab") == ["info", "more"]
    assert isinstance(request.headers, CIMultiDictProxy)
    assert request.headers["x-token"] == "secret"
    assert request.match_info == {"id": "42"}
    assert request.match_info["id"] == "42"
    assert request.app is app
    assert request.app[app_key] == "value"
    assert request.config_dict[app_key] == "value"
    assert await request.text() == "body text"
    assert request.version == web.HttpVersion11
    assert not request.secure
    assert request.keep_alive

    # A handler can be called directly with it.
    async def handler(req: web.Request) -> web.Response:
        return web.Response(text=f"{req.match_info['id']} {req.headers['X-Token']}")

    resp = await handler(request)
    assert resp.text == "42 secret"
    await resp.prepare(request)
    await resp.write_eof()
    assert resp.prepared

    defaults = make_mocked_request("GET", "/")
    assert isinstance(defaults.app, web.Application)
    assert defaults.match_info == {}
    assert await defaults.read() == b""
    assert make_mocked_request("GET", "/", closing=True).keep_alive is False
    tls = make_mocked_request("GET", "/", sslcontext=ssl.create_default_context())
    assert tls.secure
    assert tls.scheme == "https"
    assert make_mocked_request("GET", "/", version=web.HttpVersion10).version == (1, 0)


async def test_mocked_request_through_a_middleware() -> None:
    @web.middleware
    async def add_header(request: web.Request, handler):  # type: ignore[no-untyped-def]
        response = await handler(request)
        response.headers["X-Mw"] = request.headers.get("X-In", "none")
        return response

    request = make_mocked_request("GET", "/", headers={"X-In": "in"})
    response = await add_header(request, hello)
    assert response.headers["X-Mw"] == "in"
    assert response.text == "hello world"


def test_unused_port() -> None:
    port = unused_port()
    assert isinstance(port, int)
    assert 1024 <= port <= 65535


def test_loop_context() -> None:
    with loop_context() as loop:
        assert loop.run_until_complete(asyncio.sleep(0, result=7)) == 7
    assert loop.is_closed()


class TestAioHTTPTestCase(AioHTTPTestCase):
    async def get_application(self) -> web.Application:
        return make_app()

    async def test_index(self) -> None:
        resp = await self.client.get("/")
        assert resp.status_code == 200
        assert resp.text == "hello world"
        assert isinstance(self.server, TestServer)
        assert self.app is self.server.app


async def test_ws_connect_speaks_to_a_real_websocket_endpoint(webkit_raw_server) -> None:
    # Independent of WebSocketResponse: drive the helper against a raw handler that
    # performs the RFC 6455 handshake with websockets' Sans-I/O server and echoes one frame.
    from websockets.server import ServerProtocol

    from webkit.testing import TestClient

    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        exchange = request.exchange
        protocol = ServerProtocol()
        head = b"".join(b"%s: %s\r\n" % (name, value) for name, value in exchange.raw_headers)
        protocol.receive_data(b"GET %s HTTP/1.1\r\n%s\r\n" % (exchange.target.encode(), head))
        handshake = protocol.events_received()[0]
        protocol.send_response(protocol.accept(handshake))
        exchange.write_head(b"".join(protocol.data_to_send()), chunked=False)
        transport, tail = exchange.detach()
        loop = asyncio.get_running_loop()
        done = loop.create_future()

        class Echo(asyncio.Protocol):
            def data_received(self, data: bytes) -> None:
                protocol.receive_data(data)
                for event in protocol.events_received():
                    if getattr(event, "data", None) is not None and event.opcode.name == "TEXT":
                        protocol.send_text(event.data)
                        protocol.send_close(1000)
                for chunk in protocol.data_to_send():
                    if chunk:
                        transport.write(chunk)
                    else:
                        transport.close()

            def connection_lost(self, exc: Exception | None) -> None:
                if not done.done():
                    done.set_result(None)

        transport.set_protocol(Echo())
        if tail:
            transport.get_protocol().data_received(tail)
        await done
        return web.Response()

    server = await webkit_raw_server(handler)
    client = TestClient(server)
    async with client.ws_connect("/echo") as ws:
        await ws.send("ping")
        assert await ws.recv() == "ping"
    await client.close()
