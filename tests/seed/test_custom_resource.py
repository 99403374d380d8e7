"""Seed: "Custom resource implementation": ``register_resource()`` with a user's
``AbstractResource`` subclass."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from yarl import URL

from webkit import web


class CaseInsensitiveResource(web.AbstractResource):
    """Matches one path whatever its letter case (something the built-in ones do not do)."""

    def __init__(self, path: str, handler: Any, *, name: str | None = None) -> None:
        super().__init__(name=name)
        self._path = path.lower()
        self._routes = [
            web.ResourceRoute("GET", handler, self),
            web.ResourceRoute("HEAD", handler, self),
        ]

    @property
    def canonical(self) -> str:
        return self._path

    def url_for(self, **kwargs: Any) -> URL:
        return URL.build(path=self._path)

    async def resolve(
        self, request: web.Request
    ) -> tuple[web.UrlMappingMatchInfo | None, set[str]]:
        if request.rel_url.path.lower() != self._path:
            return None, set()
        allowed = {route.method for route in self._routes}
        for route in self._routes:
            if route.method == request.method:
                return web.UrlMappingMatchInfo({"case": request.rel_url.path}, route), allowed
        return None, allowed

    def add_prefix(self, prefix: str) -> None:
        self._path = prefix + self._path

    def get_info(self) -> dict[str, Any]:
        return {"path": self._path, "case_insensitive": True}

    def raw_match(self, path: str) -> bool:
        return path == self._path

    def __len__(self) -> int:
        return len(self._routes)

    def __iter__(self) -> Iterator[web.AbstractRoute]:
        return iter(self._routes)


async def greet(request: web.Request) -> web.Response:
    route = request.match_info.route
    assert isinstance(route.resource, CaseInsensitiveResource)
    return web.Response(text=f"hello via {request.match_info['case']}")


async def test_register_custom_resource(webkit_client) -> None:
    log: list[str] = []

    @web.middleware
    async def middleware(request, handler):  # type: ignore[no-untyped-def]
        log.append(request.path)
        return await handler(request)

    app = web.Application(middlewares=[middleware])
    resource = CaseInsensitiveResource("/Hello", greet, name="hello")
    app.router.register_resource(resource)
    app.router.add_get("/other", greet)
    client = await webkit_client(app)

    assert (await client.get("/hello")).text == "hello via /hello"
    assert (await client.get("/HeLLo")).text == "hello via /HeLLo"
    assert (await client.head("/HELLO")).status_code == 200
    resp = await client.post("/hello")
    assert resp.status_code == 405
    assert resp.headers["allow"] == "GET, HEAD"
    assert (await client.get("/nope")).status_code == 404
    # Middlewares apply to custom resources like any other.
    assert log == ["/hello", "/HeLLo", "/HELLO", "/hello", "/nope"]

    # Introspection and reversing go through the resource's own methods.
    assert app.router["hello"] is resource
    assert app.router["hello"].url_for() == URL("/hello")
    assert resource in app.router.resources()
    assert len(resource) == 2
    assert all(route in app.router.routes() for route in resource)


async def test_custom_resource_first_registered_match_wins(webkit_client) -> None:
    async def plain(request: web.Request) -> web.Response:
        return web.Response(text="plain")

    app = web.Application()
    app.router.register_resource(CaseInsensitiveResource("/hello", greet))
    app.router.add_get("/hello", plain)  # registered later: shadowed
    app.router.add_get("/world", plain)
    client = await webkit_client(app)
    assert (await client.get("/hello")).text == "hello via /hello"
    assert (await client.get("/world")).text == "plain"


async def test_custom_resource_in_a_sub_application(webkit_client) -> None:
    admin = web.Application()
    resource = CaseInsensitiveResource("/Panel", greet, name="panel")
    admin.router.register_resource(resource)
    app = web.Application()
    app.add_subapp("/admin/", admin)
    client = await webkit_client(app)
    # add_prefix was called when mounting.
    assert admin.router["panel"].url_for() == URL("/admin/panel")
    assert (await client.get("/admin/PANEL")).text == "hello via /admin/PANEL"


def test_abstract_resource_must_be_implemented() -> None:
    class Incomplete(web.AbstractResource):
        pass

    with pytest.raises(TypeError, match="abstract"):
        Incomplete()  # type: ignore[abstract]
