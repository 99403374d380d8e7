"""The server side of the opening handshake (RFC 6455 §4.2), checked before ``101`` is sent."""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from multidict import MultiMapping
from websockets.exceptions import InvalidHeader, NegotiationError
from websockets.extensions.base import Extension, ServerExtensionFactory
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory
from websockets.headers import build_extension, parse_extension

__all__ = ["Handshake", "HandshakeError", "accept_key", "check_handshake", "deflate_factory"]

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class HandshakeError(Exception):
    """The request cannot be upgraded: answer ``status`` with ``reason`` and ``headers``."""

    def __init__(self, status: int, reason: str, headers: Sequence[tuple[str, str]] = ()) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.headers = list(headers)


class Handshake(NamedTuple):
    """What a valid handshake negotiated, and the headers of the ``101`` answer."""

    protocol: str | None
    extensions: list[Extension]
    headers: list[tuple[str, str]]


def accept_key(key: str) -> str:
    """``Sec-WebSocket-Accept`` for a ``Sec-WebSocket-Key`` (RFC 6455 §4.2.2 step 5.4)."""
    return base64.b64encode(hashlib.sha1(key.encode() + _GUID).digest()).decode()


def _tokens(headers: MultiMapping[str], name: str) -> list[str]:
    return [
        token.strip().lower()
        for value in headers.getall(name, ())
        for token in value.split(",")
        if token.strip()
    ]


def deflate_factory(compress: bool | int) -> ServerExtensionFactory | None:
    """The permessage-deflate factory for aiohttp's ``compress`` argument (True or window bits).

    Raises:
        ValueError: ``compress`` is an int outside 9-15.
    """
    if compress is False or compress == 0:
        return None
    if compress is True or compress == 15:
        return ServerPerMessageDeflateFactory()
    if not 9 <= int(compress) <= 15:
        raise ValueError(f"compress must be a bool or window bits 9-15, not {compress!r}")
    return ServerPerMessageDeflateFactory(server_max_window_bits=int(compress))


def check_handshake(
    method: str,
    version: tuple[int, int],
    headers: MultiMapping[str],
    protocols: Iterable[str] = (),
    extensions: Iterable[ServerExtensionFactory] = (),
) -> Handshake:
    """Validate an opening handshake and negotiate subprotocol and extensions.

    The subprotocol is the first one the client offers that the server supports (aiohttp's
    choice); extensions are accepted in the client's order (RFC 6455 §9.1).

    Raises:
        HandshakeError: 400 for a request that is not a WebSocket handshake, 426 with
            ``Sec-WebSocket-Version: 13`` for a version other than 13 (RFC 6455 §4.4).
    """
    if method != "GET":
        raise HandshakeError(400, f"a WebSocket handshake must be a GET request, not {method}")
    if version < (1, 1):
        raise HandshakeError(400, "a WebSocket handshake needs HTTP/1.1 (RFC 6455 §4.1)")
    if "websocket" not in _tokens(headers, "Upgrade"):
        upgrade = headers.get("Upgrade")
        raise HandshakeError(
            400, f'No WebSocket UPGRADE hdr: {upgrade}\n Can "Upgrade" only to "WebSocket".'
        )
    if "upgrade" not in _tokens(headers, "Connection"):
        raise HandshakeError(400, f"No CONNECTION upgrade hdr: {headers.get('Connection')}")
    versions = headers.getall("Sec-WebSocket-Version", ())
    if not versions:
        raise HandshakeError(400, "missing Sec-WebSocket-Version header (RFC 6455 §4.1)")
    if [v.strip() for v in versions] != ["13"]:
        raise HandshakeError(
            426,
            f"Unsupported version: {', '.join(versions)}; this server speaks version 13",
            [("Sec-WebSocket-Version", "13")],
        )
    keys = headers.getall("Sec-WebSocket-Key", ())
    if len(keys) != 1:
        raise HandshakeError(400, f"Handshake error: expected one Sec-WebSocket-Key, got {keys!r}")
    key = keys[0].strip()
    try:
        valid = len(base64.b64decode(key, validate=True)) == 16
    except (binascii.Error, ValueError):
        valid = False
    if not valid:
        raise HandshakeError(400, f"Handshake error: Sec-WebSocket-Key {key!r} is not 16 bytes")

    response: list[tuple[str, str]] = [
        ("Upgrade", "websocket"),
        ("Connection", "upgrade"),
        ("Sec-WebSocket-Accept", accept_key(key)),
    ]
    protocol = select_protocol(_tokens_exact(headers, "Sec-WebSocket-Protocol"), protocols)
    if protocol is not None:
        response.append(("Sec-WebSocket-Protocol", protocol))
    header, accepted = _negotiate_extensions(headers, list(extensions))
    if header is not None:
        response.append(("Sec-WebSocket-Extensions", header))
    return Handshake(protocol, accepted, response)


def _tokens_exact(headers: MultiMapping[str], name: str) -> list[str]:
    return [
        token.strip()
        for value in headers.getall(name, ())
        for token in value.split(",")
        if token.strip()
    ]


def select_protocol(offered: Iterable[str], supported: Iterable[str]) -> str | None:
    """The first subprotocol the client offered that the server supports, or None."""
    known = set(supported)
    for proto in offered:
        if proto in known:
            return proto
    return None


def _negotiate_extensions(
    headers: MultiMapping[str], factories: list[ServerExtensionFactory]
) -> tuple[str | None, list[Extension]]:
    values = headers.getall("Sec-WebSocket-Extensions", ())
    if not values or not factories:
        return None, []
    try:
        offers = [item for value in values for item in parse_extension(value)]
    except InvalidHeader as exc:
        raise HandshakeError(400, f"invalid Sec-WebSocket-Extensions header: {exc}") from None
    answers = []
    accepted: list[Extension] = []
    for name, params in offers:
        for factory in factories:
            if factory.name != name:
                continue
            try:
                answer, extension = factory.process_request_params(params, accepted)
            except NegotiationError:
                continue
            answers.append((name, answer))
            accepted.append(extension)
            break
    return (build_extension(answers) if answers else None), accepted
