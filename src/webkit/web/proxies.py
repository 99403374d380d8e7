"""Middlewares for apps behind reverse proxies: ``Forwarded`` / ``X-Forwarded-*`` and https.

Forwarded headers are never trusted by default: a client can send them too. These middlewares
apply them with `Request.clone` (``scheme``, ``host``, ``remote``) in tight conjunction with the
proxy's configuration, as the seed page asks:

- `forwarded_strict` / `x_forwarded_strict`: the direct peer must be one of the ``trusted``
  proxy addresses; the hop chain is walked from the right through trusted proxies, and the first
  untrusted hop is the client. A request from an untrusted peer is answered 400 (or passed on
  unchanged with ``on_untrusted="ignore"``).
- `forwarded_relaxed` / `x_forwarded_relaxed`: the app is reachable only through
  ``num_proxies`` proxies (firewalled), so the values the nearest proxies wrote are taken as
  they are.
- `secure_redirect`: redirect plain-http requests to https; place it after a proxy middleware.

Put the proxy middleware first in ``Application(middlewares=[...])`` so that everything after it
(and the handler) sees the client's scheme, host and address.

Rules shared by all four (RFC 7239, and the de-facto X-Forwarded-* conventions):

- each proxy appends one hop, so the rightmost hop is the one the nearest proxy wrote;
- a header that cannot be split into hops unambiguously (an unterminated quoted string, a
  parameter repeated in one element, a stray character) is answered 400 whatever the mode,
  because a client could use it to shift hops;
- values that are used are validated: a node is an IPv4 address, a bracketed IPv6 address
  (a bare one is accepted when unambiguous), ``unknown`` or an obfuscated ``_identifier``,
  optionally with a port; ``proto`` is ``http``, ``https``, ``ws`` or ``wss`` (``ws``/``wss`` are
  applied as ``http``/``https``, so that `Request.secure` holds); ``host`` is a host name or IP
  literal with an optional port, without spaces, ``/``, ``@`` or other delimiters. A bad used
  value is answered 400;
- ``remote`` becomes the client's address without its port (``[::1]:80`` → ``::1``), or the
  identifier itself (``unknown``, ``_hidden``) when the proxy did not disclose the address.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from yarl import URL

from webkit.web.exceptions import (
    HTTPBadRequest,
    HTTPFound,
    HTTPMove,
    HTTPMovedPermanently,
    HTTPPermanentRedirect,
    HTTPSeeOther,
    HTTPTemporaryRedirect,
)
from webkit.web.middlewares import middleware

if TYPE_CHECKING:
    from webkit.web.request import Request
    from webkit.web.response import StreamResponse

__all__ = [
    "ForwardedError",
    "forwarded_relaxed",
    "forwarded_strict",
    "parse_forwarded_strict",
    "secure_redirect",
    "x_forwarded_relaxed",
    "x_forwarded_strict",
]

Handler = Callable[["Request"], Awaitable["StreamResponse"]]
Middleware = Callable[["Request", Handler], Awaitable["StreamResponse"]]
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
TrustedSpec = Iterable[
    str
    | ipaddress.IPv4Network
    | ipaddress.IPv6Network
    | ipaddress.IPv4Address
    | ipaddress.IPv6Address
]

# RFC 9110 §5.6.2 token characters.
_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
# RFC 7239 §4: value = token / quoted-string. ':' '[' ']' are accepted unquoted too (proxies
# send ``for=1.2.3.4:80`` and ``for=[::1]``), since they are no delimiter of this grammar.
# quoted-string (RFC 9110 §5.6.4): qdtext or quoted-pair between DQUOTEs, no CTLs but HTAB.
_QUOTED = r'"(?:[^"\\\x00-\x08\x0a-\x1f\x7f]|\\[\t\x20-\x7e\x80-\xff])*"'
_PAIR = re.compile(rf"({_TOKEN})=({_QUOTED}|[!#$%&'*+.^_`|~0-9A-Za-z:\[\]-]+)")
_OWS = " \t"
_OBFUSCATED = re.compile(r"_[A-Za-z0-9._-]+")
_PORT = re.compile(r"[0-9]{1,5}|_[A-Za-z0-9._-]+")
# A host name (letters, digits, '-', '.', '_', '~') or an IP literal, then an optional port.
_HOST = re.compile(r"(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9._~-]+))(?::([0-9]{1,5}))?")
_SCHEMES = {"http": "http", "https": "https", "ws": "http", "wss": "https"}


class ForwardedError(HTTPBadRequest):
    """400: a forwarding header is malformed, or the request did not come through a trusted
    proxy. The text names the header and the offending value."""


# -- parsing ---------------------------------------------------------------------------------


def parse_forwarded_strict(values: Iterable[str]) -> list[dict[str, str]]:
    """The hops of ``Forwarded`` header lines (RFC 7239 §4), nearest the client first.

    Unlike `webkit.web.forwarded.parse_forwarded` (lenient, for display), anything that does
    not follow the grammar is an error: the hop boundaries must be unambiguous before a
    middleware may trust the rightmost ones.

    Raises:
        ForwardedError: a malformed element, an unterminated quoted string, a repeated
            parameter.
    """
    text = ",".join(values)
    hops: list[dict[str, str]] = []
    pos, end = 0, len(text)
    params: dict[str, str] = {}
    pending = False  # an element has started (after the previous comma)
    while True:
        while pos < end and text[pos] in _OWS:
            pos += 1
        if pos >= end:
            break
        char = text[pos]
        if char == ",":
            if pending:
                hops.append(params)
            params, pending, pos = {}, False, pos + 1
            continue
        if char == ";":
            pending, pos = True, pos + 1
            continue
        match = _PAIR.match(text, pos)
        if match is None:
            raise ForwardedError(
                text=f"Malformed Forwarded header {text!r} at position {pos}: expected "
                "name=value pairs separated by ';' and ',' (RFC 7239 §4)"
            )
        key, value = match.group(1).lower(), match.group(2)
        if value.startswith('"'):
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        if key in params:
            raise ForwardedError(
                text=f"Malformed Forwarded header {text!r}: parameter {key!r} repeated in one "
                "element (RFC 7239 §4)"
            )
        params[key] = value
        pending = True
        pos = match.end()
        while pos < end and text[pos] in _OWS:
            pos += 1
        if pos < end and text[pos] not in ",;":
            raise ForwardedError(
                text=f"Malformed Forwarded header {text!r} at position {pos}: expected ';' or "
                "',' after a parameter (RFC 7239 §4)"
            )
    if pending:
        hops.append(params)
    return hops


def _split_list(values: Iterable[str]) -> list[str]:
    """The comma-separated entries of every line of an ``X-Forwarded-*`` header."""
    return [part.strip(_OWS) for value in values for part in value.split(",")]


def _node(value: str, header: str) -> str:
    """The client identifier of a ``for`` node (RFC 7239 §6), port removed.

    Raises:
        ForwardedError: not an IP address, ``unknown`` or an obfuscated identifier.
    """
    host, port = value, None
    if value.startswith("["):
        close = value.find("]")
        host, rest = value[1:close], value[close + 1 :]
        if close < 0 or (rest and (not rest.startswith(":") or not _PORT.fullmatch(rest[1:]))):
            raise ForwardedError(text=f"Invalid node {value!r} in {header}")
        try:
            return str(ipaddress.IPv6Address(host))
        except ValueError:
            raise ForwardedError(
                text=f"Invalid node {value!r} in {header}: {host!r} is not an IPv6 address"
            ) from None
    if value.count(":") > 1:
        # A bare IPv6 address (RFC 7239 wants it bracketed): only taken whole, never split.
        try:
            return str(ipaddress.IPv6Address(value))
        except ValueError:
            raise ForwardedError(
                text=f"Invalid node {value!r} in {header}: write IPv6 addresses as "
                '"[2001:db8::1]" or "[2001:db8::1]:port"'
            ) from None
    if ":" in value:
        host, port = value.split(":", 1)
        if not _PORT.fullmatch(port):
            raise ForwardedError(text=f"Invalid port in node {value!r} in {header}")
    if host.lower() == "unknown":
        return "unknown"
    if _OBFUSCATED.fullmatch(host):
        return host
    try:
        return str(ipaddress.IPv4Address(host))
    except ValueError:
        raise ForwardedError(
            text=f"Invalid node {value!r} in {header}: expected an IP address, 'unknown' or "
            "an obfuscated '_identifier'"
        ) from None


def _scheme(value: str, header: str) -> str:
    scheme = _SCHEMES.get(value.strip(_OWS).lower())
    if scheme is None:
        raise ForwardedError(
            text=f"Invalid protocol {value!r} in {header}: expected http, https, ws or wss"
        )
    return scheme


def _host_match(value: str, header: str) -> re.Match[str]:
    """``value`` split into IPv6 literal / host name and port.

    Raises:
        ForwardedError: not a host name or IP literal with an optional port.
    """
    match = _HOST.fullmatch(value.strip(_OWS))
    if match is not None and match.group(1) is not None:
        try:
            ipaddress.IPv6Address(match.group(1))
        except ValueError:
            match = None
    if match is None or (match.group(3) is not None and int(match.group(3)) > 65535):
        raise ForwardedError(
            text=f"Invalid host {value!r} in {header}: expected a host name or IP literal "
            "with an optional port"
        )
    return match


def _host(value: str, header: str) -> str:
    return _host_match(value, header).group(0)


# -- trust -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Trusted:
    networks: tuple[Network, ...]
    unix: bool

    @classmethod
    def parse(cls, trusted: TrustedSpec) -> _Trusted:
        if isinstance(trusted, (str, bytes)):
            raise TypeError(
                f"trusted must be a list of addresses or networks, not the string {trusted!r}; "
                f"write [{trusted!r}]"
            )
        networks: list[Network] = []
        unix = False
        for item in trusted:
            if item == "unix":
                unix = True
                continue
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
            except (TypeError, ValueError) as exc:
                raise ValueError(
                    f"trusted proxy {item!r} is not an IP address or network "
                    f"(e.g. '127.0.0.1', '10.0.0.0/8', '::1') nor 'unix': {exc}"
                ) from None
        if not networks and not unix:
            raise ValueError(
                "trusted is empty: list the addresses of your reverse proxies "
                "(e.g. ['127.0.0.1', '::1'])"
            )
        return cls(tuple(networks), unix)

    def __contains__(self, node: object) -> bool:
        if not isinstance(node, str):
            return False
        try:
            address = ipaddress.ip_address(node)
        except ValueError:
            return False  # 'unknown' and obfuscated identifiers are never trusted
        if any(address in net for net in self.networks):
            return True
        # A dual-stack listener reports IPv4 peers as ::ffff:a.b.c.d.
        mapped = getattr(address, "ipv4_mapped", None)
        return mapped is not None and any(mapped in net for net in self.networks)

    def peer(self, remote: str | None) -> bool:
        """Whether the direct peer (``request.remote``) is a trusted proxy."""
        if not remote:
            return self.unix  # Unix sockets have no peer address
        if remote in self:
            return True
        try:
            ipaddress.ip_address(remote)
        except ValueError:
            return self.unix
        return False


def _peer_trusted(trust: _Trusted, on_untrusted: str, request: Request, header: str) -> bool:
    """Whether the direct peer is a trusted proxy; an untrusted one is refused (400) in
    ``"reject"`` mode, or reported False so the request passes unchanged in ``"ignore"``."""
    if trust.peer(request.remote):
        return True
    if on_untrusted == "ignore":
        return False
    raise ForwardedError(
        text=f"Request from {request.remote or 'a Unix socket'} did not come through a trusted "
        f"proxy: {header} not applied"
    )


def _check_mode(on_untrusted: str) -> None:
    if on_untrusted not in ("reject", "ignore"):
        raise ValueError(f"on_untrusted must be 'reject' or 'ignore', got {on_untrusted!r}")


def _check_num(num_proxies: int) -> None:
    if isinstance(num_proxies, bool) or not isinstance(num_proxies, int) or num_proxies < 1:
        raise ValueError(f"num_proxies must be an int >= 1, got {num_proxies!r}")


def _apply(request: Request, scheme: str | None, host: str | None, remote: str | None) -> Request:
    changes: dict[str, str] = {}
    if scheme is not None:
        changes["scheme"] = scheme
    if host is not None:
        changes["host"] = host
    if remote is not None:
        changes["remote"] = remote
    if not changes:
        return request
    return request.clone(**changes)  # type: ignore[return-value]


# -- Forwarded (RFC 7239) --------------------------------------------------------------------


def _forwarded_values(
    hops: Sequence[dict[str, str]], index: int, stop: int | None = None
) -> tuple[str | None, str | None, str | None]:
    """scheme, host and remote from ``hops[index]``; proto and host fall back to the hops
    to its right (up to ``stop``), written by proxies nearer the app."""
    header = "Forwarded"
    hop = hops[index]
    remote = _node(hop["for"], header) if "for" in hop else None
    proto = host = None
    for candidate in hops[index:stop]:
        if proto is None and "proto" in candidate:
            proto = _scheme(candidate["proto"], header)
        if host is None and "host" in candidate:
            host = _host(candidate["host"], header)
    return proto, host, remote


def forwarded_strict(
    trusted: TrustedSpec, *, on_untrusted: Literal["reject", "ignore"] = "reject"
) -> Middleware:
    """Apply the ``Forwarded`` header (RFC 7239) written by trusted proxies.

    The direct peer must be in ``trusted`` (IP addresses or networks such as ``"10.0.0.0/8"``;
    ``"unix"`` trusts Unix-socket peers). The hops are then walked from the right: while a
    hop's ``for`` is a trusted proxy too, the hop to its left was written by that proxy and is
    believed. The first hop whose ``for`` is not trusted names the client (its address becomes
    ``remote``); ``proto`` and ``host`` come from that hop, or the nearest trusted one to its
    right that has them (a hop without ``for`` leaves ``remote`` as it is). A trusted peer
    without a ``Forwarded`` header passes unchanged (a request made on the proxy's host).

    Args:
        trusted: the addresses of your reverse proxies; every one is trusted at any position
            of the chain.
        on_untrusted: ``"reject"`` (default) answers 400 to a request whose direct peer is not
            trusted (the proxy was bypassed); ``"ignore"`` passes it on with the header unapplied
            (for health checks that reach the app directly).

    Raises:
        ValueError: ``trusted`` is empty or holds something that is not an address.
        TypeError: ``trusted`` is a single string.
    """
    trust = _Trusted.parse(trusted)
    _check_mode(on_untrusted)

    @middleware
    async def forwarded_strict_middleware(request: Request, handler: Handler) -> StreamResponse:
        if not _peer_trusted(trust, on_untrusted, request, "Forwarded"):
            return await handler(request)
        values = request.headers.getall("Forwarded", ())
        if not values:
            return await handler(request)
        hops = parse_forwarded_strict(values)
        if not hops:
            return await handler(request)
        index = len(hops) - 1
        while index > 0 and _node(hops[index].get("for", "unknown"), "Forwarded") in trust:
            index -= 1
        return await handler(_apply(request, *_forwarded_values(hops, index)))

    return forwarded_strict_middleware


def forwarded_relaxed(*, num_proxies: int = 1) -> Middleware:
    """Apply the ``Forwarded`` header as the ``num_proxies`` nearest proxies wrote it.

    Only for apps that cannot be reached but through those proxies (any client reaching the
    app directly can choose its scheme, host and address). The hop ``num_proxies`` from the
    right (the leftmost, when there are fewer) gives ``remote``, ``proto`` and ``host``; proto
    and host fall back to the hops to its right. A request without the header passes unchanged.

    Raises:
        ValueError: ``num_proxies`` is not a positive int.
    """
    _check_num(num_proxies)

    @middleware
    async def forwarded_relaxed_middleware(request: Request, handler: Handler) -> StreamResponse:
        values = request.headers.getall("Forwarded", ())
        if not values:
            return await handler(request)
        hops = parse_forwarded_strict(values)
        if not hops:
            return await handler(request)
        index = max(len(hops) - num_proxies, 0)
        return await handler(_apply(request, *_forwarded_values(hops, index)))

    return forwarded_relaxed_middleware


# -- X-Forwarded-For / -Proto / -Host --------------------------------------------------------


def _x_forwarded(request: Request, hops: int) -> tuple[str | None, str | None]:
    """X-Forwarded-Proto and -Host as the outermost of ``hops`` trusted proxies set them.

    Proxies either append to these (one entry per proxy, aligned with X-Forwarded-For) or
    overwrite them; so the entry ``hops`` from the right is the outermost trusted proxy's, and
    when there are fewer entries the leftmost one is (written by a trusted proxy either way).
    """
    headers = request.headers
    scheme = host = None
    protos = _split_list(headers.getall("X-Forwarded-Proto", ()))
    if protos:
        scheme = _scheme(protos[-min(hops, len(protos))], "X-Forwarded-Proto")
    hosts = _split_list(headers.getall("X-Forwarded-Host", ()))
    if hosts:
        host = _host(hosts[-min(hops, len(hosts))], "X-Forwarded-Host")
    return scheme, host


def x_forwarded_strict(
    trusted: TrustedSpec, *, on_untrusted: Literal["reject", "ignore"] = "reject"
) -> Middleware:
    """Apply ``X-Forwarded-For``, ``-Proto`` and ``-Host`` written by trusted proxies.

    As `forwarded_strict`: the direct peer must be trusted, then X-Forwarded-For is walked from
    the right through trusted addresses; the first untrusted one is the client (``remote``).
    With ``n`` trusted proxies on the way (the peer included), X-Forwarded-Proto and -Host are
    read at the ``n``-th entry from the right, or their leftmost entry if they have fewer (see
    `_x_forwarded`). Each header that is absent leaves its attribute unchanged.

    Raises:
        ValueError: ``trusted`` is empty or holds something that is not an address.
        TypeError: ``trusted`` is a single string.
    """
    trust = _Trusted.parse(trusted)
    _check_mode(on_untrusted)

    @middleware
    async def x_forwarded_strict_middleware(request: Request, handler: Handler) -> StreamResponse:
        if not _peer_trusted(trust, on_untrusted, request, "X-Forwarded-*"):
            return await handler(request)
        remote = None
        proxies = 1
        chain = _split_list(request.headers.getall("X-Forwarded-For", ()))
        if chain:
            index = len(chain) - 1
            remote = _node(chain[index], "X-Forwarded-For")
            while index > 0 and remote in trust:
                index -= 1
                proxies += 1
                remote = _node(chain[index], "X-Forwarded-For")
        scheme, host = _x_forwarded(request, proxies)
        return await handler(_apply(request, scheme, host, remote))

    return x_forwarded_strict_middleware


def x_forwarded_relaxed(*, num_proxies: int = 1) -> Middleware:
    """Apply ``X-Forwarded-For``, ``-Proto`` and ``-Host`` as ``num_proxies`` proxies set them.

    Only for apps that cannot be reached but through those proxies. ``remote`` is the
    X-Forwarded-For entry ``num_proxies`` from the right (the leftmost when there are fewer);
    proto and host are read as in `x_forwarded_strict` with ``num_proxies`` trusted hops.

    Raises:
        ValueError: ``num_proxies`` is not a positive int.
    """
    _check_num(num_proxies)

    @middleware
    async def x_forwarded_relaxed_middleware(request: Request, handler: Handler) -> StreamResponse:
        remote = None
        chain = _split_list(request.headers.getall("X-Forwarded-For", ()))
        if chain:
            remote = _node(chain[-min(num_proxies, len(chain))], "X-Forwarded-For")
        scheme, host = _x_forwarded(request, num_proxies)
        return await handler(_apply(request, scheme, host, remote))

    return x_forwarded_relaxed_middleware


# -- https redirect --------------------------------------------------------------------------

_REDIRECTS: dict[int, type[HTTPMove]] = {
    301: HTTPMovedPermanently,
    302: HTTPFound,
    303: HTTPSeeOther,
    307: HTTPTemporaryRedirect,
    308: HTTPPermanentRedirect,
}


def secure_redirect(
    *, redirect_status: int = 308, exclude: Iterable[str] = (), port: int | None = None
) -> Middleware:
    """Redirect requests whose ``request.scheme`` is not https to the same URL over https.

    Behind a proxy, place it after the proxy middleware so that it sees the client's scheme.
    The target keeps host (without its port), path and query; 308 (the default) and 307 make
    clients repeat the method and body.

    Args:
        redirect_status: 301, 302, 303, 307 or 308.
        exclude: paths served over plain http too (a health check): a path equal to an entry,
            or starting with an entry that ends with ``/``.
        port: the https port when not 443.

    Raises:
        ValueError: an unsupported ``redirect_status``, or an ``exclude`` entry not starting
            with ``/``.
        HTTPBadRequest: (per request) the Host is not a host name or IP literal with an
            optional port, so that a crafted Host cannot point the redirect elsewhere.
    """
    redirect = _REDIRECTS.get(redirect_status)
    if redirect is None:
        raise ValueError(
            f"redirect_status must be one of {sorted(_REDIRECTS)}, got {redirect_status!r}"
        )
    excluded = tuple(exclude)
    for path in excluded:
        if not isinstance(path, str) or not path.startswith("/"):
            raise ValueError(f"exclude entries must be paths starting with '/', got {path!r}")
    exact = frozenset(path for path in excluded if not path.endswith("/"))
    prefixes = tuple(path for path in excluded if path.endswith("/"))

    @middleware
    async def secure_redirect_middleware(request: Request, handler: Handler) -> StreamResponse:
        if request.scheme == "https":
            return await handler(request)
        path = request.path
        if path in exact or path.startswith(prefixes):
            return await handler(request)
        # The Host header is the client's: validated, so that it cannot turn the redirect
        # into one to another site ("evil.example/x", "a@evil.example").
        match = _host_match(request.host, "Host")
        authority = f"[{match.group(1)}]" if match.group(1) else match.group(2)
        if port is not None and port != 443:
            authority += f":{port}"
        rel_url = request.rel_url
        target = URL.build(
            scheme="https",
            authority=authority,
            path=rel_url.raw_path,
            query_string=rel_url.raw_query_string,
            encoded=True,
        )
        raise redirect(target)

    return secure_redirect_middleware
