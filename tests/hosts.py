"""Test hosts: a bare git remote in a temp folder and real homes (each its own SQLite file)."""

from __future__ import annotations

import subprocess
from email.message import EmailMessage
from pathlib import Path

from conftest import set_debounce

from fte.daemon import Runner
from fte.host.home import Home, init_home, open_home, trust_host


def git(cwd: Path, *args: str) -> str:
    """A git command in ``cwd``; its output (fails the test on an error)."""
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout


def bare_remote(path: Path) -> str:
    subprocess.run(["git", "init", "-q", "--bare", "--initial-branch=main", str(path)], check=True)
    return str(path)


def make_host(root: Path, name: str, role: str, remote: str) -> Path:
    """A host's home in ``root``; every host made in ``root`` trusts every local host there, as a
    person sets them up with `fte keys trust` (README, "Two local hosts")."""
    home = root / name
    init_home(home, role=role, agent=name, remote=remote)
    set_debounce(home, 0)
    others = [p.parent for p in root.glob("*/fte.toml") if p.parent != home]
    for other in others:
        if (other / "host.key").exists():
            trust_host(home, other)
        if (home / "host.key").exists():
            trust_host(other, home)
    return home


def raise_limits(home: Path, per_hour: int = 10_000) -> None:
    """Lift the per-hour rate limit on replies (tests that send many)."""
    toml = home / "fte.toml"
    text = toml.read_text()
    assert '"email.reply" = 10\n' in text
    toml.write_text(text.replace('"email.reply" = 10\n', f'"email.reply" = {per_hour}\n', 1))


def drop_mail(home: Path, n: int, subject: str = "Question", sender: str = "ann@example.com") -> str:
    msg = EmailMessage()
    msg["From"] = f"Ann Example <{sender}>"
    msg["To"] = "me@example.com"
    msg["Subject"] = f"{subject} {n}"
    msg["Message-ID"] = f"<msg{n}.{subject.replace(' ', '')}@example.com>"
    msg["Date"] = "Thu, 26 Nov 2026 09:00:00 +0000"
    msg.set_content(f"Hello, this is message {n}.\nCould you answer?\n")
    path = home / "inbox" / "new" / f"1764147600.{n}.{subject.replace(' ', '')}.test"
    path.write_bytes(bytes(msg))
    return msg["Message-ID"]


def pending(home: Path, n: int = 1, subject: str = "Question", sender: str = "ann@example.com") -> list[str]:
    """``n`` mails dropped into an ``all`` host's inbox and one tick run: their tasks' ids, oldest
    first, all waiting for a decision."""
    for i in range(n):
        drop_mail(home, i, subject=subject, sender=sender)
    run = HostRun(home)
    run.tick()
    ids = [t.id for t in sorted(run.home.store.tasks(state="pending"), key=lambda t: t.created_at)]
    run.close()
    assert len(ids) == n
    return ids


class HostRun:
    """An open home with its runner; reopen() simulates a restart."""

    def __init__(self, home: Path, clock=None) -> None:
        self.path = home
        self.clock = clock
        self.home: Home = open_home(home, clock=clock) if clock else open_home(home)
        self.runner = Runner(self.home)

    def tick(self):
        return self.runner.tick()

    def close(self) -> None:
        self.home.close()

    def states(self) -> dict[str, str]:
        return {t.id: t.state for t in self.home.store.tasks()}
