#!/usr/bin/env python3
"""How long ``webkit --help`` (and ``routes --help``, ``start --help``) take, against the floors
(``python -c pass``, ``python -c "import click"``) and other dev tools' ``--help``
(aiohttp-devtools, uvicorn, flask), with hyperfine, all in one run.

    apt-get install -y hyperfine
    .venv/bin/pip install -e . aiohttp-devtools uvicorn flask
    .venv/bin/python benchmarks/cli_startup.py            # 30 runs each

Prints each mean and the ratios the targets are written in: ``webkit --help`` ÷ (python +
click), and each other tool ÷ ``webkit --help``. Results: results/cli-startup.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def commands() -> dict[str, str]:
    python = sys.executable
    found = {
        "python -c pass": f"{python} -c pass",
        "python -c 'import click'": f"{python} -c 'import click'",
        "webkit --help": f"{BIN / 'webkit'} --help",
        "webkit routes --help": f"{BIN / 'webkit'} routes --help",
        "webkit start --help": f"{BIN / 'webkit'} start --help",
    }
    for tool in ("adev", "uvicorn", "flask"):
        path = BIN / tool
        if path.exists():
            found[f"{tool} --help"] = f"{path} --help"
        else:
            print(f"cli_startup: {tool} is not installed; skipped", file=sys.stderr)
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-r", "--runs", type=int, default=30)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "cli-startup.json"))
    args = parser.parse_args()
    if shutil.which("hyperfine") is None:
        print("cli_startup: hyperfine is not installed (apt-get install -y hyperfine)")
        return 2
    named = commands()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    cmd = ["hyperfine", "-N", "--warmup", "3", "--runs", str(args.runs), "--export-json", str(out)]
    for name, line in named.items():
        cmd += ["-n", name, line]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    means = {r["command"]: r["mean"] * 1000 for r in json.loads(out.read_text())["results"]}
    for name, mean in means.items():
        print(f"{name:28} {mean:6.1f} ms")
    ours = means["webkit --help"]
    floor = means["python -c 'import click'"]
    print(f"\nwebkit --help / (python + click): {ours / floor:.2f}")
    for name, mean in means.items():
        if not name.startswith(("webkit", "python")):
            print(f"{name} / webkit --help: {mean / ours:.1f}x slower")
    return 0


if __name__ == "__main__":
    sys.exit(main())
