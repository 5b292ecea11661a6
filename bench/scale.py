"""Scale: a vault of N done notes (and their rows); the idle tick and a tick with 10 approvals,
side by side with the plain sync loop many vault-sync tools run every cycle
(``git add -A && git commit && git pull --rebase && git push``), on the same vault.

    python bench/scale.py --notes 100000

Years of use: ``--years 5`` builds the home of a person who kept fte five years at ``--per-day``
(200) tasks a day — 365,000 tasks, 2.5 million transitions, an attempt each — as archival leaves it with
``--after-months`` (3): every month that is due packed into ``Archive/<YYYY-MM>.md``, the rest
as notes in ``Done/``. It measures the idle tick, a tick with 10 approvals, every named query, a
whole ``fte status`` process, RSS over ``--long-ticks`` (1,000) idle ticks, and the files of the
synced tree. Goals (issue 16): idle tick < 100 ms, busy tick < 500 ms, each query < 1 s, status
< 300 ms, RSS flat, the tree < 20,000 files.

    python bench/scale.py --years 5

The N done tasks are written straight into SQLite and the vault (rendered by fte's own renderer),
then committed and pushed once: building them through the lifecycle would take hours and is not
what is measured. The 10 approvals go through the real lifecycle (mail → draft → pending → a move).
Goals (issue 9): idle tick < 200 ms; tick with 10 approvals < 1 s; memory flat.
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
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import Timer, drop_mails, machine, max_rss_mb, rss_mb  # noqa: E402

from fte.clock import iso  # noqa: E402
from fte.daemon import Runner  # noqa: E402
from fte.host.home import init_home, open_home  # noqa: E402
from fte.io.vault.notes import note_relpath, render_task  # noqa: E402
from fte.models.tables import Task  # noqa: E402


def git(vault: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=vault, check=True, capture_output=True)


STEPS = [("detect", None, "detected"), ("draft", "detected", "drafted"), ("sync", "drafted", "synced"),
         ("present", "synced", "pending"), ("approve", "pending", "approved"), ("claim", "approved", "claimed"),
         ("complete", "claimed", "done")]


def done_task(i: int, at: datetime) -> Task:
    """The ``i``-th old reply, done at ``at``."""
    return Task(id=uuid.uuid4().hex, kind="email.reply", state="done", version=7, source="maildir",
                source_ref=f"<old-{i}@x>", origin="bench", title=f"Old question {i}",
                params={"to": f"c{i}@example.com", "subject": f"Re: {i}"}, body="Thanks, answered.\n", original="",
                created_at=at, updated_at=at, flags={}, approval={"by": "ann"}, claimed_by="bench")


def add_rows(rows: list, transitions: list, t: Task, note_path: str, flags: dict[str, str]) -> None:
    """A done task's row and its seven transitions, as fte writes them."""
    at = iso(t.updated_at)
    rows.append((t.id, t.kind, "done", 7, 7, "maildir", t.source_ref, "bench", t.title, json.dumps(t.params), t.body,
                 "", note_path, "bench", at, at, None, json.dumps(t.approval), None, json.dumps(flags)))
    transitions += [(t.id, v, ev, a, b, "bench", "bench", "daemon", at, "{}") for v, (ev, a, b) in enumerate(STEPS, 1)]


def insert(db: sqlite3.Connection, rows: list, transitions: list, attempts: bool) -> None:
    """The rows and transitions (and, with ``attempts``, one finished attempt per task); then empties them."""
    db.executemany("INSERT INTO tasks (id, kind, state, version, mirrored_version, source, source_ref, origin, title, "
                   "params, body, original, note_path, claimed_by, created_at, updated_at, expires_at, approval, "
                   "last_error, flags) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
    db.executemany("INSERT INTO transitions (task_id, version, event, from_state, to_state, actor, host, source, at, "
                   "detail) VALUES (?,?,?,?,?,?,?,?,?,?)", transitions)
    if attempts:
        db.executemany("INSERT INTO executions (task_id, attempt, idempotency_key, started_at, finished_at, outcome, "
                       "external_id) VALUES (?, 1, ?, ?, ?, 'ok', ?)",
                       [(r[0], f"<fte.{r[0]}@bench>", r[15], r[15], f"<fte.{r[0]}@bench>") for r in rows])
    rows.clear()
    transitions.clear()


def write_note(vault: Path, rel: str, data: bytes) -> None:
    p = vault / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data)


def publish(home: Path, message: str, cursors: dict[str, str]) -> None:
    """Commit and push the vault as it is; then the cursors a host that has been running holds (it
    has integrated its own history)."""
    vault = home / "vault"
    git(vault, "add", "-A")
    git(vault, "commit", "-q", "-m", message)
    git(vault, "push", "-q", "origin", "HEAD:main")
    git(vault, "fetch", "-q", "origin")
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=vault, capture_output=True, text=True).stdout.strip()
    now = iso(datetime.now(timezone.utc))
    db = sqlite3.connect(home / "fte.db")
    db.executemany("INSERT OR REPLACE INTO cursors (name, value, updated_at) VALUES (?, ?, ?)",
                   [(name, value, now) for name, value in ({"git.integrated": head} | cursors).items()])
    db.commit()
    db.close()


def fill(home: Path, n: int) -> None:
    """N done tasks: rows (task + its transitions) and notes, committed and pushed in one go."""
    db = sqlite3.connect(home / "fte.db")
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    rows: list = []
    transitions: list = []
    for i in range(n):
        t = done_task(i, start + timedelta(minutes=i))
        rel = note_relpath(t)
        write_note(home / "vault", rel, render_task(t))
        add_rows(rows, transitions, t, rel, {})
    insert(db, rows, transitions, attempts=False)
    db.commit()
    db.close()
    publish(home, f"{n} done notes", {})


def fill_years(home: Path, years: int, per_day: int, after_months: int) -> None:
    """Years of finished tasks, as archival leaves them: rows (7 transitions each) for all; the due
    months' notes in their month's archive note, the rest as notes; one commit, pushed."""
    from collections import defaultdict

    from fte.io.vault.archive import archive_path, entry_of_note, render_archive
    from fte.tick.archive import cutoff

    vault = home / "vault"
    now = datetime.now(timezone.utc)
    limit = cutoff(now, after_months)
    n = years * 365 * per_day
    start = now - timedelta(days=years * 365)
    step = timedelta(days=1) / per_day
    db = sqlite3.connect(home / "fte.db")
    db.execute("PRAGMA synchronous=OFF")
    months: dict[str, list] = defaultdict(list)
    rows: list = []
    transitions: list = []
    for i in range(n):
        t = done_task(i, start + step * i)
        rel = note_relpath(t)
        data = render_task(t)
        flags: dict[str, str] = {}
        if t.updated_at < limit:
            month = f"{t.updated_at:%Y-%m}"
            months[month].append(entry_of_note(rel, data))
            flags = {"archived": month, "archived_from": rel}
            rel = archive_path(month)
        else:
            write_note(vault, rel, data)
        add_rows(rows, transitions, t, rel, flags)
        if len(rows) >= 20_000:
            insert(db, rows, transitions, attempts=True)
    insert(db, rows, transitions, attempts=True)
    db.commit()
    db.close()
    for month, entries in months.items():
        write_note(vault, archive_path(month), render_archive(month, entries))
    publish(home, f"{years} years of finished tasks", {"archive.day": now.date().isoformat()})


def years_run(args: argparse.Namespace) -> int:
    """``--years``: the measurements of issue 16 on a home of that many years."""
    from fte.reports.queries import NAMED

    with tempfile.TemporaryDirectory(prefix="fte-years-") as tmp:
        root = Path(args.keep) if args.keep else Path(tmp)
        home = root / "h"
        if not (home / "fte.toml").exists():  # --keep DIR: built once, measured again
            root.mkdir(parents=True, exist_ok=True)
            subprocess.run(["git", "init", "-q", "--bare", "--initial-branch=main", str(root / "remote.git")],
                           check=True)
            init_home(home, role="all", agent="bench", remote=str(root / "remote.git"))
            toml = home / "fte.toml"
            # The fixture's last hour already holds ~8 sends: with the default limit (10 replies an
            # hour) the busy tick would send 2 of its 10 approvals and leave the rest waiting.
            toml.write_text(toml.read_text().replace("after_months = 3", f"after_months = {args.after_months}", 1)
                            .replace('"email.reply" = 10\n', '"email.reply" = 10000\n', 1))
            with Timer() as build:
                subprocess.run([sys.executable, __file__, "--years", str(args.years), "--per-day", str(args.per_day),
                                "--after-months", str(args.after_months), "--fill-only", str(home)], check=True)
            print(f"built {args.years} years x {args.per_day}/day in {build.wall:.0f} s", flush=True)
        tracked = int(subprocess.run("git ls-files | wc -l", shell=True, cwd=home / "vault", capture_output=True,
                                     text=True).stdout)
        print(f"the synced tree: {tracked} files", flush=True)
        status = []
        for _ in range(5):
            with Timer() as t:
                subprocess.run([sys.executable, "-m", "fte", "status", "--home", str(home)], check=True,
                               capture_output=True)
            status.append(t.wall)
        queries = {}
        for name in NAMED:
            with Timer() as t:
                r = subprocess.run([sys.executable, "-m", "fte", "sql", name, "--json", "--home", str(home)],
                                   capture_output=True, text=True)
            queries[name] = (t.wall, "" if r.returncode == 0 else r.stderr.strip())
            print(f"fte sql {name}: {t.wall * 1000:.0f} ms {queries[name][1]}", flush=True)
        with open_home(home) as h:
            runner = Runner(h)
            runner.tick()
            idle = []
            for _ in range(args.ticks):
                with Timer() as t:
                    runner.tick()
                idle.append(t.wall)
            # New mail numbers at every run: a kept home (--keep) already holds the last run's.
            drop_mails(home / "inbox", 10, start=10_000_000 + sum(h.store.counts().values()))
            runner.tick()
            for note in sorted((h.vault.root / "Pending_Approval" / "email").iterdir()):
                os.replace(note, h.vault.root / "Approved" / note.name)
            with Timer() as busy:
                sent = runner.tick().executed
            rss = []
            for i in range(args.long_ticks):
                runner.tick()
                if i in (99, args.long_ticks // 2 - 1, args.long_ticks - 1):
                    rss.append((i + 1, rss_mb()))
            counts = h.store.counts()
    print(machine())
    print(f"home: {sum(counts.values())} tasks; synced tree {tracked} files (goal < 20,000)")
    print(f"idle tick: median {statistics.median(idle) * 1000:.0f} ms (min {min(idle) * 1000:.0f}, max "
          f"{max(idle) * 1000:.0f}) over {len(idle)} (goal < 100 ms)")
    print(f"tick with 10 approvals: {busy.wall * 1000:.0f} ms, {sent} sent (goal < 500 ms)")
    print(f"fte status, whole process: median {statistics.median(status) * 1000:.0f} ms over 5 (goal < 300 ms)")
    for name, (wall, error) in queries.items():
        print(f"fte sql {name} --json, whole process: {wall * 1000:.0f} ms (goal < 1 s){' — ' + error if error else ''}")
    print("RSS over idle ticks: " + ", ".join(f"{mb:.0f} MB after {n}" for n, mb in rss))
    return 0


def plain_cycle(vault: Path) -> float:
    t = time.perf_counter()
    subprocess.run("git add -A && git commit -q -m sync; git pull -q --rebase && git push -q", shell=True, cwd=vault,
                   capture_output=True)
    return time.perf_counter() - t


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--notes", type=int, default=100_000)
    ap.add_argument("--ticks", type=int, default=7)
    ap.add_argument("--years", type=int, default=0, help="a home of this many years of use (see above)")
    ap.add_argument("--per-day", type=int, default=200)
    ap.add_argument("--after-months", type=int, default=3)
    ap.add_argument("--long-ticks", type=int, default=1000)
    ap.add_argument("--keep", metavar="DIR", help="with --years: build the home in DIR, or measure the one there")
    ap.add_argument("--fill-only", metavar="HOME", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.fill_only:  # in a child process, so the fixture's memory is not the daemon's
        if args.years:
            fill_years(Path(args.fill_only), args.years, args.per_day, args.after_months)
        else:
            fill(Path(args.fill_only), args.notes)
        return 0
    if args.years:
        return years_run(args)
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
