"""`fte review`, driven through a real pseudo-terminal as a person at a terminal (or over SSH) would."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

from hosts import HostRun, drop_mail


class Terminal:
    """A process on a pty: read until a prompt shows, then type."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True)
        os.close(slave)
        self.seen = ""

    def expect(self, text: str, timeout: float = 60.0) -> str:
        deadline = time.monotonic() + timeout
        while text not in self.seen:
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None and not select.select([self.master], [], [], 0)[0]:
                raise AssertionError(f"never saw {text!r}; the screen:\n{self.seen[-2000:]}")
            ready, _, _ = select.select([self.master], [], [], min(left, 0.5))
            if ready:
                try:
                    self.seen += os.read(self.master, 65536).decode("utf-8", "replace")
                except OSError:
                    break
        at = self.seen.index(text) + len(text)
        shown, self.seen = self.seen[:at], self.seen[at:]
        return shown

    def type(self, line: str) -> None:
        os.write(self.master, line.encode() + b"\r")

    def close(self) -> int:
        try:
            return self.proc.wait(timeout=60)
        finally:
            os.close(self.master)


def test_review_approves_rejects_edits_and_skips(home_dir: Path, tmp_path: Path) -> None:
    for i in range(4):
        drop_mail(home_dir, i, subject=f"Question {i}")
    run = HostRun(home_dir)
    run.tick()
    waiting = run.home.store.tasks(state="pending")
    ids = [t.id for t in waiting]
    run.close()
    editor = tmp_path / "editor.sh"
    editor.write_text("#!/bin/sh\nsed -i 's/Hello/Dear/' \"$1\"\n")
    editor.chmod(0o755)
    env = dict(os.environ, EDITOR=str(editor), VISUAL=str(editor), TERM="dumb")
    term = Terminal([sys.executable, "-m", "fte", "review", "--home", str(home_dir)], env)
    shown = term.expect("[a]pprove, [r]eject, [e]dit, [s]kip, [q]uit:")
    assert "1/4" in shown and waiting[0].title in shown and ("expires in 71 h" in shown or "expires in 72 h" in shown)
    assert "> Hello, this is message" in shown and "Hello Ann," in shown  # the original, and the draft
    term.type("e")
    term.expect("approve what you saved? [y/N]:")
    term.type("y")
    term.expect("2/4")
    term.expect("[q]uit:")
    term.type("r")
    term.expect("reason (Enter for none):")
    term.type("too expensive")
    term.expect("3/4")
    term.expect("[q]uit:")
    term.type("s")
    term.expect("4/4")
    term.expect("[q]uit:")
    term.type("q")
    assert term.close() == 0
    run = HostRun(home_dir)
    states = {t.id: t for t in run.home.store.tasks()}
    assert states[ids[0]].state == "approved" and states[ids[0]].body.startswith("Dear ")
    assert [t.event for t in run.home.store.timeline(ids[0])][-2:] == ["edit", "approve"]
    assert states[ids[1]].state == "rejected"
    [reject] = [t for t in run.home.store.timeline(ids[1]) if t.event == "reject"]
    assert reject.detail["reason"] == "too expensive" and reject.source == "cli"
    assert states[ids[2]].state == "pending" and states[ids[3]].state == "pending"
    run.close()


def test_review_with_nothing_waiting(home_dir: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "fte", "review", "--home", str(home_dir)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "nothing waits for you" in result.stdout
