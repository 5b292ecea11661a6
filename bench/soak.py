"""Soak: two real daemons, a bare remote, mail at a steady rate and a person acting as people do.

The cloud daemon drafts, the local daemon presents and executes (sent mail lands in its outbox
Maildir). A person thread watches the local vault's ``Pending_Approval/`` and decides each note
1–10 s after it appears: 70 % approved by a move into ``Approved/``, 20 % rejected by a move into
``Rejected/``, 10 % edited (the draft's first line, below the note's H1) and then approved. Moves are renames, as
Obsidian makes them, at any moment — the daemons are never paused for the person.

At the end (mail stops, the person finishes, the hosts are given time to settle) it checks:

* every mail reached the person (each became a task presented on the local host);
* every decision was carried out: approved → sent exactly once, with the text the person saw;
  rejected → never sent;
* no task is stuck outside a terminal state; both hosts hold the same state for every task;
* no lock-up: the longest gap between two heartbeats of a daemon (its ticks) stays under
  ``--watchdog`` seconds;
* SIGTERM: both daemons exit 0 within 5 s;

and reports latency percentiles (mail → pending, decision → sent) and each daemon's RSS over time.

    python bench/soak.py --minutes 15 --interval 2 --sync 5 [--seed 1] [--write]

``--write`` puts the figures into docs/RELIABILITY.md (between the soak markers).
"""

from __future__ import annotations

import argparse
import email
import email.policy
import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import drop_mails, machine  # noqa: E402

from fte.home import init_home, trust_host  # noqa: E402
from fte.io.vault.notes import parse_note, split_body  # noqa: E402

TERMINAL = {"done", "rejected", "expired", "failed"}


def configure(home: Path, sync: float) -> None:
    toml = home / "fte.toml"
    text = toml.read_text()
    text = re.sub(r"(?m)^sync_interval = .*$", f"sync_interval = {sync}", text)
    text = re.sub(r"(?m)^heartbeat_interval = .*$", "heartbeat_interval = 60", text)
    text = text.replace('"email.reply" = 10\n', '"email.reply" = 1000000\n')
    toml.write_text(text)


def start(home: Path, log: Path) -> subprocess.Popen[bytes]:
    fh = open(log, "wb")
    return subprocess.Popen([sys.executable, "-m", "fte", "daemon", "--home", str(home)],
                            stdout=fh, stderr=subprocess.STDOUT)


def ro(home: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{home / 'fte.db'}?mode=ro", uri=True, timeout=30)


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


@dataclass
class Decision:
    choice: str  # approve, reject, edit-approve
    due: float
    seen_draft: str = ""
    decided_at: float = 0.0
    done: bool = False
    attempts: int = 0


@dataclass
class Person:
    """Decides every note that appears in Pending_Approval/, in its own thread, at random moments."""

    vault: Path
    rng: random.Random
    decisions: dict[str, Decision] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        while not self.stop.is_set():
            now = time.time()
            for path in sorted((self.vault / "Pending_Approval").rglob("*.md")):
                try:
                    note = parse_note(path.read_bytes(), path.name)
                except (OSError, Exception):  # a note mid-write, or gone: look again later
                    continue
                d = self.decisions.get(note.id)
                if d is None:
                    r = self.rng.random()
                    choice = "approve" if r < 0.7 else "reject" if r < 0.9 else "edit-approve"
                    self.decisions[note.id] = Decision(choice, now + self.rng.uniform(1, 10))
                    continue
                if d.done or now < d.due:
                    continue
                self.act(note.id, path, d)
            self.stop.wait(0.2)

    def act(self, task_id: str, path: Path, d: Decision) -> None:
        d.attempts += 1
        try:
            data = path.read_text(encoding="utf-8")
            if d.choice == "edit-approve" and f"(edited {task_id[:8]})" not in data:
                head, sep, rest = data.partition("\n---\n")
                heading = ""
                if rest.startswith("# "):  # the note's H1 (its title) is not the draft: edit below it
                    h1, gap, rest = rest.partition("\n\n")
                    heading = h1 + gap
                first, nl, tail = rest.partition("\n")
                data = head + sep + heading + first + f" (edited {task_id[:8]})" + nl + tail
                path.write_text(data, encoding="utf-8")  # in place, as an editor saves
                d.due = time.time() + self.rng.uniform(0.5, 3)  # then moved a moment later
                return
            note = parse_note(data.encode(), path.name)
            folder = "Rejected" if d.choice == "reject" else "Approved"
            os.rename(path, self.vault / folder / path.name)
            d.seen_draft = split_body(note.body, note.meta.get("title"))[0].strip()
            d.decided_at = time.time()
            d.done = True
        except FileNotFoundError:
            pass  # the daemon moved or re-rendered it this instant: try again at the next look
        except OSError as exc:
            if d.attempts > 50:
                self.errors.append(f"{task_id[:8]}: {exc}")
                d.done = True


def sent_mails(outbox: Path) -> dict[str, list[tuple[float, str]]]:
    found: dict[str, list[tuple[float, str]]] = {}
    for sub in ("new", "cur"):
        for path in (outbox / sub).iterdir():
            msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            body = msg.get_body(("plain",))
            found.setdefault(str(msg["X-FTE-Task"]), []).append(
                (path.stat().st_mtime, body.get_content() if body else ""))
    return found


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=15.0, help="how long mail keeps coming")
    ap.add_argument("--interval", type=float, default=2.0, help="seconds between two mails")
    ap.add_argument("--sync", type=float, default=5.0, help="the daemons' sync_interval")
    ap.add_argument("--settle", type=float, default=180.0, help="most seconds to wait for the hosts to settle")
    ap.add_argument("--watchdog", type=float, default=60.0, help="longest acceptable gap between two ticks")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", help="run in this folder and keep it (default: a temporary folder)")
    ap.add_argument("--write", action="store_true", help="record the figures in docs/RELIABILITY.md")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    tmp = None if args.keep else tempfile.TemporaryDirectory(prefix="fte-soak-")
    root = Path(args.keep or tmp.name)  # type: ignore[union-attr]
    root.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", "--bare", "--initial-branch=main", str(root / "remote.git")], check=True)
    cloud, local = root / "cloud", root / "local"
    init_home(cloud, role="cloud", agent="cloud", remote=str(root / "remote.git"))
    init_home(local, role="local", agent="laptop", remote=str(root / "remote.git"))
    trust_host(cloud, local)
    for home in (cloud, local):
        configure(home, args.sync)
    procs = {"cloud": start(cloud, root / "cloud.log"), "laptop": start(local, root / "laptop.log")}
    person = Person(local / "vault", rng)
    person_thread = threading.Thread(target=person.run, daemon=True)
    person_thread.start()
    dropped: dict[str, float] = {}
    rss: list[tuple[float, float, float]] = []
    gaps = {"cloud": 0.0, "laptop": 0.0}
    last_seen: dict[str, str] = {}
    last_change: dict[str, float] = {}
    started = time.time()
    deadline = started + args.minutes * 60
    n = 0
    next_rss = started + 60  # the first sample once the daemons are warm

    def watch() -> None:
        for agent, home in (("cloud", cloud), ("laptop", local)):
            try:
                with ro(home) as conn:
                    row = conn.execute("SELECT last_seen FROM hosts WHERE agent = ?", (agent,)).fetchone()
            except sqlite3.Error:
                continue
            now = time.time()
            if row and row[0] != last_seen.get(agent):
                last_seen[agent] = row[0]
                last_change[agent] = now
            elif agent in last_change:
                gaps[agent] = max(gaps[agent], now - last_change[agent])

    print(f"soak in {root}: mail every {args.interval} s for {args.minutes} min, sync every {args.sync} s", flush=True)
    while time.time() < deadline:
        drop_mails(cloud / "inbox", 1, start=n)
        dropped[f"<bench-{n}@example.com>"] = time.time()
        n += 1
        watch()
        if time.time() >= next_rss:
            rss.append((time.time() - started, rss_mb(procs["cloud"].pid), rss_mb(procs["laptop"].pid)))
            next_rss += 60
            done = sum(d.done for d in person.decisions.values())
            print(f"  {int(time.time() - started):5d} s: {n} mails, {len(person.decisions)} seen, {done} decided, "
                  f"RSS cloud {rss[-1][1]:.0f} MB, laptop {rss[-1][2]:.0f} MB", flush=True)
        for agent, proc in procs.items():
            if proc.poll() is not None:
                print(f"{agent} daemon exited with {proc.returncode}", flush=True)
                return 1
        time.sleep(args.interval)
    # Settle: every mail seen and decided, every decision carried out on both hosts.
    settle_deadline = time.time() + args.settle
    while time.time() < settle_deadline:
        watch()
        with ro(local) as conn:
            states = dict(conn.execute("SELECT id, state FROM tasks"))
        with ro(cloud) as conn:
            cloud_states = dict(conn.execute("SELECT id, state FROM tasks"))
        if (len(states) >= n and all(s in TERMINAL for s in states.values()) and states == cloud_states
                and all(d.done for d in person.decisions.values())):
            break
        time.sleep(1)
    rss.append((time.time() - started, rss_mb(procs["cloud"].pid), rss_mb(procs["laptop"].pid)))
    person.stop.set()
    person_thread.join(timeout=5)
    stops: dict[str, tuple[int | None, float]] = {}
    for agent, proc in procs.items():
        t0 = time.time()
        proc.send_signal(signal.SIGTERM)
        try:
            code: int | None = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = None
        stops[agent] = (code, time.time() - t0)

    # -- the checks ------------------------------------------------------------------------------
    with ro(local) as conn:
        tasks = {tid: (ref, state) for tid, ref, state in conn.execute("SELECT id, source_ref, state FROM tasks")}
        presented = {tid: at for tid, at in conn.execute("SELECT task_id, min(at) FROM transitions "
                                                          "WHERE to_state = 'pending' GROUP BY task_id")}
        incidents = dict(conn.execute("SELECT kind, count(*) FROM incidents GROUP BY kind"))
    with ro(cloud) as conn:
        cloud_states = dict(conn.execute("SELECT id, state FROM tasks"))
        cloud_incidents = dict(conn.execute("SELECT kind, count(*) FROM incidents GROUP BY kind"))
    by_ref = {ref: tid for tid, (ref, _s) in tasks.items()}
    mails = sent_mails(local / "outbox")
    lost_mails = [ref for ref in dropped if ref not in by_ref or by_ref[ref] not in presented]
    lost_decisions, wrong_text, duplicates, sent_rejected, send_latency = [], [], [], [], []
    for tid, d in person.decisions.items():
        if not d.done or not d.decided_at:
            lost_decisions.append(tid)
            continue
        out = mails.get(tid, [])
        if d.choice == "reject":
            if out:
                sent_rejected.append(tid)
            if tasks.get(tid, ("", ""))[1] != "rejected":
                lost_decisions.append(tid)
            continue
        if len(out) != 1:
            (duplicates if len(out) > 1 else lost_decisions).append(tid)
            continue
        first_line = d.seen_draft.splitlines()[0] if d.seen_draft else ""
        if first_line not in out[0][1] or ((d.choice == "edit-approve") != (f"(edited {tid[:8]})" in out[0][1])):
            wrong_text.append(tid)
        send_latency.append(out[0][0] - d.decided_at)
    undecided = [tid for tid in tasks if tid not in person.decisions]
    stuck = [tid for tid, (_r, s) in tasks.items() if s not in TERMINAL]
    disagree = [tid for tid, (_r, s) in tasks.items() if cloud_states.get(tid) != s]
    arrive = [datetime.fromisoformat(presented[by_ref[ref]]).timestamp() - t
              for ref, t in dropped.items() if ref in by_ref and by_ref[ref] in presented]
    approved = sum(d.choice != "reject" for d in person.decisions.values())
    ok = not (lost_mails or lost_decisions or wrong_text or duplicates or sent_rejected or stuck or disagree
              or person.errors) and all(code == 0 and took < 5 for code, took in stops.values()) \
        and max(gaps.values()) < args.watchdog
    lines = [
        f"Measured {date.today().isoformat()} on {machine()}, with",
        f"`python bench/soak.py --minutes {args.minutes:g} --interval {args.interval:g} --sync {args.sync:g} "
        f"--seed {args.seed}`: **{'PASS' if ok else 'FAIL'}**",
        "",
        "| check | result |",
        "|---|---|",
        f"| mails dropped / reached the person | {len(dropped)} / {len(dropped) - len(lost_mails)} |",
        f"| decisions (approve / reject / edit then approve) | {len(person.decisions)} "
        f"({sum(d.choice == 'approve' for d in person.decisions.values())} / "
        f"{sum(d.choice == 'reject' for d in person.decisions.values())} / "
        f"{sum(d.choice == 'edit-approve' for d in person.decisions.values())}) |",
        f"| approved and sent exactly once | {approved - len([t for t in lost_decisions if person.decisions[t].choice != 'reject']) - len(duplicates)} of {approved} |",
        f"| lost decisions / duplicates / rejected but sent | {len(lost_decisions)} / {len(duplicates)} / {len(sent_rejected)} |",
        f"| sent text differs from what the person saw | {len(wrong_text)} |",
        f"| tasks stuck outside a terminal state / undecided | {len(stuck)} / {len(undecided)} |",
        f"| hosts disagree on a task's state | {len(disagree)} |",
        f"| longest gap between ticks (watchdog {args.watchdog:g} s) | cloud {gaps['cloud']:.1f} s, laptop {gaps['laptop']:.1f} s |",
        "| SIGTERM → exit | " + ", ".join(f"{a} code {c} in {t:.2f} s" for a, (c, t) in stops.items()) + " |",
        f"| mail → pending on the laptop | median {pct(arrive, .5):.1f} s, p90 {pct(arrive, .9):.1f} s, "
        f"p99 {pct(arrive, .99):.1f} s, max {max(arrive, default=float('nan')):.1f} s |",
        f"| decision → sent | median {pct(send_latency, .5):.2f} s, p90 {pct(send_latency, .9):.2f} s, "
        f"p99 {pct(send_latency, .99):.2f} s, max {max(send_latency, default=float('nan')):.2f} s |",
        f"| RSS cloud / laptop, first → last | {rss[0][1]:.0f} → {rss[-1][1]:.0f} MB / {rss[0][2]:.0f} → {rss[-1][2]:.0f} MB "
        f"({len(rss)} samples) |",
        f"| incidents on the laptop / the cloud | {json.dumps(incidents) or '{}'} / {json.dumps(cloud_incidents) or '{}'} |",
    ]
    if person.errors:
        lines.append(f"| the person's errors | {'; '.join(person.errors[:5])} |")
    report = "\n".join(lines)
    print(report)
    for name, values in (("lost mails", lost_mails), ("lost decisions", lost_decisions), ("duplicates", duplicates),
                         ("wrong text", wrong_text), ("stuck", stuck), ("disagree", disagree)):
        if values:
            print(f"{name}: {', '.join(str(v)[:8] for v in values[:20])}")
    if args.write:
        doc = Path(__file__).resolve().parents[1] / "docs" / "RELIABILITY.md"
        text = doc.read_text()
        begin, end = "<!-- soak -->", "<!-- /soak -->"
        block = f"{begin}\n{report}\n{end}"
        text = re.sub(re.escape(begin) + ".*?" + re.escape(end), lambda _m: block, text, flags=re.S) \
            if begin in text else text.rstrip() + "\n\n" + block + "\n"
        doc.write_text(text)
    if tmp is not None:
        tmp.cleanup()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
