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


# -- a remote on this machine is read from its files: no process every 2 s ---------------------------

def _two_vaults(tmp_path: Path, remote: str | None = None) -> tuple[Path, Path, str]:
    """A bare remote with one host's first push, and a second host's clone of it."""
    bare = tmp_path / "remote.git"
    git("init", "-q", "--bare", "-b", "main", str(bare), cwd=tmp_path)
    url = remote or str(bare)
    first = init_home(tmp_path / "a", role="local", agent="a", remote=url)
    second = init_home(tmp_path / "b", role="local", agent="b", remote=url)
    return first.vault, second.vault, url


def _ls_remote(vault: Path) -> tuple[str | None, str | None]:
    listed = git("ls-remote", "origin", "refs/heads/main", cwd=vault)
    return (listed.split("\t")[0] or None) if listed else None, fetched(vault) or None


def _repo(vault: Path):  # noqa: ANN202
    from fte.io.vault.gitlock import HostLock
    from fte.io.vault.gitrepo import GitRepo

    url = git("config", "--get", "remote.origin.url", cwd=vault)
    return GitRepo(vault, "b", HostLock(vault.parent / "git.lock"), remote=url)


def _no_process(monkeypatch) -> list:  # noqa: ANN001
    """Every process started from here on is recorded (and still started)."""
    started: list = []
    real = subprocess.run

    def run(*args, **kw):  # noqa: ANN002, ANN003, ANN202
        started.append(args[0] if args else kw.get("args"))
        return real(*args, **kw)

    monkeypatch.setattr(subprocess, "run", run)
    return started


def test_a_local_remote_s_head_is_read_without_a_process_and_agrees_with_git(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    vault_a, vault_b, _url = _two_vaults(tmp_path)
    repo = _repo(vault_b)
    started = _no_process(monkeypatch)
    answers = [repo.remote_head()]
    (vault_a / "note.md").write_text("x\n")
    git("add", "note.md", cwd=vault_a)
    git("commit", "-q", "-m", "x", cwd=vault_a)
    git("push", "-q", "origin", "main", cwd=vault_a)
    answers.append(repo.remote_head())
    git("pack-refs", "--all", cwd=tmp_path / "remote.git")  # the ref only in packed-refs now
    git("fetch", "-q", "origin", cwd=vault_b)
    git("pack-refs", "--all", cwd=vault_b)
    answers.append(repo.remote_head())
    monkeypatch.undo()
    assert not [a for a in started if a and ("ls-remote" in a or "rev-parse" in a)]  # only the set-up's git
    assert answers[-1] == _ls_remote(vault_b) and answers[-1][0] == answers[-1][1]
    assert answers[1][0] == answers[2][0] != answers[0][0] and answers[1][1] != answers[1][0]  # moved, then fetched


def test_a_local_remote_that_is_gone_is_unreachable_and_a_url_still_asks_git(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    import pytest

    _vault_a, vault_b, _url = _two_vaults(tmp_path)
    repo = _repo(vault_b)
    (tmp_path / "remote.git").rename(tmp_path / "gone.git")
    with pytest.raises(Unreachable):
        repo.remote_head()
    (tmp_path / "gone.git").rename(tmp_path / "remote.git")
    (tmp_path / "remote.git" / "reftable").mkdir()  # a ref store fte does not read: git answers
    started = _no_process(monkeypatch)
    now, _fetched = repo.remote_head()
    assert [a for a in started if a and "ls-remote" in a] and now == _ls_remote(vault_b)[0]


def test_a_file_url_and_a_relative_path_are_read_as_the_remote_git_uses(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    from fte.io.vault.gitrepo import local_git_dir

    vault_a, vault_b, _url = _two_vaults(tmp_path, remote=f"file://{tmp_path / 'remote.git'}")
    started = _no_process(monkeypatch)
    assert _repo(vault_b).remote_head()[0] is not None and not [a for a in started if a and "ls-remote" in a]
    assert local_git_dir("../../remote.git", vault_b) == vault_b / "../../remote.git"  # git's cwd is the vault
    assert local_git_dir("git@example.com:v.git", vault_b) is None
    assert local_git_dir("https://example.com/v.git", vault_b) is None
    assert local_git_dir("ssh://host/v.git", vault_b) is None
