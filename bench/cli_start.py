"""How long each command takes as a whole process (interpreter start, imports, work, exit).

    python bench/cli_start.py [--runs 15] [--tasks 1000] [--json]

Builds a home with ``--tasks`` pending tasks (through the daemon's own tick), then times
``fte --help``, ``fte --version``, ``fte status``, ``fte tasks --limit 50`` and ``fte sql waiting``,
``--runs`` times each, and prints the median and the slowest. Goals (docs/BENCHMARKS.md): --help and
--version under 100 ms, status and tasks under 300 ms on a 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))


def build_home(tasks: int) -> Path:
    from hosts import HostRun, drop_mail, make_host, raise_limits

    root = Path(tempfile.mkdtemp(prefix="fte-cli-bench-"))
    home = make_host(root, "laptop", "all", "")
    raise_limits(home)
    for i in range(tasks):
        drop_mail(home, i)
    run = HostRun(home)
    run.tick()
    run.close()
    return home


def timed(argv: list[str], runs: int) -> dict[str, float]:
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        seconds.append(time.perf_counter() - started)
    return {"median_ms": round(statistics.median(seconds) * 1000, 1), "max_ms": round(max(seconds) * 1000, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    home = build_home(args.tasks)
    fte = [sys.executable, "-m", "fte"]
    commands = {
        "fte --help": fte + ["--help"],
        "fte --version": fte + ["--version"],
        "fte status": fte + ["status", "--home", str(home)],
        "fte tasks --limit 50": fte + ["tasks", "--limit", "50", "--home", str(home)],
        "fte sql waiting": fte + ["sql", "waiting", "--home", str(home)],
    }
    results = {name: timed(argv, args.runs) for name, argv in commands.items()}
    info = {"cpus": os.cpu_count(), "python": sys.version.split()[0], "tasks": args.tasks, "runs": args.runs}
    if args.json:
        print(json.dumps({"machine": info, "results": results}, indent=2))
        return
    print(f"{info['tasks']} tasks, {info['runs']} runs each, {info['cpus']} CPUs, Python {info['python']}")
    for name, r in results.items():
        print(f"  {name:<22} median {r['median_ms']:7.1f} ms   slowest {r['max_ms']:7.1f} ms")


if __name__ == "__main__":
    main()
