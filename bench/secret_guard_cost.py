"""What the secret guard costs per note: fte's own rules alone against fte's + gitleaks' rule set,
measured alternately on the independent corpus' 400 business mails (docs/BENCHMARKS.md §14), and
the one-time cost of reading gitleaks' rules in a fresh process.

    python bench/secret_guard_cost.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "tests/data/secrets_independent"))
from build import load  # noqa: E402

from fte.io.vault.secretguard import own_scan, scan  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    mails = [i["text"].encode() for i in load() if i["source"] == "business-mail"]
    print(f"{len(mails)} mails, {statistics.mean(map(len, mails)):.0f} bytes on average")
    scan(b"warm up: read and compile the rules")
    times: dict[str, list[float]] = {"own": [], "both": []}
    for _ in range(args.rounds):
        for name, fn in (("own", own_scan), ("both", scan)):
            start = time.perf_counter()
            for mail in mails:
                fn(mail)
            times[name].append((time.perf_counter() - start) / len(mails) * 1e6)
    for name, values in times.items():
        print(f"{name:5} median {statistics.median(values):6.0f} µs per mail (runs: "
              + ", ".join(f"{v:.0f}" for v in values) + ")")
    code = ("import time; t = time.perf_counter(); from fte.io.vault.secretguard import scan; "
            "a = time.perf_counter(); scan(b'the api key is Zq81xWv3Tn5Lp7Rb9 and token: x'); "
            "print(f'import {(a - t) * 1e3:.0f} ms, first scan {(time.perf_counter() - a) * 1e3:.0f} ms')")
    for _ in range(3):
        print("fresh process:", subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                               check=True).stdout.strip())


if __name__ == "__main__":
    main()
