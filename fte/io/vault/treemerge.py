"""A three-way merge of two vault trees, by task id, computed outside the working tree (docs/sync.md).

Inputs are what each side changed since the merge base (``path → Entry`` or ``None`` for a
deletion, as ``git diff-tree -r --no-renames`` lists them); the output is the list of index
updates that turn *our* tree into the merged one. No rename or directory-rename detection: a
task's identity is the ``id`` in its front matter, never its path, so

* a note changed on one side only takes that side's version (add, change or removal);
* a task whose note changed on **both** sides (moved differently, moved on one side and edited on
  the other, edited on both) keeps exactly one note, chosen by the caller's :class:`MergePolicy`
  (the lifecycle's is ``fte.states.convergence``) — in short: an outcome is final, a claim that
  reached the remote is a lock, two decisions are ordered by what their signatures carry, a newer
  presentation — an edit — beats an older one, else the later lifecycle state; the loser's bytes
  are kept as a conflict copy under ``Logs/<agent>/conflicts/``;
* any other file changed on both sides: the remote's version stays at its path, ours is kept
  beside it as ``<name>.conflict-<agent>-<hash>.<ext>`` — except the files only this host writes
  (``Dashboard.md`` on a local host, ``Logs/<agent>/``), where ours stays and nothing is copied;
* a change on one side against a removal on the other keeps the change (nothing is lost).

The module is pure: blobs are read through the ``read`` callable, new blobs are returned as bytes
for the caller to write into the object store.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any, Callable, Iterable, Protocol

from fte.errors import NoteError
from fte.io.vault.notes import TASK_FOLDERS, parse_note

REGULAR = ("100644", "100755")


@dataclass(frozen=True)
class Entry:
    """A tree entry: its mode (``100644``, ``120000`` for a symlink…) and its object id."""

    mode: str
    sha: str


@dataclass
class Resolution:
    """One conflict settled: what was kept, what was copied, for the audit log."""

    kind: str  # conflict (a task note) or conflict-file (anything else)
    path: str
    task_id: str | None
    detail: dict[str, Any]


@dataclass
class MergePlan:
    """Index updates on top of our tree (``None`` removes the path), new blobs to write, conflicts."""

    updates: dict[str, Entry | None] = field(default_factory=dict)
    new_blobs: dict[str, bytes] = field(default_factory=dict)
    resolutions: list[Resolution] = field(default_factory=list)


def blob_sha(data: bytes) -> str:
    """The object id git gives ``data`` as a blob (SHA-1 repositories)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def is_task_note(path: str) -> bool:
    parts = PurePosixPath(path).parts
    return len(parts) > 1 and parts[0] in TASK_FOLDERS and path.endswith(".md")


@dataclass(frozen=True)
class Side:
    """One version of a task's note on one side of a merge: where, which blob, what it says."""

    path: str
    entry: Entry
    data: bytes
    state: str | None
    epoch: int = 0
    #: the note's front matter as read (untrusted: the policy checks what it uses)
    meta: dict[str, Any] = field(default_factory=dict, compare=False)


class MergePolicy(Protocol):
    """Which version of one task stays when both sides changed it. The merge knows paths and ids;
    the lifecycle's rules come from the caller (``fte.states.convergence.CONVERGENCE``)."""

    def rank(self, state: str | None) -> int:
        """How late a state is; the latest version of a side is the one that speaks for it."""

    def remote_wins(self, remote: Side, mine: Side) -> bool:
        """Whether the remote's version stays against ours."""

    def strongest(self, sides: list[Side]) -> Side:
        """Which of the versions the remote held (its tip and its history since the merge base,
        each proving what it asserts) speaks for the remote side."""

    def superseded(self, held: Side, current: Side) -> bool:
        """Whether a version the remote held only for a while (its history) lost to what the
        remote holds now (``current``: the merge base's version, which its tip kept)."""


def plan_merge(
    ours: dict[str, Entry | None],
    theirs: dict[str, Entry | None],
    read: Callable[[str], bytes],
    agent: str,
    policy: MergePolicy,
    owns: Callable[[str], bool] = lambda _path: False,
    history: Iterable[tuple[str, Entry]] = (),
    proves: Callable[[bytes, str], bool] | None = None,
    base: Callable[[str], bytes | None] | None = None,
) -> MergePlan:
    """Merge ``theirs`` into our tree. ``policy`` settles a task changed on both sides;
    ``owns(path)``: only this host writes it (ours always stays).

    ``history``: every version the remote side held since the merge base, commit by commit
    (``path``, entry), so a decision that reached the remote first still counts when a later push
    covered it. ``proves(data, path)``: whether a version proves what it asserts (a signature
    where one is needed); a version that does not is no decision and never wins a race.
    ``base(path)``: the merge base's bytes at a path (None: none there). When the remote's tip did
    not change a task, what it holds is the base's version; a version in its history that this
    superseded (a claim its own host merged away under an edit) speaks for nothing.
    """
    plan = MergePlan()
    settled: set[str] = set()
    ours_ids = _notes_by_id(ours, read)
    theirs_ids = _notes_by_id(theirs, read)
    earlier = _notes_by_id_all(history, read, {task_id[:8] for task_id in ours_ids}) if ours_ids else {}
    for task_id in sorted(ours_ids.keys() & (theirs_ids.keys() | earlier.keys())):
        mine, tip = ours_ids[task_id], theirs_ids.get(task_id, [])
        paths = {s.path for s in mine} | {s.path for s in tip}
        candidates = [s for s in (*earlier.get(task_id, []), *tip) if proves is None or proves(s.data, s.path)]
        if candidates and not tip and base is not None:
            kept = _base_version(task_id, ours, base, policy)
            if kept is not None:
                candidates = [s for s in candidates if not policy.superseded(s, kept)]
        best_mine = _latest(mine, policy)
        best_remote = policy.strongest(candidates) if candidates else None
        if best_remote is None:
            winner, loser = best_mine, None  # the remote side only holds versions that prove nothing
        elif best_remote.data == best_mine.data and best_remote.path == best_mine.path:
            winner, loser = best_remote, None
        elif policy.remote_wins(best_remote, best_mine):
            winner, loser = best_remote, best_mine
        else:
            winner, loser = best_mine, best_remote
        if not tip and winner is not best_remote:
            continue  # the remote's tip does not hold the task and its history does not beat ours
        settled |= paths
        settled.add(winner.path)
        for path in paths - {winner.path}:
            plan.updates[path] = None  # exactly one note per task is left
        if ours.get(winner.path) != winner.entry:
            plan.updates[winner.path] = winner.entry
        losers = [s for s in (*mine, *tip) if s.data != winner.data]
        if loser is None and not losers:
            continue
        shown = best_remote or _latest(tip, policy)
        detail: dict[str, Any] = {"kept": "remote" if winner is best_remote else "local",
                                  "states": [shown.state, best_mine.state]}
        if best_remote is not None and winner is best_remote and best_remote.path not in {s.path for s in tip}:
            detail["from_history"] = best_remote.path  # the remote's tip held an unproven version over it
        unproven = sorted({s.path for s in tip if proves is not None and not proves(s.data, s.path)})
        if unproven:
            detail["unproven"] = unproven  # pushed by someone who could not sign it: set aside, reported
        copies = []
        for side in {s.data: s for s in losers}.values():
            copy = conflict_copy_path(side.path, agent, blob_sha(side.data))
            plan.new_blobs[copy] = side.data
            plan.updates[copy] = Entry("100644", blob_sha(side.data))
            copies.append(copy)
        if copies:
            detail["copy"] = copies[0] if len(copies) == 1 else copies
        plan.resolutions.append(Resolution("conflict", winner.path, task_id, detail))
    for path, their_entry in sorted(theirs.items()):
        if path in settled:
            continue
        if path not in ours:
            plan.updates[path] = their_entry  # changed on their side only
            continue
        our_entry = ours[path]
        if our_entry == their_entry:
            continue  # the same change on both sides
        if their_entry is None or our_entry is None:
            # A change against a removal: the change stays (ours already holds it, or take theirs).
            if our_entry is None:
                plan.updates[path] = their_entry
            continue
        if owns(path):
            continue  # only this host writes it: ours stays
        side_path = side_copy_path(path, agent, our_entry.sha)
        plan.updates[path] = their_entry
        plan.updates[side_path] = our_entry
        plan.resolutions.append(Resolution("conflict-file", path, None, {"kept": "both", "copy": side_path}))
    return plan


def _notes_by_id(changes: dict[str, Entry | None], read: Callable[[str], bytes]) -> dict[str, list[Side]]:
    return _notes_by_id_all(list(changes.items()), read)


def _notes_by_id_all(changes: Iterable[tuple[str, Entry | None]], read: Callable[[str], bytes],
                     id8s: set[str] | None = None) -> dict[str, list[Side]]:
    """The task notes among ``changes``, by id; with ``id8s``, only paths named after those ids."""
    found: dict[str, list[Side]] = {}
    for path, entry in changes:
        if entry is None or entry.mode not in REGULAR or not is_task_note(path):
            continue
        if id8s is not None and path[-11:-3] not in id8s:
            continue
        data = read(entry.sha)
        try:
            note = parse_note(data, path)
        except NoteError:
            continue  # not a note we can identify: merged by path, like any other file
        state = note.meta.get("state")
        epoch = note.meta.get("epoch", 0)
        found.setdefault(note.id, []).append(Side(path, entry, data, state if isinstance(state, str) else None,
                                                   epoch if isinstance(epoch, int) and not isinstance(epoch, bool) else 0,
                                                   note.meta))
    return found


def _base_version(task_id: str, ours: dict[str, Entry | None], base: Callable[[str], bytes | None],
                  policy: MergePolicy) -> Side | None:
    """The merge base's version of a task, read where our side changed or removed a note named
    after it (the remote's tip did not touch it: this is what the remote holds)."""
    paths = [p for p in ours if is_task_note(p) and p[-11:-3] == task_id[:8]]
    held = {p: data for p in paths if (data := base(p)) is not None}
    found = _notes_by_id_all([(p, Entry("100644", blob_sha(d))) for p, d in held.items()],
                             lambda sha: next(d for d in held.values() if blob_sha(d) == sha)).get(task_id, [])
    return _latest(found, policy) if found else None


def _latest(sides: list[Side], policy: MergePolicy) -> Side:
    return max(sides, key=lambda s: (policy.rank(s.state), s.path))


def conflict_copy_path(path: str, agent: str, sha: str) -> str:
    """Where the losing version (blob ``sha``) of a task note is kept: this host's conflicts folder."""
    p = PurePosixPath(path)
    return str(PurePosixPath("Logs", agent, "conflicts", f"{p.stem}.{sha[:10]}{p.suffix}"))


def side_copy_path(path: str, agent: str, sha: str) -> str:
    """Where our version (blob ``sha``) of any other file is kept, beside the remote's."""
    p = PurePosixPath(path)
    return str(p.with_name(f"{p.stem}.conflict-{agent}-{sha[:10]}{p.suffix}"))
