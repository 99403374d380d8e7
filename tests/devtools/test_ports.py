"""port_holder names the process listening on a port, with real sockets and processes."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from webkit.devtools import ports
from webkit.devtools.ports import port_holder

pytestmark = pytest.mark.skipif(
    not (Path("/proc/net/tcp").exists() or shutil.which("lsof")),
    reason="neither /proc/net/tcp nor lsof to ask",
)

LISTENER = """
import socket, sys, time
sock = socket.socket()
sock.bind(("127.0.0.1", 0))
sock.listen()
print(sock.getsockname()[1], flush=True)
time.sleep(60)
"""


@pytest.fixture
def listener() -> Iterator[tuple[int, int]]:
    """A child Python process listening on 127.0.0.1: (pid, port)."""
    with subprocess.Popen(
        [sys.executable, "-c", LISTENER], stdout=subprocess.PIPE, text=True
    ) as child:
        try:
            assert child.stdout is not None
            port = int(child.stdout.readline())
            yield child.pid, port
        finally:
            child.kill()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_names_another_process(listener: tuple[int, int]) -> None:
    pid, port = listener
    started = time.perf_counter()
    holder = port_holder(port)
    elapsed = time.perf_counter() - started
    assert holder is not None
    assert holder.endswith(f"(pid {pid})")
    assert "python" in holder.lower()
    assert elapsed < 1  # typically a few milliseconds; generous for loaded CI machines


def test_host_narrows_the_search(listener: tuple[int, int]) -> None:
    pid, port = listener
    for host in ("127.0.0.1", "localhost", "0.0.0.0", "::", "", "example.invalid"):
        assert f"(pid {pid})" in (port_holder(port, host) or ""), host
    assert port_holder(port, "127.0.0.2") is None
    assert port_holder(port, "::1") is None


def test_free_port_has_no_holder() -> None:
    assert port_holder(free_port()) is None


def test_port_out_of_range() -> None:
    assert port_holder(0) is None
    assert port_holder(70000) is None


def test_names_this_process() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        assert port_holder(sock.getsockname()[1]) == port_holder_of_self()


def port_holder_of_self() -> str:
    comm = Path(f"/proc/{os.getpid()}/comm")
    name = comm.read_text().strip() if comm.exists() else ""
    return f"{name} (pid {os.getpid()})" if name else f"pid {os.getpid()}"


def test_bound_but_not_listening_is_no_holder() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        assert port_holder(sock.getsockname()[1]) is None


def test_ipv6_listener() -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    with socket.socket(socket.AF_INET6) as sock:
        try:
            sock.bind(("::1", 0))
        except OSError:
            pytest.skip("no ::1")
        sock.listen()
        port = sock.getsockname()[1]
        assert f"(pid {os.getpid()})" in (port_holder(port) or "")
        assert f"(pid {os.getpid()})" in (port_holder(port, "[::1]") or "")
        assert port_holder(port, "127.0.0.1") is None


def test_wildcard_listener_matches_any_host() -> None:
    with socket.socket() as sock:
        sock.bind(("0.0.0.0", 0))
        sock.listen()
        port = sock.getsockname()[1]
        assert f"(pid {os.getpid()})" in (port_holder(port, "127.0.0.1") or "")


# --- without /proc ---------------------------------------------------------------------------


def test_falls_back_to_lsof_without_proc(
    listener: tuple[int, int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if shutil.which("lsof") is None:
        pytest.skip("no lsof")
    monkeypatch.setattr(ports, "_PROC", tmp_path / "no-proc")
    pid, port = listener
    holder = port_holder(port)
    assert holder is not None
    assert holder.endswith(f"(pid {pid})")
    assert "python" in holder.lower()
    assert port_holder(port, "::1") is None


def test_none_without_proc_or_lsof(
    listener: tuple[int, int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ports, "_PROC", tmp_path / "no-proc")
    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert port_holder(listener[1]) is None


def test_unreadable_processes_give_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The socket is listed but no process can be read: what a user sees for root's daemons.
    proc = tmp_path / "proc"
    (proc / "net").mkdir(parents=True)
    tables = Path("/proc/net")
    if not (tables / "tcp").exists():
        pytest.skip("no /proc/net/tcp")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        (proc / "net" / "tcp").write_text((tables / "tcp").read_text())
        monkeypatch.setattr(ports, "_PROC", proc)
        assert port_holder(sock.getsockname()[1]) is None


@pytest.mark.parametrize(
    ("output", "host", "expected"),
    [
        ("p42\ncnginx\nf6\nn*:8000\n", "", "nginx (pid 42)"),
        ("p42\ncnginx\nf6\nn*:8000\n", "127.0.0.1", "nginx (pid 42)"),
        ("p42\ncnode\nf6\nn127.0.0.1:8000\n", "::1", None),
        ("p42\ncnode\nf6\nn127.0.0.1:8000\np43\ncruby\nf7\nn[::1]:8000\n", "::1", "ruby (pid 43)"),
        ("p42\nf6\nn*:8000\n", "", "pid 42"),
        ("", "", None),
    ],
)
def test_lsof_output(output: str, host: str, expected: str | None) -> None:
    assert ports._parse_lsof(output, ports._wanted_addresses(host)) == expected
