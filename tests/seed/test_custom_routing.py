"""Seed: "Custom Routing Criteria": the AcceptChooser example, as written."""

from __future__ import annotations

from seedkit import close, connect, read_response

from webkit import web
from webkit.web import HTTPNotAcceptable


class AcceptChooser:
    def __init__(self):  # type: ignore[no-untyped-def]
        self._accepts = {}

    async def do_route(self, request):  # type: ignore[no-untyped-def]
        for accept in request.headers.getall("ACCEPT", []):
            acceptor = self._accepts.get(accept)
            if acceptor is not None:
                return await acceptor(request)
        raise HTTPNotAcceptable()

    def reg_acceptor(self, accept, handler):  # type: ignore[no-untyped-def]
        self._accepts[accept] = handler


async def handle_json(request):  # type: ignore[no-untyped-def]
    # do json handling
    return web.json_response({"format": "json"})


async def handle_xml(request):  # type: ignore[no-untyped-def]
    # do xml handling
    return web.Response(text="<format>xml</format>", content_type="application/xml")


def make_app() -> web.Application:
    app = web.Application()
    chooser = AcceptChooser()
    app.add_routes([web.get("/", chooser.do_route)])

    chooser.reg_acceptor("application/json", handle_json)
    chooser.reg_acceptor("application/xml", handle_xml)
    return app


async def test_accept_header_chooses_the_handler(webkit_client) -> None:
    client = await webkit_client(make_app())

    resp = await client.get("/", headers={"Accept": "application/json"})
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "application/json; charset=utf-8"
    assert resp.json() == {"format": "json"}

    resp = await client.get("/", headers={"Accept": "application/xml"})
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("application/xml")
    assert resp.text == "<format>xml</format>"


async def test_unknown_accept_is_406(webkit_client) -> None:
    client = await webkit_client(make_app())
    for accept in ("text/html", "*/*", "application/json, text/plain"):
        resp = await client.get("/", headers={"Accept": accept})
        assert resp.status_code == 406, accept
        assert resp.text == "406: Not Acceptable"


async def test_several_accept_fields_first_registered_match_wins(webkit_client) -> None:
    """``getall('ACCEPT')`` walks the Accept field lines in order; no field at all is 406."""
    client = await webkit_client(make_app())
    reader, writer = await connect(client.port)
    writer.write(
        b"GET / HTTP/1.1\r\nHost: t\r\nAccept: text/html\r\nAccept: application/xml\r\n"
        b"Accept: application/json\r\n\r\n"
        b"GET / HTTP/1.1\r\nHost: t\r\n\r\n"
    )
    first = await read_response(reader)
    assert first.status == 200
    assert first.text == "<format>xml</format>"
    second = await read_response(reader)
    assert second.status == 406
    await close(writer)


async def test_other_methods_still_routed_by_path(webkit_client) -> None:
    client = await webkit_client(make_app())
    resp = await client.post("/", headers={"Accept": "application/json"})
    assert resp.status_code == 405
    head = await client.head("/", headers={"Accept": "application/json"})
    assert head.status_code == 200
