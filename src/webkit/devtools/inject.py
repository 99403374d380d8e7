"""What the runserver child adds to the user's app: live reload, dev static files, request events.

Everything here is installed by `install` on the loaded Application before it is frozen, as the
outermost middleware, so the user's middlewares never see the dev server's own paths.

The live-reload WebSocket is not served by the child: a child lives only until the next edit. The
child hands the client's socket (before answering the handshake) to the parent over the control
socket, and the parent, which outlives every child, completes the handshake and keeps it.
"""

from __future__ import annotations

import asyncio
import functools
import gzip
import json
import re
import socket
import zlib
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

from webkit.web import (
    AbstractAccessLogger,
    Application,
    BaseRequest,
    FileResponse,
    Request,
    Response,
    StreamResponse,
    middleware,
)
from webkit.web.app import Handler

__all__ = [
    "LIVERELOAD_PATH",
    "SCRIPT_PATH",
    "SCRIPT_TAG",
    "access_logger_class",
    "encode",
    "inject_script",
    "install",
    "livereload_js",
    "sender",
]

LIVERELOAD_PATH = "/_webkit/livereload"
SCRIPT_PATH = "/_webkit/livereload.js"
SCRIPT_TAG = b'<script src="/_webkit/livereload.js" defer></script>'
_BODY_END = re.compile(rb"</body\s*>", re.IGNORECASE)
# Charsets where an ASCII tag is the same bytes: anything else is left alone.
_ASCII_COMPATIBLE = re.compile(
    r"^(utf-?8|us-ascii|ascii|iso-8859-\d+|latin-?1|windows-125\d)$", re.I
)

_MAX_INJECTED_FILE = 8 * 1024 * 1024
Send = Callable[[dict[str, Any], list[int]], None]


@functools.cache
def livereload_js() -> bytes:
    """The client script, shipped inside the package (no download at build or run time)."""
    return resources.files("webkit.devtools").joinpath("static/livereload.js").read_bytes()


def inject_script(body: bytes) -> bytes:
    """``body`` with the script tag before the last ``</body>``, or appended when there is none."""
    ends = list(_BODY_END.finditer(body))
    if not ends:
        return body + SCRIPT_TAG
    at = ends[-1].start()
    return body[:at] + SCRIPT_TAG + body[at:]


def _inject_response(response: StreamResponse) -> None:
    if not isinstance(response, Response) or response.prepared or response.status in (204, 304):
        return
    body = response.body
    if not body or response.content_type != "text/html":
        return
    if not _ASCII_COMPATIBLE.match(response.charset or "utf-8"):
        return
    encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding == "identity":
        response.body = inject_script(body)
    elif encoding in ("gzip", "x-gzip"):
        try:
            response.body = gzip.compress(inject_script(gzip.decompress(body)), mtime=0)
        except (OSError, EOFError, zlib.error):
            return  # not what the header says: leave it as the app sent it
    elif encoding == "deflate":
        try:
            response.body = zlib.compress(inject_script(zlib.decompress(body)))
        except zlib.error:
            return
    else:
        return  # br, zstd...: no decoder at hand, and a broken page is worse than no reload
    # A fixed Content-Length from the app would now be wrong; the response computes its own.
    response.headers.pop("Content-Length", None)
    response.headers.pop("ETag", None)


async def _html_file(request: Request, response: FileResponse) -> StreamResponse:
    """An HTML file (a static page) as a `Response` the script can be injected into.

    Anything else, a partial request or a big file is left to the `FileResponse`.
    """
    if (
        response.prepared
        or response.status != 200
        or response.path.suffix.lower() not in (".html", ".htm")
        or "Range" in request.headers
    ):
        return response
    loop = asyncio.get_running_loop()
    data = await loop.run_in_executor(None, _read_small, response.path)
    if data is None:
        return response
    # The page differs from the file now: no validators, and never cached in development.
    return Response(body=data, content_type="text/html", headers={"Cache-Control": "no-cache"})


def _read_small(path: Path) -> bytes | None:
    try:
        with path.open("rb") as file:
            data = file.read(_MAX_INJECTED_FILE + 1)
    except OSError:
        return None
    return data if len(data) <= _MAX_INJECTED_FILE else None


class _HandedOff(StreamResponse):
    """What the dev middleware returns once the socket belongs to the parent: nothing to send."""

    def __init__(self) -> None:
        super().__init__(status=101)
        self._eof_sent = True


def install(
    app: Application,
    send: Send | None,
    *,
    livereload: bool = True,
    static: tuple[str, Path] | None = None,
) -> None:
    """Add the dev server's middleware (and ``--static`` route) to ``app``, before it freezes.

    Args:
        send: passes a message and file descriptors to the parent (None: no live reload socket).
        livereload: inject the client script into HTML and accept its WebSocket.
        static: ``(url prefix, directory)`` served with ``Cache-Control: no-cache``.
    """
    script = livereload_js() if livereload else b""
    prefix = static[0] if static is not None else None
    if static is not None:
        app.router.add_static(static[0], static[1])

    @middleware
    async def dev_server(request: Request, handler: Handler) -> StreamResponse:
        path = request.path
        if livereload and path.startswith("/_webkit/"):
            if path == SCRIPT_PATH:
                return Response(
                    body=script,
                    content_type="text/javascript",
                    headers={"Cache-Control": "no-cache"},
                )
            if path == LIVERELOAD_PATH and send is not None:
                return _hand_off(request, send)
        response = await handler(request)
        if livereload and isinstance(response, FileResponse):
            response = await _html_file(request, response)
        if prefix is not None and path.startswith(prefix):
            response.headers["Cache-Control"] = "no-cache"
        if livereload:
            _inject_response(response)
        return response

    app.middlewares.insert(0, dev_server)


def _hand_off(request: Request, send: Send) -> StreamResponse:
    # The parent judges the handshake (Origin included), for handed-over sockets and for those
    # its error page accepts alike.
    if request.headers.get("Upgrade", "").lower() != "websocket":
        return Response(
            status=426,
            text="the live-reload endpoint is a WebSocket\n",
            headers={"Upgrade": "websocket", "Connection": "Upgrade"},
        )
    exchange = request.exchange
    transport, tail = exchange.detach()
    # Nothing more is read here: the client sends no frame before the parent's 101, and whatever
    # already arrived travels with the socket as ``tail``.
    transport.pause_reading()
    sock = transport.get_extra_info("socket")
    message = {
        "event": "livereload",
        "version": list(exchange.version),
        "headers": [
            [name.decode("latin-1"), value.decode("latin-1")] for name, value in request.raw_headers
        ],
        "tail": tail.hex(),
    }
    try:
        send(message, [sock.fileno()])
    finally:
        # The parent holds its own reference now; closing ours sends nothing to the client.
        transport.abort()
    exchange.finished = True
    return _HandedOff()


def access_logger_class(send: Send) -> type[AbstractAccessLogger]:
    """An access logger sending each request to the parent, which renders the request lines."""

    class DevAccessLogger(AbstractAccessLogger):
        @property
        def enabled(self) -> bool:
            return True

        def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
            if not isinstance(response, _HandedOff):
                _log_request(send, request, response, time)

    return DevAccessLogger


def _log_request(send: Send, request: BaseRequest, response: StreamResponse, time: float) -> None:
    send(
        {
            "event": "request",
            "method": request.method,
            "path": request.raw_path,
            "status": response.status,
            "duration": time,
            "size": response.body_length,
        },
        [],
    )


def encode(message: dict[str, Any]) -> bytes:
    """One control-socket message (a SOCK_SEQPACKET keeps each in one piece)."""
    return json.dumps(message, separators=(",", ":")).encode()


def sender(control: socket.socket) -> Send:
    """A `Send` over the control socket; drops the message when the parent is gone or slow."""

    def send(message: dict[str, Any], fds: list[int]) -> None:
        try:
            if fds:
                socket.send_fds(control, [encode(message)], fds)
            else:
                control.send(encode(message))
        except (BlockingIOError, OSError):
            pass

    return send
