"""Unit tests for the streaming multipart reader (`webkit.web.multipart`).

Bodies are fed to a `BodyStream` in pieces while the reader runs, so every test also checks that
delimiters split across reads are found.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import gzip
import json
import random
import re
import zlib
from collections.abc import Awaitable, Callable
from email import policy
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from typing import Any, TypeVar

import pytest
from multidict import CIMultiDictProxy

from webkit.http.body import BodyStream
from webkit.web.multipart import (
    BodyPartReader,
    MultipartError,
    MultipartReader,
    content_disposition_filename,
    parse_content_disposition,
)

T = TypeVar("T")

BOUNDARY = "----WebKitFormBoundary7MA4YWxkTrZu0gW"
CHUNK_SIZES = [1, 3, 7, 64, 4096]


# -- helpers ------------------------------------------------------------------------------------


def run(fn: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(fn())  # type: ignore[arg-type]


async def _produce(stream: BodyStream, data: bytes, size: int) -> None:
    """Feed ``data`` in ``size``-byte pieces, letting the reader run between pieces."""
    for start in range(0, len(data), size):
        stream.feed_data(data[start : start + size])
        await asyncio.sleep(0)
    stream.feed_eof()


def fed_stream(data: bytes, size: int = 4096) -> BodyStream:
    """A stream that already holds all of ``data`` in ``size``-byte pieces."""
    stream = BodyStream()
    for start in range(0, len(data), size):
        stream.feed_data(data[start : start + size])
    stream.feed_eof()
    return stream


def headers_for(boundary: str = BOUNDARY, subtype: str = "form-data") -> dict[str, str]:
    return {"Content-Type": f"multipart/{subtype}; boundary={boundary}"}


def build(parts: list[tuple[list[str], bytes]], boundary: str = BOUNDARY) -> bytes:
    """A body from (header lines, data) pairs."""
    out = bytearray()
    for head, data in parts:
        out += f"--{boundary}\r\n".encode()
        for line in head:
            out += line.encode() + b"\r\n"
        out += b"\r\n" + data + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out)


Parsed = list[tuple[CIMultiDictProxy[str], Any]]


async def collect(reader: MultipartReader) -> Parsed:
    """Every part's headers and data (a nested list for a nested multipart)."""
    parts: Parsed = []
    async for part in reader:
        if isinstance(part, MultipartReader):
            parts.append((part.headers, await collect(part)))  # type: ignore[arg-type]
        else:
            parts.append((part.headers, bytes(await part.read())))
    assert reader.at_eof()
    assert await reader.next() is None
    return parts


def parse(
    body: bytes, headers: dict[str, str] | None = None, size: int = 4096, decode: bool = False
) -> list[tuple[str | None, str | None, bytes]]:
    """(name, filename, data) of each top-level part, with ``body`` fed in ``size`` pieces."""

    async def main() -> list[tuple[str | None, str | None, bytes]]:
        stream = BodyStream()
        producer = asyncio.create_task(_produce(stream, body, size))
        reader = MultipartReader(headers or headers_for(), stream)
        out = []
        while (part := await reader.next()) is not None:
            assert isinstance(part, BodyPartReader)
            out.append((part.name, part.filename, bytes(await part.read(decode=decode))))
        await producer
        return out

    return run(main)


# -- basic parsing ------------------------------------------------------------------------------

FORM_BODY = build(
    [
        (['Content-Disposition: form-data; name="title"'], b"Hello"),
        (['Content-Disposition: form-data; name="empty"'], b""),
        (['Content-Disposition: form-data; name="multi"'], b"line 1\r\nline 2\r\n"),
        (
            [
                'Content-Disposition: form-data; name="upload"; filename="notes.txt"',
                "Content-Type: text/plain",
            ],
            b"file contents\r\n\r\nwith blank lines\n",
        ),
    ]
)

FORM_EXPECTED = [
    ("title", None, b"Hello"),
    ("empty", None, b""),
    ("multi", None, b"line 1\r\nline 2\r\n"),
    ("upload", "notes.txt", b"file contents\r\n\r\nwith blank lines\n"),
]


@pytest.mark.parametrize("size", CHUNK_SIZES)
def test_fields_and_file(size: int) -> None:
    assert parse(FORM_BODY, size=size) == FORM_EXPECTED


@pytest.mark.parametrize("size", CHUNK_SIZES)
def test_prefed_stream(size: int) -> None:
    async def main() -> Parsed:
        return await collect(MultipartReader(headers_for(), fed_stream(FORM_BODY, size)))

    parts = run(main)
    assert [data for _, data in parts] == [data for _, _, data in FORM_EXPECTED]
    assert parts[3][0]["content-type"] == "text/plain"


def test_headers_are_a_case_insensitive_multidict() -> None:
    body = build([(["X-A: 1", "x-a: 2", "Content-Type:text/plain;charset=latin-1"], b"\xe9")])

    async def main() -> None:
        reader = MultipartReader(headers_for(subtype="mixed"), fed_stream(body))
        part = await reader.next()
        assert isinstance(part, BodyPartReader)
        assert isinstance(part.headers, CIMultiDictProxy)
        assert part.headers.getall("X-A") == ["1", "2"]
        assert part.name is None
        assert part.filename is None
        assert part.get_charset("utf-8") == "latin-1"
        assert await part.text() == "é"

    run(main)


def test_lowercase_request_header_mapping() -> None:
    headers = {"content-type": f"multipart/form-data; boundary={BOUNDARY}"}
    assert parse(FORM_BODY, headers) == FORM_EXPECTED


@pytest.mark.parametrize(
    "boundary",
    ["simple", "with space", "a:b=c?d'(e)+_,-./f", "=====1234==", "x" * 70, "1"],
)
def test_quoted_boundary(boundary: str) -> None:
    body = build([(['Content-Disposition: form-data; name="a"'], b"value")], boundary)
    headers = {"Content-Type": f'multipart/form-data; charset=utf-8; boundary="{boundary}"'}
    assert parse(body, headers, size=3) == [("a", None, b"value")]


def test_unquoted_boundary_with_trailing_params() -> None:
    body = build([(['Content-Disposition: form-data; name="a"'], b"v")], "abc")
    headers = {"Content-Type": "Multipart/Form-Data ; boundary=abc ; foo=bar"}
    assert parse(body, headers) == [("a", None, b"v")]


# -- delimiters in awkward places ---------------------------------------------------------------

TRICKY_DATA = (
    f"x--{BOUNDARY}\r\n"  # a boundary not at the start of a line is data
    f"x\r\n--{BOUNDARY}X\r\n"  # longer boundary
    f"\r\n--{BOUNDARY}-\r\n"  # one dash
    f"\r\n--{BOUNDARY}--x\r\n"  # close delimiter followed by data
    f"\r\n--{BOUNDARY} \tz\r\n"  # padding then data
    f"\r\n--{BOUNDARY}\n"  # LF only after the boundary
    f"\r\n--{BOUNDARY}.\n"
    f"\r\n--{BOUNDARY[:-1]}\r\n"  # a prefix of the boundary
    f"\n--{BOUNDARY}\r\n"  # LF only
    f"\r--{BOUNDARY}\r\n"  # CR only
    "\r\n-\r\n--\r\n\r\r\n\r\n"
).encode()


@pytest.mark.parametrize("size", CHUNK_SIZES)
def test_boundary_prefixes_inside_data(size: int) -> None:
    body = build(
        [
            (['Content-Disposition: form-data; name="a"'], TRICKY_DATA),
            (['Content-Disposition: form-data; name="b"'], TRICKY_DATA + b"\r"),
            (['Content-Disposition: form-data; name="c"'], b"\r\n" + TRICKY_DATA + b"\r\n"),
        ]
    )
    assert parse(body, size=size) == [
        ("a", None, TRICKY_DATA),
        ("b", None, TRICKY_DATA + b"\r"),
        ("c", None, b"\r\n" + TRICKY_DATA + b"\r\n"),
    ]


@pytest.mark.parametrize("size", CHUNK_SIZES)
def test_boundary_split_across_chunks(size: int) -> None:
    # Vary the data length so that the delimiter falls at every offset of a piece.
    parts = [
        ([f'Content-Disposition: form-data; name="f{n}"'], bytes(range(n % 256)) * (n // 7 + 1))
        for n in range(40)
    ]
    expected = [(f"f{n}", None, data) for n, ((_,), data) in enumerate(parts)]
    assert parse(build(parts), size=size) == expected


@pytest.mark.parametrize("size", CHUNK_SIZES)
def test_transport_padding_after_boundaries(size: int) -> None:
    body = (
        f"--{BOUNDARY} \t \r\n"
        'Content-Disposition: form-data; name="a"\r\n\r\n'
        f"one\r\n--{BOUNDARY}  \r\n"
        'Content-Disposition: form-data; name="b"\r\n\r\n'
        f"two\r\n--{BOUNDARY}-- \t"
    ).encode()
    assert parse(body, size=size) == [("a", None, b"one"), ("b", None, b"two")]


def test_close_delimiter_without_crlf_at_end_of_body() -> None:
    body = FORM_BODY.removesuffix(b"\r\n")
    assert parse(body, size=1) == FORM_EXPECTED


@pytest.mark.parametrize("size", [1, 5, 4096])
def test_preamble_and_epilogue_are_ignored(size: int) -> None:
    body = (
        b"This is the preamble.\r\nIt mentions --"
        + BOUNDARY.encode()
        + b"X and is ignored.\r\n"
        + FORM_BODY
        + b"This is the epilogue.\r\n--"
        + BOUNDARY.encode()
        + b"\r\nstill epilogue\r\n"
    )
    assert parse(body, size=size) == FORM_EXPECTED


def test_only_close_delimiter() -> None:
    assert parse(f"preamble\r\n--{BOUNDARY}--\r\n".encode()) == []


@pytest.mark.parametrize("size", [1, 3, 4096])
def test_empty_parts(size: int) -> None:
    body = (
        f"--{BOUNDARY}\r\n"
        'Content-Disposition: form-data; name="no-body"\r\n'
        "\r\n"  # end of headers, then directly the next delimiter: no [CRLF *OCTET] at all
        f"--{BOUNDARY}\r\n"
        'Content-Disposition: form-data; name="empty-body"\r\n'
        "\r\n"
        "\r\n"  # an empty body
        f"--{BOUNDARY}\r\n"
        "\r\n"  # no headers, empty body
        f"\r\n--{BOUNDARY}\r\n"
        "\r\n"  # no headers, no body
        f"--{BOUNDARY}\r\n"
        "\r\n"
        "only-data"
        f"\r\n--{BOUNDARY}--"
    ).encode()
    assert parse(body, size=size) == [
        ("no-body", None, b""),
        ("empty-body", None, b""),
        (None, None, b""),
        (None, None, b""),
        (None, None, b"only-data"),
    ]


def test_empty_part_read_apis() -> None:
    body = build([(['Content-Disposition: form-data; name="e"'], b"")] * 5)

    async def main() -> None:
        reader = MultipartReader(headers_for(), fed_stream(body, 1))
        parts = []
        async for part in reader:
            assert isinstance(part, BodyPartReader)
            parts.append(part)
            if len(parts) == 1:
                assert await part.read_chunk() == b""
            elif len(parts) == 2:
                assert await part.readline() == b""
            elif len(parts) == 3:
                assert await part.json() is None
                assert await part.form() == []
            elif len(parts) == 4:
                assert [chunk async for chunk in part] == []
            assert part.at_eof() or len(parts) == 5
        assert len(parts) == 5

    run(main)


# -- encodings ----------------------------------------------------------------------------------

BINARY = bytes(range(256)) * 40 + b"tail"


@pytest.mark.parametrize("size", [1, 7, 4096])
def test_base64_transfer_encoding(size: int) -> None:
    encoded = base64.encodebytes(BINARY)  # lines of 76 characters
    body = build(
        [
            (
                [
                    'Content-Disposition: form-data; name="f"; filename="b.bin"',
                    "Content-Transfer-Encoding: BASE64",
                ],
                encoded,
            )
        ]
    )
    assert parse(body, size=size) == [("f", "b.bin", encoded)]
    assert parse(body, size=size, decode=True) == [("f", "b.bin", BINARY)]


@pytest.mark.parametrize("chunk", [1, 3, 5, 77, 1000])
def test_base64_chunks_decode_one_by_one(chunk: int) -> None:
    encoded = base64.encodebytes(BINARY)
    body = build([(["Content-Transfer-Encoding: base64"], encoded)])

    async def main() -> bytes:
        reader = MultipartReader(headers_for(), fed_stream(body, 13))
        part = await reader.next()
        assert isinstance(part, BodyPartReader)
        out = bytearray()
        while data := await part.read_chunk(chunk):
            out += part.decode(data)
        return bytes(out)

    assert run(main) == BINARY


@pytest.mark.parametrize("chunk", [1, 2, 3, 10, 8192])
def test_quoted_printable_transfer_encoding(chunk: int) -> None:
    text = "Grüße, naïve café = 100% — " * 20 + "end"
    encoded = binascii.b2a_qp(text.encode("utf-8"))  # soft line breaks and =XX escapes
    assert b"=\n" in encoded
    encoded = encoded.replace(b"\n", b"\r\n")
    body = build(
        [
            (
                [
                    "Content-Type: text/plain; charset=utf-8",
                    "Content-Transfer-Encoding: quoted-printable",
                ],
                encoded,
            )
        ]
    )

    async def main() -> tuple[str, bytes]:
        reader = MultipartReader(headers_for(subtype="mixed"), fed_stream(body, 5))
        first = await reader.next()
        assert isinstance(first, BodyPartReader)
        whole = await first.text()
        reader = MultipartReader(headers_for(subtype="mixed"), fed_stream(body, 5))
        part = await reader.next()
        assert isinstance(part, BodyPartReader)
        pieces = bytearray()
        while data := await part.read_chunk(chunk):
            pieces += part.decode(data)
        return whole, bytes(pieces)

    whole, pieces = run(main)
    assert whole == text
    assert pieces.decode() == text


@pytest.mark.parametrize("cte", ["binary", "8bit", "7bit", ""])
def test_identity_transfer_encodings(cte: str) -> None:
    body = build([([f"Content-Transfer-Encoding: {cte}"], b"abc\x00\xff")])
    assert parse(body, decode=True) == [(None, None, b"abc\x00\xff")]


def _deflate_raw(data: bytes) -> bytes:
    compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


@pytest.mark.parametrize(
    ("encoding", "compress"),
    [
        ("gzip", gzip.compress),
        ("x-gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("deflate", _deflate_raw),
        ("identity", lambda data: data),
    ],
)
def test_content_encoding(encoding: str, compress: Callable[[bytes], bytes]) -> None:
    payload = json.dumps({"items": list(range(500))}).encode()
    body = build(
        [
            (
                ["Content-Type: application/json", f"Content-Encoding: {encoding}"],
                compress(payload),
            )
        ]
    )

    async def main() -> Any:
        reader = MultipartReader(headers_for(subtype="mixed"), fed_stream(body, 3))
        part = await reader.next()
        assert isinstance(part, BodyPartReader)
        return await part.json()

    assert run(main) == {"items": list(range(500))}


def test_gzip_with_base64_transfer_encoding() -> None:
    payload = b"compressed and then base64-encoded " * 50
    body = build(
        [
            (
                ["Content-Encoding: gzip", "Content-Transfer-Encoding: base64"],
                base64.encodebytes(gzip.compress(payload)),
            )
        ]
    )
    assert parse(body, headers_for(subtype="mixed"), size=7, decode=True) == [(None, None, payload)]


def test_content_encoding_is_ignored_in_form_data() -> None:
    # RFC 7578 §4.8: header fields other than Content-Type, Content-Disposition and
    # Content-Transfer-Encoding MUST be ignored in multipart/form-data.
    data = gzip.compress(b"payload")
    body = build([(['Content-Disposition: form-data; name="g"', "Content-Encoding: gzip"], data)])
    assert parse(body, decode=True) == [("g", None, data)]


@pytest.mark.parametrize(
    ("headers", "data"),
    [
        (["Content-Transfer-Encoding: uuencode"], b"x"),
        (["Content-Encoding: br"], b"x"),
        (["Content-Encoding: gzip"], b"not gzip"),
        (["Content-Encoding: gzip"], gzip.compress(b"truncated" * 100)[:-10]),
        (["Content-Transfer-Encoding: base64"], b"abc"),
        (["Content-Type: text/plain; charset=no-such-charset"], b"x"),
    ],
)
def test_bad_encodings_raise_multipart_error(headers: list[str], data: bytes) -> None:
    body = build([(headers, data)])

    async def main() -> None:
        reader = MultipartReader(headers_for(subtype="mixed"), fed_stream(body))
        part = await reader.next()
        assert isinstance(part, BodyPartReader)
        await part.text()

    with pytest.raises(MultipartError):
        run(main)


def test_charset_field_sets_default_charset() -> None:
    body = build(
        [
            (['Content-Disposition: form-data; name="_charset_"'], b"iso-8859-1"),
            (['Content-Disposition: form-data; name="a"'], "é".encode("latin-1")),
            (
                [
                    'Content-Disposition: form-data; name="b"',
                    "Content-Type: text/plain; charset=utf-8",
                ],
                "é".encode(),
            ),
        ]
    )

    async def main() -> list[str]:
        reader = MultipartReader(headers_for(), fed_stream(body, 2))
        texts = []
        async for part in reader:
            assert isinstance(part, BodyPartReader)
            assert part.name != "_charset_"
            texts.append(await part.text())
        return texts

    assert run(main) == ["é", "é"]


# -- Content-Disposition ------------------------------------------------------------------------


def test_filename_star_wins_over_filename() -> None:
    body = build(
        [
            (
                [
                    'Content-Disposition: form-data; name="doc"; filename="fallback.txt"; '
                    "filename*=UTF-8''%E2%82%AC%20rates%3B%20na%C3%AFve.txt"
                ],
                b"x",
            ),
            (['Content-Disposition: form-data; name="raw"; filename="Grüße.txt"'], b"y"),
        ]
    )
    assert parse(body, size=3) == [
        ("doc", "€ rates; naïve.txt", b"x"),
        ("raw", "Grüße.txt", b"y"),
    ]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, (None, {})),
        ("", (None, {})),
        ("inline", ("inline", {})),
        ("ATTACHMENT; FileName=a.txt", ("attachment", {"filename": "a.txt"})),
        (
            'form-data; name="a;b"; filename="x \\"y\\" z.txt"',
            ("form-data", {"name": "a;b", "filename": 'x "y" z.txt'}),
        ),
        ('form-data; filename="C:\\dir\\f.txt"', ("form-data", {"filename": "C:\\dir\\f.txt"})),
        ("form-data; name=a;", ("form-data", {"name": "a"})),
        ("form-data; junk; name=a", ("form-data", {"name": "a"})),
        (
            "attachment; filename*=iso-8859-1'en'%A3%20rates",
            ("attachment", {"filename*": "£ rates"}),
        ),
        ("attachment; filename*=''plain", ("attachment", {"filename*": "plain"})),
        ("attachment; filename*=no-such-charset''x; filename=y", ("attachment", {"filename": "y"})),
        ("attachment; filename*=UTF-8''%FF; filename=y", ("attachment", {"filename": "y"})),
        ("attachment; filename*=noquotes", ("attachment", {})),
        ('form-data; name="a"; name="b"', (None, {})),
        ('form-data; name="unclosed', (None, {})),
        ('"quoted"; name=a', (None, {})),
    ],
)
def test_parse_content_disposition(
    header: str | None, expected: tuple[str | None, dict[str, str]]
) -> None:
    assert parse_content_disposition(header) == expected


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ('attachment; filename="a.txt"', "a.txt"),
        ("attachment; filename*=UTF-8''%C3%A9.txt; filename=\"e.txt\"", "é.txt"),
        ('attachment; filename*0="long "; filename*1="name.txt"', "long name.txt"),
        ("attachment; filename*0*=UTF-8''%C3; filename*1*=%A9; filename*2=.txt", "é.txt"),
        ("attachment; filename*1=b; filename*0=a", "ab"),
        ("attachment; filename*0*=bad; filename=ok", "ok"),
        ("attachment; filename*1=only-second", None),
        ("attachment", None),
    ],
)
def test_content_disposition_filename(header: str, expected: str | None) -> None:
    _, params = parse_content_disposition(header)
    assert content_disposition_filename(params) == expected


def test_content_disposition_name_parameter() -> None:
    _, params = parse_content_disposition("form-data; name*=UTF-8''%C3%A9")
    assert content_disposition_filename(params, "name") == "é"
    assert content_disposition_filename({}, "name") is None


# -- nested multipart ---------------------------------------------------------------------------

INNER = "inner-boundary"
NESTED_BODY = (
    f"--{BOUNDARY}\r\n"
    'Content-Disposition: form-data; name="field"\r\n'
    "\r\n"
    "value\r\n"
    f"--{BOUNDARY}\r\n"
    'Content-Disposition: form-data; name="files"\r\n'
    f"Content-Type: multipart/mixed; boundary={INNER}\r\n"
    "\r\n"
    "inner preamble\r\n"
    f"--{INNER}\r\n"
    'Content-Disposition: file; filename="one.txt"\r\n'
    "\r\n"
    f"first file\r\n--{BOUNDARY}X\r\n"
    f"--{INNER}\r\n"
    'Content-Disposition: file; filename="two.bin"\r\n'
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "AAEC\r\n"
    f"--{INNER}--\r\n"
    "inner epilogue\r\n"
    f"--{BOUNDARY}\r\n"
    'Content-Disposition: form-data; name="after"\r\n'
    "\r\n"
    "done\r\n"
    f"--{BOUNDARY}--\r\n"
).encode()


@pytest.mark.parametrize("size", CHUNK_SIZES)
def test_nested_multipart_mixed(size: int) -> None:
    async def main() -> None:
        stream = BodyStream()
        producer = asyncio.create_task(_produce(stream, NESTED_BODY, size))
        reader = MultipartReader(headers_for(), stream)
        field = await reader.next()
        assert isinstance(field, BodyPartReader)
        assert await field.text() == "value"
        files = await reader.next()
        assert isinstance(files, MultipartReader)
        assert files.headers["Content-Disposition"] == 'form-data; name="files"'
        one = await files.next()
        assert isinstance(one, BodyPartReader)
        assert one.filename == "one.txt"
        assert await one.read() == f"first file\r\n--{BOUNDARY}X".encode()
        two = await files.next()
        assert isinstance(two, BodyPartReader)
        assert (two.filename, bytes(await two.read(decode=True))) == ("two.bin", b"\x00\x01\x02")
        assert await files.next() is None
        assert files.at_eof()
        after = await reader.next()
        assert isinstance(after, BodyPartReader)
        assert (after.name, await after.text()) == ("after", "done")
        assert await reader.next() is None
        await producer

    run(main)


@pytest.mark.parametrize("size", [1, 4096])
def test_unread_nested_multipart_is_skipped(size: int) -> None:
    async def main() -> list[str | None]:
        reader = MultipartReader(headers_for(), fed_stream(NESTED_BODY, size))
        names: list[str | None] = []
        inner = None
        async for part in reader:
            if isinstance(part, MultipartReader):
                inner = await part.next()  # start reading it, then leave it
                assert isinstance(inner, BodyPartReader)
                assert await inner.read_chunk(3) == b"fir"
                names.append("nested")
                continue
            names.append(part.name)
        # Parts left behind read as finished instead of consuming the stream.
        assert isinstance(inner, BodyPartReader)
        assert await inner.read() == b""
        assert isinstance(part, BodyPartReader)
        assert await part.next() is None
        return names

    assert run(main) == ["field", "nested", "after"]


@pytest.mark.parametrize("size", [1, 4096])
def test_parts_never_read_are_skipped(size: int) -> None:
    async def main() -> list[str]:
        reader = MultipartReader(headers_for(), fed_stream(NESTED_BODY, size))
        return [type(part).__name__ async for part in reader]

    assert run(main) == ["BodyPartReader", "MultipartReader", "BodyPartReader"]


def test_collect_nested() -> None:
    async def main() -> Parsed:
        return await collect(MultipartReader(headers_for(), fed_stream(NESTED_BODY, 11)))

    parts = run(main)
    assert [data if isinstance(data, bytes) else [d for _, d in data] for _, data in parts] == [
        b"value",
        [f"first file\r\n--{BOUNDARY}X".encode(), b"AAEC"],
        b"done",
    ]


# -- reading APIs -------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [1, 4096])
def test_readline(size: int) -> None:
    data = b"first\r\nsecond\nthird\r\n\r\nlast"
    body = build([([], data), ([], data + b"\r\n")])

    async def main() -> list[list[bytes]]:
        reader = MultipartReader(headers_for(), fed_stream(body, size))
        out = []
        async for part in reader:
            assert isinstance(part, BodyPartReader)
            lines = []
            while line := await part.readline():
                lines.append(line)
            out.append(lines)
        return out

    first, second = run(main)
    assert first == [b"first\r\n", b"second\n", b"third\r\n", b"\r\n", b"last"]
    assert second == [*first[:-1], b"last\r\n"]


def test_text_json_form() -> None:
    body = build(
        [
            (["Content-Type: text/plain; charset=utf-16"], "héllo".encode("utf-16")),
            (["Content-Type: application/json"], b'{"a": [1, 2, null]}'),
            (
                ["Content-Type: application/x-www-form-urlencoded"],
                b"a=1&b=%C3%A9&empty=&a=2\r\n",
            ),
            ([], "£".encode("latin-1")),
        ]
    )

    async def main() -> None:
        reader = MultipartReader(headers_for(subtype="mixed"), fed_stream(body, 5))
        text = await reader.next()
        assert isinstance(text, BodyPartReader)
        assert await text.text() == "héllo"
        data = await reader.next()
        assert isinstance(data, BodyPartReader)
        assert await data.json() == {"a": [1, 2, None]}
        form = await reader.next()
        assert isinstance(form, BodyPartReader)
        assert await form.form() == [("a", "1"), ("b", "é"), ("empty", ""), ("a", "2")]
        latin = await reader.next()
        assert isinstance(latin, BodyPartReader)
        assert await latin.text(encoding="latin-1") == "£"
        assert await reader.next() is None

    run(main)


def test_async_iteration_over_chunks_and_release() -> None:
    big = bytes(random.Random(1).randbytes(50_000))
    body = build([([], big), (['Content-Disposition: form-data; name="skip"'], big), ([], b"z")])

    async def main() -> None:
        reader = MultipartReader(headers_for(), fed_stream(body, 1000))
        first = await reader.next()
        assert isinstance(first, BodyPartReader)
        chunks = [chunk async for chunk in first]
        assert all(0 < len(chunk) <= BodyPartReader.chunk_size for chunk in chunks)
        assert b"".join(chunks) == big
        assert first.at_eof()
        second = await reader.next()
        assert isinstance(second, BodyPartReader)
        assert await second.read_chunk(10) == big[:10]
        await second.release()
        assert second.at_eof()
        assert await second.read() == b""
        third = await reader.next()
        assert isinstance(third, BodyPartReader)
        assert await third.next() == b"z"
        assert await third.next() is None
        await reader.release()
        assert reader.at_eof()
        assert await reader.next() is None

    run(main)


def test_release_whole_reader() -> None:
    async def main() -> None:
        stream = fed_stream(NESTED_BODY + b"epilogue", 9)
        reader = MultipartReader(headers_for(), stream)
        await reader.release()
        assert reader.at_eof()
        assert await reader.next() is None

    run(main)


def test_body_part_reader_on_its_own() -> None:
    async def main() -> bytes:
        stream = fed_stream(b"data\r\n--xyz--\r\n", 2)
        part = BodyPartReader(b"--xyz", {"Content-Type": "text/plain"}, stream)
        assert part.headers["content-type"] == "text/plain"
        return bytes(await part.read())

    assert run(main) == b"data"


def test_read_chunk_rejects_non_positive_size() -> None:
    async def main() -> None:
        reader = MultipartReader(headers_for(), fed_stream(FORM_BODY))
        part = await reader.next()
        assert isinstance(part, BodyPartReader)
        await part.read_chunk(0)

    with pytest.raises(ValueError, match="positive"):
        run(main)


def test_header_folding_and_encoding() -> None:
    body = (
        build(
            [
                (
                    [
                        "Content-Disposition: form-data;",
                        '\tname="folded"',
                        "X-Latin: caf@",  # "@" becomes a raw Latin-1 byte below
                        "X-Utf8: caf@@",  # "@@" becomes UTF-8 below
                    ],
                    b"v",
                )
            ]
        )
        .replace(b"@@", "é".encode())
        .replace(b"@", b"\xe9")
    )

    async def main() -> BodyPartReader:
        reader = MultipartReader(headers_for(), fed_stream(body, 1))
        part = await reader.next()
        assert isinstance(part, BodyPartReader)
        return part

    part = run(main)
    assert part.name == "folded"
    assert part.headers["X-Latin"] == "café"
    assert part.headers["X-Utf8"] == "café"


# -- bounded memory -----------------------------------------------------------------------------


class _Flow:
    """Records the stream's pause/resume calls, as a connection would act on them."""

    def __init__(self) -> None:
        self.resumed = asyncio.Event()
        self.pauses = 0

    def pause_reading(self) -> None:
        self.pauses += 1
        self.resumed.clear()

    def resume_reading(self) -> None:
        self.resumed.set()


def test_read_chunk_streams_a_large_file_with_bounded_buffering() -> None:
    size = 1024 * 1024
    data = random.Random(7).randbytes(size)
    # Put boundary-like sequences inside the data too.
    data = data[: size // 2] + f"\r\n--{BOUNDARY}X".encode() + data[size // 2 :]
    head = (
        f"--{BOUNDARY}\r\n"
        'Content-Disposition: form-data; name="file"; filename="big.bin"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    body = head + data + f"\r\n--{BOUNDARY}--\r\n".encode()

    async def main() -> tuple[bytes, int, int, int]:
        flow = _Flow()
        stream = BodyStream(flow, high_water=32 * 1024, low_water=8 * 1024)
        max_buffered = 0

        async def produce() -> None:
            nonlocal max_buffered
            for start in range(0, len(body), 5000):
                stream.feed_data(body[start : start + 5000])
                max_buffered = max(max_buffered, stream.buffered)
                if stream.paused:
                    await flow.resumed.wait()  # what the connection does: stop reading
            stream.feed_eof()

        producer = asyncio.create_task(produce())
        reader = MultipartReader(headers_for(), stream)
        part = await reader.next()
        assert isinstance(part, BodyPartReader)
        assert part.filename == "big.bin"
        received = bytearray()
        held_max = 0
        while chunk := await part.read_chunk(8192):
            assert len(chunk) <= 8192
            received += chunk
            pulled = stream.total_bytes - stream.buffered
            held_max = max(held_max, pulled - len(head) - len(received))
        assert await reader.next() is None
        await producer
        return bytes(received), held_max, max_buffered, flow.pauses

    received, held_max, max_buffered, pauses = run(main)
    assert received == data
    # The reader holds at most one chunk plus the delimiter and its look-ahead.
    assert held_max <= 8192 + len(BOUNDARY) + 100
    # The stream applied backpressure and never buffered much: the file was streamed.
    assert pauses > 0
    assert max_buffered <= 32 * 1024 + 5000


# -- malformed input ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Content-Type": "multipart/form-data"},
        {"Content-Type": "multipart/form-data; boundary="},
        {"Content-Type": 'multipart/form-data; boundary=""'},
        {"Content-Type": "multipart/form-data; boundary=a; boundary=b"},
        {"Content-Type": 'multipart/form-data; boundary="unclosed'},
        {"Content-Type": "multipart/form-data; boundary=" + "x" * 71},
        {"Content-Type": 'multipart/form-data; boundary="ends with space "'},
        {"Content-Type": "multipart/form-data; boundary=caf\u00e9"},
        {"Content-Type": "application/x-www-form-urlencoded; boundary=abc"},
        {"Content-Type": "text/plain"},
    ],
)
def test_missing_or_invalid_boundary(headers: dict[str, str]) -> None:
    with pytest.raises(MultipartError):
        MultipartReader(headers, fed_stream(b""))


def _read_everything(
    body: bytes, size: int = 4096, **kwargs: int
) -> Callable[[], Awaitable[Parsed]]:
    async def main() -> Parsed:
        reader = MultipartReader(headers_for(), fed_stream(body, size), **kwargs)
        return await collect(reader)

    return main


@pytest.mark.parametrize("size", [1, 4096])
@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"no boundary at all",
        FORM_BODY[:-4],  # "--boundary" without the closing "--"
        FORM_BODY[:-3],  # "--boundary-" at the very end
        FORM_BODY.replace(f"--{BOUNDARY}--".encode(), f"--{BOUNDARY}".encode()),
        FORM_BODY[: FORM_BODY.index(b"file contents") + 4],  # ends inside a part
        FORM_BODY[: FORM_BODY.index(b"Content-Type: text/plain") + 5],  # ends inside headers
        f"--{BOUNDARY}\r\n".encode(),
        f"--{BOUNDARY}".encode(),
    ],
)
def test_body_ending_before_closing_delimiter(body: bytes, size: int) -> None:
    with pytest.raises(MultipartError):
        run(_read_everything(body, size))


@pytest.mark.parametrize(
    "head",
    [
        ["Content-Disposition form-data"],  # no colon
        ["Bad Name: x"],  # space in name
        [": no name"],
        [" folded first line"],
        ["X-Header: bare\rCR"],
        ["X-Header: bare\nLF"],
        ["X-Header: nul\x00"],
    ],
)
def test_invalid_header_lines(head: list[str]) -> None:
    with pytest.raises(MultipartError, match="header"):
        run(_read_everything(build([(head, b"x")])))


@pytest.mark.parametrize("size", [1, 4096])
def test_oversized_part_headers(size: int) -> None:
    big = ["X-Big: " + "a" * 9000]
    with pytest.raises(MultipartError, match="larger than 8192"):
        run(_read_everything(build([(big, b"x")]), size))
    many_small = [f"X-{n}: {'b' * 90}" for n in range(90)]  # fewer than 100 lines, > 8 KiB
    with pytest.raises(MultipartError, match="larger than 8192"):
        run(_read_everything(build([(many_small, b"x")]), size))
    # a part head that never ends
    endless = f"--{BOUNDARY}\r\nX-Endless: ".encode() + b"c" * 20_000
    with pytest.raises(MultipartError, match="larger than 8192"):
        run(_read_everything(endless, size))


def test_too_many_header_lines() -> None:
    lines = [f"X-{n}: v" for n in range(101)]
    with pytest.raises(MultipartError, match="more than 100 header lines"):
        run(_read_everything(build([(lines, b"x")])))
    assert run(_read_everything(build([(lines[:100], b"x")])))[0][1] == b"x"


def test_head_limits_are_configurable() -> None:
    body = build([(["X-A: 1", "X-B: 2"], b"x")])
    with pytest.raises(MultipartError, match="more than 1 header lines"):
        run(_read_everything(body, max_headers=1))
    with pytest.raises(MultipartError, match="larger than 10 bytes"):
        run(_read_everything(body, max_head_size=10))
    exactly = len("X-A: 1\r\nX-B: 2\r\n")
    assert run(_read_everything(body, max_head_size=exactly))[0][1] == b"x"


def test_nested_part_without_boundary() -> None:
    body = build([(["Content-Type: multipart/mixed"], b"x")])
    with pytest.raises(MultipartError, match="boundary"):
        run(_read_everything(body))


def test_multipart_error_is_a_value_error() -> None:
    assert issubclass(MultipartError, ValueError)


# -- round trips --------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [1, 7, 4096])
def test_round_trip_with_email_package(size: int) -> None:
    message = MIMEMultipart("form-data")
    text = MIMEText("Grüße aus Köln\nzweite Zeile", "plain", "utf-8")
    text.add_header("Content-Disposition", "form-data", name="greeting")
    message.attach(text)
    blob = MIMEApplication(BINARY)  # base64 Content-Transfer-Encoding
    blob.add_header("Content-Disposition", "form-data", name="blob", filename="Größe.bin")
    message.attach(blob)
    inner = MIMEMultipart("mixed")
    inner.attach(MIMEText("inner text", "plain", "us-ascii"))
    inner.add_header("Content-Disposition", "form-data", name="inner")
    message.attach(inner)
    message.preamble = "preamble text"
    message.epilogue = "epilogue text"

    raw = message.as_bytes(policy=policy.HTTP)
    head, _, body = raw.partition(b"\r\n\r\n")
    assert b"boundary=" in head

    async def main() -> None:
        stream = BodyStream()
        producer = asyncio.create_task(_produce(stream, body, size))
        reader = MultipartReader({"Content-Type": message["Content-Type"]}, stream)
        greeting = await reader.next()
        assert isinstance(greeting, BodyPartReader)
        assert greeting.name == "greeting"
        assert await greeting.text() == "Grüße aus Köln\nzweite Zeile"
        blob_part = await reader.next()
        assert isinstance(blob_part, BodyPartReader)
        assert (blob_part.name, blob_part.filename) == ("blob", "Größe.bin")
        assert await blob_part.read(decode=True) == BINARY
        nested = await reader.next()
        assert isinstance(nested, MultipartReader)
        inner_text = await nested.next()
        assert isinstance(inner_text, BodyPartReader)
        assert await inner_text.text() == "inner text"
        assert await nested.next() is None
        assert await reader.next() is None
        await producer

    run(main)


_TRICKY_PIECES = [
    b"\r\n",
    b"\r",
    b"\n",
    b"-",
    b"--",
    b"\r\n--",
    b"\r\n--B0undary",
    b"\r\n--B0undar",
    b"--B0undary",
    b"\r\n--B0undary--",
    b"\r\n--B0undary ",
    b"\r\n--B0undary\r",
    b"\r\n--B0undary-\r\n",
    b"x",
    b"\x00",
    b" ",
]


# A delimiter line as the parser sees one (the body starts after the blank line's CRLF).
_DELIMITER_LINE = re.compile(rb"(?=\r\n--B0undary(?:--)?[ \t]*\r\n)")


def _random_data(rng: random.Random) -> bytes:
    """Random part data full of near-delimiters, but without a real delimiter line."""
    while True:
        data = b"".join(rng.choice(_TRICKY_PIECES) for _ in range(rng.randint(0, 60)))
        if rng.random() < 0.3:
            data += rng.randbytes(rng.randint(0, 3000))
        framed = b"\r\n" + data + b"\r\n--B0undary\r\n"
        if _DELIMITER_LINE.search(framed).start() == len(data) + 2:  # type: ignore[union-attr]
            return data


@pytest.mark.parametrize("seed", range(12))
def test_round_trip_random_bodies(seed: int) -> None:
    rng = random.Random(seed)
    parts: list[tuple[list[str], bytes]] = []
    for _ in range(rng.randint(0, 6)):
        data = _random_data(rng)
        parts.append(([f'Content-Disposition: form-data; name="p{len(parts)}"'], data))
    body = build(parts, "B0undary")
    expected = [(f"p{n}", None, data) for n, (_, data) in enumerate(parts)]
    for size in (1, rng.randint(2, 9), rng.randint(10, 200), 100_000):
        assert parse(body, headers_for("B0undary"), size=size) == expected
