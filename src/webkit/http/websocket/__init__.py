"""WebSocket on top of webkit.http: the opening handshake and websockets' Sans-I/O core on a
transport handed over by `Exchange.detach` (RFC 6455, RFC 7692)."""

from webkit.http.websocket.connection import WebSocketConnection
from webkit.http.websocket.handshake import (
    Handshake,
    HandshakeError,
    accept_key,
    check_handshake,
    deflate_factory,
)
from webkit.http.websocket.messages import (
    WS_CLOSED_MESSAGE,
    WS_CLOSING_MESSAGE,
    WebSocketError,
    WSCloseCode,
    WSMessage,
    WSMsgType,
)

__all__ = [
    "WS_CLOSED_MESSAGE",
    "WS_CLOSING_MESSAGE",
    "Handshake",
    "HandshakeError",
    "WSCloseCode",
    "WSMessage",
    "WSMsgType",
    "WebSocketConnection",
    "WebSocketError",
    "accept_key",
    "check_handshake",
    "deflate_factory",
]
