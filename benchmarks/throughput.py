#!/usr/bin/env python3
"""webkit against aiohttp on the same app, through ../shared/bench/throughput.py.

Runs two measurements in one go, servers interleaved round by round (A B A B ...):

1. the anchor app (20 decoy routes) for plaintext, JSON and a path parameter, with memory
   (RSS idle and with 1,000 idle keep-alive connections);
2. the same app with a 1,000-route table (BENCH_DECOY_ROUTES=1000), for the path-parameter and
   plaintext scenarios.

Every figure printed is a ratio against aiohttp measured in the same run; absolute req/s on a
shared machine say little. Needs wrk (`apt-get install -y wrk`) and aiohttp in the venv:

    .venv/bin/pip install -e . aiohttp
    .venv/bin/python benchmarks/throughput.py            # 5 rounds
    .venv/bin/python benchmarks/throughput.py -r 3 -d 3  # quicker
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(os.environ.get("WEBKIT_BENCH_DIR", ROOT.parent / "shared" / "bench"))
APP = "{python} {apps}/web_app.py --port {port} --loop asyncio"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-r", "--rounds", type=int, default=5)
    parser.add_argument("-d", "--duration", type=int, default=5)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    parser.add_argument("--skip-routes", action="store_true", help="only the anchor app")
    parser.add_argument(
        "--static",
        action="store_true",
        help="instead: static 16 KiB and 1 MiB files against aiohttp and nginx "
        "(apt-get install -y nginx-light)",
    )
    args = parser.parse_args()
    harness = BENCH / "throughput.py"
    if not harness.is_file():
        print(f"benchmarks: {harness} not found; set WEBKIT_BENCH_DIR", file=sys.stderr)
        return 2
    if shutil.which("wrk") is None:
        print("benchmarks: wrk is not installed (apt-get install -y wrk)", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    common = [
        sys.executable,
        str(harness),
        "--baseline",
        "aiohttp",
        "-r",
        str(args.rounds),
        "-d",
        str(args.duration),
    ]
    if args.static:
        if not _ensure_nginx():
            return 2
        runs = [
            [*common, "-s", "aiohttp", "-s", "webkit", "-s", "nginx",
             "--scenarios", "static-16k,static-1m", "--json", str(out / "static.json")]
        ]  # fmt: skip
        return _run_all(runs)
    runs = [
        [
            *common,
            "-s",
            "aiohttp",
            "-s",
            "webkit",
            "--scenarios",
            "plaintext,json,route",
            "--memory",
            "--json",
            str(out / "webkit-vs-aiohttp.json"),
        ],
    ]
    if not args.skip_routes:
        runs.append(
            [
                *common,
                "-s",
                f"aiohttp=BENCH_DECOY_ROUTES=1000 WEB_IMPL=aiohttp {APP}",
                "-s",
                f"webkit=BENCH_DECOY_ROUTES=1000 WEB_IMPL=webkit {APP}",
                "--scenarios",
                "route,plaintext",
                "--json",
                str(out / "routes-1000.json"),
            ]
        )
    return _run_all(runs)


def _ensure_nginx() -> bool:
    """nginx is the static-file reference: install Debian's nginx-light when it is missing."""
    if shutil.which("nginx") or Path("/usr/sbin/nginx").exists():
        return True
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        print("benchmarks: nginx is missing; install it (apt-get install -y nginx-light)")
        return False
    print("+ apt-get install -y nginx-light", flush=True)
    subprocess.run(["apt-get", "update", "-qq"], check=False)
    result = subprocess.run(["apt-get", "install", "-y", "-qq", "nginx-light"], check=False)
    return result.returncode == 0


def _run_all(runs: list[list[str]]) -> int:
    for argv in runs:
        print("+", " ".join(argv), flush=True)
        result = subprocess.run(argv, cwd=BENCH)
        if result.returncode != 0:
            return result.returncode
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
