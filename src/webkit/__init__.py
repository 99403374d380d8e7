"""webkit: an asyncio web framework with aiohttp.web's API and a development server.

`from webkit import web` gives the framework; `webkit` on the command line gives the tools.
Top-level names that aiohttp code uses (``aiohttp.HttpVersion11``,
``aiohttp.GunicornWebWorker``) exist here too, imported on first use so that ``import
webkit`` (and ``webkit --help``) stays light.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "HttpVersion": "webkit.http",
    "HttpVersion10": "webkit.http",
    "HttpVersion11": "webkit.http",
    "GunicornWebWorker": "webkit.worker",
    "WSCloseCode": "webkit.http.websocket",
    "WSMessage": "webkit.http.websocket",
    "WSMsgType": "webkit.http.websocket",
    "WebSocketError": "webkit.http.websocket",
    "GunicornUVLoopWebWorker": "webkit.worker",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'webkit' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
