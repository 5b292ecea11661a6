"""Named crash points for the crash-safety harness (``bench/crash_harness.py``, ``docs/RELIABILITY.md``).

``FTE_CRASHPOINT=<name>`` makes the process kill itself with SIGKILL at that point — at its
``FTE_CRASHPOINT_HIT``-th arrival there (default 1). With ``FTE_CRASHPOINT_ONCE=<file>`` the
first crash creates that file and later processes run through, so a scenario can be replayed
with restarts until it converges. Unset (the normal case) a crash point costs one dictionary lookup.

The points: ``after-commit`` (a transition committed, its note not written), ``after-note-write``
(note written, the row not yet marked mirrored), ``before-git-commit`` (staged, not committed),
``after-git-commit`` (committed, not pushed), ``after-claim-push`` (the claim is on the remote,
nothing performed), ``before-call`` (the attempt row committed, the provider not called),
``after-call`` (the provider accepted, the attempt row not finished); ``notes-renaming`` (a group
of notes written: the first renamed into place, the others still temp files); and in a sync:
``sync-fetched``, ``sync-merged`` (the merge commit exists, the tree not yet touched),
``sync-checkout-path`` (before each path of the tree is brought along), ``sync-checked-out`` (the
tree and the branch moved, the journal not yet removed), ``sync-pushed``; and in archival:
``archive-marked`` (a month's rows marked archived, no file changed), ``archive-written`` (its
archive note written, the notes not yet removed).

The same points take in-process hooks (:func:`on`): a test acts there — a person moving a note
in the middle of a sync step — instead of dying. Hooks are for tests and tools, never for the
daemon's own logic.
"""

from __future__ import annotations

import os
import signal
from typing import Callable

POINTS = ("after-commit", "notes-renaming", "after-note-write", "before-git-commit", "after-git-commit",
          "after-claim-push", "before-call", "after-call",
          "sync-fetched", "sync-merged", "sync-checkout-path", "sync-checked-out", "sync-pushed",
          "archive-marked", "archive-written")
#: The points the cloud → local → execute scenario of the crash harness reaches (archival has its
#: own crash tests: tests/test_archive.py).
FLOW_POINTS = tuple(p for p in POINTS if not p.startswith("archive-"))
_hits: dict[str, int] = {}
_hooks: dict[str, list[Callable[[], None]]] = {}


def on(name: str, hook: Callable[[], None]) -> Callable[[], None]:
    """Call ``hook`` each time the process reaches point ``name``; returns a function removing it."""
    if name not in POINTS:
        raise ValueError(f"no crash point named {name!r}")
    _hooks.setdefault(name, []).append(hook)
    return lambda: _hooks[name].remove(hook)


def crashpoint(name: str) -> None:
    """Run the hooks of this point; die here, uncleanly, if the environment asks for it."""
    for hook in list(_hooks.get(name, ())):
        hook()
    if os.environ.get("FTE_CRASHPOINT") != name:
        return
    _hits[name] = _hits.get(name, 0) + 1
    if _hits[name] < int(os.environ.get("FTE_CRASHPOINT_HIT", "1")):
        return
    once = os.environ.get("FTE_CRASHPOINT_ONCE")
    if once:
        try:
            fd = os.open(once, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return
        os.write(fd, f"{name} {os.getpid()}\n".encode())
        os.fsync(fd)
        os.close(fd)
    os.kill(os.getpid(), signal.SIGKILL)
