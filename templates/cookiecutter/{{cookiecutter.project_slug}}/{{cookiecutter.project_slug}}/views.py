"""The routes, collected in one RouteTableDef: a page, a JSON endpoint and a WebSocket."""

from __future__ import annotations

from pathlib import Path

import webkit.templates
from webkit import web

from {{ cookiecutter.project_slug }} import __version__
from {{ cookiecutter.project_slug }}.settings import SETTINGS
from {{ cookiecutter.project_slug }}.storage import STORE

HERE = Path(__file__).resolve().parent

routes = web.RouteTableDef()


@routes.get("/", name="index")
@webkit.templates.template("index.html")  # the innermost decorator: it renders the dict
async def index(request: web.Request) -> dict[str, object]:
    visits = await request.app[STORE].hit("index")
    return {"title": request.app[SETTINGS].title, "visits": visits}


@routes.get("/api/status", name="status")
async def status(request: web.Request) -> web.Response:
    return web.json_response(
        {
            "name": request.app[SETTINGS].title,
            "version": __version__,
            "visits": await request.app[STORE].visits("index"),
        }
    )


@routes.get("/ws", name="echo")
async def echo(request: web.Request) -> web.WebSocketResponse:
    """Send every message back, until the client closes the socket."""
    ws = web.WebSocketResponse(heartbeat=30.0)
    await ws.prepare(request)
    async for message in ws:
        if message.type == web.WSMsgType.TEXT:
            await ws.send_str(message.data)
        elif message.type == web.WSMsgType.BINARY:
            await ws.send_bytes(message.data)
    return ws


routes.static("/static", HERE / "static", name="static")
