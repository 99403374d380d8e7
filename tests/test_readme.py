"""The README's two set-up commands are what CI and a new user actually run."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def sh_blocks(text: str) -> list[str]:
    return [block.strip() for block in re.findall(r"```sh\n(.*?)```", text, re.S)]


def test_ci_runs_the_readme_test_command() -> None:
    blocks = sh_blocks((ROOT / "README.md").read_text())
    assert len(blocks) >= 2, "README must show the demo command and the test command"
    test_command = blocks[1]
    assert "pytest" in test_command
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert test_command in ci_lines


def test_demo_command_names_an_existing_app() -> None:
    demo = sh_blocks((ROOT / "README.md").read_text())[0]
    paths = re.findall(r"(examples/\S+\.py)", demo)
    assert paths, demo
    assert all((ROOT / path).is_file() for path in paths)
