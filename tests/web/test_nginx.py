"""The proxy middlewares behind a real nginx reverse proxy (Debian's), started by the tests.

nginx listens on 127.0.0.1 and connects to the app from 127.0.0.1, the one trusted proxy
address. The test client connects from 127.0.0.2 (Linux routes all of 127/8 to loopback), so
that the client is told apart from the proxy even though both run on this host.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from nginx_util import Nginx, find_nginx

from webkit import web
from webkit.web.proxies import forwarded_strict, secure_redirect, x_forwarded_strict

CLIENT_ADDRESS = "127.0.0.2"


async def whoami(request: web.Request) -> web.Response:
    return web.json_response(
        {
            "scheme": request.scheme,
            "host": request.host,
            "remote": request.remote,
            "url": str(request.url),
            "secure": request.secure,
        }
    )


def make_app(*middlewares: Any) -> web.Application:
    app = web.Application(middlewares=list(middlewares))
    app.router.add_get("/{tail:.*}", whoami)
    return app


@pytest.fixture
def nginx(tmp_path: Path) -> Iterator[Callable[[int], Nginx]]:
    binary = find_nginx()
    if binary is None:
        pytest.skip("nginx binary not available: install Debian's nginx-light")
    started: list[Nginx] = []

    def start(upstream: int) -> Nginx:
        directory = tmp_path / f"nginx{len(started)}"
        directory.mkdir()
        proxy = Nginx(binary, directory, upstream)
        started.append(proxy)
        proxy.start()
        return proxy

    yield start
    for proxy in started:
        proxy.stop()


def client_from(address: str, base_url: str) -> httpx.AsyncClient:
    transport = httpx.AsyncHTTPTransport(local_address=address)
    return httpx.AsyncClient(base_url=base_url, transport=transport, timeout=10.0)


async def test_forwarded_strict_behind_nginx(webkit_client, nginx) -> None:
    app_client = await webkit_client(make_app(forwarded_strict(["127.0.0.1"])))
    proxy = nginx(app_client.port)
    async with client_from(CLIENT_ADDRESS, proxy.url) as client:
        resp = await client.get("/page?q=1", headers={"Host": "www.example.test"})
        assert resp.status_code == 200, resp.text
        assert resp.json() == {
            "scheme": "http",
            "host": "www.example.test",
            "remote": CLIENT_ADDRESS,
            "url": "http://www.example.test/page?q=1",
            "secure": False,
        }
        # The Host header's port survives ($http_host).
        resp = await client.get("/")
        assert resp.json()["host"] == f"127.0.0.1:{proxy.port}"

        # A client's own Forwarded hop is kept by nginx but not believed: the walk stops at
        # the first untrusted address, the client's.
        spoofed = {
            "Host": "www.example.test",
            "Forwarded": 'for=203.0.113.66;proto=https;host="evil.example"',
            "X-Forwarded-For": "203.0.113.66",
        }
        resp = await client.get("/", headers=spoofed)
        assert resp.status_code == 200, resp.text
        seen = resp.json()
        assert (seen["remote"], seen["scheme"], seen["host"]) == (
            CLIENT_ADDRESS,
            "http",
            "www.example.test",
        )

        # An unterminated quote would swallow nginx's hop: refused, not misread.
        resp = await client.get("/", headers={"Forwarded": 'for="203.0.113.66'})
        assert resp.status_code == 400
        assert "Forwarded" in resp.text

    # The same spoofed request straight to the app (the proxy bypassed) is refused.
    async with client_from(CLIENT_ADDRESS, str(app_client.make_url(""))) as direct:
        resp = await direct.get("/", headers=spoofed)
        assert resp.status_code == 400
        assert "trusted proxy" in resp.text


async def test_x_forwarded_strict_behind_nginx(webkit_client, nginx) -> None:
    app_client = await webkit_client(make_app(x_forwarded_strict(["127.0.0.1"])))
    proxy = nginx(app_client.port)
    async with client_from(CLIENT_ADDRESS, proxy.url) as client:
        spoofed = {
            "Host": "shop.example.test:8080",
            "X-Forwarded-For": "198.51.100.7, 10.1.2.3",
            "X-Forwarded-Proto": "https",
            "X-Forwarded-Host": "evil.example",
        }
        resp = await client.get("/cart", headers=spoofed)
        assert resp.status_code == 200, resp.text
        assert resp.json() == {
            "scheme": "http",
            "host": "shop.example.test:8080",
            "remote": CLIENT_ADDRESS,
            "url": "http://shop.example.test:8080/cart",
            "secure": False,
        }

    async with client_from(CLIENT_ADDRESS, str(app_client.make_url(""))) as direct:
        resp = await direct.get("/", headers=spoofed)
        assert resp.status_code == 400


async def test_direct_spoof_ignored_with_on_untrusted_ignore(webkit_client, nginx) -> None:
    mw = forwarded_strict(["127.0.0.1"], on_untrusted="ignore")
    app_client = await webkit_client(make_app(mw))
    proxy = nginx(app_client.port)
    async with client_from(CLIENT_ADDRESS, proxy.url) as client:
        resp = await client.get("/", headers={"Host": "www.example.test"})
        assert resp.json()["remote"] == CLIENT_ADDRESS
    async with client_from(CLIENT_ADDRESS, str(app_client.make_url(""))) as direct:
        resp = await direct.get(
            "/", headers={"Forwarded": "for=203.0.113.66;proto=https;host=evil.example"}
        )
        assert resp.status_code == 200
        seen = resp.json()
        assert seen["remote"] == CLIENT_ADDRESS
        assert seen["scheme"] == "http"
        assert seen["host"] == f"127.0.0.1:{app_client.port}"


async def test_secure_redirect_behind_nginx(webkit_client, nginx) -> None:
    app = make_app(forwarded_strict(["127.0.0.1"]), secure_redirect(exclude=["/health"]))
    app_client = await webkit_client(app)
    proxy = nginx(app_client.port)
    async with client_from(CLIENT_ADDRESS, proxy.url) as client:
        resp = await client.get("/a/b?x=1", headers={"Host": "www.example.test"})
        assert resp.status_code == 308
        assert resp.headers["location"] == "https://www.example.test/a/b?x=1"
        resp = await client.get("/health", headers={"Host": "www.example.test"})
        assert resp.status_code == 200
