"""The rooms of design.md §1 import one way only: checked in fresh interpreters."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


def loaded_after(code: str) -> set[str]:
    script = f"{code}\nimport sys, json\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def roots(modules: set[str]) -> set[str]:
    return {name.split(".")[0] for name in modules} | {
        ".".join(name.split(".")[:2]) for name in modules if name.startswith("webkit.")
    }


@pytest.mark.parametrize(
    ("code", "forbidden"),
    [
        (
            "import webkit.http",
            {"webkit.web", "webkit.cli", "webkit.devtools", "yarl", "click", "rich"},
        ),
        ("import webkit.web", {"webkit.cli", "webkit.devtools", "click", "rich", "watchfiles"}),
        ("import webkit.testing", {"webkit.cli", "webkit.devtools", "click", "rich"}),
        ("import webkit", {"webkit.web", "webkit.http", "yarl", "click"}),
        ("import webkit.devtools.child_main", {"click", "rich", "watchfiles", "webkit.cli"}),
        (
            "import webkit.devtools.appref, webkit.devtools.supervisor",
            {"click", "rich", "webkit.cli"},
        ),
    ],
)
def test_room_does_not_load_rooms_above(code: str, forbidden: set[str]) -> None:
    loaded = roots(loaded_after(code))
    assert not (loaded & forbidden), f"{code!r} loaded {sorted(loaded & forbidden)}"


def test_cli_help_does_not_load_the_framework() -> None:
    code = (
        "import sys; sys.argv = ['webkit', '--help']\n"
        "from webkit.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass"
    )
    loaded = roots(loaded_after(code))
    assert "webkit.web" not in loaded
    assert "webkit.http" not in loaded
    assert "yarl" not in loaded


def test_http_sources_never_import_upper_rooms() -> None:
    from pathlib import Path

    import webkit.http

    root = Path(webkit.http.__file__).parent
    bad = []
    for path in root.rglob("*.py"):
        for line in path.read_text().splitlines():
            stripped = line.strip()
            if stripped.startswith(("import ", "from ")) and any(
                f" {name}" in stripped
                for name in ("webkit.web", "webkit.cli", "webkit.devtools", "yarl", "click", "rich")
            ):
                bad.append(f"{path.name}: {stripped}")
    assert bad == []


def test_json_roundtrip_helper() -> None:
    # The helper itself must see modules, or every check above would pass vacuously.
    assert "json" in loaded_after("import json")
    assert "webkit.http" in roots(loaded_after("import webkit.http"))
    assert json.loads("[1]") == [1]
