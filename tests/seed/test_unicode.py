"""Seed: "Unicode support".

Routes are added and resolved with Unicode transparently (both sides are percent-encoded);
a custom regex is matched against the percent-encoded path, so a raw Unicode pattern does
not match and its percent-encoded form does (design.md §3.1 and §3.2).
"""

from __future__ import annotations

from urllib.parse import quote

from webkit import web


async def echo(request: web.Request) -> web.Response:
    parts = ",".join(f"{k}={v}" for k, v in sorted(request.match_info.items()))
    return web.Response(text=f"{request.match_info.route.resource.canonical}|{parts}")


async def test_unicode_routes_resolve_percent_encoded_requests(webkit_client) -> None:
    app = web.Application()
    app.router.add_get("/привет", echo)
    app.router.add_get("/статья/{id}", echo)
    app.router.add_get("/user/{name}", echo)
    client = await webkit_client(app)

    # httpx sends the path percent-encoded, as every client does.
    resp = await client.get("/привет")
    assert resp.status_code == 200
    assert resp.text.endswith("|")
    resp = await client.get("/" + quote("привет"))
    assert resp.status_code == 200

    # A non-ASCII fixed segment in a dynamic route.
    resp = await client.get("/статья/42")
    assert resp.status_code == 200
    assert resp.text.endswith("|id=42")

    # A Unicode variable arrives decoded in match_info.
    resp = await client.get("/user/" + quote("Дмитрий"))
    assert resp.text.endswith("|name=Дмитрий")


async def test_url_for_percent_encodes_unicode(webkit_client) -> None:
    app = web.Application()
    app.router.add_get("/статья/{id}", echo, name="article")
    assert str(app.router["article"].url_for(id="ж")) == "/" + quote("статья") + "/" + quote("ж")


async def test_custom_regex_raw_unicode_does_not_match_encoded_does(webkit_client) -> None:
    app = web.Application()
    # Raw Unicode in the regex: the requoted path holds %D0%B0..., never the letters.
    app.router.add_get("/raw/{word:[а-я]+}", echo)  # noqa: RUF001
    # The same set, written the way the path really arrives: percent-encoded bytes.
    app.router.add_get("/encoded/{word:(?:%D0%B[0-9A-F]|%D1%8[0-9A-F])+}", echo)
    client = await webkit_client(app)

    assert (await client.get("/raw/" + quote("мир"))).status_code == 404
    assert (await client.get("/raw/мир")).status_code == 404

    resp = await client.get("/encoded/" + quote("мир"))
    assert resp.status_code == 200
    # match_info values are decoded.
    assert resp.text.endswith("|word=мир")
    resp = await client.get("/encoded/мир")
    assert resp.status_code == 200
    assert (await client.get("/encoded/abc")).status_code == 404


async def test_requoting_of_incoming_path(webkit_client) -> None:
    """The incoming path is requoted: an unreserved char sent encoded still matches."""
    app = web.Application()
    app.router.add_get("/a~b/привет", echo)
    client = await webkit_client(app)
    # %7E is "~" (unreserved), lower-case hex for the Cyrillic bytes.
    resp = await client.get("/a%7Eb/" + quote("привет").lower())
    assert resp.status_code == 200
