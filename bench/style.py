"""How fast drafts stop needing the person's corrections: a simulated person answers ``--mails``
mails from ``--senders`` senders (over three domains) on an ``all`` host with the template drafter,
and corrects every draft the same way — their greeting ("Hi Ann!"), their sign-off, a PS line —
before approving it; each reply is sent. Reports, per simulated week (``--per-week`` mails), the
mean edit distance (characters, Levenshtein) between the draft and what the person sent, and how
many drafts needed no correction.

    python bench/style.py --mails 50 --senders 10
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from email.message import EmailMessage
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import machine

from fte.daemon import Runner
from fte.host.home import init_home, open_home
from fte.usecases import decisions

NAMES = ["Ann", "Ben", "Chloé", "Dana", "Eve", "Farid", "Gao", "Hana", "Ivo", "Jun", "Kai", "Lea"]
DOMAINS = ["example.com", "acme.test", "northwind.test"]


def levenshtein(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def as_the_person_writes(draft: str, name: str) -> str:
    """The person's consistent corrections: their greeting, a PS line, their sign-off."""
    lines = draft.rstrip("\n").split("\n")
    cut = max(i for i, line in enumerate(lines) if not line.strip())
    middle = [line for line in lines[1:cut] if line != "PS: we are closed on Fridays."]
    while middle and not middle[-1].strip():
        middle.pop()
    return "\n".join([f"Hi {name}!", *middle, "", "PS: we are closed on Fridays.", "", "Cheers,", "Sam"]) + "\n"


def drop(inbox: Path, n: int, name: str, address: str) -> None:
    msg = EmailMessage()
    msg["From"] = f"{name} Example <{address}>"
    msg["To"] = "me@example.com"
    msg["Subject"] = f"Question {n}"
    msg["Message-ID"] = f"<style-{n}@example.com>"
    msg.set_content(f"Hello, this is question {n}.\n")
    tmp = inbox / "tmp" / f"{n}.style"
    tmp.write_bytes(bytes(msg))
    os.replace(tmp, inbox / "new" / f"{n}.style")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mails", type=int, default=50)
    ap.add_argument("--senders", type=int, default=10)
    ap.add_argument("--per-week", type=int, default=10)
    args = ap.parse_args()
    weeks: list[list[int]] = []
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        init_home(home, role="all", agent="bench")
        toml = home / "fte.toml"
        toml.write_text(toml.read_text().replace('"email.reply" = 10\n', '"email.reply" = 100000\n')
                        .replace("debounce = 3.0", "debounce = 0.0"))
        (home / "inbox" / "tmp").mkdir(exist_ok=True)
        for n in range(args.mails):
            s = n % args.senders
            name = NAMES[s % len(NAMES)]
            drop(home / "inbox", n, name, f"{name.lower()}{s}@{DOMAINS[s % len(DOMAINS)]}")
            with open_home(home) as h:
                Runner(h).tick()
                [task] = h.store.tasks(state="pending")
            wanted = as_the_person_writes(task.body, name)
            distance = levenshtein(task.body, wanted)
            if distance:
                decisions.edit(home, task.id, wanted)
            decisions.approve(home, task.id)
            with open_home(home) as h:
                Runner(h).tick()
                assert h.store.get(task.id).state == "done"
            if n % args.per_week == 0:
                weeks.append([])
            weeks[-1].append(distance)
    print(f"machine: {machine()}")
    print(f"{args.mails} mails from {args.senders} senders over {len(DOMAINS)} domains, {args.per_week} a week")
    print("| week | mean edit distance (chars) | drafts needing no correction |")
    print("|---|---|---|")
    for i, week in enumerate(weeks, 1):
        print(f"| {i} | {sum(week) / len(week):.1f} | {sum(1 for d in week if d == 0)} of {len(week)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
