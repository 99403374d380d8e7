"""Helpers for the seed tests: a free port, `run_app` scripts in real processes, raw HTTP."""

from __future__ import annotations

import asyncio
import re
import signal
import socket
from collections.abc import Callable
from dataclasses import dataclass, field

BANNER = "======== Running on "


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def with_port(source: str, port: int) -> str:
    """``source`` with its ``web.run_app(x)`` call bound to 127.0.0.1:``port``.

    Only the address changes: the example keeps every other argument it passes.
    """
    pattern = re.compile(r"web\.run_app\((?P<args>[^()]*(?:\([^()]*\))?[^()]*)\)")
    count = 0

    def bind(match: re.Match[str]) -> str:
        nonlocal count
        count += 1
        return f'web.run_app({match.group("args")}, host="127.0.0.1", port={port})'

    result = pattern.sub(bind, source)
    assert count == 1, f"expected one web.run_app(...) call in the example, found {count}"
    return result


def is_banner(line: str) -> bool:
    return line.startswith(BANNER) or line == "(Press CTRL+C to quit)"


@dataclass
class AppProcess:
    """A Python script running ``web.run_app``; its stdout is read line by line."""

    proc: asyncio.subprocess.Process
    port: int
    lines: list[str] = field(default_factory=list)
    times: list[float] = field(default_factory=list)  # loop.time() each line was read
    stderr: str = ""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def readline(self, timeout: float = 15.0) -> str | None:
        """The next stdout line, or None at EOF."""
        assert self.proc.stdout is not None
        raw = await asyncio.wait_for(self.proc.stdout.readline(), timeout)
        if not raw:
            return None
        line = raw.decode().rstrip("\n")
        self.lines.append(line)
        self.times.append(asyncio.get_running_loop().time())
        return line

    def time_of(self, line: str) -> float:
        """When ``line`` was read from the process's stdout."""
        return self.times[self.lines.index(line)]

    def send_line(self, text: str) -> None:
        """Write one line to the process's stdin (started with ``stdin=True``)."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(text.encode() + b"\n")

    async def wait_for(self, text: str, timeout: float = 15.0) -> str:
        """Read stdout until a line containing ``text``; fail if the process ends first."""
        while True:
            line = await self.readline(timeout)
            if line is None:
                await self._collect_stderr()
                raise AssertionError(
                    f"process ended before printing {text!r}; stdout: {self.lines}; "
                    f"stderr: {self.stderr}"
                )
            if text in line:
                return line

    async def wait_serving(self) -> None:
        await self.wait_for(BANNER)
        await self.wait_for("(Press CTRL+C to quit)")

    def send_signal(self, sig: signal.Signals) -> None:
        self.proc.send_signal(sig)

    async def finish(self, timeout: float = 20.0) -> int:
        """Wait for the process to end, reading the rest of stdout and all of stderr."""
        while await self.readline(timeout) is not None:
            pass
        await self._collect_stderr()
        code = await asyncio.wait_for(self.proc.wait(), timeout)
        return code

    async def _collect_stderr(self) -> None:
        assert self.proc.stderr is not None
        self.stderr += (await asyncio.wait_for(self.proc.stderr.read(), 15)).decode()

    @property
    def output(self) -> list[str]:
        """Stdout without run_app's banner lines."""
        return [line for line in self.lines if not is_banner(line)]


# -- raw HTTP -------------------------------------------------------------------------------


@dataclass
class RawResponse:
    status: int
    reason: str
    headers: dict[str, str]
    body: bytes
    version: str = "HTTP/1.1"

    @property
    def text(self) -> str:
        return self.body.decode()


async def connect(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", port)


async def read_head(reader: asyncio.StreamReader, timeout: float = 10.0) -> RawResponse:
    """Read one response head (a 1xx head included)."""
    raw = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
    lines = raw.decode("latin-1").split("\r\n")
    version, status, *reason = lines[0].split(" ", 2)
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    return RawResponse(int(status), reason[0] if reason else "", headers, b"", version)


async def read_response(
    reader: asyncio.StreamReader, *, head: bool = False, timeout: float = 10.0
) -> RawResponse:
    """Read one final response (skipping nothing: a 1xx is returned as it comes)."""
    response = await read_head(reader, timeout)
    if head or response.status < 200 or response.status in (204, 304):
        return response
    headers = response.headers
    if headers.get("transfer-encoding", "").lower() == "chunked":
        parts = []
        while True:
            size_line = await asyncio.wait_for(reader.readuntil(b"\r\n"), timeout)
            size = int(size_line.split(b";")[0], 16)
            chunk = await asyncio.wait_for(reader.readexactly(size + 2), timeout)
            if size == 0:
                break
            parts.append(chunk[:-2])
        response.body = b"".join(parts)
    elif "content-length" in headers:
        length = int(headers["content-length"])
        response.body = await asyncio.wait_for(reader.readexactly(length), timeout)
    else:
        response.body = await asyncio.wait_for(reader.read(), timeout)
    return response


async def is_closed(reader: asyncio.StreamReader, timeout: float = 5.0) -> bool:
    """True if the server closes the connection (EOF or reset) within ``timeout``."""
    try:
        data = await asyncio.wait_for(reader.read(1), timeout)
    except (ConnectionResetError, BrokenPipeError):
        return True
    except TimeoutError:
        return False
    return data == b""


async def close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    try:
        await writer.wait_closed()
    except (ConnectionResetError, BrokenPipeError):
        pass


async def poll(predicate: Callable[[], bool], timeout: float = 5.0, step: float = 0.01) -> None:
    """Wait until ``predicate()`` is true (instead of sleeping a fixed time)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {timeout} s: {predicate}")
        await asyncio.sleep(step)
