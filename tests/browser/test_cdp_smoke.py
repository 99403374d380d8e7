"""The CDP driver against a real webkit server in a real headless Chromium."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from cdp import Browser, JavaScriptError, Page

from webkit import web

PAGE = """<!doctype html>
<html>
<head><meta charset="utf-8"><title>cdp smoke</title></head>
<body>
<button>Fetch</button>
<p id="out"></p>
<script>
console.log("page ready", 42, true);
document.querySelector("button").addEventListener("click", async () => {
  const response = await fetch("/api/greeting");
  const data = await response.json();
  document.querySelector("#out").textContent = data.greeting;
  console.log("fetched", data.greeting);
});
</script>
</body>
</html>
"""


async def index(request: web.Request) -> web.Response:
    return web.Response(text=PAGE, content_type="text/html")


async def greeting(request: web.Request) -> web.Response:
    return web.json_response({"greeting": "hello from webkit"})


@pytest.fixture
def base_url(serve_app: Callable[[web.Application], str]) -> str:
    app = web.Application()
    app.router.add_get("/", index)
    app.router.add_get("/api/greeting", greeting)
    return serve_app(app)


def test_goto_and_evaluate(page: Page, base_url: str) -> None:
    page.goto(f"{base_url}/")
    assert page.evaluate("document.title") == "cdp smoke"
    assert page.evaluate("location.href") == f"{base_url}/"
    assert page.evaluate("1 + 2") == 3
    assert page.evaluate("Promise.resolve({a: [1, 'x', null]})") == {"a": [1, "x", None]}
    assert page.evaluate("undefined") is None
    with pytest.raises(JavaScriptError, match="boom"):
        page.evaluate("(() => { throw new TypeError('boom'); })()")


def test_click_fetches_and_logs(page: Page, base_url: str) -> None:
    page.goto(f"{base_url}/")
    page.evaluate("document.querySelector('button').click()")
    assert page.wait_for("document.querySelector('#out').textContent") == "hello from webkit"
    # Events and answers share the websocket in order: the log came before the read-back.
    messages = page.console_messages()
    assert "page ready 42 true" in messages
    assert "fetched hello from webkit" in messages
    assert page.errors() == []


def test_wait_for_timeout_shows_last_value(page: Page, base_url: str) -> None:
    page.goto(f"{base_url}/")
    with pytest.raises(AssertionError, match=r"last: 0"):
        page.wait_for("document.querySelectorAll('.missing').length", timeout=0.3)
    with pytest.raises(AssertionError, match="TypeError"):
        page.wait_for("document.querySelector('.missing').textContent", timeout=0.3)


def test_state_survives_until_a_reload(page: Page, base_url: str) -> None:
    page.goto(f"{base_url}/")
    loaded = page.navigations
    assert loaded >= 1
    page.evaluate("window.marker = 1")

    page.evaluate("document.querySelector('button').click()")
    page.wait_for("document.querySelector('#out').textContent")
    assert page.evaluate("window.marker") == 1
    assert page.navigations == loaded

    page.evaluate("setTimeout(() => location.reload(), 0)")
    page.wait_for_navigation(loaded)
    assert page.navigations == loaded + 1
    assert page.evaluate("typeof window.marker") == "undefined"
    assert page.evaluate("document.querySelector('#out').textContent") == ""


def test_pages_are_separate(browser: Browser, page: Page, base_url: str) -> None:
    page.goto(f"{base_url}/")
    page.evaluate("window.marker = 'first'")
    with browser.new_page() as other:
        other.goto(f"{base_url}/")
        assert other.evaluate("typeof window.marker") == "undefined"
        assert other.send("Runtime.evaluate", expression="6 * 7")["result"]["value"] == 42
    assert page.evaluate("window.marker") == "first"
