"""Reconcilers: turn what changed in the vault into lifecycle events (DESIGN §2 observe, §3 approvals).

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
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any, Callable

from fte.clock import Clock
from fte.errors import BadInput, FteError, InvalidTransition, NoteError
from fte.io.gitsync import Change
from fte.io.vault import MAX_NOTE_BYTES, TASK_FOLDERS, Note, Vault, folder_state, note_fields, parse_note, render_task
from fte.models.store import Store
from fte.models.tables import Task
from fte.states.approvals import make_approval, verify
from fte.states.lifecycle import LATER
from fte.states.service import Lifecycle, Move


def is_task_note(path: str) -> bool:
    parts = PurePosixPath(path).parts
    return len(parts) > 1 and parts[0] in TASK_FOLDERS and path.endswith(".md")


def _diff(before: str, after: str) -> str:
    lines = difflib.unified_diff(before.splitlines(), after.splitlines(), "draft", "edited", lineterm="", n=1)
    return "\n".join(lines)[:20_000]


@dataclass
class Reconciler:
    lifecycle: Lifecycle
    role: str
    approval_key: bytes | None = None
    person: str = "person"
    #: (path, size, mtime) of bad notes already reported, so each is reported once per process.
    _reported: set[tuple[str, int, int]] = field(default_factory=set)

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
        self.store.record_incident(self.clock(), self.agent, kind, task_id, path, **detail)

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

    def pulled(self, changes: list[Change], read_blob: Callable[[str, int], bytes] | None = None) -> list[str]:
        """Apply notes changed by a pull; returns the ids of tasks adopted or moved forward.

        With ``read_blob``, each note is read from the pulled commit (what the remote asserts),
        not from the working tree, where the person may already have moved or edited it.
        """
        moved: list[str] = []
        for change in changes:
            if change.status == "D" or not is_task_note(change.path):
                continue
            if read_blob is not None and change.blob is not None:
                note = self._parse_pulled(change, read_blob)
            else:
                note = self._read(change.path)
            if note is None:
                continue
            try:
                if self._apply_pulled(note, change.path):
                    moved.append(note.id)
            except (NoteError, BadInput) as exc:
                self.incident("refused-note", note.id if len(note.id) == 32 else None, change.path, error=str(exc))
        return moved

    def _parse_pulled(self, change: Change, read_blob: Callable[[str, int], bytes]) -> Note | None:
        try:
            return parse_note(read_blob(str(change.blob), MAX_NOTE_BYTES), change.path)
        except NoteError as exc:
            key = (change.path, -4, hash(change.blob))
            if key not in self._reported:
                self._reported.add(key)
                self.incident("bad-note", None, change.path, error=str(exc))
            return None

    def _apply_pulled(self, note: Note, path: str) -> bool:
        state = note.meta.get("state")
        if not isinstance(state, str) or state not in LATER:
            raise NoteError(f"{path}: state {state!r} is not a lifecycle state")
        if state == "drafted":
            state = "synced"  # it came through the remote: for this host it is synced
        fields = note_fields(note)
        row = self.store.find(note.id)
        if state == "approved" and self.role != "cloud" and not self._approval_ok(note, fields):
            return self._refuse_pulled_approval(note, path, row, fields)
        if row is None:
            self.lifecycle.adopt(note, path, state, actor=str(note.meta.get("origin") or "unknown"))
            return True
        if state not in LATER[row.state]:
            return False  # the same or an earlier state: forward only
        changes = {
            "body": fields["body"], "params": fields["params"], "title": fields["title"],
            "claimed_by": fields["claimed_by"], "approval": fields["approval"], "last_error": fields["last_error"],
        }
        self.lifecycle.fire(row.id, "observe", actor=str(fields["claimed_by"] or "remote"), source="daemon",
                            to=state, changes=changes, adopt_note=path, note=path)
        return True

    def _approval_ok(self, note: Note, fields: dict[str, Any]) -> bool:
        if self.approval_key is None:
            return False
        return verify(self.approval_key, note.id, fields["kind"], fields["params"], fields["body"], fields["approval"]) is None

    def _refuse_pulled_approval(self, note: Note, path: str, row: Task | None, fields: dict[str, Any]) -> bool:
        reason = "arrived in Approved/ through a pull without an approval this host can verify"
        self.incident("refused-approval", note.id, path, reason=reason)
        if row is None:
            row = self.lifecycle.adopt(note, path, "pending", actor=str(note.meta.get("origin") or "unknown"))
        if row.state == "pending":
            # Back to Pending_Approval/, where a person can decide on this host.
            self.vault.remove(path)
            self.lifecycle.mirror(self.store.get(row.id) if row.note_path == path else row)
        return False

    # -- this host's work tree ----------------------------------------------------------------------

    def working_tree(self, changes: list[Change]) -> set[str]:
        """Turn uncommitted changes into events. Returns the paths this host should commit."""
        touched: set[str] = set()
        gone: set[str] = set()
        self._approvals: list[Move] = []
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
            if note is None:
                continue
            row = self.store.find(note.id) if len(note.id) == 32 else None
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
        if self._approvals:  # all of this look's approvals in one transaction
            _done, refused = self.lifecycle.fire_many(self._approvals, actor=self.person, source="obsidian")
            for task_id, reason in refused:
                self.incident("refused-change", task_id, None, error=reason)
        for path in gone:
            if not is_task_note(path):
                continue
            owner = self._owner_of(path)
            if owner is None or not self.vault.path(path).exists():
                if owner is not None and owner.note_path == path:
                    # The person deleted a live note: put it back (the row is the truth).
                    self.incident("note-deleted", owner.id, path)
                    self.lifecycle.mirror(owner)
                touched.add(path)
        return touched

    def _owner_of(self, path: str) -> Task | None:
        return self.store.find_by_note_path(path)

    def _apply_local(self, row: Task, note: Note, path: str) -> set[str]:
        data = self.vault.path(path).read_bytes()
        if row.note_path == path and data == render_task(row):
            return {path}  # our own write, not yet committed
        where = folder_state(path)
        fields = note_fields(note)
        executes = self.role in ("local", "all")
        if row.note_path == path:
            return self._edited_in_place(row, fields, path, executes)
        if row.note_path and self.vault.path(row.note_path).exists():
            # A copy, not a move: the task's own note is still where it was. Ambiguous: refuse.
            key = (path, -3, row.version)
            if key not in self._reported:
                self._reported.add(key)
                self.incident("duplicate-id", row.id, path, original=row.note_path)
            return set()
        if row.state == "pending" and where == "approved" and executes:
            return self._approve(row, fields, path)
        if row.state == "pending" and where == "rejected" and executes:
            reason = note.meta.get("reason")
            self.lifecycle.fire(row.id, "reject", actor=self.person, source="obsidian",
                                changes={"note_path": path}, reason=str(reason) if reason else None)
            return {path}
        if where == row.state or (where == "rejected" and row.state == "expired") or (
                where == "drafted" and row.state == "synced"):
            self.store.mark_mirrored(row.id, row.version, path)  # renamed, same folder
            return {path}
        key = (path, -2, row.version)
        if key not in self._reported:
            self._reported.add(key)
            self.incident("unexpected-move", row.id, path, state=row.state, folder=where)
        return set()

    def _edited_in_place(self, row: Task, fields: dict[str, Any], path: str, executes: bool) -> set[str]:
        body_changed = fields["body"] != row.body
        params_changed = fields["params"] != (row.params or {})
        if not (body_changed or params_changed):
            self.lifecycle.mirror(row)  # only the reference part or formatting changed: re-render
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
        if self.approval_key is None:
            raise InvalidTransition("this host has no approval key; approvals are made on a local host")
        detail: dict[str, Any] = {"via": "move"}
        if fields["body"] != row.body:
            detail["diff"] = _diff(row.body, fields["body"])
        if fields["params"] != (row.params or {}):
            detail["params"] = {"before": row.params, "after": fields["params"]}
        self._approvals.append(approve_move(self.lifecycle, self.approval_key, row, self.person,
                                            body=fields["body"], params=fields["params"], path=path, **detail))
        return {path}


def approve(
    lifecycle: Lifecycle, key: bytes, row: Task, person: str, source: str, *,
    body: str | None = None, params: dict[str, Any] | None = None, path: str | None = None, **detail: Any,
) -> Task:
    """Approve ``row`` with a signed record over exactly the body and parameters given (or the row's)."""
    move = approve_move(lifecycle, key, row, person, body=body, params=params, path=path, **detail)
    return lifecycle.fire(row.id, "approve", actor=person, source=source, changes=move.changes, **move.detail)


def approve_move(
    lifecycle: Lifecycle, key: bytes, row: Task, person: str, *,
    body: str | None = None, params: dict[str, Any] | None = None, path: str | None = None, **detail: Any,
) -> Move:
    """The ``approve`` transition for ``row``, with its signed record, ready to fire."""
    if row.state != "pending":
        raise BadInput(f"task {row.short_id} is already decided ({row.state})" if row.state in
                       ("approved", "claimed", "done", "failed", "rejected", "expired") else
                       f"task {row.short_id} is {row.state}, not waiting for approval")
    probe = Task(id=row.id, kind=row.kind, params=params if params is not None else row.params,
                 body=body if body is not None else row.body)
    record = make_approval(key, probe, person, lifecycle.clock())
    changes: dict[str, Any] = {"body": probe.body, "params": probe.params, "approval": record, "last_error": None}
    if path is not None:
        changes["note_path"] = path
    return Move(row.id, "approve", changes=changes, detail=detail, actor=person)
