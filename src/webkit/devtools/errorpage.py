"""While the app cannot start, the parent answers every request with the error and its traceback.

The page is HTML for browsers (with the live-reload script, so it reloads itself once the fix is
saved and the new child serves) and plain text for everything else; the status is 500. The
parent accepts on a duplicate of the shared listening socket, so stopping this server leaves the
real one open for the next child.
"""

from __future__ import annotations

import asyncio
import html
import socket

from webkit.devtools.events import ChildFailed
from webkit.devtools.inject import LIVERELOAD_PATH, SCRIPT_PATH, SCRIPT_TAG, livereload_js
from webkit.devtools.livereload import LiveReloadHub, closing_head
from webkit.http.exchange import Exchange
from webkit.http.server import HttpServer

__all__ = ["ErrorPageServer", "render_html", "render_text"]

_STYLE = (
    "body{font:15px/1.5 system-ui,sans-serif;margin:2rem auto;max-width:60rem;padding:0 1rem;"
    "color:#222}h1{color:#b00020;font-size:1.4rem}pre{background:#f6f6f6;padding:1rem;"
    "overflow:auto;border-left:4px solid #b00020;font:13px/1.4 ui-monospace,monospace}"
    "p.note{color:#666}"
)


def render_text(failure: ChildFailed) -> str:
    """The plain-text page: the error line, the hint, the traceback."""
    lines = [f"500 The app failed to start: {failure.message}"]
    if failure.hint:
        lines.append(f"hint: {failure.hint}")
    if failure.traceback:
        lines += ["", failure.traceback.rstrip("\n")]
    lines += ["", "webkit runserver is waiting for a change to restart it."]
    return "\n".join(lines) + "\n"


def render_html(failure: ChildFailed, *, livereload: bool) -> str:
    """The browser page; without live reload it refreshes itself every two seconds instead."""
    hint = f"<p>Hint: {html.escape(failure.hint)}</p>" if failure.hint else ""
    trace = f"<pre>{html.escape(failure.traceback.rstrip())}</pre>" if failure.traceback else ""
    refresh = "" if livereload else '<meta http-equiv="refresh" content="2">'
    script = SCRIPT_TAG.decode() if livereload else ""
    return (
        "<!doctype html><html><head><meta charset=utf-8>"
        f"<title>Error: {html.escape(failure.message)}</title>{refresh}"
        f"<style>{_STYLE}</style></head><body>"
        f"<h1>The app failed to start</h1><p><b>{html.escape(failure.message)}</b></p>"
        f"{hint}{trace}"
        '<p class="note">Save a fix: webkit runserver restarts the app and this page reloads '
        "itself.</p>"
        f"{script}</body></html>"
    )


class ErrorPageServer:
    """Serves the last failure on the shared socket until `stop`."""

    def __init__(self, listener: socket.socket, hub: LiveReloadHub, *, livereload: bool) -> None:
        self._listener = listener
        self._hub = hub
        self._livereload = livereload
        self._failure = ChildFailed("crash", "the app is not running")
        self._http: HttpServer | None = None
        self._server: asyncio.Server | None = None

    @property
    def serving(self) -> bool:
        return self._server is not None

    async def start(self, failure: ChildFailed) -> None:
        """Serve ``failure`` (or switch to it when already serving)."""
        self._failure = failure
        if self._server is not None:
            return
        loop = asyncio.get_running_loop()
        self._http = HttpServer(self._handle)
        # A duplicate descriptor: closing this server must not close the shared listening socket.
        self._server = await loop.create_server(self._http, sock=self._listener.dup())

    async def stop(self) -> None:
        """Stop accepting and close our connections; browsers reconnect to the next child."""
        server, http = self._server, self._http
        self._server = self._http = None
        if server is None or http is None:
            return
        server.close()
        await http.shutdown(timeout=0.5)

    async def _handle(self, exchange: Exchange) -> None:
        path = exchange.target.partition("?")[0]
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in exchange.raw_headers]
        if self._livereload and path == LIVERELOAD_PATH and exchange.upgrade:
            transport, tail = exchange.detach()
            exchange.finished = True
            self._hub.adopt(transport, exchange.version, headers, tail)
            return
        if self._livereload and path == SCRIPT_PATH:
            self._send(exchange, 200, "text/javascript", livereload_js())
            return
        accept = ",".join(v for k, v in headers if k.lower() == "accept")
        if "text/html" in accept:
            page = render_html(self._failure, livereload=self._livereload)
            self._send(exchange, 500, "text/html; charset=utf-8", page.encode())
        else:
            text = render_text(self._failure)
            self._send(exchange, 500, "text/plain; charset=utf-8", text.encode())

    @staticmethod
    def _send(exchange: Exchange, status: int, content_type: str, body: bytes) -> None:
        head = closing_head(
            exchange.version, status, content_type, len(body), [("Cache-Control", "no-store")]
        )
        exchange.keep_alive = False
        exchange.send(head, body)
