"""The `webkit` command as a real child process."""

from __future__ import annotations

import subprocess
import sys

import webkit


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "webkit", *args], capture_output=True, text=True, timeout=30
    )


def test_version() -> None:
    result = run("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"webkit, version {webkit.__version__}"


def test_help_lists_usage() -> None:
    result = run("--help")
    assert result.returncode == 0
    assert "Usage: webkit" in result.stdout


def test_unknown_command_is_one_line_error() -> None:
    result = run("nosuchcommand")
    assert result.returncode == 2
    assert "No such command 'nosuchcommand'" in result.stderr
    assert "Traceback" not in result.stderr
