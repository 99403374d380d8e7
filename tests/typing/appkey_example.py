"""Checked by mypy in tests/typing/test_typing.py: AppKey keeps the value's type."""

from __future__ import annotations

from typing import assert_type

from webkit import web

my_private_key = web.AppKey("my_private_key", str)
counter = web.AppKey("counter", int)

app = web.Application()
app[my_private_key] = "data"
app[counter] = 1


async def handler(request: web.Request) -> web.Response:
    data = request.app[my_private_key]
    assert_type(data, str)
    assert_type(request.config_dict[counter], int)
    assert_type(app.get(counter), int | None)
    reveal_type(request.app[my_private_key])
    return web.Response(text=data)


routes = web.RouteTableDef()


@routes.get("/")
async def index(request: web.Request) -> web.Response:
    return web.Response(text="ok")


assert_type(index.__name__, str)
