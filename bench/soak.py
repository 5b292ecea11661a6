"""Soak: real daemons — a cloud and one or two local hosts — on a bare remote, mail at a steady rate,
a person deciding on every local vault, and faults (docs/RELIABILITY.md, "Soak").

The cloud daemon drafts; each local daemon presents and executes, sending through one real SMTP
server on 127.0.0.1 (aiosmtpd, in this process), so a mail sent twice — by one host or by two — is
seen. A person thread watches every local vault's ``Pending_Approval/`` and decides each task 1–10 s
after it appears, on one local host chosen at random: 70 % approved by a move into ``Approved/``,
20 % rejected by a move into ``Rejected/``, 10 % edited (below the note's H1) and then approved.
With ``--race`` a share of the tasks is decided on **both** local hosts within a second, each host
approving or rejecting on its own coin — the person changing their mind on two devices. Moves are
renames, as Obsidian makes them, at any moment: the daemons are never paused for the person.

With ``--faults``: a random daemon is killed with SIGKILL every ``--kill-every`` seconds and started
again 2–5 s later; the remote goes away twice (at a third and at two thirds of the run, 60–120 s
each); the SMTP server refuses every mail for 60 s in the middle of the run (``451``); and 5 % of
all mails are greylisted (``451`` at RCPT) throughout.

At the end (mail stops, the person finishes, the hosts settle) it checks:

* every mail reached the person (its task was presented on a local host);
* every decision made on one host was carried out: approved → sent exactly once, with the text the
  person saw (their edit in it); rejected → never sent. A task decided on two hosts ends in one
  state, and that state agrees with the sends (``done`` ⇔ sent once, else never sent);
* no mail is sent twice, across all hosts;
* no task is stuck outside a terminal state; **every host and the remote's tip agree** on the state
  of every task;
* **a quiet vault is quiet**: for ``--quiet`` seconds after settling, with no new input, the remote
  gets no commit that touches anything but the hosts' heartbeats;
* no lock-up (longest gap between two ticks of a daemon under ``--watchdog`` seconds); SIGTERM
  makes every daemon exit 0 within 5 s;

and reports latencies (mail → pending, decision → sent), each daemon's RSS, and the incidents.

    python bench/soak.py --minutes 20 --interval 2 --sync 5 --locals 2 --race 0.1 --faults [--seed 1] [--write]

``--write`` puts the figures into docs/RELIABILITY.md (between the soak markers).
"""

from __future__ import annotations

import argparse
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
sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))
from common import drop_mails, machine
from fakes.smtp import Inbox, start_server

from fte.host.home import init_home, trust_host
from fte.io.vault.notes import NoteError, parse_note, split_body

TERMINAL = {"done", "rejected", "expired", "failed"}
LOCAL_NAMES = ("laptop", "desktop")
HEARTBEAT = 60


class Server(Inbox):
    """The SMTP server every local host sends through: greylists a share of the mails, and can be
    down (every mail refused with a transient reply) for a while."""

    def __init__(self, rng: random.Random, greylist: float) -> None:
        super().__init__()
        self.rng, self.greylist, self.down = rng, greylist, False
        self.refused = 0
        self.at: list[float] = []  # when each message of ``messages`` arrived

    async def handle_DATA(self, server, session, envelope):
        before = len(self.messages)
        reply = await super().handle_DATA(server, session, envelope)
        self.at.extend([time.time()] * (len(self.messages) - before))
        return reply

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.down or self.rng.random() < self.greylist:
            self.refused += 1
            return "451 4.7.1 Greylisted, please try again later" if not self.down else \
                "451 4.3.2 System not accepting network messages"
        return await super().handle_RCPT(server, session, envelope, address, rcpt_options)

    def sent(self) -> dict[str, list[tuple[float, str]]]:
        found: dict[str, list[tuple[float, str]]] = {}
        for msg, at in zip(list(self.messages), list(self.at)):
            body = msg.get_body(("plain",))
            found.setdefault(str(msg["X-FTE-Task"]), []).append((at, body.get_content() if body else ""))
        return found


def configure(home: Path, sync: float, smtp_port: int) -> None:
    toml = home / "fte.toml"
    text = toml.read_text()
    text = re.sub(r"(?m)^sync_interval = .*$", f"sync_interval = {sync}", text)
    text = re.sub(r"(?m)^heartbeat_interval = .*$", f"heartbeat_interval = {HEARTBEAT}", text)
    text = text.replace('"email.reply" = 10\n', '"email.reply" = 1000000\n')
    text = text.replace('transport = "maildir"', f'transport = "smtp"\nhost = "127.0.0.1"\nport = {smtp_port}\n'
                        'security = "none"')
    toml.write_text(text)


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


class Daemons:
    """The daemons, each restartable; SIGKILL and restart are counted."""

    def __init__(self, root: Path, homes: dict[str, Path]) -> None:
        self.root, self.homes = root, homes
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.kills = 0
        for name in homes:
            self.start(name)

    def start(self, name: str) -> None:
        log = open(self.root / f"{name}.log", "ab")
        self.procs[name] = subprocess.Popen([sys.executable, "-m", "fte", "daemon", "--home", str(self.homes[name])],
                                            stdout=log, stderr=subprocess.STDOUT)

    def kill(self, name: str) -> None:
        self.procs[name].send_signal(signal.SIGKILL)
        self.procs[name].wait()
        self.kills += 1

    def dead(self) -> list[str]:
        return [name for name, proc in self.procs.items() if proc.poll() is not None]


@dataclass
class Decision:
    host: str
    choice: str  # approve, reject, edit-approve
    due: float
    seen_draft: str = ""
    decided_at: float = 0.0
    done: bool = False
    moot: bool = False  # the note had left Pending_Approval/ on that host (decided on the other) first
    attempts: int = 0


@dataclass
class Person:
    """Decides every task that appears in a local vault's Pending_Approval/, at random moments."""

    vaults: dict[str, Path]
    rng: random.Random
    race: float
    decisions: dict[str, list[Decision]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        while not self.stop.is_set():
            now = time.time()
            waiting = {host: self._waiting(vault) for host, vault in self.vaults.items()}
            for host, notes in waiting.items():
                for task_id in notes:
                    if task_id not in self.decisions:
                        self.decisions[task_id] = self._plan(host, now)
            for task_id, plan in self.decisions.items():
                for d in plan:
                    if d.done or now < d.due:
                        continue
                    path = waiting[d.host].get(task_id)
                    if path is None:
                        if now > d.due + 120:  # never (again) waiting on that host: decided elsewhere
                            d.done = d.moot = True
                        continue
                    self.act(task_id, path, d)
            self.stop.wait(0.2)

    def _waiting(self, vault: Path) -> dict[str, Path]:
        found = {}
        for path in sorted((vault / "Pending_Approval").rglob("*.md")):
            try:
                found[parse_note(path.read_bytes(), path.name).id] = path
            except (OSError, NoteError):  # mid-write, or gone: looked at again later
                continue
        return found

    def _plan(self, host: str, now: float) -> list[Decision]:
        due = now + self.rng.uniform(1, 10)
        if len(self.vaults) > 1 and self.rng.random() < self.race:
            first, second = self.rng.sample(list(self.vaults), 2)
            return [Decision(first, self.rng.choice(("approve", "reject")), due),
                    Decision(second, self.rng.choice(("approve", "reject")), due + self.rng.uniform(0, 1))]
        r = self.rng.random()
        choice = "approve" if r < 0.7 else "reject" if r < 0.9 else "edit-approve"
        return [Decision(self.rng.choice(list(self.vaults)), choice, due)]

    def act(self, task_id: str, path: Path, d: Decision) -> None:
        d.attempts += 1
        vault = self.vaults[d.host]
        try:
            data = path.read_text(encoding="utf-8")
            if d.choice == "edit-approve" and f"(edited {task_id[:8]})" not in data:
                head, sep, rest = data.partition("\n---\n")
                heading = ""
                if rest.startswith("# "):  # the note's H1 (its title) is not the draft: edit below it
                    h1, gap, rest = rest.partition("\n\n")
                    heading = h1 + gap
                first, nl, tail = rest.partition("\n")
                path.write_text(head + sep + heading + first + f" (edited {task_id[:8]})" + nl + tail,
                                encoding="utf-8")  # in place, as an editor saves
                d.due = time.time() + self.rng.uniform(0.5, 3)  # then moved a moment later
                return
            note = parse_note(data.encode(), path.name)
            os.rename(path, vault / ("Rejected" if d.choice == "reject" else "Approved") / path.name)
            d.seen_draft = split_body(note.body, note.meta.get("title"))[0].strip()
            d.decided_at = time.time()
            d.done = True
        except (FileNotFoundError, NoteError):
            pass  # the daemon moved or re-rendered it this instant: try again at the next look
        except OSError as exc:
            if d.attempts > 50:
                self.errors.append(f"{task_id[:8]}: {exc}")
                d.done = True


def remote_states(remote: Path) -> dict[str, str]:
    """Task id → state, as the notes at the remote's tip say."""
    listing = subprocess.run(["git", "ls-tree", "-r", "main"], cwd=remote, capture_output=True, text=True,
                             check=True).stdout
    shas = [(line.split()[2], line.split("\t", 1)[1]) for line in listing.splitlines()
            if line.split("\t", 1)[1].endswith(".md") and not line.split("\t", 1)[1].startswith(("Logs/", "Briefings/"))
            and "/" in line.split("\t", 1)[1]]
    out = subprocess.run(["git", "cat-file", "--batch"], cwd=remote, input="".join(f"{s}\n" for s, _ in shas).encode(),
                         capture_output=True, check=True).stdout
    states: dict[str, str] = {}
    pos = 0
    for _sha, path in shas:
        header_end = out.index(b"\n", pos)
        size = int(out[pos:header_end].split()[2])
        data = out[header_end + 1:header_end + 1 + size]
        pos = header_end + 1 + size + 1
        try:
            note = parse_note(data, path)
        except NoteError:
            continue
        states[note.id] = str(note.meta.get("state"))
    return states


def quiet_commits(remote: Path, since: str) -> tuple[int, list[str]]:
    """Commits on the remote since ``since``: how many, and the paths they touched that are not heartbeats."""
    log = subprocess.run(["git", "log", "--format=@%H", "--name-only", f"{since}..main"], cwd=remote,
                         capture_output=True, text=True, check=True).stdout.split()
    commits = sum(1 for x in log if x.startswith("@"))
    return commits, sorted({p for p in log if not p.startswith("@") and not re.fullmatch(r"Logs/[^/]+/heartbeat\.json", p)})


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
    ap.add_argument("--locals", type=int, choices=(1, 2), default=2, help="how many local hosts")
    ap.add_argument("--race", type=float, default=0.1, help="share of tasks decided on both local hosts at once")
    ap.add_argument("--faults", action="store_true", help="kill -9, remote and SMTP outages, greylisting")
    ap.add_argument("--kill-every", type=float, default=120.0, help="seconds between two kill -9 (with --faults)")
    ap.add_argument("--settle", type=float, default=300.0, help="most seconds to wait for the hosts to settle")
    ap.add_argument("--quiet", type=float, default=2 * HEARTBEAT, help="seconds watched for commits once settled")
    ap.add_argument("--watchdog", type=float, default=60.0, help="longest acceptable gap between two ticks")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", help="run in this folder and keep it (default: a temporary folder)")
    ap.add_argument("--write", action="store_true", help="record the figures in docs/RELIABILITY.md")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    tmp = None if args.keep else tempfile.TemporaryDirectory(prefix="fte-soak-")
    root = Path(args.keep or tmp.name)  # type: ignore[union-attr]
    root.mkdir(parents=True, exist_ok=True)
    remote = root / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", "--initial-branch=main", str(remote)], check=True)
    server = Server(random.Random(args.seed + 1), 0.05 if args.faults else 0.0)
    controller = start_server(server)
    locals_ = {name: root / name for name in LOCAL_NAMES[:args.locals]}
    homes = {"cloud": root / "cloud", **locals_}
    init_home(homes["cloud"], role="cloud", agent="cloud", remote=str(remote))
    for name, home in locals_.items():
        init_home(home, role="local", agent=name, remote=str(remote))
    for name, home in homes.items():
        for other, other_home in locals_.items():
            if other != name:
                trust_host(home, other_home)
        configure(home, args.sync, controller.port)
    daemons = Daemons(root, homes)
    person = Person({name: home / "vault" for name, home in locals_.items()}, rng, args.race if args.locals > 1 else 0)
    person_thread = threading.Thread(target=person.run, daemon=True)
    person_thread.start()
    dropped: dict[str, float] = {}
    rss: list[tuple[float, dict[str, float]]] = []
    gaps = dict.fromkeys(homes, 0.0)
    last_seen: dict[str, str] = {}
    last_change: dict[str, float] = {}
    started = time.time()
    run_for = args.minutes * 60
    deadline = started + run_for
    faults: list[str] = []
    outages = [(started + run_for / 3, rng.uniform(60, 120)), (started + 2 * run_for / 3, rng.uniform(60, 120))] \
        if args.faults else []
    outage_state = ["ahead"] * len(outages)
    smtp_outage = (started + run_for / 2, 60.0) if args.faults else None
    next_kill = started + args.kill_every if args.faults else float("inf")
    restarts: list[tuple[float, str]] = []
    remote_away = False
    n = 0
    next_rss = started + 60  # the first sample once the daemons are warm

    def watch() -> None:
        for agent, home in homes.items():
            try:
                with ro(home) as conn:
                    row = conn.execute("SELECT last_seen FROM hosts WHERE agent = ?", (agent,)).fetchone()
            except sqlite3.Error:
                continue
            now = time.time()
            if row and row[0] != last_seen.get(agent):
                last_seen[agent] = row[0]
                last_change[agent] = now
            elif agent in last_change and agent not in [name for _t, name in restarts]:
                gaps[agent] = max(gaps[agent], now - last_change[agent])

    def faults_now() -> None:
        nonlocal next_kill, remote_away
        now = time.time()
        for at, name in list(restarts):
            if now >= at:
                restarts.remove((at, name))
                daemons.start(name)
                last_change[name] = now  # its gap restarts with it
        if now >= next_kill:
            name = rng.choice(list(homes))
            if name not in [x for _t, x in restarts]:
                daemons.kill(name)
                restarts.append((now + rng.uniform(2, 5), name))
                faults.append(f"{int(now - started)} s: kill -9 {name}")
            next_kill = now + args.kill_every
        for i, (at, length) in enumerate(outages):
            if outage_state[i] == "ahead" and now >= at and not remote_away:
                remote.rename(root / "remote-away.git")
                remote_away, outage_state[i] = True, "on"
                faults.append(f"{int(now - started)} s: remote away for {length:.0f} s")
            elif outage_state[i] == "on" and now >= at + length:
                (root / "remote-away.git").rename(remote)
                remote_away, outage_state[i] = False, "over"
        if smtp_outage:
            down = smtp_outage[0] <= now < smtp_outage[0] + smtp_outage[1]
            if down and not server.down:
                faults.append(f"{int(now - started)} s: SMTP refuses everything for {smtp_outage[1]:.0f} s")
            server.down = down

    print(f"soak in {root}: {args.locals} local host(s), mail every {args.interval} s for {args.minutes} min, "
          f"sync every {args.sync} s{', with faults' if args.faults else ''}", flush=True)
    while time.time() < deadline:
        drop_mails(homes["cloud"] / "inbox", 1, start=n)
        dropped[f"<bench-{n}@example.com>"] = time.time()
        n += 1
        watch()
        faults_now()
        if time.time() >= next_rss:
            rss.append((time.time() - started, {a: rss_mb(p.pid) for a, p in daemons.procs.items()}))
            next_rss += 60
            decided = sum(d.done for plan in person.decisions.values() for d in plan)
            print(f"  {int(time.time() - started):5d} s: {n} mails, {len(person.decisions)} seen, {decided} decided, "
                  f"{sum(len(v) for v in server.sent().values())} sent, RSS "
                  + ", ".join(f"{a} {v:.0f} MB" for a, v in rss[-1][1].items()), flush=True)
        unexpected = [name for name in daemons.dead() if name not in [x for _t, x in restarts]]
        if unexpected:
            print(f"daemon {unexpected[0]} exited with {daemons.procs[unexpected[0]].returncode}", flush=True)
            return 1
        time.sleep(args.interval)
    # Everything comes back, then the hosts settle: every mail seen and decided, every decision carried out.
    if remote_away:
        (root / "remote-away.git").rename(remote)
    server.down = False
    server.greylist = 0.0
    for _at, name in restarts:
        daemons.start(name)
    restarts.clear()
    settle_deadline = time.time() + args.settle
    settled = False
    while time.time() < settle_deadline:
        watch()
        views = []
        for home in homes.values():
            with ro(home) as conn:
                views.append(dict(conn.execute("SELECT id, state FROM tasks")))
        if (len(views[1]) >= n and all(s in TERMINAL for s in views[1].values()) and all(v == views[1] for v in views)
                and all(d.done for plan in person.decisions.values() for d in plan)):
            settled = True
            break
        time.sleep(1)
    settled_after = time.time() - deadline
    # The quiet period: no new input; only heartbeats may reach the remote.
    time.sleep(2 * args.sync + 5)  # the last pushes of the settling go out
    quiet_from = subprocess.run(["git", "rev-parse", "main"], cwd=remote, capture_output=True, text=True,
                                check=True).stdout.strip()
    time.sleep(args.quiet)
    quiet_n, quiet_paths = quiet_commits(remote, quiet_from)
    rss.append((time.time() - started, {a: rss_mb(p.pid) for a, p in daemons.procs.items()}))
    person.stop.set()
    person_thread.join(timeout=5)
    stops: dict[str, tuple[int | None, float]] = {}
    for agent, proc in daemons.procs.items():
        t0 = time.time()
        proc.send_signal(signal.SIGTERM)
        try:
            code: int | None = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = None
        stops[agent] = (code, time.time() - t0)
    controller.stop()

    # -- the checks ------------------------------------------------------------------------------
    states: dict[str, dict[str, str]] = {}
    incidents: dict[str, dict[str, int]] = {}
    presented: dict[str, str] = {}
    by_ref: dict[str, str] = {}
    for name, home in homes.items():
        with ro(home) as conn:
            states[name] = dict(conn.execute("SELECT id, state FROM tasks"))
            incidents[name] = dict(conn.execute("SELECT kind, count(*) FROM incidents GROUP BY kind"))
            if name != "cloud":
                for tid, at in conn.execute("SELECT task_id, min(at) FROM transitions WHERE to_state = 'pending' "
                                            "GROUP BY task_id"):
                    presented[tid] = min(at, presented.get(tid, at))
            by_ref.update({ref: tid for tid, ref in conn.execute("SELECT id, source_ref FROM tasks")})
    at_remote = remote_states(remote)
    first_local = states[LOCAL_NAMES[0]]
    mails = server.sent()
    lost_mails = [ref for ref in dropped if ref not in by_ref or by_ref[ref] not in presented]
    duplicates = [tid for tid, out in mails.items() if len(out) > 1]
    lost_decisions, wrong_text, sent_rejected, failed, race_bad, send_latency = [], [], [], [], [], []
    sent_at = {tid: min(at for at, _b in out) for tid, out in mails.items()}
    for tid, plan in person.decisions.items():
        made = [d for d in plan if d.decided_at]
        final = first_local.get(tid)
        out = mails.get(tid, [])
        if not made:
            lost_decisions.append(tid)
            continue
        if len(plan) > 1:  # decided on two hosts: one outcome, and the sends agree with it
            if not ((final == "done" and len(out) == 1) or (final in ("rejected", "failed") and not out)):
                race_bad.append(tid)
            continue
        d = made[0]
        if d.choice == "reject":
            if out:
                sent_rejected.append(tid)
            if final != "rejected":
                lost_decisions.append(tid)
            continue
        if final == "failed" and not out:
            failed.append(tid)  # a send that may have happened (cut by a kill -9): the person decides
            continue
        if len(out) != 1:
            if not out:
                lost_decisions.append(tid)
            continue
        first_line = d.seen_draft.splitlines()[0] if d.seen_draft else ""
        if first_line not in out[0][1] or ((d.choice == "edit-approve") != (f"(edited {tid[:8]})" in out[0][1])):
            wrong_text.append(tid)
        if sent_at.get(tid):
            send_latency.append(sent_at[tid] - d.decided_at)
    stuck = [tid for tid, s in first_local.items() if s not in TERMINAL]
    disagree = [tid for tid in set().union(*states.values())
                if len({states[h].get(tid) for h in homes} | ({at_remote[tid]} if tid in at_remote else set())) != 1]
    arrive = [datetime.fromisoformat(presented[by_ref[ref]]).timestamp() - t
              for ref, t in dropped.items() if ref in by_ref and by_ref[ref] in presented]
    single = [plan[0] for plan in person.decisions.values() if len(plan) == 1]
    approved = sum(d.choice != "reject" for d in single)
    quiet_bound = len(homes) * (int(args.quiet // HEARTBEAT) + 1)
    ok = settled and not (lost_mails or lost_decisions or wrong_text or duplicates or sent_rejected or stuck
                          or disagree or race_bad or person.errors or quiet_paths) and quiet_n <= quiet_bound \
        and all(code == 0 and took < 5 for code, took in stops.values()) and max(gaps.values()) < args.watchdog
    command = (f"`python bench/soak.py --minutes {args.minutes:g} --interval {args.interval:g} --sync {args.sync:g} "
               f"--locals {args.locals} --race {args.race:g}{' --faults' if args.faults else ''} --seed {args.seed}`")
    lost_approvals = [t for t in lost_decisions if person.decisions[t][0].choice != "reject"]
    rows = [
        ("hosts", (f"cloud + {', '.join(locals_)}; faults: {len(faults)} ({daemons.kills} kill -9, {len(outages)} "
                   f"remote outages, {'1 SMTP outage' if smtp_outage else 'no SMTP outage'}, {server.refused} mails "
                   "refused by SMTP with 451)")),
        ("mails dropped / reached the person", f"{len(dropped)} / {len(dropped) - len(lost_mails)}"),
        ("tasks decided on one host (approve / reject / edit then approve)",
         (f"{len(single)} ({sum(d.choice == 'approve' for d in single)} / {sum(d.choice == 'reject' for d in single)}"
          f" / {sum(d.choice == 'edit-approve' for d in single)})")),
        ("approved on one host and sent exactly once",
         f"{approved - len(failed) - len(lost_approvals)} of {approved} ({len(failed)} failed for the person to look at)"),
        ("tasks decided on two hosts at once / outcome and sends disagree",
         f"{sum(len(p) > 1 for p in person.decisions.values())} / {len(race_bad)}"),
        ("lost decisions / sent twice (any host) / rejected but sent",
         f"{len(lost_decisions)} / {len(duplicates)} / {len(sent_rejected)}"),
        ("sent text differs from what the person saw", f"{len(wrong_text)}"),
        ("tasks stuck outside a terminal state", f"{len(stuck)}"),
        ("hosts and the remote disagree on a task's state",
         f"{len(disagree)} (settled {settled_after:.0f} s after the last mail: {'yes' if settled else 'NO'})"),
        (f"commits in {args.quiet:g} quiet seconds (heartbeats allowed: {quiet_bound}) / touching more than heartbeats",
         f"{quiet_n} / {len(quiet_paths)}"),
        (f"longest gap between ticks (watchdog {args.watchdog:g} s)", ", ".join(f"{a} {g:.1f} s" for a, g in gaps.items())),
        ("SIGTERM → exit", ", ".join(f"{a} code {c} in {t:.2f} s" for a, (c, t) in stops.items())),
        ("mail → pending on a local host",
         (f"median {pct(arrive, .5):.1f} s, p90 {pct(arrive, .9):.1f} s, p99 {pct(arrive, .99):.1f} s, "
          f"max {max(arrive, default=float('nan')):.1f} s")),
        ("decision → sent", (f"median {pct(send_latency, .5):.2f} s, p90 {pct(send_latency, .9):.2f} s, "
                             f"p99 {pct(send_latency, .99):.2f} s, max {max(send_latency, default=float('nan')):.2f} s")),
        ("RSS first → last", ", ".join(f"{a} {rss[0][1].get(a, 0):.0f} → {rss[-1][1].get(a, 0):.0f} MB" for a in homes)
         + f" ({len(rss)} samples)"),
        ("incidents", "; ".join(f"{a}: {json.dumps(i)}" for a, i in incidents.items())),
    ]
    if person.errors:
        rows.append(("the person's errors", "; ".join(person.errors[:5])))
    lines = [f"Measured {date.today().isoformat()} on {machine()}, with", f"{command}: **{'PASS' if ok else 'FAIL'}**",
             "", "| check | result |", "|---|---|", *(f"| {k} | {v} |" for k, v in rows)]
    report = "\n".join(lines)
    print(report)
    print("faults:", "; ".join(faults) or "none")
    for name, values in (("lost mails", lost_mails), ("lost decisions", lost_decisions), ("duplicates", duplicates),
                         ("wrong text", wrong_text), ("stuck", stuck), ("disagree", disagree),
                         ("race outcome", race_bad), ("quiet commits touched", quiet_paths)):
        if values:
            print(f"{name}: {', '.join(str(v)[:40] for v in values[:20])}")
    for tid in disagree[:5]:
        print(f"  {tid[:8]}: " + ", ".join(f"{h} {states[h].get(tid)}" for h in homes) + f", remote {at_remote.get(tid)}")
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
