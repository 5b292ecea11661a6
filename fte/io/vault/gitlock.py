"""One lock per host for all git work on the vault, and the stale ``index.lock`` check.

The host lock is an ``flock`` on a file in the home (not in the vault), held by whichever fte
process is doing git work, so the daemon, ``fte approve`` and a second daemon never interleave
git commands. Git's own ``.git/index.lock`` can be left behind by a killed git; it is stale when
no live git process works in the repository — then it is removed, and a live one is waited for.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from fte.errors import LockTimeout


class HostLock:
    """An inter-process (``flock``) and in-process (``RLock``) lock, re-entrant within a thread."""

    def __init__(self, path: Path, timeout: float = 60.0) -> None:
        self.path = path
        self.timeout = timeout
        self._thread_lock = threading.RLock()
        self._depth = 0
        self._fd: int | None = None

    @contextmanager
    def hold(self) -> Iterator[None]:
        with self._thread_lock:
            if self._depth == 0:
                self._acquire()
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0:
                    self._release()

    def _acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    os.close(fd)
                    raise LockTimeout(f"{self.path} is held by another fte process") from None
                time.sleep(0.02)
        self._fd = fd

    def _release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def live_git_in(repo_dir: Path) -> list[int]:
    """PIDs of running ``git`` processes whose working directory is inside ``repo_dir`` (Linux /proc)."""
    pids: list[int] = []
    proc = Path("/proc")
    if not proc.is_dir():
        return pids
    root = str(repo_dir.resolve())
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() != "git":
                continue
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        if cwd == root or cwd.startswith(root + os.sep):
            pids.append(int(entry.name))
    return pids


def clear_stale_index_lock(repo_dir: Path, wait: float = 10.0) -> bool:
    """Remove ``.git/index.lock`` if no live git process holds it; wait up to ``wait`` s for a live one.

    Returns True when a stale lock was removed.
    """
    lock = repo_dir / ".git" / "index.lock"
    deadline = time.monotonic() + wait
    while lock.exists():
        if not live_git_in(repo_dir):
            try:
                lock.unlink()
            except FileNotFoundError:
                return False
            return True
        if time.monotonic() > deadline:
            raise LockTimeout(f"{lock} is held by a running git process")
        time.sleep(0.05)
    return False
