"""The app over real TCP, through webkit's pytest plugin.

``webkit_client(app)`` starts the app on a free port and returns a client whose methods return
httpx responses; ``ws_connect`` opens a WebSocket (the websockets library's client).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from webkit import web
from webkit.testing import TestClient

from {{ cookiecutter.project_slug }}.settings import Settings

ClientFactory = Callable[[web.Application], Awaitable[TestClient]]


async def test_page_renders_with_its_stylesheet(
    app: web.Application, webkit_client: ClientFactory
) -> None:
    client = await webkit_client(app)
    page = await client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "<h1>Test site</h1>" in page.text
    assert 'href="/static/style.css"' in page.text

    stylesheet = await client.get("/static/style.css")
    assert stylesheet.status_code == 200
    assert stylesheet.headers["content-type"].startswith("text/css")


async def test_status_is_json_and_counts_visits(
    app: web.Application, webkit_client: ClientFactory
) -> None:
    client = await webkit_client(app)
    await client.get("/")
    await client.get("/")
    response = await client.get("/api/status")
    assert response.status_code == 200
    assert response.json() == {"name": "Test site", "version": "0.1.0", "visits": 2}


async def test_websocket_echoes(app: web.Application, webkit_client: ClientFactory) -> None:
    client = await webkit_client(app)
    async with client.ws_connect("/ws") as ws:
        await ws.send("hello")
        assert await ws.recv() == "hello"
        await ws.send(b"\x00\x01")
        assert await ws.recv() == b"\x00\x01"


def test_settings_come_from_the_environment() -> None:
    settings = Settings.from_env({"{{ cookiecutter.project_slug|upper }}_TITLE": "Elsewhere"})
    assert settings.title == "Elsewhere"
    assert settings.database == Settings().database
