"""webkit's demo app: routes, JSON, a form, a streamed response, middlewares and app state.

Run it with ``python examples/demo/app.py`` and open http://127.0.0.1:8080/.
"""

from __future__ import annotations

import asyncio
import html
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from webkit import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

HERE = Path(__file__).parent
routes = web.RouteTableDef()
started_at = web.AppKey("started_at", float)
visits = web.AppKey("visits", dict)

PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>webkit demo</title>
<link rel="stylesheet" href="/static/style.css"></head>
<body><h1>Hello from webkit</h1>
<p>This page has been served {count} times; the app started {uptime:.0f} s ago.</p>
<ul>
<li><a href="/hello/world">/hello/{{name}}</a>: a dynamic route</li>
<li><a href="/api/info">/api/info</a>: JSON</li>
<li><a href="/stream">/stream</a>: a streamed, chunked response</li>
</ul>
<form method="post" action="/greet"><input name="name" placeholder="your name">
<button>Greet me</button></form>
</body></html>
"""


@routes.get("/", name="index")
async def index(request: web.Request) -> web.Response:
    counts = request.app[visits]
    counts["/"] = counts.get("/", 0) + 1
    uptime = time.monotonic() - request.app[started_at]
    return web.Response(
        text=PAGE.format(count=counts["/"], uptime=uptime), content_type="text/html"
    )


@routes.get("/hello/{name}", name="hello")
async def hello(request: web.Request) -> web.Response:
    return web.Response(text=f"Hello, {request.match_info['name']}!")


@routes.get("/api/info")
async def info(request: web.Request) -> web.Response:
    return web.json_response(
        {
            "method": request.method,
            "path": request.path,
            "query": dict(request.query),
            "remote": request.remote,
            "hello_url": str(request.app.router["hello"].url_for(name="you")),
        }
    )


@routes.post("/greet")
async def greet(request: web.Request) -> web.Response:
    form = await request.post()
    name = str(form.get("name") or "stranger")
    return web.Response(text=f"<p>Hello, {html.escape(name)}!</p>", content_type="text/html")


@routes.get("/stream")
async def stream(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/plain; charset=utf-8"})
    await response.prepare(request)
    for i in range(5):
        await response.write(f"line {i}\n".encode())
        await asyncio.sleep(0.1)
    await response.write_eof()
    return response


@web.middleware
async def timing(request: web.Request, handler: Handler) -> web.StreamResponse:
    start = time.perf_counter()
    response = await handler(request)
    if not response.prepared:
        response.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - start) * 1000:.2f}"
    return response


def create_app() -> web.Application:
    app = web.Application(middlewares=[timing])
    app[started_at] = time.monotonic()
    app[visits] = {}
    app.add_routes(routes)
    app.add_routes([web.static("/static", HERE / "static")])
    return app


if __name__ == "__main__":
    web.run_app(create_app(), host="127.0.0.1", port=8080)
