"""Request attributes, body reading, cloning and size limits, over real TCP."""

from __future__ import annotations

import asyncio
import datetime
import json
from typing import Any

import pytest
from multidict import CIMultiDictProxy, MultiDictProxy
from yarl import URL

from webkit import web
from webkit.http import HttpVersion
from webkit.web.multipart import BodyPartReader

# -- helpers ------------------------------------------------------------------------------


async def raw_exchange(port: int, data: bytes, *, timeout: float = 10.0) -> bytes:
    """Send ``data`` and read until the server closes the connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), timeout)
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except ConnectionError:
            pass


def status_of(raw: bytes) -> int:
    return int(raw.split(b" ", 2)[1])


def body_of(raw: bytes) -> bytes:
    return raw.partition(b"\r\n\r\n")[2]


def app_with(
    handler: Any, path: str = "/", method: str = "*", **app_kwargs: Any
) -> web.Application:
    app = web.Application(**app_kwargs)
    app.router.add_route(method, path, handler)
    return app


# -- the request line, URL and headers -----------------------------------------------------


async def test_request_line_url_and_headers(webkit_client) -> None:
    seen: dict[str, Any] = {}

    async def handler(request: web.Request) -> web.Response:
        seen.update(
            method=request.method,
            version=request.version,
            path=request.path,
            raw_path=request.raw_path,
            rel_url=request.rel_url,
            url=request.url,
            query=request.query,
            query_string=request.query_string,
            headers=request.headers,
            host=request.host,
            scheme=request.scheme,
            secure=request.secure,
            remote=request.remote,
            match_info=dict(request.match_info),
            path_qs=request.path_qs,
        )
        return web.Response(text="ok")

    client = await webkit_client(app_with(handler, "/items/{name}"))
    raw = await raw_exchange(
        client.port,
        b"GET /items/caf%C3%A9%20au%20lait?a=1&a=2&b=%C3%A9&empty= HTTP/1.1\r\n"
        b"Host: example.com:8080\r\n"
        b"X-Multi: one\r\n"
        b"x-multi: two\r\n"
        b"Connection: close\r\n\r\n",
    )
    assert status_of(raw) == 200
    assert seen["method"] == "GET"
    assert seen["version"] == HttpVersion(1, 1)
    assert seen["path"] == "/items/café au lait"
    assert seen["raw_path"] == "/items/caf%C3%A9%20au%20lait?a=1&a=2&b=%C3%A9&empty="
    assert seen["path_qs"] == "/items/caf%C3%A9%20au%20lait?a=1&a=2&b=%C3%A9&empty="
    assert isinstance(seen["rel_url"], URL)
    assert str(seen["rel_url"]) == "/items/caf%C3%A9%20au%20lait?a=1&a=2&b=%C3%A9&empty="
    assert not seen["rel_url"].is_absolute()
    assert str(seen["url"]) == (
        "http://example.com:8080/items/caf%C3%A9%20au%20lait?a=1&a=2&b=%C3%A9&empty="
    )
    assert seen["url"].host == "example.com"
    assert seen["url"].port == 8080
    query = seen["query"]
    assert isinstance(query, MultiDictProxy)
    assert query.getall("a") == ["1", "2"]
    assert query["a"] == "1"
    assert query["b"] == "é"
    assert query["empty"] == ""
    assert seen["query_string"] == "a=1&a=2&b=é&empty="
    headers = seen["headers"]
    assert isinstance(headers, CIMultiDictProxy)
    assert headers.getall("X-MULTI") == ["one", "two"]
    assert headers["x-multi"] == "one"
    assert headers["HOST"] == "example.com:8080"
    assert seen["host"] == "example.com:8080"
    assert seen["scheme"] == "http"
    assert seen["secure"] is False
    assert seen["remote"] == "127.0.0.1"
    assert seen["match_info"] == {"name": "café au lait"}


async def test_http10_request_without_host_falls_back_to_the_server_address(
    webkit_client,
) -> None:
    seen: dict[str, Any] = {}

    async def handler(request: web.Request) -> web.Response:
        seen.update(version=request.version, host=request.host, url=request.url)
        seen["has_host"] = "Host" in request.headers
        return web.Response(text="ok")

    client = await webkit_client(app_with(handler))
    raw = await raw_exchange(client.port, b"GET /?x=1 HTTP/1.0\r\n\r\n")
    assert status_of(raw) == 200
    assert seen["version"] == HttpVersion(1, 0)
    assert seen["has_host"] is False
    # aiohttp falls back to socket.getfqdn() (a blocking DNS lookup); webkit uses the address
    # the request arrived on, which keeps request.url usable.
    assert seen["host"] == f"127.0.0.1:{client.port}"
    assert str(seen["url"]) == f"http://127.0.0.1:{client.port}/?x=1"


async def test_empty_query_and_plain_path(webkit_client) -> None:
    seen: dict[str, Any] = {}

    async def handler(request: web.Request) -> web.Response:
        seen.update(query=request.query, raw_path=request.raw_path, path=request.path)
        return web.Response()

    client = await webkit_client(app_with(handler, "/plain"))
    assert (await client.get("/plain")).status_code == 200
    assert isinstance(seen["query"], MultiDictProxy)
    assert len(seen["query"]) == 0
    assert seen["raw_path"] == "/plain"
    assert seen["path"] == "/plain"


async def test_app_config_dict_transport_and_task(webkit_client) -> None:
    outer_key = web.AppKey("outer", str)
    inner_key = web.AppKey("inner", str)
    seen: dict[str, Any] = {}

    async def handler(request: web.Request) -> web.Response:
        seen.update(
            app=request.app,
            outer=request.config_dict[outer_key],
            inner=request.config_dict[inner_key],
            missing=request.config_dict.get("nope", "default"),
            transport=request.transport,
            task=request.task,
            current=asyncio.current_task(),
            peer=request.transport.get_extra_info("peername") if request.transport else None,
        )
        return web.Response()

    sub = web.Application()
    sub[inner_key] = "inner value"
    sub.router.add_get("/h", handler)
    app = web.Application()
    app[outer_key] = "outer value"
    app.add_subapp("/sub", sub)
    client = await webkit_client(app)
    assert (await client.get("/sub/h")).status_code == 200
    assert seen["app"] is sub
    assert seen["outer"] == "outer value"
    assert seen["inner"] == "inner value"
    assert seen["missing"] == "default"
    assert isinstance(seen["transport"], asyncio.Transport)
    assert seen["peer"][0] == "127.0.0.1"
    assert seen["task"] is seen["current"]


async def test_request_is_a_mutable_mapping(webkit_client) -> None:
    seen: dict[str, Any] = {}

    @web.middleware
    async def store(request: web.Request, handler: Any) -> web.StreamResponse:
        request["user"] = "alice"
        request["n"] = 1
        return await handler(request)

    async def handler(request: web.Request) -> web.Response:
        seen["user"] = request["user"]
        seen["len"] = len(request)
        seen["keys"] = sorted(request)
        seen["contains"] = "n" in request
        del request["n"]
        seen["after_del"] = dict(request)
        with pytest.raises(KeyError):
            request["n"]
        with pytest.raises(KeyError):
            del request["n"]
        seen["get"] = request.get("missing", 42)
        return web.Response()

    app = web.Application(middlewares=[store])
    app.router.add_get("/", handler)
    client = await webkit_client(app)
    assert (await client.get("/")).status_code == 200
    assert seen == {
        "user": "alice",
        "len": 2,
        "keys": ["n", "user"],
        "contains": True,
        "after_del": {"user": "alice"},
        "get": 42,
    }


async def test_untouched_attributes_are_never_built(webkit_client) -> None:
    requests: list[web.Request] = []
    inside: list[tuple[Any, ...]] = []

    async def handler(request: web.Request) -> web.Response:
        requests.append(request)
        inside.append((request._headers, request._cache, request._rel_url, request._state))
        return web.Response(text="lazy")

    client = await webkit_client(app_with(handler, "/lazy", "GET"))
    resp = await client.get("/lazy?q=1", headers={"Cookie": "a=b"})
    assert resp.text == "lazy"
    assert inside == [(None, None, None, None)]
    request = requests[0]
    # Sending the response did not build them either.
    assert request._headers is None
    assert request._cache is None
    assert request._rel_url is None


# -- content type, length and the body -------------------------------------------------------


async def test_content_type_charset_length_and_body_flags(webkit_client) -> None:
    seen: list[dict[str, Any]] = []

    async def handler(request: web.Request) -> web.Response:
        info = {
            "content_type": request.content_type,
            "charset": request.charset,
            "content_length": request.content_length,
            "body_exists": request.body_exists,
            "can_read_body": request.can_read_body,
        }
        info["text"] = await request.text()
        info["can_read_after"] = request.can_read_body
        seen.append(info)
        return web.Response()

    client = await webkit_client(app_with(handler))
    body = "héllo".encode("latin-1")
    await client.post(
        "/", content=body, headers={"Content-Type": 'text/plain; charset="ISO-8859-1"'}
    )
    await client.get("/")
    assert seen == [
        {
            "content_type": "text/plain",
            "charset": "ISO-8859-1",
            "content_length": 5,
            "body_exists": True,
            "can_read_body": True,
            "text": "héllo",
            "can_read_after": False,
        },
        {
            "content_type": "application/octet-stream",
            "charset": None,
            "content_length": None,
            "body_exists": False,
            "can_read_body": False,
            "text": "",
            "can_read_after": False,
        },
    ]


async def test_read_is_cached(webkit_client) -> None:
    seen: dict[str, Any] = {}

    async def handler(request: web.Request) -> web.Response:
        first = await request.read()
        second = await request.read()
        seen.update(first=first, second=second, same=first is second)
        seen["text"] = await request.text()
        seen["json"] = await request.json()
        return web.Response()

    client = await webkit_client(app_with(handler))
    await client.post("/", content=b'{"k": [1, 2]}', headers={"Content-Type": "application/json"})
    assert seen == {
        "first": b'{"k": [1, 2]}',
        "second": b'{"k": [1, 2]}',
        "same": True,
        "text": '{"k": [1, 2]}',
        "json": {"k": [1, 2]},
    }


async def test_text_with_bad_charset_is_400(webkit_client) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(text=await request.text())

    client = await webkit_client(app_with(handler))
    unknown = await client.post(
        "/", content=b"abc", headers={"Content-Type": "text/plain; charset=no-such-codec"}
    )
    assert unknown.status_code == 400
    assert unknown.text == "Unknown charset 'no-such-codec'"
    undecodable = await client.post(
        "/", content=b"\xff\xfe", headers={"Content-Type": "text/plain; charset=utf-8"}
    )
    assert undecodable.status_code == 400
    assert undecodable.text.startswith("Body is not valid utf-8")
    ok = await client.post(
        "/", content="é".encode("cp1252"), headers={"Content-Type": "text/plain; charset=cp1252"}
    )
    assert ok.status_code == 200
    assert ok.text == "é"


async def test_json_errors(webkit_client) -> None:
    caught: list[BaseException] = []

    async def handler(request: web.Request) -> web.Response:
        try:
            data = await request.json()
        except json.JSONDecodeError as exc:
            caught.append(exc)
            raise
        return web.json_response(data)

    client = await webkit_client(app_with(handler))
    wrong_type = await client.post("/", content=b"{}", headers={"Content-Type": "text/plain"})
    assert wrong_type.status_code == 400
    assert wrong_type.text == "Attempt to decode JSON with unexpected mimetype: text/plain"
    suffix = await client.post(
        "/", content=b'{"a": 1}', headers={"Content-Type": "application/vnd.api+json"}
    )
    assert suffix.status_code == 200
    assert suffix.json() == {"a": 1}
    invalid = await client.post(
        "/", content=b'{"a": ', headers={"Content-Type": "application/json"}
    )
    assert invalid.status_code == 400
    assert invalid.text.startswith("Invalid JSON in request body: Expecting value")
    assert len(caught) == 1
    assert isinstance(caught[0], web.HTTPBadRequest)
    assert isinstance(caught[0], json.JSONDecodeError)
    assert caught[0].pos == 6  # type: ignore[attr-defined]


async def test_json_without_content_type_check(webkit_client) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.json_response(await request.json(content_type=None))

    client = await webkit_client(app_with(handler))
    resp = await client.post("/", content=b"[1, 2]", headers={"Content-Type": "text/plain"})
    assert resp.status_code == 200
    assert resp.json() == [1, 2]


# -- the content stream ----------------------------------------------------------------------


async def test_content_read_n_readany_and_readline(webkit_client) -> None:
    seen: dict[str, Any] = {}

    async def handler(request: web.Request) -> web.Response:
        content = request.content
        seen["read5"] = await content.read(5)
        seen["line"] = await content.readline()
        seen["any"] = await content.readany()
        seen["eof"] = await content.read()
        seen["at_eof"] = content.at_eof()
        return web.Response()

    client = await webkit_client(app_with(handler))
    await client.post("/", content=b"hello world\nsecond line\nrest")
    assert seen == {
        "read5": b"hello",
        "line": b" world\n",
        "any": b"second line\nrest",
        "eof": b"",
        "at_eof": True,
    }


async def test_content_iter_chunked_and_line_iteration(webkit_client) -> None:
    chunks: list[bytes] = []
    lines: list[bytes] = []

    async def chunked(request: web.Request) -> web.Response:
        async for chunk in request.content.iter_chunked(4):
            chunks.append(chunk)
        return web.Response()

    async def by_line(request: web.Request) -> web.Response:
        async for line in request.content:
            lines.append(line)
        return web.Response()

    app = web.Application()
    app.router.add_post("/chunked", chunked)
    app.router.add_post("/lines", by_line)
    client = await webkit_client(app)
    # One write, so the whole body is buffered before the handler reads it.
    raw = await raw_exchange(
        client.port,
        b"POST /chunked HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\nConnection: close\r\n\r\n"
        b"abcdefghij",
    )
    assert status_of(raw) == 200
    assert chunks == [b"abcd", b"efgh", b"ij"]
    await client.post("/lines", content=b"one\ntwo\r\nthree")
    assert lines == [b"one\n", b"two\r\n", b"three"]


async def test_multipart_streaming_reader(webkit_client) -> None:
    parts: list[tuple[str | None, str | None, bytes]] = []

    async def handler(request: web.Request) -> web.Response:
        reader = await request.multipart()
        while True:
            part = await reader.next()
            if part is None:
                break
            assert isinstance(part, BodyPartReader)
            parts.append((part.name, part.filename, await part.read()))
        return web.Response()

    client = await webkit_client(app_with(handler))
    await client.post(
        "/",
        data={"field": "value"},
        files={"upload": ("notes.txt", b"file body\n", "text/plain")},
    )
    assert parts == [("field", None, b"value"), ("upload", "notes.txt", b"file body\n")]


# -- conditional and range headers, forwarded, release ----------------------------------------


async def test_conditional_range_and_forwarded_headers(webkit_client) -> None:
    seen: list[dict[str, Any]] = []

    async def handler(request: web.Request) -> web.Response:
        info: dict[str, Any] = {
            "if_match": request.if_match,
            "if_none_match": request.if_none_match,
            "if_modified_since": request.if_modified_since,
            "if_unmodified_since": request.if_unmodified_since,
            "if_range": request.if_range,
            "forwarded": [dict(hop) for hop in request.forwarded],
        }
        try:
            info["range"] = request.http_range
        except ValueError:
            info["range"] = ValueError
        seen.append(info)
        return web.Response()

    client = await webkit_client(app_with(handler))
    date = "Wed, 21 Oct 2015 07:28:00 GMT"
    when = datetime.datetime(2015, 10, 21, 7, 28, tzinfo=datetime.UTC)
    await client.get(
        "/",
        headers=[
            ("If-Match", '"a", W/"b"'),
            ("If-None-Match", "*"),
            ("If-Modified-Since", date),
            ("If-Unmodified-Since", "not a date"),
            ("If-Range", date),
            ("Range", "bytes=0-9"),
            ("Forwarded", 'for=192.0.2.60;proto=https, for="[2001:db8::1]:4711"'),
            ("Forwarded", 'for=10.0.0.1;host="a\\"b"'),
        ],
    )
    await client.get("/")
    for value, expected in (
        ("bytes=5-", slice(5, None, 1)),
        ("bytes=-3", slice(-3, None, 1)),
        ("bytes=-", ValueError),
        ("bytes=9-1", ValueError),
        ("items=1-2", ValueError),
        ("bytes=1-2,4-5", ValueError),
    ):
        await client.get("/", headers={"Range": value, "If-Range": '"tag"'})
        assert seen[-1]["range"] == expected, value
        assert seen[-1]["if_range"] is None
    assert seen[0] == {
        "if_match": (web.ETag("a"), web.ETag("b", is_weak=True)),
        "if_none_match": (web.ETag("*"),),
        "if_modified_since": when,
        "if_unmodified_since": None,
        "if_range": when,
        "range": slice(0, 10, 1),
        "forwarded": [
            {"for": "192.0.2.60", "proto": "https"},
            {"for": "[2001:db8::1]:4711"},
            {"for": "10.0.0.1", "host": 'a"b'},
        ],
    }
    assert seen[1] == {
        "if_match": None,
        "if_none_match": None,
        "if_modified_since": None,
        "if_unmodified_since": None,
        "if_range": None,
        "range": slice(None, None, 1),
        "forwarded": [],
    }


async def test_release_discards_the_body(webkit_client) -> None:
    seen: list[Any] = []

    async def handler(request: web.Request) -> web.Response:
        await request.release()
        seen.append((request.can_read_body, await request.content.read()))
        return web.Response(text="released")

    client = await webkit_client(app_with(handler))
    for _ in range(2):  # the connection stays usable
        resp = await client.post("/", content=b"x" * 300_000)
        assert resp.text == "released"
    assert seen == [(False, b""), (False, b"")]


# -- clone -------------------------------------------------------------------------------------


async def test_clone_replaces_each_attribute_and_leaves_the_original(webkit_client) -> None:
    seen: dict[str, Any] = {}

    async def handler(request: web.Request) -> web.Response:
        # Build the originals first, so the clone must not reuse their caches.
        original = (request.method, request.host, str(request.url), request.scheme)
        request["k"] = "v"
        c = request.clone(method="post")
        seen["method"] = (c.method, request.method)
        c = request.clone(rel_url="/new/path?x=1&x=2")
        seen["rel_url"] = (
            c.path,
            c.raw_path,
            c.query.getall("x"),
            str(c.url),
            str(c.rel_url),
            request.path,
            request.raw_path,
        )
        c = request.clone(headers={"X-New": "v", "Host": "other.example"})
        seen["headers"] = (
            dict(c.headers),
            c.raw_headers,
            c.host,
            request.headers["X-Orig"],
            request.host,
        )
        c = request.clone(scheme="https")
        seen["scheme"] = (c.scheme, c.secure, str(c.url), request.scheme, request.secure)
        c = request.clone(host="proxy.example:8443")
        seen["host"] = (c.host, str(c.url), request.host)
        c = request.clone(remote="10.1.2.3")
        seen["remote"] = (c.remote, request.remote)
        c = request.clone(client_max_size=4)
        seen["client_max_size"] = (c.client_max_size, request.client_max_size)
        with pytest.raises(web.HTTPRequestEntityTooLarge):
            await c.read()
        seen["body"] = await request.read()
        c["k"] = "changed"
        seen["state"] = (c["k"], request["k"])
        seen["match_info"] = c.match_info is request.match_info
        seen["type"] = type(c) is web.Request
        seen["original"] = original == (
            request.method,
            request.host,
            str(request.url),
            request.scheme,
        )
        return web.Response()

    client = await webkit_client(app_with(handler, "/orig"))
    port = client.port
    resp = await client.put("/orig?o=1", content=b"0123456789", headers={"X-Orig": "yes"})
    assert resp.status_code == 200
    assert seen["method"] == ("POST", "PUT")
    assert seen["rel_url"] == (
        "/new/path",
        "/new/path?x=1&x=2",
        ["1", "2"],
        f"http://127.0.0.1:{port}/new/path?x=1&x=2",
        "/new/path?x=1&x=2",
        "/orig",
        "/orig?o=1",
    )
    assert seen["headers"] == (
        {"X-New": "v", "Host": "other.example"},
        ((b"X-New", b"v"), (b"Host", b"other.example")),
        "other.example",
        "yes",
        f"127.0.0.1:{port}",
    )
    assert seen["scheme"] == (
        "https",
        True,
        f"https://127.0.0.1:{port}/orig?o=1",
        "http",
        False,
    )
    assert seen["host"] == (
        "proxy.example:8443",
        "http://proxy.example:8443/orig?o=1",
        f"127.0.0.1:{port}",
    )
    assert seen["remote"] == ("10.1.2.3", "127.0.0.1")
    assert seen["client_max_size"] == (4, 1024**2)
    assert seen["body"] == b"0123456789"
    assert seen["state"] == ("changed", "v")
    assert seen["match_info"] is True
    assert seen["type"] is True
    assert seen["original"] is True


async def test_clone_rejects_an_absolute_rel_url_and_bad_types(webkit_client) -> None:
    errors: list[type[BaseException]] = []

    async def handler(request: web.Request) -> web.Response:
        for kwargs in (
            {"rel_url": "http://evil.example/x"},
            {"scheme": 1},
            {"host": None},
            {"remote": b"1.2.3.4"},
        ):
            try:
                request.clone(**kwargs)
            except (ValueError, TypeError) as exc:
                errors.append(type(exc))
        return web.Response()

    client = await webkit_client(app_with(handler))
    assert (await client.get("/")).status_code == 200
    assert errors == [ValueError, TypeError, TypeError, TypeError]


# -- client_max_size ---------------------------------------------------------------------------


async def test_default_client_max_size_is_one_mebibyte(webkit_client) -> None:
    async def read(request: web.Request) -> web.Response:
        return web.Response(text=str(len(await request.read())))

    async def post(request: web.Request) -> web.Response:
        form = await request.post()
        return web.Response(text=str(len(form["f"])))

    async def as_json(request: web.Request) -> web.Response:
        return web.Response(text=str(len(await request.json())))

    app = web.Application()
    app.router.add_post("/read", read)
    app.router.add_post("/post", post)
    app.router.add_post("/json", as_json)
    client = await webkit_client(app)
    limit = 1024**2
    assert (await client.post("/read", content=b"x" * limit)).text == str(limit)
    too_big = await client.post("/read", content=b"x" * (limit + 1))
    assert too_big.status_code == 413
    assert too_big.text == (
        f"Maximum request body size {limit} exceeded, actual body size {limit + 1}"
    )
    form = await client.post("/post", data={"f": "y" * limit})
    assert form.status_code == 413
    big_json = json.dumps("z" * limit).encode()
    resp = await client.post(
        "/json", content=big_json, headers={"Content-Type": "application/json"}
    )
    assert resp.status_code == 413


async def test_custom_client_max_size(webkit_client) -> None:
    async def read(request: web.Request) -> web.Response:
        return web.Response(body=await request.read())

    client = await webkit_client(app_with(read, client_max_size=10))
    assert (await client.post("/", content=b"0123456789")).content == b"0123456789"
    assert (await client.post("/", content=b"0123456789A")).status_code == 413


async def test_declared_length_over_the_limit_is_refused_without_reading(webkit_client) -> None:
    reads: list[int] = []

    async def read(request: web.Request) -> web.Response:
        reads.append(request.content_length or 0)
        return web.Response(body=await request.read())

    client = await webkit_client(app_with(read, client_max_size=100))
    # The body never comes: the answer must not wait for it.
    raw = await raw_exchange(
        client.port,
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\nonly a little",
        timeout=5.0,
    )
    assert status_of(raw) == 413
    assert b"\r\nConnection: close\r\n" in raw  # the rest of the body is not read
    assert body_of(raw) == b"Maximum request body size 100 exceeded, actual body size 100000000"
    assert reads == [100000000]


async def test_chunked_body_over_the_limit(webkit_client) -> None:
    async def read(request: web.Request) -> web.Response:
        return web.Response(body=await request.read())

    client = await webkit_client(app_with(read, client_max_size=10))
    raw = await raw_exchange(
        client.port,
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        b"6\r\nabcdef\r\n6\r\nghijkl\r\n0\r\n\r\n",
    )
    assert status_of(raw) == 413
    assert body_of(raw) == b"Maximum request body size 10 exceeded, actual body size 12"
    ok = await raw_exchange(
        client.port,
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        b"5\r\nabcde\r\n5\r\nfghij\r\n0\r\n\r\n",
    )
    assert status_of(ok) == 200
    assert body_of(ok) == b"abcdefghij"


async def test_absolute_form_target_gives_path_and_host(webkit_client) -> None:
    import asyncio

    async def handler(request: web.Request) -> web.Response:
        return web.json_response({"path": request.path, "host": request.host})

    app = web.Application()
    app.router.add_get("/where", handler)
    client = await webkit_client(app)
    reader, writer = await asyncio.open_connection("127.0.0.1", client.port)
    writer.write(b"GET http://example.com:81/where HTTP/1.1\r\nHost: example.com:81\r\n\r\n")
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    fields = dict(line.split(b": ", 1) for line in head.split(b"\r\n")[1:] if line)
    length = int(fields[b"Content-Length"])
    body = await reader.readexactly(length)
    writer.close()
    assert body == b'{"path": "/where", "host": "example.com:81"}'
