"""Crash-safety harness: SIGKILL the daemon at each named step, restart, check convergence.

Each run builds a bare remote and two hosts (cloud, local), drops mails into the cloud's Maildir,
and plays the scenario with real processes (``python -m fte daemon --once``): cloud tick, local
tick, the person moves every pending note into ``Approved/``, again and again. One process of the
run is killed with SIGKILL at ``--point`` (its N-th arrival there); the scenario simply goes on
(the next process is the restart). A run **converges** when every mail became a task that is
``done`` on both hosts, the outbox holds exactly one message per task (counted by ``X-FTE-Task``),
each task has exactly one note, and both vaults are clean and at the remote's head.

    python bench/crash_harness.py --runs 4            # every point, hits 1..4
    python bench/crash_harness.py --point before-call --runs 3

Writes a summary table (and, with ``--write``, updates docs/RELIABILITY.md).
"""

from __future__ import annotations

import argparse
import email
import json
import os
import platform
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

from fte.host.home import init_home, trust_host
from fte.support.crashpoints import FLOW_POINTS

MAILS = 3
ROUNDS = 14


@dataclass
class RunResult:
    point: str
    hit: int
    crashed: bool
    converged: bool
    duplicates: int
    lost: int
    rounds: int
    problems: list[str] = field(default_factory=list)


def _mail(n: int) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Customer {n} <c{n}@example.com>"
    msg["To"] = "me@example.com"
    msg["Subject"] = f"Question {n}"
    msg["Message-ID"] = f"<crash-{n}@example.com>"
    msg.set_content(f"Question number {n}?\n")
    return bytes(msg)


def _tick(home: Path, env: dict[str, str]) -> int:
    p = subprocess.run([sys.executable, "-m", "fte", "daemon", "--once", "--home", str(home)],
                       env=env, capture_output=True, text=True, timeout=300)
    return p.returncode


def _approve_everything(local: Path) -> None:
    vault = local / "vault"
    for note in (vault / "Pending_Approval").rglob("*.md"):
        os.replace(note, vault / "Approved" / note.name)


def _git(vault: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=vault, capture_output=True, text=True).stdout.strip()


def _check(cloud: Path, local: Path) -> tuple[bool, int, int, list[str]]:
    problems: list[str] = []
    sent = Counter()
    for f in (local / "outbox" / "new").iterdir():
        sent[email.message_from_bytes(f.read_bytes())["X-FTE-Task"]] += 1
    duplicates = sum(n - 1 for n in sent.values() if n > 1)
    states: dict[str, dict[str, str]] = {}
    for name, home in (("cloud", cloud), ("local", local)):
        conn = sqlite3.connect(f"file:{home / 'fte.db'}?mode=ro", uri=True)
        states[name] = dict(conn.execute("SELECT id, state FROM tasks"))
        conn.close()
    ids = set(states["cloud"]) | set(states["local"])
    lost = MAILS - len(states["cloud"])
    done_everywhere = all(states[h].get(i) == "done" for h in states for i in ids) and len(ids) == MAILS
    if not done_everywhere:
        problems.append(f"states: {json.dumps({h: Counter(s.values()) for h, s in states.items()})}")
    if set(sent) != ids:
        problems.append(f"sent {len(sent)} of {len(ids)}")
    notes = Counter(p.name[-11:-3] for p in (local / "vault").rglob("*.md")
                    if p.parts[-2] != "conflicts" and "Logs" not in p.parts and p.name[-12:-11] == "-")
    if any(n != 1 for n in notes.values()) or len(notes) != len(ids):
        problems.append(f"notes per task: {dict(notes)}")
    for home in (cloud, local):
        vault = home / "vault"
        if _git(vault, "status", "--porcelain"):
            problems.append(f"{home.name}: uncommitted changes")
        if _git(vault, "rev-parse", "HEAD") != _git(vault, "rev-parse", "origin/main"):
            problems.append(f"{home.name}: not at the remote's head")
    return not problems and duplicates == 0, duplicates, lost, problems


def run_once(point: str, hit: int, root: Path) -> RunResult:
    remote = root / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", "--initial-branch=main", str(remote)], check=True)
    cloud, local = root / "cloud", root / "local"
    init_home(cloud, role="cloud", agent="cloud", remote=str(remote))
    init_home(local, role="local", agent="laptop", remote=str(remote))
    trust_host(cloud, local)
    for n in range(MAILS):
        (cloud / "inbox" / "new" / f"{n}.crash").write_bytes(_mail(n))
    marker = root / "crashed"
    env = dict(os.environ, FTE_CRASHPOINT=point, FTE_CRASHPOINT_HIT=str(hit), FTE_CRASHPOINT_ONCE=str(marker))
    result = RunResult(point, hit, False, False, 0, 0, 0)
    for rnd in range(1, ROUNDS + 1):
        _tick(cloud, env)
        _tick(local, env)
        _approve_everything(local)
        result.rounds = rnd
        if rnd >= 3:
            ok, dup, lost, problems = _check(cloud, local)
            result.duplicates, result.lost, result.problems = dup, lost, problems
            if ok:
                result.converged = True
                break
    result.crashed = marker.exists()
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--point", choices=FLOW_POINTS, action="append", help="kill point (default: all)")
    ap.add_argument("--runs", type=int, default=3, help="runs per point: the crash at the 1st..Nth arrival")
    ap.add_argument("--write", action="store_true", help="write the results into docs/RELIABILITY.md")
    args = ap.parse_args(argv)
    points = args.point or list(FLOW_POINTS)
    results: list[RunResult] = []
    started = time.monotonic()
    for point in points:
        for hit in range(1, args.runs + 1):
            with tempfile.TemporaryDirectory(prefix="fte-crash-") as tmp:
                r = run_once(point, hit, Path(tmp))
            results.append(r)
            flag = "ok" if r.converged else "FAILED " + "; ".join(r.problems)
            print(f"{point:<18} hit {hit}: crashed={r.crashed} rounds={r.rounds} dup={r.duplicates} {flag}", flush=True)
    elapsed = time.monotonic() - started
    table = ["| kill point | runs | crashed | converged | duplicate sends | lost tasks |", "|---|---|---|---|---|---|"]
    for point in points:
        rs = [r for r in results if r.point == point]
        table.append(f"| `{point}` | {len(rs)} | {sum(r.crashed for r in rs)} | {sum(r.converged for r in rs)} | "
                     f"{sum(r.duplicates for r in rs)} | {sum(r.lost for r in rs)} |")
    total = (f"**{len(results)} runs** ({len(points)} points × {args.runs}), {sum(r.crashed for r in results)} crashed, "
             f"{sum(r.converged for r in results)} converged, {sum(r.duplicates for r in results)} duplicate sends, "
             f"in {elapsed:.0f} s")
    print("\n".join(table))
    print(total)
    if args.write:
        _write_doc(table, total, args.runs)
    return 0 if all(r.converged for r in results) else 1


def _write_doc(table: list[str], total: str, runs: int) -> None:
    doc = Path(__file__).resolve().parents[1] / "docs" / "RELIABILITY.md"
    machine = f"{platform.system()} {platform.machine()}, Python {platform.python_version()}, {os.cpu_count()} CPUs"
    text = doc.read_text() if doc.exists() else ""
    head, sep, _tail = text.partition("<!-- results -->")
    body = (f"<!-- results -->\n\nMeasured {time.strftime('%Y-%m-%d')} on {machine}, with\n"
            f"`python bench/crash_harness.py --runs {runs} --write`:\n\n" + "\n".join(table) + f"\n\n{total}\n")
    doc.write_text((head if sep else text) + body)


if __name__ == "__main__":
    sys.exit(main())
