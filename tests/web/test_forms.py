"""request.post(): urlencoded and multipart forms, files, limits and malformed input."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from webkit import web

BOUNDARY = "----webkitformboundary"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"


def multipart_body(*parts: tuple[str, bytes]) -> bytes:
    """A multipart/form-data body from ``(header block, data)`` pairs."""
    out = b""
    for headers, data in parts:
        out += f"--{BOUNDARY}\r\n{headers}\r\n\r\n".encode() + data + b"\r\n"
    return out + f"--{BOUNDARY}--\r\n".encode()


def form_app(**app_kwargs: Any) -> tuple[web.Application, list[Any]]:
    """An app whose POST / handler records ``await request.post()``."""
    forms: list[Any] = []

    async def handler(request: web.Request) -> web.Response:
        form = await request.post()
        again = await request.post()
        forms.append(form)
        forms.append(again is form)
        return web.Response(text="ok")

    app = web.Application(**app_kwargs)
    app.router.add_route("*", "/", handler)
    return app, forms


async def test_urlencoded_form(webkit_client) -> None:
    app, forms = form_app()
    client = await webkit_client(app)
    resp = await client.post(
        "/",
        content=b"a=1&a=2&b=x+y&c=%C3%A9&d=&e",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert resp.status_code == 200
    form, cached = forms
    assert cached is True
    assert list(form.items()) == [
        ("a", "1"),
        ("a", "2"),
        ("b", "x y"),
        ("c", "é"),
        ("d", ""),
        ("e", ""),
    ]
    assert form.getall("a") == ["1", "2"]


async def test_urlencoded_form_in_another_charset(webkit_client) -> None:
    app, forms = form_app()
    client = await webkit_client(app)
    await client.post(
        "/",
        content=b"name=%E9t%E9&raw=\xe9",
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=latin-1"},
    )
    assert dict(forms[0]) == {"name": "été", "raw": "é"}


async def test_multipart_fields_and_files(webkit_client) -> None:
    app, forms = form_app()
    client = await webkit_client(app)
    resp = await client.post(
        "/",
        data={"title": "Holiday", "tag": ["sea", "sun"]},
        files=[
            ("photo", ("beach.png", b"\x89PNG\r\n\x1a\n...", "image/png")),
            ("photo", ("notes.txt", b"line 1\nline 2\n", "text/plain")),
        ],
    )
    assert resp.status_code == 200
    form = forms[0]
    assert form["title"] == "Holiday"
    assert form.getall("tag") == ["sea", "sun"]
    first, second = form.getall("photo")
    assert isinstance(first, web.FileField)
    assert (first.name, first.filename, first.content_type) == ("photo", "beach.png", "image/png")
    assert first.file.read() == b"\x89PNG\r\n\x1a\n..."
    assert first.headers["Content-Disposition"] == ('form-data; name="photo"; filename="beach.png"')
    assert (second.filename, second.content_type) == ("notes.txt", "text/plain")
    assert second.file.read() == b"line 1\nline 2\n"
    assert repr(second) == "<FileField photo='notes.txt' text/plain>"
    first.file.close()
    second.file.close()


async def test_multipart_field_types_and_charsets(webkit_client) -> None:
    app, forms = form_app()
    client = await webkit_client(app)
    body = multipart_body(
        ('Content-Disposition: form-data; name="plain"', "café".encode()),
        (
            'Content-Disposition: form-data; name="latin"\r\n'
            "Content-Type: text/plain; charset=latin-1",
            "café".encode("latin-1"),
        ),
        (
            'Content-Disposition: form-data; name="blob"\r\nContent-Type: application/octet-stream',
            b"\x00\x01\xff",
        ),
        (
            'Content-Disposition: form-data; name="b64"\r\nContent-Transfer-Encoding: base64',
            b"aGVsbG8gd29ybGQ=",
        ),
        ('Content-Disposition: form-data; name="empty"', b""),
        (
            'Content-Disposition: form-data; name="upload"; filename="data.bin"',
            b"no content type",
        ),
    )
    resp = await client.post("/", content=body, headers={"Content-Type": MULTIPART})
    assert resp.status_code == 200
    form = forms[0]
    upload = form["upload"]
    assert isinstance(upload, web.FileField)
    # RFC 7578 §4.4: a part without Content-Type is text/plain.
    assert upload.content_type == "text/plain"
    assert upload.file.read() == b"no content type"
    upload.file.close()
    assert [(key, value) for key, value in form.items() if key != "upload"] == [
        ("plain", "café"),
        ("latin", "café"),
        ("blob", b"\x00\x01\xff"),
        ("b64", "hello world"),
        ("empty", ""),
    ]


async def test_forms_are_empty_for_other_methods_and_media_types(webkit_client) -> None:
    app, forms = form_app()
    client = await webkit_client(app)
    urlencoded = {"Content-Type": "application/x-www-form-urlencoded"}
    await client.request("GET", "/", content=b"a=1", headers=urlencoded)
    await client.request("OPTIONS", "/", content=b"a=1", headers=urlencoded)
    await client.post("/", content=b'{"a": 1}', headers={"Content-Type": "application/json"})
    await client.post("/", content=b"a=1")  # no Content-Type: octet-stream, not a form
    await client.put("/", content=b"a=1", headers=urlencoded)
    await client.patch("/", content=b"a=2", headers=urlencoded)
    await client.delete("/")
    results = [dict(form) for form in forms[::2]]
    assert results == [{}, {}, {}, {}, {"a": "1"}, {"a": "2"}, {}]


async def test_file_over_the_limit_is_413(webkit_client) -> None:
    app, forms = form_app(client_max_size=1000)
    client = await webkit_client(app)
    ok = await client.post("/", files={"f": ("a.bin", b"x" * 900)})
    assert ok.status_code == 200
    forms[0]["f"].file.close()
    resp = await client.post("/", data={"note": "y" * 50}, files={"f": ("a.bin", b"x" * 951)})
    assert resp.status_code == 413
    assert resp.text == "Maximum request body size 1000 exceeded, actual body size 1001"


async def test_plain_field_over_the_limit_is_413(webkit_client) -> None:
    app, _ = form_app(client_max_size=1000)
    client = await webkit_client(app)
    # Counted in decoded field bytes, not body bytes (the part headers are not counted).
    body = multipart_body(
        ('Content-Disposition: form-data; name="a"', b"x" * 600),
        ('Content-Disposition: form-data; name="b"', b"y" * 400),
    )
    ok = await client.post("/", content=body, headers={"Content-Type": MULTIPART})
    assert ok.status_code == 200
    body = multipart_body(
        ('Content-Disposition: form-data; name="a"', b"x" * 600),
        ('Content-Disposition: form-data; name="b"', b"y" * 401),
    )
    resp = await client.post("/", content=body, headers={"Content-Type": MULTIPART})
    assert resp.status_code == 413
    assert resp.text == "Maximum request body size 1000 exceeded, actual body size 1001"
    urlencoded = await client.post("/", data={"a": "x" * 600, "b": "y" * 396})
    assert urlencoded.status_code == 413
    assert urlencoded.text == "Maximum request body size 1000 exceeded, actual body size 1001"


async def test_huge_plain_field_is_refused_while_it_streams(webkit_client) -> None:
    """A field larger than the limit is answered 413 long before it ends: it is not buffered."""
    app, forms = form_app(client_max_size=64 * 1024)
    client = await webkit_client(app)
    reader, writer = await asyncio.open_connection("127.0.0.1", client.port)
    head = (
        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
        f"Content-Type: {MULTIPART}\r\n\r\n"
    ).encode()
    preamble = f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="big"\r\n\r\n'.encode()
    piece = b"z" * 16384
    chunk = b"%x\r\n%b\r\n" % (len(piece), piece)

    async def send() -> None:
        # Up to 64 MiB, never terminated: only an early answer can end this test in time.
        with contextlib.suppress(ConnectionError):
            writer.write(head + b"%x\r\n%b\r\n" % (len(preamble), preamble))
            for _ in range(4096):
                writer.write(chunk)
                await writer.drain()

    sender = asyncio.create_task(send())
    try:
        status_line = await asyncio.wait_for(reader.readline(), 10)
        assert status_line == b"HTTP/1.1 413 Request Entity Too Large\r\n"
    finally:
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sender
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    assert forms == []


async def test_malformed_multipart_is_400(webkit_client) -> None:
    app, _ = form_app()
    client = await webkit_client(app)
    missing_boundary = await client.post(
        "/", content=b"--x\r\n\r\n", headers={"Content-Type": "multipart/form-data"}
    )
    assert missing_boundary.status_code == 400
    assert missing_boundary.text.startswith("Malformed multipart body: ")
    truncated = await client.post(
        "/",
        content=f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="a"\r\n\r\nno end'.encode(),
        headers={"Content-Type": MULTIPART},
    )
    assert truncated.status_code == 400
    assert truncated.text.startswith("Malformed multipart body: ")


async def test_nested_multipart_and_bad_field_charset_are_400(webkit_client) -> None:
    app, _ = form_app()
    client = await webkit_client(app)
    inner = b"--inner\r\nContent-Type: text/plain\r\n\r\nnested\r\n--inner--\r\n"
    nested = multipart_body(
        (
            'Content-Disposition: form-data; name="n"\r\n'
            "Content-Type: multipart/mixed; boundary=inner",
            inner,
        )
    )
    resp = await client.post("/", content=nested, headers={"Content-Type": MULTIPART})
    assert resp.status_code == 400
    assert resp.text == "nested multipart parts are not allowed in a form"
    bad = multipart_body(
        ('Content-Disposition: form-data; name="t"\r\nContent-Type: text/plain', b"\xff\xfe")
    )
    resp = await client.post("/", content=bad, headers={"Content-Type": MULTIPART})
    assert resp.status_code == 400
    assert resp.text == "form field 't' is not valid utf-8"
