"""Limits: line and field sizes, field count, slow heads, idle keep-alive connections."""

from __future__ import annotations

import select
import time

import pytest

from webkit.http import Limits

SMALL = Limits(max_line_size=100, max_field_size=100, max_headers=5)


def request(target: bytes = b"/", fields: list[bytes] | None = None) -> bytes:
    lines = [b"GET " + target + b" HTTP/1.1", b"Host: t", *(fields or [])]
    return b"\r\n".join(lines) + b"\r\n\r\n"


def send(c, data: bytes, how: str) -> None:
    if how == "whole":
        c.send(data)
    else:
        c.dribble(data, 7)


HOW = pytest.mark.parametrize("how", ["whole", "dribbled"])


# -- sizes ---------------------------------------------------------------------------------


@HOW
def test_target_at_max_line_size_is_accepted(serve, handlers, how):
    server = serve(handlers.info, limits=SMALL)
    target = b"/" + b"a" * 99
    c = server.client()
    send(c, request(target), how)
    assert c.read_response().json()["target"] == target.decode()


@HOW
def test_request_line_over_max_line_size_is_414(serve, handlers, how):
    server = serve(handlers.info, limits=SMALL)
    c = server.client()
    send(c, request(b"/" + b"a" * 100), how)
    resp = c.expect_error(414)
    assert b"100 bytes" in resp.body
    server.assert_serves()


@HOW
@pytest.mark.parametrize(
    ("field", "status"),
    [
        (b"X-Name: " + b"v" * 94, 200),  # name + value == max_field_size
        (b"X-Name: " + b"v" * 95, 431),
        (b"X-" + b"n" * 98 + b": v", 431),
        (b"X-Name:      " + b"v" * 94 + b"    ", 200),  # whitespace around is not counted
    ],
    ids=["at-limit", "value-over", "name-over", "padded-at-limit"],
)
def test_field_size(serve, handlers, how, field, status):
    server = serve(handlers.info, limits=SMALL)
    c = server.client()
    send(c, request(b"/", [field]), how)
    if status == 200:
        resp = c.read_response()
        assert resp.status == 200
        assert c.is_open()
    else:
        resp = c.expect_error(status)
        assert b"100 bytes" in resp.body
        server.assert_serves()


@HOW
@pytest.mark.parametrize(("count", "status"), [(4, 200), (5, 431), (50, 431)])
def test_header_count(serve, handlers, how, count, status):
    server = serve(handlers.info, limits=SMALL)  # max_headers=5, Host included
    c = server.client()
    send(c, request(b"/", [b"X-%d: %d" % (i, i) for i in range(count)]), how)
    if status == 200:
        assert len(c.read_response().json()["headers"]) == count + 1
    else:
        assert b"more than 5 header fields" in c.expect_error(431).body
        server.assert_serves()


def send_until_answered(c, prefix: bytes, filler: bytes, cap: int) -> int:
    """Send ``prefix`` then ``filler`` repeatedly until the server answers; return bytes sent."""
    c.send(prefix)
    sent = len(prefix)
    while sent < cap:
        if select.select([c.sock], [], [], 0.002)[0]:
            return sent
        try:
            c.send(filler)
        except OSError:  # the server closed: its answer is already on the way
            return sent
        sent += len(filler)
    return sent


@pytest.mark.parametrize(
    ("prefix", "status"),
    [
        (b"GET / HTTP/1.1\r\nHost: t\r\nX-Big: ", 431),
        (b"GET / HTTP/1.1\r\nHost: t\r\nX-Big", 431),  # an endless field name
        (b"GET /", 414),
    ],
    ids=["value", "name", "target"],
)
def test_endless_line_in_small_pieces_is_refused_early(serve, handlers, prefix, status):
    limits = Limits(max_line_size=1000, max_field_size=1000)
    server = serve(handlers.info, limits=limits)
    c = server.client()
    sent = send_until_answered(c, prefix, b"a" * 256, cap=4 * 1024 * 1024)
    # Refused soon after the limit, not after buffering everything that was sent.
    assert sent < 64 * 1024
    c.expect_error(status)
    server.assert_serves()


def big_head(fields: int = 90, size: int = 180) -> bytes:
    lines = [b"X-F%03d: %s" % (i, b"v" * size) for i in range(fields)]
    return request(b"/big", lines)


def splits() -> list[object]:
    head = big_head()
    boundary = head.index(b"\r\n", 8100) + 2  # total so far beyond one line's budget
    return [
        pytest.param([head], id="whole"),
        pytest.param([head[:boundary], head[boundary:]], id="at-line-boundary"),
        pytest.param([head[: boundary - 1], head[boundary - 1 :]], id="between-cr-lf"),
        pytest.param([head[:-2], head[-2:]], id="final-crlf-split"),
        pytest.param([head[i : i + 13] for i in range(0, len(head), 13)], id="13-byte-pieces"),
    ]


@pytest.mark.parametrize("pieces", splits())
def test_large_head_of_small_fields_is_accepted_however_it_is_split(serve, handlers, pieces):
    server = serve(handlers.info)  # default limits: 8190 per field, 100 fields
    c = server.client()
    for piece in pieces:
        c.send(piece)
        if len(pieces) < 10:
            time.sleep(0.01)  # let each piece be a read of its own
    info = c.read_response().json()
    assert len(info["headers"]) == 91
    assert len(b"".join(pieces)) > 16_000


def test_padded_field_at_the_limit_arriving_in_pieces_is_accepted(serve, handlers):
    server = serve(handlers.info, limits=SMALL)
    line = b"X-Name:    " + b"v" * 94 + b"      "  # name + value == max_field_size
    head = request(b"/", [line])
    cut = head.index(line) + len(line)
    c = server.client()
    c.send(head[:cut])  # the server sees the whole field line before its CRLF
    time.sleep(0.05)
    c.send(head[cut:])
    assert c.read_response().json()["headers"][1] == ["X-Name", "v" * 94]


def test_body_after_a_split_head_is_not_measured_as_a_header_line(serve, handlers):
    server = serve(handlers.echo, limits=Limits(max_field_size=100))
    body = b"b" * 50_000  # one long "line" without a newline
    head = b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % len(body)
    c = server.client()
    c.send(head[:-2])
    time.sleep(0.02)
    c.send(head[-2:] + body)
    assert c.read_response().body == body


def test_body_then_pipelined_head_in_one_write(serve, handlers):
    server = serve(handlers.info, limits=Limits(max_field_size=100))
    body = b"b" * 50_000
    c = server.client()
    c.send(b"POST /1 HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % len(body))
    time.sleep(0.02)
    c.send(body + b"GET /2 HTTP/1.1\r\nHost: t\r\nX-Partial: abc")
    time.sleep(0.02)
    c.send(b"def\r\n\r\n")
    assert c.read_response().json()["body"] == body.decode()
    assert c.read_response().json()["headers"][1] == ["X-Partial", "abcdef"]


def test_long_target_is_measured_against_the_line_limit_not_the_field_limit(serve, handlers):
    server = serve(handlers.info, limits=Limits(max_line_size=2000, max_field_size=50))
    target = b"/" + b"t" * 1500
    c = server.client()
    c.dribble(request(target), 100)
    assert c.read_response().json()["target"] == target.decode()


# -- time ----------------------------------------------------------------------------------


def test_slow_head_is_answered_408(serve, handlers):
    server = serve(handlers.info, limits=Limits(head_timeout=0.3))
    c = server.client()
    start = time.monotonic()
    c.send(b"GET / HTTP/1.1\r\n")
    for i in range(100):  # a field line every 50 ms: the head never ends
        if select.select([c.sock], [], [], 0.05)[0]:
            break
        try:
            c.send(b"X-%d: slow\r\n" % i)
        except OSError:
            break
    elapsed = time.monotonic() - start
    c.expect_error(408)
    assert 0.3 <= elapsed < 2.0
    server.assert_serves()


def test_head_timeout_does_not_limit_the_body(serve, handlers):
    server = serve(handlers.echo, limits=Limits(head_timeout=0.2))
    c = server.client()
    c.send(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n")
    for byte in b"0123456789":
        time.sleep(0.05)
        c.send(bytes([byte]))
    assert c.read_response().body == b"0123456789"


def test_head_timeout_runs_from_the_first_byte_of_each_head(serve, handlers):
    server = serve(handlers.ok, limits=Limits(head_timeout=0.2, keepalive_timeout=5))
    c = server.client()
    for _ in range(2):
        time.sleep(0.15)  # idle between requests is keep-alive time, not head time
        c.send(b"GET / HTTP/1.1\r\n")
        time.sleep(0.1)
        c.send(b"Host: t\r\n\r\n")
        assert c.read_response().status == 200


def test_idle_keep_alive_connection_is_closed(serve, handlers):
    server = serve(handlers.ok, limits=Limits(keepalive_timeout=0.3))
    c = server.client()
    c.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
    assert c.read_response().status == 200
    start = time.monotonic()
    c.assert_closed()  # closed without a word: there is no request to answer
    assert 0.25 <= time.monotonic() - start < 2.0
    server.assert_serves()


def test_connection_that_never_sends_is_closed_after_the_keep_alive_timeout(serve, handlers):
    server = serve(handlers.ok, limits=Limits(keepalive_timeout=0.3))
    c = server.client()
    start = time.monotonic()
    c.assert_closed()
    assert 0.25 <= time.monotonic() - start < 2.0


def test_keep_alive_timeout_does_not_cut_a_running_handler(serve, handlers):
    server = serve(handlers.sleeping(0.5), limits=Limits(keepalive_timeout=0.15))
    c = server.client()
    c.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
    assert c.read_response().body == b"slept"
    start = time.monotonic()
    c.assert_closed()
    assert time.monotonic() - start >= 0.1


def test_keep_alive_timeout_restarts_after_each_response(serve, handlers):
    server = serve(handlers.ok, limits=Limits(keepalive_timeout=0.3))
    c = server.client()
    for _ in range(4):
        c.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        assert c.read_response().status == 200
        time.sleep(0.15)  # 4 x 0.15 s on one connection: longer than one timeout
    c.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
    assert c.read_response().status == 200


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_line_size": 0},
        {"max_field_size": -1},
        {"max_headers": 0},
        {"max_pipelined": 0},
        {"read_high_water": 10, "read_low_water": 11},
    ],
)
def test_invalid_limits_are_refused(kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        Limits(**kwargs)


def test_limits_are_configurable_and_frozen():
    limits = Limits(max_line_size=10, keepalive_timeout=1.5)
    assert (limits.max_line_size, limits.keepalive_timeout) == (10, 1.5)
    assert limits.max_field_size == Limits().max_field_size
    with pytest.raises(AttributeError):
        limits.max_line_size = 5  # type: ignore[misc]
