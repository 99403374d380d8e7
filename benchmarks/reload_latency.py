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
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(os.environ.get("WEBKIT_BENCH_DIR", ROOT.parent / "shared" / "bench"))
ANCHOR_NAMES = ["adev", "uvicorn"]
ANCHORS = {"aiohttp_devtools": "aiohttp-devtools", "uvicorn": "uvicorn"}


def ensure_anchors() -> None:
    missing = [pkg for mod, pkg in ANCHORS.items() if importlib.util.find_spec(mod) is None]
    if missing:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", *missing], check=True)


def run(harness: Path, targets: list[str], modes: str, trials: int, out: Path) -> dict[str, Any]:
    cmd = [sys.executable, str(harness), "--compare", *targets, "--modes", modes]
    cmd += ["--trials", str(trials), "--json", str(out)]
    subprocess.run(cmd, check=True, cwd=harness.parent)
    result: dict[str, Any] = json.loads(out.read_text())
    return result


def medians(summary: dict[str, Any]) -> dict[tuple[str, str], tuple[float, int]]:
    """(target, mode) → (median ms, failed trials) from the harness's raw results."""
    found: dict[tuple[str, str], tuple[float, int]] = {}
    for target, data in summary.get("targets", {}).items():
        for mode, trials in data.get("results", {}).items():
            if mode == "startup" or not isinstance(trials, list):
                continue
            ok = [t["latency"] * 1000 for t in trials if t.get("latency") is not None]
            if ok:
                found[(target, mode)] = (statistics.median(ok), len(trials) - len(ok))
    return found


def report(summary: dict[str, Any], modes: list[str], anchors: list[str]) -> None:
    table = medians(summary)
    for mode in modes:
        if ("webkit", mode) not in table:
            continue
        ours, failed = table[("webkit", mode)]
        for anchor in anchors:
            if (anchor, mode) in table:
                theirs, their_failed = table[(anchor, mode)]
                print(
                    f"{mode:7} webkit {ours:6.1f} ms ({failed} failed)  {anchor:8} "
                    f"{theirs:6.1f} ms ({their_failed} failed)  webkit = 1/{theirs / ours:.1f}"
                )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--trials", type=int, default=15)
    parser.add_argument("--report-only", action="store_true", help="re-read the last results")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    args = parser.parse_args()
    harness = BENCH / "reload_latency.py"
    if not harness.is_file():
        print(f"benchmarks: {harness} not found; set WEBKIT_BENCH_DIR", file=sys.stderr)
        return 2
    ensure_anchors()
    if args.report_only:
        report(
            json.loads((Path(args.out) / "reload-http.json").read_text()), ["http"], ANCHOR_NAMES
        )
        live = json.loads((Path(args.out) / "reload-live.json").read_text())
        report(live, ["lr-css", "lr-py"], ["adev"])
        return 0
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    http = run(
        harness, ["webkit", "adev", "uvicorn"], "http", args.trials, out / "reload-http.json"
    )
    live = run(harness, ["webkit", "adev"], "lr-css,lr-py", args.trials, out / "reload-live.json")
    print()
    report(http, ["http"], ANCHOR_NAMES)
    report(live, ["lr-css", "lr-py"], ["adev"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
