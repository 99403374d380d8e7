"""Runs mypy (strict) on a typed example: AppKey lookups keep their value types."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent


@pytest.mark.timeout(180)
def test_appkey_types_survive_mypy() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-incremental",
            "--hide-error-context",
            str(HERE / "appkey_example.py"),
        ],
        capture_output=True,
        text=True,
        timeout=170,
    )
    out = result.stdout
    # reveal_type is reported as a note; everything else must be clean.
    assert re.search(r'Revealed type is "(builtins\.)?str"', out), out
    errors = [line for line in out.splitlines() if ": error:" in line]
    assert errors == [], out
