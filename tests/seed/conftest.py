"""Fixtures for the seed tests (helpers live in ``seedkit``).

The seed's examples that end in ``web.run_app(app)`` run as written, in a subprocess, with
only the host and port substituted; the rest run in-process through the webkit pytest plugin.
"""

from __future__ import annotations

import asyncio
import os
import sys
import textwrap
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from seedkit import AppProcess, free_port, with_port

StartApp = Callable[..., Awaitable[AppProcess]]


@pytest.fixture
def start_app(tmp_path: Path, webkit_loop: asyncio.AbstractEventLoop) -> Iterator[StartApp]:
    """``await start_app(source)``: run ``source`` (dedented) as a script on a free port.

    Its one ``web.run_app(app...)`` call gets ``host="127.0.0.1", port=PORT`` (also in the
    ``PORT`` environment variable). Waits for the banner unless ``wait=False``; ``env`` adds
    environment variables, ``stdin=True`` gives the script a pipe (`AppProcess.send_line`).
    Processes still alive after the test are killed.
    """
    started: list[AppProcess] = []

    async def start(
        source: str,
        *,
        wait: bool = True,
        env: dict[str, str] | None = None,
        stdin: bool = False,
    ) -> AppProcess:
        port = free_port()
        source = textwrap.dedent(source)
        source = with_port(source, port)
        script = tmp_path / "app.py"
        script.write_text(source, encoding="utf-8")
        env = {**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1", "PORT": str(port)}
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            str(script),
            stdin=asyncio.subprocess.PIPE if stdin else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=str(tmp_path),
            env=env,
        )
        app = AppProcess(proc, port)
        started.append(app)
        if wait:
            await app.wait_serving()
        return app

    yield start
    for app in started:
        if app.proc.returncode is None:
            app.proc.kill()
        # Drain the pipes so the subprocess transport closes (no ResourceWarning).
        webkit_loop.run_until_complete(app.proc.communicate())
