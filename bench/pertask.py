"""The cost of one task, as whole processes, beside the I/O floor of the same work done plainly.

    python bench/pertask.py [--mails 1000] [--runs 3] [--json]

Each run: a fresh `all` host with a bare remote; ``--mails`` mails dropped in its Maildir; one
``fte daemon --once`` process (interpreter start, imports, migrations check, the tick, exit) takes
them to ``pending``; the notes are then moved into ``Approved/`` (as the person would, in Obsidian)
and one more ``fte daemon --once`` takes them to ``done`` (sent into the outbox Maildir). A second
``--once`` runs when the first did not finish (it never should), and is counted.

The **I/O floor**, measured in the same run on the same disk: per task, one SQLite transaction
appending a row (WAL, ``synchronous=FULL``) and one note written atomically (temp file, fsync,
rename), then one ``git add`` and ``git commit`` of them all and a push — the durable work a task
needs done plainly, without fte's checks, audit rows or lifecycle.

Goal (docs/BENCHMARKS.md): under 4 ms per task for each stage, within 2x the floor.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import drop_mails, machine

GIT_ENV = {"GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@x", "GIT_COMMITTER_NAME": "b",
           "GIT_COMMITTER_EMAIL": "b@x"}


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, env={**os.environ, **GIT_ENV})


def floor(n: int, root: Path) -> float:
    """Seconds for the plain durable work of ``n`` tasks (see the module docstring)."""
    remote = root / "floor.git"
    _git(root, "init", "-q", "--bare", str(remote))
    tree = root / "floor"
    tree.mkdir()
    _git(tree, "init", "-q", "-b", "main")
    _git(tree, "remote", "add", "origin", str(remote))
    _git(tree, "config", "core.fsync", "committed,index")
    notes = tree / "notes"
    notes.mkdir()
    db = sqlite3.connect(root / "floor.db", isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)")
    body = "---\nid: x\nstate: pending\n---\n" + "Hello, this is a reply to your question.\n" * 8
    started = time.perf_counter()
    for i in range(n):
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT INTO t (body) VALUES (?)", (body,))
        db.execute("COMMIT")
        path = notes / f"{i}.md"
        tmp = notes / f".{i}.tmp"
        with open(tmp, "w") as fh:
            fh.write(body)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    fd = os.open(notes, os.O_RDONLY)
    os.fsync(fd)
    os.close(fd)
    _git(tree, "add", "-A")
    _git(tree, "commit", "-q", "-m", "batch")
    _git(tree, "push", "-q", "origin", "main")
    return time.perf_counter() - started


def fte(home: Path, *args: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "fte", "--home", str(home), *args], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def count(home: Path, state: str) -> int:
    db = sqlite3.connect(f"file:{home / 'fte.db'}?mode=ro", uri=True)
    try:
        return db.execute("SELECT count(*) FROM tasks WHERE state = ?", (state,)).fetchone()[0]
    finally:
        db.close()


def host(n: int, root: Path) -> dict[str, float]:
    """Whole-process seconds for ``n`` mails → pending and ``n`` approvals → done."""
    remote = root / "remote.git"
    _git(root, "init", "-q", "--bare", "-b", "main", str(remote))
    home = root / "home"
    subprocess.run([sys.executable, "-m", "fte", "--home", str(home), "init", "--role", "all",
                    "--agent", "bench", "--remote", str(remote)], check=True, capture_output=True)
    toml = home / "fte.toml"
    toml.write_text(toml.read_text().replace('"email.reply" = 10\n', f'"email.reply" = {n * 10}\n'))
    fte(home, "daemon", "--once")  # the first tick: the vault's first push, nothing to do
    drop_mails(home / "inbox", n)
    out: dict[str, float] = {"pending": 0.0, "done": 0.0, "pending_runs": 0, "done_runs": 0}
    while count(home, "pending") < n and out["pending_runs"] < 3:
        out["pending"] += fte(home, "daemon", "--once")
        out["pending_runs"] += 1
    assert count(home, "pending") == n, "not every mail reached pending"
    vault = home / "vault"
    for note in (vault / "Pending_Approval" / "email").iterdir():
        os.replace(note, vault / "Approved" / note.name)
    while count(home, "done") < n and out["done_runs"] < 3:
        out["done"] += fte(home, "daemon", "--once")
        out["done_runs"] += 1
    assert count(home, "done") == n, "not every approval was done"
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mails", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    n = args.mails
    rows = []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="fte-pertask-") as tmp:
            root = Path(tmp)
            f = floor(n, root)
            r = host(n, root)
            rows.append({"floor_ms": f / n * 1000, "pending_ms": r["pending"] / n * 1000,
                         "done_ms": r["done"] / n * 1000, "pending_runs": r["pending_runs"],
                         "done_runs": r["done_runs"]})
    summary = {k: round(statistics.median(r[k] for r in rows), 2) for k in ("floor_ms", "pending_ms", "done_ms")}
    summary |= {"pending_x_floor": round(summary["pending_ms"] / summary["floor_ms"], 2),
                "done_x_floor": round(summary["done_ms"] / summary["floor_ms"], 2), "mails": n, "runs": rows}
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    print(machine())
    for r in rows:
        print(f"floor {r['floor_ms']:.2f} ms/task · mails → pending {r['pending_ms']:.2f} ms/task "
              f"({r['pending_runs']} process) · approvals → done {r['done_ms']:.2f} ms/task ({r['done_runs']} process)")
    print(f"median of {args.runs}: floor {summary['floor_ms']} ms/task, pending {summary['pending_ms']} ms/task "
          f"({summary['pending_x_floor']}x), done {summary['done_ms']} ms/task ({summary['done_x_floor']}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
