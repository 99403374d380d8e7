"""Seed: "Data Sharing aka No Singletons Please"."""

from __future__ import annotations

import pytest

from webkit import web


async def test_app_config_with_str_key_warns(webkit_client) -> None:
    data = {"secret": "s3cr3t"}

    async def handler(request: web.Request) -> web.Response:
        data = request.app["my_private_key"]
        return web.json_response(data)

    app = web.Application()
    with pytest.warns(web.NotAppKeyWarning, match="AppKey"):
        app["my_private_key"] = data
    app.router.add_get("/", handler)
    client = await webkit_client(app)
    assert (await client.get("/")).json() == {"secret": "s3cr3t"}


async def test_app_key(webkit_client) -> None:
    my_private_key = web.AppKey("my_private_key", str)
    app = web.Application()
    app[my_private_key] = "data"  # no warning (warnings are errors in this suite)

    async def handler(request: web.Request) -> web.Response:
        data = request.app[my_private_key]
        return web.Response(text=data)

    app.router.add_get("/", handler)
    client = await webkit_client(app)
    assert (await client.get("/")).text == "data"
    assert repr(my_private_key) == "<AppKey(my_private_key, type=str)>"


async def test_config_dict_searches_current_app_then_parents(webkit_client) -> None:
    my_private_key = web.AppKey("my_private_key", str)
    only_root = web.AppKey("only_root", str)
    missing = web.AppKey("missing", str)

    async def handler(request: web.Request) -> web.Response:
        config = request.config_dict
        data = config[my_private_key]
        return web.json_response(
            {
                "app": request.app.get(my_private_key),
                "config": data,
                "root": config[only_root],
                "missing": config.get(missing, "default"),
                "contains": missing in config,
            }
        )

    root = web.Application()
    root[my_private_key] = "root value"
    root[only_root] = "from root"
    root.router.add_get("/", handler)
    middle = web.Application()  # no value of its own: the root's is found
    middle.router.add_get("/", handler)
    leaf = web.Application()
    leaf[my_private_key] = "leaf value"  # shadows the root's
    leaf.router.add_get("/", handler)
    middle.add_subapp("/leaf/", leaf)
    root.add_subapp("/middle/", middle)
    client = await webkit_client(root)

    assert (await client.get("/")).json() == {
        "app": "root value",
        "config": "root value",
        "root": "from root",
        "missing": "default",
        "contains": False,
    }
    assert (await client.get("/middle/")).json() == {
        "app": None,
        "config": "root value",
        "root": "from root",
        "missing": "default",
        "contains": False,
    }
    assert (await client.get("/middle/leaf/")).json() == {
        "app": "leaf value",
        "config": "leaf value",
        "root": "from root",
        "missing": "default",
        "contains": False,
    }


async def test_config_dict_is_read_only(webkit_client) -> None:
    key = web.AppKey("key", str)
    errors: list[str] = []

    async def handler(request: web.Request) -> web.Response:
        try:
            request.config_dict[key] = "x"  # type: ignore[index]
        except TypeError:
            errors.append("read-only")
        try:
            request.config_dict[key]
        except KeyError:
            errors.append("KeyError")
        return web.Response()

    app = web.Application()
    app.router.add_get("/", handler)
    client = await webkit_client(app)
    assert (await client.get("/")).status_code == 200
    assert errors == ["read-only", "KeyError"]


async def test_request_storage_shared_with_middlewares_and_signals(webkit_client) -> None:
    seen: list[object] = []

    @web.middleware
    async def auth(request: web.Request, handler):  # type: ignore[no-untyped-def]
        request["org.example.user"] = "alice"
        return await handler(request)

    async def on_prepare(request: web.Request, response: web.StreamResponse) -> None:
        response.headers["X-User"] = request["org.example.user"]
        seen.append(dict(request))

    async def handler(request: web.Request) -> web.Response:
        request["my_private_key"] = "data"
        return web.Response(text=f"{request['org.example.user']} {request['my_private_key']}")

    app = web.Application(middlewares=[auth])
    app.on_response_prepare.append(on_prepare)
    app.router.add_get("/", handler)
    client = await webkit_client(app)
    resp = await client.get("/")
    assert resp.text == "alice data"
    assert resp.headers["x-user"] == "alice"
    assert seen == [{"org.example.user": "alice", "my_private_key": "data"}]
    # Each request has its own storage.
    await client.get("/")
    assert seen[1] == seen[0]
    assert seen[1] is not seen[0]


async def test_response_storage_seen_by_middleware_and_signal(webkit_client) -> None:
    metrics: list[int] = []

    @web.middleware
    async def collect(request: web.Request, handler):  # type: ignore[no-untyped-def]
        response = await handler(request)
        metrics.append(response["my_metric"])
        return response

    async def on_prepare(request: web.Request, response: web.StreamResponse) -> None:
        response.headers["X-Metric"] = str(response["my_metric"])

    async def handler(request: web.Request) -> web.Response:
        response = web.Response(text="work done")
        # [ do all the work ]
        response["my_metric"] = 123
        return response

    app = web.Application(middlewares=[collect])
    app.on_response_prepare.append(on_prepare)
    app.router.add_get("/", handler)
    client = await webkit_client(app)
    resp = await client.get("/")
    assert resp.text == "work done"
    assert resp.headers["x-metric"] == "123"
    assert metrics == [123]


def test_response_and_request_are_mutable_mappings() -> None:
    from collections.abc import MutableMapping

    response = web.StreamResponse()
    response["k"] = 1
    assert isinstance(response, MutableMapping)
    assert dict(response) == {"k": 1}
    del response["k"]
    assert len(response) == 0
    assert issubclass(web.Request, MutableMapping)
    assert isinstance(web.Application(), MutableMapping)
