"""Every setting at its edges, through whole processes: each value that `fte status` accepts must
let `fte daemon --once` finish without a traceback (issue: "no setting that passes fte doctor can
crash the daemon"). Numbers at their bounds and beyond, text that is empty, a path to a file, a
name too long for the file system, `..`, `~`, emoji; lists empty and huge.

    python bench/settings_edges.py [--only NAME]

Prints each value that crashed, and a count; exit 1 when any did. About 10 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path
from typing import Any

from fte.settings.spec import SETTINGS

TEXTS = ["", "/", "/dev/null", "afile", "..", "x" * 5000, "nonexistent/deep/dir", "~", "é🙂", "-rf", "C:\\x"]


def values(setting: Any) -> list[Any]:
    d = setting.default
    if isinstance(d, bool):
        return [True, False]
    if isinstance(d, float) or getattr(setting.check, "real", False):
        return [0, 1e-9, 0.001, 3600, 86400, 1e6]
    if isinstance(d, int):
        return [0, 1, 1200, 36500, 65535, 10**6]
    if isinstance(d, list):
        return [[], [""], ["x" * 3000], ["json://127.0.0.1:9/x"]]
    return TEXTS


def toml(doc: dict[str, Any], prefix: str = "") -> str:
    """A TOML document of plain values (JSON's strings, numbers and lists are TOML's)."""
    plain = {k: v for k, v in doc.items() if not isinstance(v, dict)}
    out = [f"[{prefix}]"] if prefix and plain else []
    for k, v in plain.items():
        out.append(f"{json.dumps(k)} = {json.dumps(v) if not isinstance(v, bool) else str(v).lower()}")
    for k, v in doc.items():
        if isinstance(v, dict):
            out.append(toml(v, f"{prefix}.{json.dumps(k)}" if prefix else json.dumps(k)))
    return "\n".join(out)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default=None)
    args = ap.parse_args()
    fte = [sys.executable, "-m", "fte"]
    work = Path(tempfile.mkdtemp(prefix="fte-edges-"))
    base = work / "base"
    subprocess.run([*fte, "init", "--home", str(base), "--role", "all", "--agent", "edges"], check=True,
                   capture_output=True)
    (base / "afile").write_text("x")
    problems = []
    for setting in SETTINGS:
        if args.only and setting.name != args.only:
            continue
        table, _, key = setting.name.rpartition(".")
        for value in values(setting):
            home = work / "h"
            shutil.rmtree(home, ignore_errors=True)
            shutil.copytree(base, home, symlinks=True)
            doc = tomllib.loads((home / "fte.toml").read_text())
            node = doc
            for part in table.split(".") if table else []:
                node = node.setdefault(part, {})
            node[key] = value
            (home / "fte.toml").write_text(toml(doc) + "\n")
            status = subprocess.run([*fte, "status", "--home", str(home)], capture_output=True, text=True, timeout=60)
            if status.returncode != 0:
                if "Traceback" in status.stdout + status.stderr:
                    problems.append((setting.name, value, "status", status.stderr[-300:]))
                continue
            run = subprocess.run([*fte, "daemon", "--once", "--home", str(home)], capture_output=True, text=True,
                                 timeout=120)
            if "Traceback" in run.stdout + run.stderr or run.returncode not in (0, 1, 2, 3):
                problems.append((setting.name, value, f"daemon exit {run.returncode}", (run.stdout + run.stderr)[-400:]))
    for name, value, where, text in problems:
        print(f"{name} = {str(value)[:60]!r}: {where}\n  {text.strip()[-300:]}")
    print(f"{len(problems)} crash(es)")
    shutil.rmtree(work, ignore_errors=True)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
