#!/usr/bin/env python3
"""webkit runserver against aiohttp-devtools and uvicorn --reload, through
../shared/bench/reload_latency.py (servers interleaved trial by trial, all alive at once).

Two runs:

1. ``http``: a saved edit of a Python module → the first response served by the new code
   (polling fresh connections; refused ones count as "not yet"), webkit vs adev vs uvicorn;
2. ``lr-css`` and ``lr-py``: a saved edit of a CSS file (of a module) → the live-reload
   message on the WebSocket, webkit vs adev (uvicorn has no live reload).

Only medians and median ratios measured in the same run are quoted. Needs the anchors in the
venv (the script installs them when missing):

    .venv/bin/pip install -e . aiohttp-devtools uvicorn
    .venv/bin/python benchmarks/reload_latency.py            # 15 trials per mode
    .venv/bin/python benchmarks/reload_latency.py -n 7       # quicker
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(os.environ.get("WEBKIT_BENCH_DIR", ROOT.parent / "shared" / "bench"))
ANCHORS = {"aiohttp_devtools": "aiohttp-devtools", "uvicorn": "uvicorn"}


def ensure_anchors() -> None:
    missing = [pkg for mod, pkg in ANCHORS.items() if importlib.util.find_spec(mod) is None]
    if missing:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", *missing], check=True)


def run(harness: Path, targets: list[str], modes: str, trials: int, out: Path) -> dict[str, object]:
    cmd = [sys.executable, str(harness), "--compare", *targets, "--modes", modes]
    cmd += ["--trials", str(trials), "--json", str(out)]
    subprocess.run(cmd, check=True, cwd=harness.parent)
    result: dict[str, object] = json.loads(out.read_text())
    return result


def medians(summary: dict[str, object]) -> dict[tuple[str, str], float]:
    """(target, mode) → median ms, whatever nesting the harness uses for its summary."""
    found: dict[tuple[str, str], float] = {}

    def walk(node: object, path: tuple[str, ...]) -> None:
        if isinstance(node, dict):
            if "median" in node and isinstance(node["median"], (int, float)) and len(path) >= 2:
                found[(path[-2], path[-1])] = float(node["median"])
            for key, value in node.items():
                walk(value, (*path, str(key)))

    walk(summary, ())
    return found


def report(summary: dict[str, object], modes: list[str], anchors: list[str]) -> None:
    table = medians(summary)
    for mode in modes:
        ours = table.get(("webkit", mode))
        if ours is None:
            continue
        for anchor in anchors:
            theirs = table.get((anchor, mode))
            if theirs:
                print(
                    f"{mode:7} webkit {ours:7.1f} ms  {anchor:8} {theirs:7.1f} ms  "
                    f"webkit/anchor = 1/{theirs / ours:.1f}"
                )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--trials", type=int, default=15)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    args = parser.parse_args()
    harness = BENCH / "reload_latency.py"
    if not harness.is_file():
        print(f"benchmarks: {harness} not found; set WEBKIT_BENCH_DIR", file=sys.stderr)
        return 2
    ensure_anchors()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    http = run(
        harness, ["webkit", "adev", "uvicorn"], "http", args.trials, out / "reload-http.json"
    )
    live = run(harness, ["webkit", "adev"], "lr-css,lr-py", args.trials, out / "reload-live.json")
    print()
    report(http, ["http"], ["adev", "uvicorn"])
    report(live, ["lr-css", "lr-py"], ["adev"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
