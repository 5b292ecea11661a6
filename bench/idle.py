"""What an idle daemon with a remote costs: daemons started side by side, each with its own bare
remote on the local disk, left idle; the CPU time of each daemon and the processes it reaped
(utime + stime + cutime + cstime of /proc/<pid>/stat) over a window after a warm-up
(docs/BENCHMARKS.md §15).

    python bench/idle.py [--seconds 90] [--fte NAME=PATH ...]

``--fte`` names an ``fte`` executable to compare (e.g. one installed from an older commit in its own
venv); default: the ``fte`` of this interpreter's environment.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=90)
    ap.add_argument("--warmup", type=float, default=15)
    ap.add_argument("--fte", action="append", default=[], help="NAME=PATH of an fte executable")
    args = ap.parse_args()
    here = str(Path(sys.executable).with_name("fte"))
    runs = dict(item.split("=", 1) for item in args.fte) or {"this": here}
    root = Path(tempfile.mkdtemp(prefix="fte-idle-"))
    procs = {}
    try:
        for name, fte in runs.items():
            remote = root / name / "remote.git"
            subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(remote)], check=True)
            subprocess.run([fte, "init", "--home", str(root / name / "h"), "--role", "all", "--agent", name,
                            "--remote", str(remote)], check=True, capture_output=True)
            procs[name] = subprocess.Popen([fte, "daemon", "--home", str(root / name / "h")],
                                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(args.warmup)
        start = {name: cpu_seconds(p.pid) for name, p in procs.items()}
        began = time.monotonic()
        time.sleep(args.seconds)
        spent = time.monotonic() - began
        for name, p in procs.items():
            used = cpu_seconds(p.pid) - start[name]
            print(f"{name}: {used:.2f} s of CPU in {spent:.0f} s idle = {100 * used / spent:.2f} % of a core")
    finally:
        for p in procs.values():
            p.terminate()
            p.wait()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
