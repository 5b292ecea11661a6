"""The local host learns of another host's push within seconds (``[daemon] remote_check``): a
cheap look at the remote's head, a sync only when it moved (docs/sync.md, "When a host syncs")."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

from conftest import set_debounce

from fte.errors import Unreachable
from fte.host.home import init_home
from fte.host.loop import RemoteWatcher


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def set_daemon(home: Path, **values: float) -> None:
    toml = home / "fte.toml"
    text = toml.read_text()
    for key, value in values.items():
        text = "\n".join(line for line in text.splitlines() if not line.startswith(f"{key} =")) + "\n"
        text = text.replace("[daemon]\n", f"[daemon]\n{key} = {value}\n", 1)
    toml.write_text(text)


def fetched(vault: Path) -> str:
    return subprocess.run(["git", "rev-parse", "-q", "--verify", "refs/remotes/origin/main"], cwd=vault,
                          capture_output=True, text=True).stdout.strip()


def test_a_push_by_another_host_is_fetched_in_seconds_not_at_the_next_sync(tmp_path: Path) -> None:
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", "--initial-branch=main", str(remote)], check=True)
    local = tmp_path / "local"
    init_home(local, role="local", agent="laptop", remote=str(remote))
    set_debounce(local, 0)
    set_daemon(local, sync_interval=600, remote_check=0.2)
    proc = subprocess.Popen([sys.executable, "-m", "fte", "daemon", "--home", str(local)],
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        assert "the remote's head every 0.2 s" in proc.stderr.readline()
        deadline = time.time() + 60
        while not (fetched(local / "vault") and fetched(local / "vault") == git("rev-parse", "main", cwd=remote)):
            assert time.time() < deadline, "the first sync never finished"
            time.sleep(0.1)
        time.sleep(1.0)  # the first tick is over; the next sync is 600 s away
        other = tmp_path / "other"
        subprocess.run(["git", "clone", "-q", str(remote), str(other)], check=True)
        (other / "Business_Goals.md").write_text("# Goals\n\nFrom another device.\n")
        git("-c", "user.name=o", "-c", "user.email=o@x", "commit", "-qam", "another device", cwd=other)
        git("push", "-q", "origin", "main", cwd=other)
        pushed = git("rev-parse", "HEAD", cwd=other)
        t0 = time.time()
        while fetched(local / "vault") != pushed or git("rev-parse", "HEAD", cwd=local / "vault") == "":
            assert time.time() - t0 < 20, "the push was not noticed"
            time.sleep(0.05)
        deadline = time.time() + 20
        while "From another device." not in (local / "vault" / "Business_Goals.md").read_text():
            assert time.time() < deadline, "the pushed change never reached the working tree"
            time.sleep(0.05)
    finally:
        proc.terminate()
        proc.communicate(timeout=60)


def scripted_remote(answers: list[object], asked: list[float], done: threading.Event):
    """A remote's ``(head, fetched)`` answers in turn (an exception is raised), then the last one
    again; ``done`` is set once all were given; ``asked`` gets the time of every look."""
    last = answers[-1]

    def remote_head() -> tuple[str | None, str | None]:
        asked.append(time.monotonic())
        answer = answers.pop(0) if answers else last
        if not answers:
            done.set()
        if isinstance(answer, Exception):
            raise answer
        return answer  # type: ignore[return-value]

    return remote_head


def test_the_watcher_wakes_once_per_new_head_and_backs_off_while_the_remote_is_away() -> None:
    answers: list[object] = [("a", "a"), ("b", "a"), ("b", "a"), Unreachable("down"), Unreachable("down"),
                             ("c", "b"), ("c", "c")]
    asked: list[float] = []
    done = threading.Event()
    remote_head = scripted_remote(answers, asked, done)

    wake = threading.Event()
    woken: list[str | None] = []
    watcher = RemoteWatcher(remote_head, 0.02, wake)

    def count() -> None:
        while not done.is_set() or wake.is_set():
            if wake.wait(0.01):
                woken.append(watcher.woken_for)
                wake.clear()

    counter = threading.Thread(target=count)
    counter.start()
    watcher.start()
    assert done.wait(10)
    watcher.stop()
    counter.join(5)
    assert woken == ["b", "c"], "once for b (not again while b is unfetched), once for c; never for a"
    gaps = [b - a for a, b in zip(asked, asked[1:])]
    assert gaps[4] >= 0.035 and gaps[5] < gaps[4], "longer waits while the remote is away, back to normal after"


def test_the_first_answer_after_the_remote_was_away_wakes_the_loop() -> None:
    """Nothing new on the remote when it comes back, but this host may have commits waiting to be
    pushed (an approved mail's claim): the loop is woken at once, not at the end of its backoff."""
    done = threading.Event()
    remote_head = scripted_remote([("a", "a"), Unreachable("down"), Unreachable("down"), ("a", "a"), ("a", "a")],
                                  [], done)
    wake = threading.Event()
    watcher = RemoteWatcher(remote_head, 0.02, wake)
    watcher.start()
    assert done.wait(10)
    watcher.stop()
    assert wake.is_set(), "the remote's return did not wake the loop"
