"""Scale: a vault of N done notes (and their rows); the idle tick and a tick with 10 approvals,
side by side with the plain sync loop many vault-sync tools run every cycle
(``git add -A && git commit && git pull --rebase && git push``), on the same vault.

    python bench/scale.py --notes 100000

The N done tasks are written straight into SQLite and the vault (rendered by fte's own renderer),
then committed and pushed once: building them through the lifecycle would take hours and is not
what is measured. The 10 approvals go through the real lifecycle (mail → draft → pending → a move).
Goals (issue 9): idle tick < 200 ms; tick with 10 approvals < 1 s; memory flat.
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
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import Timer, drop_mails, machine, max_rss_mb, rss_mb  # noqa: E402

from fte.clock import iso  # noqa: E402
from fte.daemon import Runner  # noqa: E402
from fte.home import init_home, open_home  # noqa: E402
from fte.io.vault.notes import note_relpath, render_task  # noqa: E402
from fte.models.tables import Task  # noqa: E402


def git(vault: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=vault, check=True, capture_output=True)


def fill(home: Path, n: int) -> None:
    """N done tasks: rows (task + its transitions) and notes, committed and pushed in one go."""
    import sqlite3

    vault = home / "vault"
    db = sqlite3.connect(home / "fte.db")
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    rows, transitions = [], []
    for i in range(n):
        at = start + timedelta(minutes=i)
        tid = uuid.uuid4().hex
        t = Task(id=tid, kind="email.reply", state="done", version=7, source="maildir", source_ref=f"<old-{i}@x>",
                 origin="bench", title=f"Old question {i}", params={"to": f"c{i}@example.com", "subject": f"Re: {i}"},
                 body="Thanks, answered.\n", original="", created_at=at, updated_at=at, flags={},
                 approval={"by": "ann"}, claimed_by="bench")
        rel = note_relpath(t)
        p = vault / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(render_task(t))
        rows.append((tid, t.kind, "done", 7, 7, "maildir", t.source_ref, "bench", t.title, json.dumps(t.params), t.body,
                     "", rel, "bench", iso(at), iso(at), None, json.dumps(t.approval), None, "{}"))
        for v, (ev, a, b) in enumerate([("detect", None, "detected"), ("draft", "detected", "drafted"),
                                        ("sync", "drafted", "synced"), ("present", "synced", "pending"),
                                        ("approve", "pending", "approved"), ("claim", "approved", "claimed"),
                                        ("complete", "claimed", "done")], 1):
            transitions.append((tid, v, ev, a, b, "bench", "bench", "daemon", iso(at), "{}"))
    db.executemany("INSERT INTO tasks (id, kind, state, version, mirrored_version, source, source_ref, origin, title, "
                   "params, body, original, note_path, claimed_by, created_at, updated_at, expires_at, approval, "
                   "last_error, flags) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
    db.executemany("INSERT INTO transitions (task_id, version, event, from_state, to_state, actor, host, source, at, "
                   "detail) VALUES (?,?,?,?,?,?,?,?,?,?)", transitions)
    db.commit()
    db.close()
    git(vault, "add", "-A")
    git(vault, "commit", "-q", "-m", f"{n} done notes")
    git(vault, "push", "-q", "origin", "HEAD:main")
    git(vault, "fetch", "-q", "origin")
    # A host that has been running knows it has integrated its own history.
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=vault, capture_output=True, text=True).stdout.strip()
    db = sqlite3.connect(home / "fte.db")
    db.execute("INSERT OR REPLACE INTO cursors (name, value, updated_at) VALUES ('git.integrated', ?, ?)",
               (head, iso(datetime.now(timezone.utc))))
    db.commit()
    db.close()


def plain_cycle(vault: Path) -> float:
    t = time.perf_counter()
    subprocess.run("git add -A && git commit -q -m sync; git pull -q --rebase && git push -q", shell=True, cwd=vault,
                   capture_output=True)
    return time.perf_counter() - t


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--notes", type=int, default=100_000)
    ap.add_argument("--ticks", type=int, default=7)
    ap.add_argument("--fill-only", metavar="HOME", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.fill_only:  # in a child process, so the fixture's memory is not the daemon's
        fill(Path(args.fill_only), args.notes)
        return 0
    with tempfile.TemporaryDirectory(prefix="fte-scale-") as tmp:
        root = Path(tmp)
        subprocess.run(["git", "init", "-q", "--bare", "--initial-branch=main", str(root / "remote.git")], check=True)
        home = root / "h"
        init_home(home, role="all", agent="bench", remote=str(root / "remote.git"))
        with Timer() as build:
            subprocess.run([sys.executable, __file__, "--notes", str(args.notes), "--fill-only", str(home)], check=True)
        print(f"built {args.notes} done notes in {build.wall:.0f} s", flush=True)
        with open_home(home) as h:
            runner = Runner(h)
            with Timer() as first:
                runner.tick()  # first tick: startup work (status of the whole tree, dashboard, briefing)
            rss0 = rss_mb()
            idle = []
            for _ in range(args.ticks):
                with Timer() as t:
                    runner.tick()
                idle.append(t.wall)
            drop_mails(home / "inbox", 10, start=10_000_000)
            runner.tick()
            pending = sorted((h.vault.root / "Pending_Approval" / "email").iterdir())
            assert len(pending) == 10, len(pending)
            for note in pending:
                os.replace(note, h.vault.root / "Approved" / note.name)
            with Timer() as busy:
                runner.tick()
            done = h.store.counts().get("done", 0)
            for _ in range(args.ticks):
                runner.tick()
            rss1 = rss_mb()
        plain = [plain_cycle(home / "vault") for _ in range(args.ticks)]
    print(machine())
    print(f"vault: {args.notes} done notes; after the busy tick {done} done")
    print(f"fte idle tick: median {statistics.median(idle) * 1000:.0f} ms (min {min(idle) * 1000:.0f}, "
          f"max {max(idle) * 1000:.0f}) over {len(idle)}")
    print(f"fte tick with 10 approvals: {busy.wall * 1000:.0f} ms (approve, claim, push, send, done, push)")
    print(f"plain loop (git add -A; commit; pull --rebase; push): median {statistics.median(plain) * 1000:.0f} ms")
    print(f"ratio plain / fte idle: {statistics.median(plain) / statistics.median(idle):.1f}x")
    print(f"first tick after start: {first.wall * 1000:.0f} ms")
    print(f"memory (RSS): {rss0:.0f} MB after the first tick, {rss1:.0f} MB after {2 * args.ticks + 2} more; "
          f"peak {max_rss_mb():.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
