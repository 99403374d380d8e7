"""Forwarded / X-Forwarded-* middlewares and the https redirect, over real TCP.

The test client connects from 127.0.0.1, which is the "proxy" when a test trusts it, and an
untrusted client when a test trusts only other networks.
"""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from webkit import web
from webkit.web.proxies import (
    ForwardedError,
    _Trusted,
    forwarded_relaxed,
    forwarded_strict,
    parse_forwarded_strict,
    secure_redirect,
    x_forwarded_relaxed,
    x_forwarded_strict,
)

LOCAL = ["127.0.0.1"]
ELSEWHERE = ["10.0.0.0/8", "192.168.0.0/16"]


async def whoami(request: web.Request) -> web.Response:
    return web.json_response(
        {
            "scheme": request.scheme,
            "host": request.host,
            "remote": request.remote,
            "secure": request.secure,
            "url": str(request.url),
        }
    )


async def serve(webkit_client: Any, *middlewares: Any) -> Any:
    app = web.Application(middlewares=list(middlewares))
    app.router.add_route("*", "/{tail:.*}", whoami)
    return await webkit_client(app)


async def seen(client: Any, headers: dict[str, str], path: str = "/") -> dict[str, Any]:
    resp = await client.get(path, headers=headers)
    assert resp.status_code == 200, resp.text
    return resp.json()  # type: ignore[no-any-return]


# -- never trusted by default ----------------------------------------------------------------


async def test_headers_ignored_without_middleware(webkit_client) -> None:
    client = await serve(webkit_client)
    got = await seen(
        client,
        {
            "Forwarded": "for=203.0.113.9;proto=https;host=evil.example",
            "X-Forwarded-For": "203.0.113.9",
            "X-Forwarded-Proto": "https",
            "X-Forwarded-Host": "evil.example",
        },
    )
    assert got["remote"] == "127.0.0.1"
    assert got["scheme"] == "http"
    assert got["host"] == f"127.0.0.1:{client.port}"


# -- Forwarded, strict -----------------------------------------------------------------------


async def test_forwarded_strict_single_hop(webkit_client) -> None:
    client = await serve(webkit_client, forwarded_strict(LOCAL))
    got = await seen(
        client, {"Forwarded": 'for=203.0.113.9;proto=https;host="shop.example:8443"'}, "/p?q=1"
    )
    assert got == {
        "scheme": "https",
        "host": "shop.example:8443",
        "remote": "203.0.113.9",
        "secure": True,
        "url": "https://shop.example:8443/p?q=1",
    }


async def test_forwarded_strict_walks_trusted_hops(webkit_client) -> None:
    client = await serve(webkit_client, forwarded_strict([*LOCAL, "10.0.0.0/8"]))
    # client 203.0.113.9 → edge proxy 10.0.0.2 → local proxy → app; the client spoofed a hop.
    header = (
        "for=198.51.100.1;proto=http;host=spoofed.example, "
        "for=203.0.113.9;proto=https;host=www.example, "
        "for=10.0.0.2;proto=http;host=inner.internal"
    )
    got = await seen(client, {"Forwarded": header})
    assert (got["remote"], got["scheme"], got["host"]) == ("203.0.113.9", "https", "www.example")
    # Two header lines are one list (RFC 9110 §5.3).
    client_lines = [
        ("Forwarded", "for=198.51.100.1"),
        ("Forwarded", "for=203.0.113.9;proto=https, for=10.0.0.2;host=www.example"),
    ]
    resp = await client.get("/", headers=client_lines)
    got = resp.json()
    assert (got["remote"], got["scheme"], got["host"]) == ("203.0.113.9", "https", "www.example")


async def test_forwarded_strict_all_hops_trusted(webkit_client) -> None:
    client = await serve(webkit_client, forwarded_strict([*LOCAL, "10.0.0.0/8"]))
    got = await seen(client, {"Forwarded": "for=10.0.0.7, for=10.0.0.2"})
    assert got["remote"] == "10.0.0.7"


async def test_forwarded_strict_untrusted_peer_rejected(webkit_client) -> None:
    client = await serve(webkit_client, forwarded_strict(ELSEWHERE))
    resp = await client.get("/", headers={"Forwarded": "for=203.0.113.9;proto=https"})
    assert resp.status_code == 400
    assert "did not come through a trusted proxy" in resp.text
    # Without the header too: the proxy was bypassed.
    assert (await client.get("/")).status_code == 400


async def test_forwarded_strict_untrusted_peer_ignored(webkit_client) -> None:
    client = await serve(webkit_client, forwarded_strict(ELSEWHERE, on_untrusted="ignore"))
    got = await seen(client, {"Forwarded": "for=203.0.113.9;proto=https;host=evil.example"})
    assert (got["remote"], got["scheme"]) == ("127.0.0.1", "http")
    assert got["host"] == f"127.0.0.1:{client.port}"


async def test_forwarded_strict_trusted_peer_without_header(webkit_client) -> None:
    client = await serve(webkit_client, forwarded_strict(LOCAL))
    got = await seen(client, {})
    assert (got["remote"], got["scheme"]) == ("127.0.0.1", "http")


@pytest.mark.parametrize(
    ("node", "remote"),
    [
        ('"[::1]:80"', "::1"),
        ('"[2001:DB8:0:0::1]:4711"', "2001:db8::1"),
        ('"[2001:db8::1]"', "2001:db8::1"),
        ("[2001:db8::2]", "2001:db8::2"),  # unquoted brackets, as some proxies write them
        ("2001:db8::3", "2001:db8::3"),  # bare IPv6: taken whole
        ('"192.0.2.43:47011"', "192.0.2.43"),
        ("192.0.2.43:_port", "192.0.2.43"),
        ("unknown", "unknown"),
        ("UNKNOWN", "unknown"),
        ("_hidden", "_hidden"),
        ('"_SEVKISEK:_8080"', "_SEVKISEK"),
    ],
)
async def test_forwarded_node_forms(webkit_client, node: str, remote: str) -> None:
    client = await serve(webkit_client, forwarded_strict(LOCAL))
    got = await seen(client, {"Forwarded": f"for={node}"})
    assert got["remote"] == remote


async def test_obfuscated_hop_stops_the_walk(webkit_client) -> None:
    client = await serve(webkit_client, forwarded_strict([*LOCAL, "10.0.0.0/8"]))
    got = await seen(client, {"Forwarded": "for=203.0.113.9, for=_proxy1;proto=https"})
    assert (got["remote"], got["scheme"]) == ("_proxy1", "https")


async def test_hop_without_for_keeps_remote(webkit_client) -> None:
    client = await serve(webkit_client, forwarded_strict(LOCAL))
    got = await seen(client, {"Forwarded": "proto=https;host=www.example"})
    assert (got["remote"], got["scheme"], got["host"]) == ("127.0.0.1", "https", "www.example")


async def test_ws_protocols_map_to_http_schemes(webkit_client) -> None:
    client = await serve(webkit_client, forwarded_strict(LOCAL))
    got = await seen(client, {"Forwarded": "for=192.0.2.1;proto=WSS"})
    assert (got["scheme"], got["secure"]) == ("https", True)
    got = await seen(client, {"Forwarded": "for=192.0.2.1;proto=ws"})
    assert got["scheme"] == "http"


@pytest.mark.parametrize(
    ("header", "complaint"),
    [
        ('for="203.0.113.9', "Malformed Forwarded"),  # unterminated quote
        ('for="203.0.113.9, for=10.0.0.2', "Malformed Forwarded"),  # would hide a hop
        ("for=203.0.113.9;for=10.0.0.2", "repeated"),
        ("for=203.0.113.9 proto=https", "Malformed Forwarded"),
        ("for", "Malformed Forwarded"),
        ("for=", "Malformed Forwarded"),
        ("=1.2.3.4", "Malformed Forwarded"),
        ("for=1.2.3.4;proto=ftp", "Invalid protocol"),
        ("for=1.2.3.4;proto=javascript", "Invalid protocol"),
        ('for=1.2.3.4;host="evil.example/path"', "Invalid host"),
        ('for=1.2.3.4;host="a b"', "Invalid host"),
        ('for=1.2.3.4;host="user@evil.example"', "Invalid host"),
        ('for=1.2.3.4;host="example.com:99999"', "Invalid host"),
        ('for=1.2.3.4;host="[not:ipv6]"', "Invalid host"),
        ('for=1.2.3.4;host=""', "Invalid host"),
        ("for=not-an-ip", "Invalid node"),
        ("for=999.1.1.1", "Invalid node"),
        ('for="[::1"', "Invalid node"),
        ('for="[::1]x"', "Invalid node"),
        ('for="[zz::1]:80"', "Invalid node"),
        ('for="1.2.3.4:http"', "Invalid port"),
        ("for=1:2:3:x", "Invalid node"),
    ],
)
async def test_forwarded_malformed_is_400(webkit_client, header: str, complaint: str) -> None:
    client = await serve(webkit_client, forwarded_strict(LOCAL), forwarded_relaxed())
    resp = await client.get("/", headers={"Forwarded": header})
    assert resp.status_code == 400, header
    assert complaint in resp.text


async def test_malformed_left_of_client_in_used_hop_only(webkit_client) -> None:
    # The walk stops at the client's hop: a syntactically valid hop further left with odd
    # values is the client's own business and not looked at.
    client = await serve(webkit_client, forwarded_strict(LOCAL))
    got = await seen(client, {"Forwarded": "for=whatever;proto=gopher, for=203.0.113.9"})
    assert got["remote"] == "203.0.113.9"


# -- Forwarded, relaxed ----------------------------------------------------------------------


async def test_forwarded_relaxed(webkit_client) -> None:
    one = await serve(webkit_client, forwarded_relaxed())
    header = "for=198.51.100.1;proto=http, for=203.0.113.9;proto=https;host=www.example"
    got = await seen(one, {"Forwarded": header})
    assert (got["remote"], got["scheme"], got["host"]) == ("203.0.113.9", "https", "www.example")

    two = await serve(webkit_client, forwarded_relaxed(num_proxies=2))
    got = await seen(two, {"Forwarded": header})
    # proto from the outer hop, host from the nearer one that has it.
    assert (got["remote"], got["scheme"], got["host"]) == ("198.51.100.1", "http", "www.example")
    # Fewer hops than proxies: the leftmost.
    got = await seen(two, {"Forwarded": "for=192.0.2.5"})
    assert got["remote"] == "192.0.2.5"
    # No header: unchanged.
    got = await seen(two, {})
    assert got["remote"] == "127.0.0.1"


# -- X-Forwarded-* ---------------------------------------------------------------------------


async def test_x_forwarded_strict(webkit_client) -> None:
    client = await serve(webkit_client, x_forwarded_strict([*LOCAL, "10.0.0.0/8"]))
    got = await seen(
        client,
        {
            "X-Forwarded-For": "198.51.100.1, 203.0.113.9, 10.0.0.2",
            "X-Forwarded-Proto": "https",
            "X-Forwarded-Host": "www.example",
        },
        "/x?y=1",
    )
    assert got == {
        "scheme": "https",
        "host": "www.example",
        "remote": "203.0.113.9",
        "secure": True,
        "url": "https://www.example/x?y=1",
    }


async def test_x_forwarded_strict_appended_proto_and_host(webkit_client) -> None:
    client = await serve(webkit_client, x_forwarded_strict([*LOCAL, "10.0.0.0/8"]))
    # Two trusted proxies appended one entry each; the client sent its own first entries.
    got = await seen(
        client,
        {
            "X-Forwarded-For": "198.51.100.1, 203.0.113.9, 10.0.0.2",
            "X-Forwarded-Proto": "http, https, http",
            "X-Forwarded-Host": "evil.example, www.example, inner.internal",
        },
    )
    assert (got["remote"], got["scheme"], got["host"]) == ("203.0.113.9", "https", "www.example")


async def test_x_forwarded_strict_ipv6_and_ports(webkit_client) -> None:
    client = await serve(webkit_client, x_forwarded_strict(LOCAL))
    for value, remote in [
        ("2001:db8::1", "2001:db8::1"),
        ("[2001:db8::1]:4711", "2001:db8::1"),
        ("192.0.2.1:5000", "192.0.2.1"),
        ("unknown", "unknown"),
    ]:
        got = await seen(client, {"X-Forwarded-For": value})
        assert got["remote"] == remote, value


async def test_x_forwarded_strict_untrusted_peer(webkit_client) -> None:
    client = await serve(webkit_client, x_forwarded_strict(ELSEWHERE))
    resp = await client.get("/", headers={"X-Forwarded-For": "203.0.113.9"})
    assert resp.status_code == 400
    assert "X-Forwarded" in resp.text
    ignoring = await serve(webkit_client, x_forwarded_strict(ELSEWHERE, on_untrusted="ignore"))
    got = await seen(ignoring, {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"})
    assert (got["remote"], got["scheme"]) == ("127.0.0.1", "http")


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Forwarded-For": "not-an-ip"},
        {"X-Forwarded-For": "203.0.113.9,"},  # an empty entry where the client should be
        {"X-Forwarded-For": "203.0.113.9 10.0.0.1"},
        {"X-Forwarded-Proto": "ftp"},
        {"X-Forwarded-Host": "evil.example/x"},
        {"X-Forwarded-Host": "a@b"},
        {"X-Forwarded-Host": "bad host"},
    ],
)
async def test_x_forwarded_malformed_is_400(webkit_client, headers: dict[str, str]) -> None:
    client = await serve(webkit_client, x_forwarded_strict(LOCAL))
    resp = await client.get("/", headers=headers)
    assert resp.status_code == 400, headers
    relaxed = await serve(webkit_client, x_forwarded_relaxed())
    assert (await relaxed.get("/", headers=headers)).status_code == 400, headers


async def test_x_forwarded_relaxed(webkit_client) -> None:
    headers = {"X-Forwarded-For": "198.51.100.1, 203.0.113.9", "X-Forwarded-Proto": "https"}
    one = await serve(webkit_client, x_forwarded_relaxed())
    got = await seen(one, headers)
    assert (got["remote"], got["scheme"]) == ("203.0.113.9", "https")
    two = await serve(webkit_client, x_forwarded_relaxed(num_proxies=2))
    assert (await seen(two, headers))["remote"] == "198.51.100.1"
    three = await serve(webkit_client, x_forwarded_relaxed(num_proxies=3))
    assert (await seen(three, headers))["remote"] == "198.51.100.1"
    got = await seen(one, {"X-Forwarded-Host": "www.example:8080"})
    assert (got["remote"], got["host"]) == ("127.0.0.1", "www.example:8080")


# -- secure_redirect -------------------------------------------------------------------------


async def test_secure_redirect_after_proxy(webkit_client) -> None:
    client = await serve(
        webkit_client,
        forwarded_strict(LOCAL),
        secure_redirect(exclude=["/health", "/.well-known/"]),
    )
    plain = {"Forwarded": "for=203.0.113.9;proto=http;host=www.example"}
    resp = await client.post("/a/b%20c?x=1&y=%2F", headers=plain)
    assert resp.status_code == 308
    assert resp.headers["location"] == "https://www.example/a/b%20c?x=1&y=%2F"
    secure = {"Forwarded": "for=203.0.113.9;proto=https;host=www.example"}
    assert (await client.get("/a", headers=secure)).status_code == 200
    assert (await client.get("/health", headers=plain)).status_code == 200
    assert (await client.get("/.well-known/acme", headers=plain)).status_code == 200
    assert (await client.get("/healthz", headers=plain)).status_code == 308


async def test_secure_redirect_options(webkit_client) -> None:
    client = await serve(webkit_client, secure_redirect(redirect_status=301, port=8443))
    resp = await client.get("/x", headers={"Host": "www.example:8080"})
    assert resp.status_code == 301
    assert resp.headers["location"] == "https://www.example:8443/x"
    resp = await client.get("/x", headers={"Host": "[2001:db8::1]:8080"})
    assert resp.headers["location"] == "https://[2001:db8::1]:8443/x"


async def test_secure_redirect_bad_host_is_400(webkit_client) -> None:
    client = await serve(webkit_client, secure_redirect())
    for host in ("bad host", "evil.example/x", "a@evil.example", "[::g]"):
        resp = await client.get("/", headers={"Host": host})
        assert resp.status_code == 400, host
        assert "Invalid host" in resp.text


# -- construction and units ------------------------------------------------------------------


def test_factory_errors() -> None:
    with pytest.raises(ValueError, match="trusted is empty"):
        forwarded_strict([])
    with pytest.raises(TypeError, match="not the string"):
        forwarded_strict("127.0.0.1")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not an IP address or network"):
        x_forwarded_strict(["proxy.example"])
    with pytest.raises(ValueError, match="on_untrusted"):
        forwarded_strict(LOCAL, on_untrusted="drop")  # type: ignore[arg-type]
    for bad in (0, -1, True, 1.5):
        with pytest.raises(ValueError, match="num_proxies"):
            x_forwarded_relaxed(num_proxies=bad)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="num_proxies"):
            forwarded_relaxed(num_proxies=bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="redirect_status"):
        secure_redirect(redirect_status=200)
    with pytest.raises(ValueError, match="exclude"):
        secure_redirect(exclude=["health"])


def test_trusted_matching() -> None:
    trusted = _Trusted.parse(
        ["127.0.0.1", ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_address("::1")]
    )
    assert "127.0.0.1" in trusted
    assert "10.200.0.1" in trusted
    assert "::1" in trusted
    assert "::ffff:127.0.0.1" in trusted  # an IPv4 peer on a dual-stack socket
    assert "127.0.0.2" not in trusted
    assert "unknown" not in trusted
    assert "_proxy" not in trusted
    assert not trusted.peer(None)
    assert not trusted.peer("")
    unix = _Trusted.parse(["unix"])
    assert unix.peer("")
    assert unix.peer(None)
    assert not unix.peer("127.0.0.1")


def test_parse_forwarded_strict() -> None:
    assert parse_forwarded_strict(['For="[2001:db8:cafe::17]:4711"']) == [
        {"for": "[2001:db8:cafe::17]:4711"}
    ]
    assert parse_forwarded_strict(
        ["for=192.0.2.60;proto=http;by=203.0.113.43", "for=198.51.100.17 , ,for=x"]
    ) == [
        {"for": "192.0.2.60", "proto": "http", "by": "203.0.113.43"},
        {"for": "198.51.100.17"},
        {"for": "x"},
    ]
    assert parse_forwarded_strict(['for="a\\"b;c,d"']) == [{"for": 'a"b;c,d'}]
    assert parse_forwarded_strict(["", " "]) == []
    with pytest.raises(ForwardedError):
        parse_forwarded_strict(['for="a"b'])
    with pytest.raises(ForwardedError):
        parse_forwarded_strict(["for=a\x00"])
    with pytest.raises(ForwardedError):
        parse_forwarded_strict(['for="\x01"'])
