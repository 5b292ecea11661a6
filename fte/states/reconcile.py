"""Reconcilers: turn what changed in the vault into lifecycle events (docs/lifecycle.md, docs/protocol.md).

Two inputs, both found from git's view rather than by re-reading every note:

* :meth:`Reconciler.pulled` — notes changed by other hosts (the diff of the remote branch since the
  last integrated commit). Unknown ids are adopted; known ones are *observed* forward, never back.
  A note that arrives in ``Approved/`` must carry an approval this host can verify, else it is
  refused and goes back to ``Pending_Approval/``.
* :meth:`Reconciler.working_tree` — uncommitted changes in this host's own work tree: the person's
  moves and edits in Obsidian (approve, reject, edit), and this host's own writes not yet committed
  (after a crash). Only a local host turns a move into an approval.

Notes are untrusted: one that does not parse is reported once (an incident) and left alone.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any, Callable

from fte.clock import Clock, iso
from fte.errors import BadInput, FteError, InvalidTransition, NoteError
from fte.io.channels.kinds import kind as kind_of
from fte.io.vault.archive import archive_path, parse_archive
from fte.io.vault.gitrepo import Change
from fte.io.vault.notes import (
    MAX_NOTE_BYTES,
    TASK_FOLDERS,
    Note,
    Vault,
    folder_state,
    note_fields,
    note_relpath,
    parse_note,
    person_parts,
    render_task,
)
from fte.io.vault.properties import fte_view
from fte.io.vault.secretguard import scan
from fte.models.store import Store
from fte.models.tables import Task
from fte.states.approvals import SIGNED_STATES, Trust
from fte.states.convergence import EXECUTING, FINAL, decision_order
from fte.states.lifecycle import APPROVED_BRANCH, DECLINED_BRANCH, LATER
from fte.states.service import Lifecycle, Move


def is_task_note(path: str) -> bool:
    parts = PurePosixPath(path).parts
    return len(parts) > 1 and parts[0] in TASK_FOLDERS and path.endswith(".md")


def _epoch(note: Note) -> int | None:
    """The note's presentation epoch, or None when its fields cannot be read (it is refused later)."""
    try:
        return int(note_fields(note)["epoch"])
    except (NoteError, BadInput):
        return None


def _decided(state: str) -> bool:
    return state in APPROVED_BRANCH or state in DECLINED_BRANCH


def _branch(state: str) -> str:
    return "approved" if state in APPROVED_BRANCH else "declined"


def _branch_word(state: str) -> str:
    return "approval" if state in APPROVED_BRANCH else "rejection" if state == "rejected" else "expiry"


def _diff(before: str, after: str) -> str:
    lines = difflib.unified_diff(before.splitlines(), after.splitlines(), "draft", "edited", lineterm="", n=1)
    return "\n".join(lines)[:20_000]


@dataclass
class Reconciler:
    lifecycle: Lifecycle
    role: str
    trust: Trust = None  # type: ignore[assignment]  # always given; a field default keeps the order
    person: str = "person"
    #: (path, size, mtime) of bad notes already reported, so each is reported once per process.
    _reported: set[tuple[str, int, int]] = field(default_factory=set)
    #: In-place edits of pending notes left for a later look (the person may still be typing).
    busy: set[str] = field(default_factory=set)
    #: The last month's archive note read (its bytes and entries): a pull that archived a month
    #: removes thousands of its notes, and each is checked against it.
    _archives: dict[str, tuple[bytes, dict[str, Any]]] = field(default_factory=dict)

    @property
    def store(self) -> Store:
        return self.lifecycle.store

    @property
    def vault(self) -> Vault:
        return self.lifecycle.vault

    @property
    def agent(self) -> str:
        return self.lifecycle.agent

    @property
    def clock(self) -> Clock:
        return self.lifecycle.clock

    def incident(self, kind: str, task_id: str | None = None, path: str | None = None, **detail: Any) -> None:
        self.lifecycle.incident(kind, task_id, path, **detail)

    def _read(self, path: str) -> Note | None:
        """The note at ``path``, or None (missing, or malformed — then reported once)."""
        try:
            p = self.vault.path(path)
            st = p.stat()
            with open(p, "rb") as fh:
                data = fh.read(MAX_NOTE_BYTES + 1)  # a huge file is refused without reading it all
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError, BadInput):
            return None
        try:
            return parse_note(data, path)
        except NoteError as exc:
            key = (path, st.st_size, st.st_mtime_ns)
            if key not in self._reported:
                self._reported.add(key)
                self.incident("bad-note", None, path, error=str(exc))
            return None

    # -- other hosts' changes ---------------------------------------------------------------------

    def pulled(self, changes: list[Change], read_blob: Callable[[str, int], bytes],
               lost: frozenset[str] = frozenset(), versions: Callable[[], list[Change]] | None = None,
               history: list[Change] | None = None, won: frozenset[str] = frozenset()) -> list[str]:
        """Apply notes changed by a pull; returns the ids of tasks adopted or moved.

        Each note is read from the pulled commit with ``read_blob`` (what the remote asserts), not
        from the working tree, where the person may already have moved or edited it.
        ``history``: the claims and outcomes at every pulled version (applied first, so one that a
        later push covered is still known); a claim that provably lost a merge — the task's final
        version in this pull is of a newer presentation, or turned down — is skipped.
        ``lost``: tasks whose note this host changed too, where the merge kept the remote's — this
        host's unpushed decision or edit lost the race, and it converges to the winner.
        ``won``: tasks whose merge kept this host's version: the remote's final version of them
        lost and is not applied (what the tree holds, and this host's row, is the winner).
        ``versions``: every pulled version of the task notes, commit by commit (asked only when
        needed): when the note that won the merge is refused (a forgery pushed on top), the winner
        is the newest version before it that proves what it asserts.
        """
        moved: list[str] = []
        #: task id → the path of its refused note; put back from the row once every version is seen
        self._restore: dict[str, str] = {}
        parsed = [(change, self._parse_pulled(change, read_blob)) for change in changes
                  if change.status != "D" and change.blob is not None and is_task_note(change.path)]
        #: task id → the epoch of its readable final version in this pull (None: turned down)
        final = {note.id: None if note.meta.get("state") in DECLINED_BRANCH else epoch
                 for _c, note in parsed if note is not None and (epoch := _epoch(note)) is not None}
        earlier = []
        for change in history or []:
            if change.blob is None or not is_task_note(change.path):
                continue
            note = self._parse_pulled(change, read_blob)
            epoch = _epoch(note) if note is not None else None
            if note is None or epoch is None:
                continue
            if note.meta.get("state") == "claimed" and note.id in final and (
                    final[note.id] is None or final[note.id] > epoch):  # type: ignore[operator]  # None checked first
                continue  # a claim that lost its merge to an edit or a rejection (it was never performed)
            earlier.append((change, note))
        for change, note in earlier + [(c, n) for c, n in parsed if n is None or n.id not in won]:
            if note is None:
                continue
            self._restore.pop(note.id, None)
            try:
                if self._apply_pulled(note, change.path, lost):
                    moved.append(note.id)
            except (NoteError, BadInput, InvalidTransition) as exc:
                self.incident("refused-note", note.id if len(note.id) == 32 else None, change.path, error=str(exc))
        if versions is not None and self._restore:
            self._fall_back(versions(), read_blob, lost, moved)
        for task_id, path in self._restore.items():
            row = self.store.find(task_id)
            if row is None:
                continue
            if path != note_relpath(row) and path != row.note_path:
                self.vault.remove(path)  # the refused note, where the remote put it
            self.lifecycle.mirror(row)
        return moved

    def _fall_back(self, versions: list[Change], read_blob: Callable[[str, int], bytes], lost: frozenset[str],
                   moved: list[str]) -> None:
        """For each task whose final pulled note was refused: the newest earlier pulled version that
        proves what it asserts is what the remote really holds (a forgery pushed on top of a
        decision must not hide it), so this host takes that one, as every other host does. The
        refused note is still replaced from the row afterwards."""
        wanted = {task_id[:8]: task_id for task_id in self._restore}
        for change in reversed(versions):
            task_id = wanted.get(change.path[-11:-3]) if change.path.endswith(".md") else None
            if task_id is None or change.blob is None or not is_task_note(change.path):
                continue
            try:
                note = parse_note(read_blob(str(change.blob), MAX_NOTE_BYTES), change.path)
            except NoteError:
                continue
            state = note.meta.get("state")
            if note.id != task_id or not isinstance(state, str) or state not in LATER:
                continue
            state = "synced" if state == "drafted" else state
            row = self.store.find(task_id)
            try:
                fields = note_fields(note)
            except (NoteError, BadInput):
                continue
            if row is None:
                continue
            if (state, fields["epoch"]) == (row.state, row.epoch):
                if task_id in lost:
                    continue  # this host's own version (its commits are in the pulled range too): the one that lost
                del wanted[task_id[:8]]  # this host already holds the newest proven version
            elif self._refusal(note.id, state, fields, row, lost) is not None:
                continue
            else:
                try:
                    if self._apply_pulled(note, change.path, lost):
                        moved.append(task_id)
                except (NoteError, BadInput, InvalidTransition) as exc:
                    self.incident("refused-note", task_id, change.path, error=str(exc))
                del wanted[task_id[:8]]
            if not wanted:
                return

    def removed_by_sync(self, paths: list[str]) -> int:
        """Notes a sync removed from the tree. A live task's note removed on the remote and not
        moved elsewhere (nothing in fte removes one) is written again from the row — the truth —
        and pushed, so every host sees the task again. Call after :meth:`pulled`, which has
        already followed the moves. Returns how many were written again."""
        restored = 0
        for path in paths:
            if not is_task_note(path):
                continue
            row = self.store.find_by_note_path(path)
            if row is None or row.note_path != path or self.vault.path(path).exists():
                continue
            if self._archived_elsewhere(row, path):
                continue
            self.incident("note-deleted", row.id, path, where="remote")
            self.lifecycle.mirror(row)
            restored += 1
        return restored

    def _archived_elsewhere(self, row: Task, path: str) -> bool:
        """A finished task's note that left the task folders for its month's archive note (another
        host archived it, or this one before a crash): recorded as archived, not written again.
        Believed only for a task this host already holds as finished, and only if the archive
        note holds that very note (docs/sync.md, "Archive")."""
        if row.state not in ("done", "rejected", "expired"):
            return False
        month = f"{row.updated_at:%Y-%m}"
        rel = archive_path(month)
        data = self.vault.read(rel) or b""
        cached = self._archives.get(rel)
        if cached is None or cached[0] != data:  # one read of a month's archive for all its notes
            try:
                cached = (data, parse_archive(data, rel))
            except (NoteError, UnicodeDecodeError):
                cached = (data, {})
            self._archives = {rel: cached}
        entry = cached[1].get(row.id)
        if entry is None or entry.meta.get("state") != row.state:
            return False
        self.store.set_archived([(row.id, month, rel, path)], self.lifecycle.clock())
        return True

    def _parse_pulled(self, change: Change, read_blob: Callable[[str, int], bytes]) -> Note | None:
        try:
            return parse_note(read_blob(str(change.blob), MAX_NOTE_BYTES), change.path)
        except NoteError as exc:
            key = (change.path, -4, hash(change.blob))
            if key not in self._reported:
                self._reported.add(key)
                self.incident("bad-note", None, change.path, error=str(exc))
            return None

    def _apply_pulled(self, note: Note, path: str, lost: frozenset[str]) -> bool:
        """One pulled note (docs/protocol.md, "Pulled notes"): prove what it asserts, then adopt,
        observe forward, take an edit, or converge to a decision that won at the remote."""
        state = note.meta.get("state")
        if not isinstance(state, str) or state not in LATER:
            raise NoteError(f"{path}: state {state!r} is not a lifecycle state")
        if state == "drafted":
            state = "synced"  # it came through the remote: for this host it is synced
        fields = note_fields(note)
        row = self.store.find(note.id)
        reason = self._refusal(note.id, state, fields, row, lost)
        if reason is not None:
            return self._refuse_pulled(note, path, row, state, reason)
        if row is None:
            self.lifecycle.adopt(note, path, state, actor=str(note.meta.get("origin") or "unknown"))
            return True
        epoch = fields["epoch"] if row.id in lost else max(fields["epoch"], row.epoch)
        changes = {
            "body": fields["body"], "params": fields["params"], "title": fields["title"],
            "claimed_by": fields["claimed_by"], "approval": fields["approval"], "last_error": fields["last_error"],
            "assertion": fields["assertion"], "epoch": epoch,
        }
        who = str((fields["assertion"] or fields["approval"] or {}).get("host") or fields["claimed_by"] or "remote")
        if state == "pending" and row.state == "pending":
            return self._pulled_edit(row, fields, path)
        if state == "pending" and fields["epoch"] > row.epoch and (row.state == "approved" or (
                row.state == "claimed" and row.claimed_by != self.agent) or (
                row.state == "claimed" and row.id in lost and not self.store.executions(row.id))):
            # An edit that reached the remote first beats this host's approval (and its claim, if
            # that never reached the remote and nothing was attempted): the person looks again.
            # Another host's claim seen here is withdrawn by it too, as on that host (it released
            # its claim, or performs it and its signed done follows: believed whatever its
            # presentation) — found by the model's long run 16: this host kept the claim for ever.
            changes |= {"approval": None, "claimed_by": None,
                        "last_error": "edited on another device after approval: approve again"}
            self.lifecycle.fire(row.id, "invalidate", actor=who, source="daemon", changes=changes, adopt_note=path,
                                reason="edited on another device after approval", note=path,
                                **self._edit_detail(row, fields))
            return True
        if row.state == "failed" and fields["epoch"] > row.epoch and state != "pending":
            # A replay made on another host: a new presentation, proven by its signed decision or
            # outcome (an unsigned pending note proves nothing: that replay reaches this host with
            # the person's next decision). Every host takes it (docs/protocol.md, "Convergence").
            target = "approved" if state in APPROVED_BRANCH else "pending"
            self.lifecycle.fire(row.id, "replay", actor=who, source="daemon", to=target, changes=changes,
                                adopt_note=path, note=path, reason="replayed on another host")
            if state != target:
                self.lifecycle.fire(row.id, "observe", actor=who, source="daemon", to=state, changes=changes,
                                    adopt_note=path, note=path)
            return True
        if state in LATER[row.state]:
            self.lifecycle.fire(row.id, "observe", actor=who, source="daemon", to=state, changes=changes,
                                adopt_note=path, note=path)
            return True
        if row.id in lost and row.state == "rejected" and state == "pending" and fields["epoch"] > row.epoch:
            # An edit reached the remote before this rejection, which was of the older draft: the
            # person decides again, on what the other device now shows.
            reason = "another device's edit reached the remote before this rejection: decide again on the new draft"
            self.incident("lost-decision", row.id, path, ours=row.state, theirs=state, by=who, reason=reason)
            changes |= {"approval": None, "assertion": None, "last_error": reason}
            self.lifecycle.fire(row.id, "converge", actor=who, source="daemon", to=state, changes=changes,
                                adopt_note=path, note=path, reason=reason, **self._edit_detail(row, fields))
            return True
        if _decided(row.state) and _decided(state) and _branch(row.state) != _branch(state):
            return self._two_decisions(row, note, path, state, fields, changes, who, lost)
        return False  # the same or an earlier state: forward only

    def _two_decisions(self, row: Task, note: Note, path: str, state: str, fields: dict[str, Any],
                       changes: dict[str, Any], who: str, lost: frozenset[str]) -> bool:
        """This host holds one decision, the pulled note the other (docs/protocol.md, "Convergence"):
        an outcome is final, a claim that beat this host's decision at the merge is a lock, else the
        decision that stands by :func:`decision_order` (the person's last word) — the answer every
        host reaches. An outcome this host holds is never converged away. The host whose decision
        lost converges to the winner and says so; the other refuses the note."""
        if row.state in FINAL:
            return self._refuse_pulled(note, path, row, state, f"this host holds its outcome ({row.state}): what was "
                                       f"executed stays executed, a {state} cannot overturn it")
        if state in FINAL and fields["approval"]:
            reason = f"{who} had already performed it when this host's {row.state} was made: the {state} stands"
        elif state in EXECUTING and row.id in lost:
            reason = f"{who}'s claim reached the remote before this host's {row.state}: it may already be performed"
        elif decision_order(state, fields["epoch"], fields["approval"], fields["assertion"]) < \
                decision_order(row.state, int(row.epoch or 0), row.approval, row.assertion):
            reason = f"{who}'s {_branch_word(state)} was made after this host's {row.state}: the person's last word stands"
        else:
            return self._refuse_pulled(note, path, row, state, f"this host's {row.state} was the person's last word; "
                                       f"an earlier {state} cannot overturn it")
        self.incident("lost-decision", row.id, path, ours=row.state, theirs=state, by=who, reason=reason)
        mine = row.approval if row.state in APPROVED_BRANCH else row.assertion
        self.lifecycle.fire(row.id, "converge", actor=who, source="daemon", to=state, changes=changes,
                            adopt_note=path, note=path, reason=reason)
        if isinstance(mine, dict) and mine.get("host") == self.agent:
            # The person decided here and it did not stand: this host (and only this one) tells them.
            self.store.set_flags(row.id, overruled=reason)
        return True

    def _refusal(self, task_id: str, state: str, fields: dict[str, Any], row: Task | None,
                 lost: frozenset[str]) -> str | None:
        """Why a pulled note is refused (None: it proves what it asserts, at a current epoch)."""
        reason = self._unproven(task_id, state, fields, row)
        # A signed ``done`` is a fact whatever its presentation: the action was performed (done is
        # final; nothing is replayed from it), so it is believed even after a newer presentation.
        if reason is None and row is not None and state in SIGNED_STATES and state != "done" \
                and fields["epoch"] < row.epoch and row.id not in lost:
            reason = (f"it asserts {state} for presentation {fields['epoch']}, and this host has seen presentation "
                      f"{row.epoch} reach the remote (an older note pushed again?)")
        return reason

    def _pulled_edit(self, row: Task, fields: dict[str, Any], path: str) -> bool:
        """A pending note changed on the remote: an ``edit`` here too, so every host holds the draft
        the person will see (and sign). A new presentation: older approvals no longer verify."""
        if fields["body"] == row.body and fields["params"] == (row.params or {}) and fields["epoch"] <= row.epoch:
            self.store.mark_mirrored(row.id, row.version, path)  # the same draft (re-rendered, or moved)
            return False
        epoch = max(fields["epoch"], row.epoch + 1)
        self.lifecycle.fire(row.id, "edit", actor="remote", source="daemon", adopt_note=path, note=path,
                            changes={"body": fields["body"], "params": fields["params"], "epoch": epoch},
                            **self._edit_detail(row, fields))
        return True

    @staticmethod
    def _edit_detail(row: Task, fields: dict[str, Any]) -> dict[str, Any]:
        detail: dict[str, Any] = {}
        if fields["body"] != row.body:
            detail["diff"] = _diff(row.body, fields["body"])
        if fields["params"] != (row.params or {}):
            detail["params"] = {"before": row.params, "after": fields["params"]}
        return detail

    def _unproven(self, task_id: str, state: str, fields: dict[str, Any], row: Task | None) -> str | None:
        return unproven(self.trust, task_id, state, fields, row)

    def _refuse_pulled(self, note: Note, path: str, row: Task | None, state: str, reason: str) -> bool:
        """Refused: an incident, and the database does not change. Once every pulled version is
        seen, the note goes back to what this host's row says, unless a later version was accepted
        (an unknown note claiming approval is adopted as pending, for a person)."""
        self.incident("refused-approval" if state == "approved" else "refused-assertion", note.id, path,
                      state=state, reason=reason)
        if row is None and state == "approved":
            row = self.lifecycle.adopt(note, path, "pending", actor=str(note.meta.get("origin") or "unknown"))
        if row is not None:
            self._restore[row.id] = path
        return False

    # -- this host's work tree ----------------------------------------------------------------------

    def working_tree(self, changes: list[Change]) -> set[str]:
        """Turn uncommitted changes into events. Returns the paths this host should commit."""
        touched: set[str] = set()
        gone: set[str] = set()
        self._approvals: list[Move] = []
        self.busy = set()
        read: list[tuple[str, Note]] = []
        for change in changes:
            path = change.path
            if change.old:
                gone.add(change.old)
            if change.status == "D":
                gone.add(path)
                continue
            if not is_task_note(path):
                continue
            note = self._read(path)
            if note is not None:
                read.append((path, note))
        # One query for every row the notes name (a person who moved 1,000 notes: not 1,000 lookups).
        rows = {t.id: t for t in self.store.tasks_by_id(sorted({n.id for _p, n in read if len(n.id) == 32}))}
        done: set[str] = set()
        for path, note in read:
            # Two notes with one id (a copy): the second sees the row as the first left it.
            row = self.store.find(note.id) if note.id in done else rows.get(note.id)
            done.add(note.id)
            if row is None:
                key = (path, -1, -1)
                if key not in self._reported:
                    self._reported.add(key)
                    self.incident("unknown-note", None, path, id=note.id[:64])
                continue
            try:
                touched |= self._apply_local(row, note, path)
            except (FteError, NoteError) as exc:
                self.incident("refused-change", row.id, path, error=str(exc))
                touched |= self._put_back(row, path)
        if self._approvals:  # all of this look's approvals in one transaction
            _done, refused = self.lifecycle.fire_many(self._approvals, actor=self.person, source="obsidian")
            for task_id, reason in refused:
                self.incident("refused-change", task_id, None, error=reason)
        gone_notes = sorted(p for p in gone if is_task_note(p))
        owners = self.store.by_note_path(gone_notes)
        for path in gone_notes:
            owner = owners.get(path)
            if owner is None or not self.vault.path(path).exists():
                if owner is not None and owner.note_path == path and not self._archived_elsewhere(owner, path):
                    # The person deleted a live note: put it back (the row is the truth).
                    self.incident("note-deleted", owner.id, path)
                    self.lifecycle.mirror(owner)
                touched.add(path)
        return touched

    def _put_back(self, row: Task, path: str) -> set[str]:
        """A move the person made that was refused (an approval of a task with no recipient, a
        decision after the deadline): their note goes back where the task is, their text with it.
        Left where they put it, it sat in a folder that said something else, beside a copy fte
        wrote back in the old place (found by the soak: two notes of one task, neither movable)."""
        home = row.note_path
        if not home or home == path or self.vault.read(home) is not None:
            return set()
        try:
            target = self.vault.path(home)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(self.vault.path(path), target)
        except (OSError, BadInput):  # moved again meanwhile, or not a plain path: looked at next time
            return set()
        return {path, home}

    def _apply_local(self, row: Task, note: Note, path: str) -> set[str]:
        data = self.vault.path(path).read_bytes()
        if row.note_path == path and data == render_task(row, person_parts(data), self.vault.tz):
            return {path}  # our own write, not yet committed (or the person added only their own parts)
        if row.note_path == path and row.state == "pending" and self.vault.person_busy(path):
            # They may still be typing: an edit read now would be re-rendered (new presentation)
            # under their cursor. It is read at a look after they stop, as one edit.
            self.busy.add(path)
            return set()
        if (row.flags or {}).get("archived_from") == path:
            return {path}  # changed while it was being archived: the archival takes it as it is now
        where = folder_state(path)
        fields = note_fields(note)
        executes = self.role in ("local", "all")
        if row.note_path == path:
            return self._edited_in_place(row, fields, path, executes, note.meta)
        if row.note_path and self.vault.path(row.note_path).exists() and not self._rewritten_behind(row, note, path):
            # A copy, not a move: the task's own note is still where it was. Ambiguous: refuse.
            key = (path, -3, row.version)
            if key not in self._reported:
                self._reported.add(key)
                self.incident("duplicate-id", row.id, path, original=row.note_path)
            return set()
        if row.state == "pending" and where == "approved" and executes:
            return self._approve(row, fields, path)
        if row.state == "pending" and where == "rejected" and executes:
            check_deadline(row, self.clock())
            reason = note.meta.get("reason")
            self.lifecycle.fire(row.id, "reject", actor=self.person, source="obsidian",
                                changes={"note_path": path}, reason=str(reason) if reason else None)
            return {path}
        if where == row.state or (where == "rejected" and row.state == "expired") or (
                where == "drafted" and row.state == "synced"):
            if scan(path.encode("utf-8", "surrogateescape")) and row.note_path:
                # Renamed to a name holding a secret: a name reaches every commit and clone, so the
                # note goes back to the name fte gave it (made from redacted text).
                self.incident("secret-in-path", row.id, path, kept=row.note_path)
                try:
                    os.replace(self.vault.path(path), self.vault.path(row.note_path))
                except (OSError, BadInput):
                    return set()
                return {path, row.note_path}
            self.store.mark_mirrored(row.id, row.version, path)  # renamed, same folder
            return {path}
        key = (path, -2, row.version)
        if key not in self._reported:
            self._reported.add(key)
            self.incident("unexpected-move", row.id, path, state=row.state, folder=where)
        return set()

    def _rewritten_behind(self, row: Task, moved: Note, path: str) -> bool:
        """Whether the note at the task's recorded path is only fte's own rendering, written there
        again after the person had moved it away (a sync or a mirror brought it back between their
        move and this look — found by the soak with two local hosts: the person's decision was
        refused as a copy and the task never left ``Pending_Approval/``). Then the note they moved
        is the task's note, and fte's copy goes: a move is a decision whatever the host's row was
        doing (docs/protocol.md). Told apart from a copy the person made by the files' times: a
        rename keeps a note's modification time, so the one left behind was written after the
        moved one's content; a copy is newer than its original (an equal time is a copy too).
        A note the person changed there is theirs, and a moved note of another presentation than
        the task's is an older view: either way still a copy."""
        if row.state != "pending" or folder_state(path) not in ("approved", "rejected") or _epoch(moved) != row.epoch:
            return False  # only a decision made by a move out of Pending_Approval/ (the soak: finished
            # notes with a stale copy elsewhere were removed, and the hosts put them back for ever)
        try:
            if self.vault.path(str(row.note_path)).stat().st_mtime_ns <= self.vault.path(path).stat().st_mtime_ns:
                return False
        except (OSError, BadInput):
            return False
        old = self.vault.read(str(row.note_path))
        if old is None or old != render_task(row, person_parts(old), self.vault.tz):
            return False
        self.vault.remove(str(row.note_path))  # recorded in the vault's touched paths: committed with the look
        return True

    def _edited_in_place(self, row: Task, fields: dict[str, Any], path: str, executes: bool,
                         meta: dict[str, Any]) -> set[str]:
        body_changed = fields["body"] != row.body
        params_changed = fields["params"] != (row.params or {})
        if not (body_changed or params_changed):
            if fte_view(meta) == fte_view(parse_note(render_task(row, tz=self.vault.tz)).meta):
                # Only what the person owns changed (their properties, their text, the formatting):
                # the note is theirs as it is; fte writes it again when the task itself changes.
                self.store.mark_mirrored(row.id, row.version, path)
            else:
                self.lifecycle.mirror(row)  # a property fte owns was changed: put it back, keep theirs
            return {path}
        detail: dict[str, Any] = {}
        if body_changed:
            detail["diff"] = _diff(row.body, fields["body"])
        if params_changed:
            detail["params"] = {"before": row.params, "after": fields["params"]}
        changes = {"body": fields["body"], "params": fields["params"]}
        if row.state == "pending":
            self.lifecycle.fire(row.id, "edit", actor=self.person, source="obsidian", changes=changes, **detail)
            return {path}
        if row.state == "approved" and executes:
            changes |= {"approval": None, "last_error": "edited after approval: approve again"}
            self.lifecycle.fire(row.id, "invalidate", actor=self.person, source="obsidian", changes=changes,
                                reason="edited after approval", **detail)
            return {path}
        # Notes of finished tasks are the person's to annotate; nothing executes from them.
        return {path} if row.state in ("done", "failed", "rejected", "expired") else set()

    def _approve(self, row: Task, fields: dict[str, Any], path: str) -> set[str]:
        if self.trust.signer is None:
            raise InvalidTransition("this host has no signing key; approvals are made on a local host")
        detail: dict[str, Any] = {"via": "move"}
        if fields["body"] != row.body:
            detail["diff"] = _diff(row.body, fields["body"])
        if fields["params"] != (row.params or {}):
            detail["params"] = {"before": row.params, "after": fields["params"]}
        self._approvals.append(approve_move(self.lifecycle, self.trust, row, self.person,
                                            body=fields["body"], params=fields["params"], path=path, detail=detail))
        return {path}


def unproven(trust: Trust, task_id: str, state: str, fields: dict[str, Any], row: Task | None) -> str | None:
    """Why a note's state is not proven by a trusted host's signature (None: it is, or needs none).
    ``row``: this host's row of the task, if any (an unsigned drafting failure is believed only
    before anything was presented)."""
    approval = fields["approval"]
    if state == "failed" and approval is None:
        if row is None or row.state in ("detected", "drafted", "synced"):
            return None
        return "a presented task cannot be failed without a signed record"
    if state in ("approved", "claimed", "done", "failed"):
        reason = trust.verify_approval(task_id, fields["kind"], fields["params"], fields["body"], approval)
        if reason is not None:
            return reason
        if approval["epoch"] != fields["epoch"]:
            return f"its approval is of presentation {approval['epoch']}, the note is at {fields['epoch']}"
    if state in SIGNED_STATES and state != "approved":
        record = fields["assertion"]
        reason = trust.verify_assertion(task_id, state, record)
        if reason is not None:
            return reason
        if record["epoch"] != fields["epoch"]:
            return f"its {state} record is of presentation {record['epoch']}, the note is at {fields['epoch']}"
        if state == "claimed" and record["host"] != fields["claimed_by"]:
            return f"claimed by {fields['claimed_by']!r} but signed by {record['host']!r}"
    return None


def merge_evidence(trust: Trust) -> Callable[[bytes, str], bool]:
    """For the tree merge (:mod:`fte.io.vault.treemerge`): does a version of a note prove what it asserts?
    Only a proven decision takes part in "the first decision to reach the remote wins"; an
    unsigned one (a forgery, or a host restoring its own view) is no decision at all."""
    def proves(data: bytes, path: str) -> bool:
        try:
            note = parse_note(data, path)
            state = note.meta.get("state")
            if not isinstance(state, str) or state not in LATER:
                return False
            fields = note_fields(note)
            # An unsigned ``failed`` proves nothing at a merge: a drafting failure is not a decision.
            return (state != "failed" or fields["approval"] is not None) and \
                unproven(trust, note.id, state, fields, None) is None
        except (NoteError, BadInput):
            return False
    return proves


def check_deadline(row: Task, now: datetime) -> None:
    """A decision after the task's deadline is refused (the expiry step will expire it)."""
    if row.expires_at is not None and now > row.expires_at:
        raise BadInput(f"task {row.short_id} passed its deadline ({iso(row.expires_at)}); it is expiring, "
                       "not waiting for a decision")


#: Kinds that answer someone: without a recipient there is nothing to send.

def check_sendable(row: Task) -> None:
    """An answer with no recipient cannot be approved: the person is asked to add one or reject it.
    A recipient is one address as text: a list or a number typed into the note would be approved
    and then fail at the send."""
    declared = kind_of(str(row.kind))
    if declared is None or declared.recipient is None:
        return
    to = (row.params or {}).get(declared.recipient)
    if to is not None and not isinstance(to, str):
        raise BadInput(f"task {row.short_id}: 'to' must be one address as text, not {type(to).__name__} "
                       f"{str(to)[:80]!r}. Correct the note's 'to' property first, or reject it")
    if not (to or "").strip():
        raise BadInput(f"task {row.short_id} has no recipient (the message had no usable sender address): nothing "
                       "can be sent. Add a 'to' property to the note first, or reject it")


def approve(
    lifecycle: Lifecycle, trust: Trust, row: Task, person: str, source: str, *,
    body: str | None = None, params: dict[str, Any] | None = None, path: str | None = None,
    detail: dict[str, Any] | None = None,
) -> Task:
    """Approve ``row`` with a signed record over exactly the body and parameters given (or the row's);
    ``detail`` goes to the audit log's transition."""
    move = approve_move(lifecycle, trust, row, person, body=body, params=params, path=path, detail=detail)
    return lifecycle.fire(row.id, "approve", actor=person, source=source, changes=move.changes, **move.detail)


def approve_move(
    lifecycle: Lifecycle, trust: Trust, row: Task, person: str, *,
    body: str | None = None, params: dict[str, Any] | None = None, path: str | None = None,
    detail: dict[str, Any] | None = None,
) -> Move:
    """The ``approve`` transition for ``row``, with its signed record, ready to fire. ``detail`` is a
    dict, not keywords: it may hold ``params`` (before and after), the name of an argument here."""
    if row.state != "pending":
        raise BadInput(f"task {row.short_id} is already decided ({row.state})" if row.state in
                       ("approved", "claimed", "done", "failed", "rejected", "expired") else
                       f"task {row.short_id} is {row.state}, not waiting for approval")
    now = lifecycle.clock()
    check_deadline(row, now)
    probe = Task(id=row.id, kind=row.kind, params=params if params is not None else row.params,
                 body=body if body is not None else row.body, epoch=row.epoch, expires_at=row.expires_at)
    check_sendable(probe)
    record = trust.approval(probe, person, now)
    changes: dict[str, Any] = {"body": probe.body, "params": probe.params, "approval": record, "last_error": None}
    if path is not None:
        changes["note_path"] = path
    return Move(row.id, "approve", changes=changes, detail=dict(detail or {}), actor=person)
