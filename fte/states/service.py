"""The transition service: every state change is one SQLite transaction, then mirrored to the vault.

:meth:`Lifecycle.fire` writes, in **one** ``BEGIN IMMEDIATE`` transaction, the task's new state, its
version bump, any field changes the event carries, and one append-only ``transitions`` row. Only
after the commit is the note rendered from the row (:meth:`Lifecycle.mirror`); a crash in between
leaves ``mirrored_version < version``, which :meth:`Lifecycle.repair` fixes at the next start.
"""

from __future__ import annotations

import json
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterator

from sqlalchemy import select

from fte.clock import Clock, utcnow
from fte.errors import BadInput, InvalidTransition, NotFound
from fte.io.channels.kinds import kind as kind_of
from fte.io.channels.style import who as style_key
from fte.io.vault.notes import (
    MAX_EPOCH,
    Note,
    PersonParts,
    Vault,
    note_fields,
    note_relpath,
    person_parts,
    render_task,
)
from fte.io.vault.properties import ceil_minute
from fte.models.store import Store
from fte.models.tables import Cursor, StyleExample, Task, Transition
from fte.states.approvals import ASSERTED, Trust
from fte.states.lifecycle import next_state
from fte.support.crashpoints import crashpoint


def _remember_style(s: Any, task: Task, event: str, proposed: str, now: datetime) -> None:
    """The style memory's example of a reply (fte/io/channels/style.py), in the transition's own
    transaction: its draft as proposed, kept at the first edit that changes it; its text as sent,
    once done. A reply never edited is an example too (the person left the draft as it was)."""
    declared = kind_of(task.kind)
    if declared is None or declared.recipient is None or (event != "edit" and task.state != "done"):
        return
    row = s.get(StyleExample, task.id)
    if event == "edit":
        if row is None and proposed != task.body:
            recipient, domain = style_key(str((task.params or {}).get(declared.recipient) or ""))
            s.add(StyleExample(task_id=task.id, kind=task.kind, recipient=recipient, domain=domain,
                               proposed=proposed))
        return
    if row is None:
        recipient, domain = style_key(str((task.params or {}).get(declared.recipient) or ""))
        s.add(StyleExample(task_id=task.id, kind=task.kind, recipient=recipient, domain=domain,
                           proposed=task.body, sent=task.body, at=now))
    elif row.sent is None:
        row.sent, row.at = task.body, now


@dataclass
class Move:
    """One transition for :meth:`Lifecycle.fire_many`."""

    task_id: str
    event: str
    to: str | None = None
    changes: dict[str, Any] = field(default_factory=dict)
    detail: dict[str, Any] = field(default_factory=dict)
    actor: str | None = None


@dataclass
class Detection:
    """One new item from a source, to become a task."""

    kind: str
    source: str
    source_ref: str
    title: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    body: str = ""
    original: str = ""
    origin: str | None = None
    expires_at: datetime | None = None
    actor: str | None = None
    task_id: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


#: Where a transition came from (the audit log's ``source`` column).
ORIGINS = ("daemon", "obsidian", "cli", "replay", "web")
#: Task fields an event may change along with the state.
MUTABLE = frozenset({"title", "params", "body", "approval", "last_error", "claimed_by", "expires_at", "flags", "note_path",
                     "epoch", "assertion"})
#: Events that start a new presentation: an approval of the one before never verifies again.
NEW_EPOCH = frozenset({"present", "edit", "invalidate", "replay"})


def _check_detail(detail: dict[str, Any]) -> dict[str, Any]:
    try:
        json.dumps(detail)
    except (TypeError, ValueError) as exc:
        raise BadInput(f"transition detail must be JSON: {exc}") from None
    return detail


class Lifecycle:
    """Tasks' lifecycle on one host: creates, fires events, mirrors rows into notes."""

    def __init__(self, store: Store, vault: Vault, agent: str, clock: Clock = utcnow) -> None:
        self.store = store
        self.vault = vault
        self.agent = agent
        self.clock = clock
        #: (task id, event, new state) of every transition since the caller last cleared it — for
        #: commit messages.
        self.journal: list[tuple[str, str, str]] = []
        self._batching = False
        #: Within :meth:`batch`: tasks whose note the bulk steps left to :meth:`flush` (ids).
        self._owed: set[str] = set()
        #: Signs this host's assertions (local hosts); None on a cloud host, which signs nothing.
        self.trust: Trust | None = None

    def _stamp(self, task: Task, event: str, changes: dict[str, Any], actor: str, now: datetime) -> None:
        """What an event implies beyond its changes: a new presentation epoch, and this host's
        signature on what it asserts (docs/protocol.md)."""
        if event in NEW_EPOCH and "epoch" not in changes:
            task.epoch = int(task.epoch or 0) + 1
        if int(task.epoch or 0) > MAX_EPOCH:
            raise BadInput(f"task {task.id[:8]} has been presented as often as a note can say (epoch {MAX_EPOCH}): "
                           "it cannot be edited or replayed again; approve or reject it as it stands")
        if event in NEW_EPOCH and "assertion" not in changes:
            task.assertion = None
        signer = self.trust if self.trust is not None and self.trust.signer is not None else None
        if event in ASSERTED and "assertion" not in changes and signer is not None:
            task.assertion = signer.assertion(task, event, actor, now)
        if event == "replay" and task.state == "approved" and "approval" not in changes and signer is not None:
            # A retry the person asked for on this host: the same content, approved for the new epoch.
            task.approval = signer.approval(task, actor, now)

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Within it, the bulk steps (:meth:`detect_many`, :meth:`fire_many`) leave their notes to
        :meth:`flush`, which writes each task's note once, in its latest state, as one group; folder
        fsyncs are done once per folder and the "mirrored" marks last, without an fsync of their own.

        So a mail that goes detect → draft in one step is one note write, not two (docs/lifecycle.md,
        "Notes are written once per step"). Safe: until a note is written its row says
        ``mirrored_version < version``, which is what repair reads at the next start after a crash;
        a mark lost to a power cut is redone the same way. Single events (:meth:`fire`) still write
        their note at once, and a note owed here is then skipped (it is no longer behind its row).
        """
        if self._batching:
            yield
            return
        self._batching = True
        self.vault.defer_dir_sync()
        try:
            yield
        finally:
            try:
                self._write_owed()
            finally:
                self._batching = False
                self._owed = set()
                self.vault.flush()

    def flush(self) -> None:
        """Write the notes owed by the bulk steps and make every batched note durable (folder
        fsyncs), then record them as mirrored — before git commits them."""
        if self._batching:
            self._write_owed()
            self.vault.defer_dir_sync()

    @property
    def owes_notes(self) -> bool:
        """Whether a bulk step left notes for :meth:`flush` to write."""
        return bool(self._owed)

    def _write_owed(self) -> None:
        owed, self._owed = self._owed, set()
        tasks = [t for t in self.store.tasks_by_id(sorted(owed)) if t.mirrored_version < t.version] if owed else []
        marks = self._write_notes(tasks)
        self.vault.flush()  # the notes' folders durable before the marks say so
        self.store.mark_mirrored_many(marks, durable=False)

    def _mirror_many(self, tasks: list[Task]) -> None:
        """The notes of a bulk step: owed to :meth:`flush` in a batch, else written now (one group)."""
        if self._batching:
            self._owed.update(t.id for t in tasks)
            return
        self.store.mark_mirrored_many(self._write_notes(tasks))

    def _write_notes(self, tasks: list[Task]) -> list[tuple[str, int, str]]:
        """Render the tasks' notes from their rows, write them as one group (each still atomic),
        remove the notes they left; the marks to record (id, version, path)."""
        if not tasks:
            return []  # no arrival at the crash point either: nothing was written
        items = [(note_relpath(t), t) for t in tasks]
        self.vault.write_many([(rel, render_task(t, self._person_parts(t), self.vault.tz)) for rel, t in items])
        crashpoint("after-note-write")
        marks = []
        for rel, task in items:
            if task.note_path and task.note_path != rel:
                self.vault.remove(task.note_path)
            marks.append((task.id, task.version, rel))
            task.mirrored_version, task.note_path = task.version, rel
        return marks

    def detect(
        self,
        *,
        kind: str,
        source: str,
        source_ref: str,
        title: str = "",
        params: dict[str, Any] | None = None,
        body: str = "",
        original: str = "",
        origin: str | None = None,
        expires_at: datetime | None = None,
        actor: str | None = None,
        via: str = "daemon",
        task_id: str | None = None,
        **detail: Any,
    ) -> tuple[Task, bool]:
        """Create a task in ``detected`` — or return the existing one for the same (source, source_ref).

        Returns ``(task, created)``. ``task_id`` lets a host adopt the id another host gave the task.
        """
        item = Detection(kind=kind, source=source, source_ref=source_ref, title=title, params=params or {},
                         body=body, original=original, origin=origin, expires_at=expires_at, actor=actor,
                         task_id=task_id, detail=detail)
        return self.detect_many([item], via=via)[0]

    def detect_many(
        self, items: list["Detection"], cursor: tuple[str, str] | None = None, via: str = "daemon"
    ) -> list[tuple[Task, bool]]:
        """Create many tasks — and move a source's cursor — in **one** transaction.

        A source's new cursor is committed with the tasks it produced: a crash loses both or neither,
        so nothing is skipped and (with the dedupe on (source, source_ref)) nothing is doubled.
        """
        if via not in ORIGINS:
            raise BadInput(f"unknown transition source {via!r}")
        for item in items:
            if not item.kind or "." not in item.kind:
                raise BadInput(f"task kind must look like 'domain.action', not {item.kind!r}")
            _check_detail(item.detail)
        now = self.clock()
        results: list[tuple[Task, bool]] = []
        with self.store.write() as s:
            known = self._known_refs(s, items)
            for item in items:
                existing = known.get((item.source, item.source_ref))
                if existing is not None:
                    results.append((existing, False))
                    continue
                task = Task(
                    id=item.task_id or uuid.uuid4().hex, kind=item.kind, state=next_state(None, "detect"),
                    version=1, mirrored_version=0, source=item.source, source_ref=item.source_ref,
                    origin=item.origin or self.agent, title=item.title, params=dict(item.params), body=item.body,
                    original=item.original, created_at=now, updated_at=now, flags={},
                    # a deadline to the minute: what every note shows is the deadline itself
                    expires_at=ceil_minute(item.expires_at) if item.expires_at else None,
                )
                s.add(task)
                s.add(Transition(task_id=task.id, version=1, event="detect", from_state=None, to_state=task.state,
                                 actor=item.actor or self.agent, host=self.agent, source=via, at=now,
                                 detail=item.detail))
                known[(item.source, item.source_ref)] = task  # a second item with the same key is this task
                results.append((task, True))
            if cursor is not None:
                row = s.get(Cursor, cursor[0])
                if row is None:
                    s.add(Cursor(name=cursor[0], value=cursor[1], updated_at=now))
                else:
                    row.value, row.updated_at = cursor[1], now
        for task, created in results:
            if created:
                self.journal.append((task.id, "detect", task.state))
        crashpoint("after-commit")
        self._mirror_many([task for task, created in results if created])
        return results

    @staticmethod
    def _known_refs(s: Any, items: list["Detection"]) -> dict[tuple[str, str], Task]:
        """The tasks that already exist for the items' (source, source_ref): one query per source
        and 500 keys, not one per item."""
        by_source: dict[str, set[str]] = {}
        for item in items:
            by_source.setdefault(item.source, set()).add(item.source_ref)
        known: dict[tuple[str, str], Task] = {}
        for source, refs in by_source.items():
            wanted = sorted(refs)
            for i in range(0, len(wanted), 500):
                for task in s.scalars(select(Task).where(Task.source == source, Task.source_ref.in_(wanted[i:i + 500]))):
                    known[(source, task.source_ref)] = task
        return known

    def fire(
        self,
        task_id: str,
        event: str,
        *,
        actor: str,
        source: str,
        to: str | None = None,
        changes: dict[str, Any] | None = None,
        expect_version: int | None = None,
        adopt_note: str | None = None,
        **detail: Any,
    ) -> Task:
        """Apply ``event`` to the task; raises :class:`~fte.errors.InvalidTransition` and changes nothing if illegal.

        ``changes`` sets task fields in the same transaction (a draft's body, an approval record…).
        ``expect_version`` makes the write conditional on nobody having moved the task meanwhile.
        ``adopt_note``: the note at this vault path already shows the new state (another host wrote
        it, or the person moved it): record it as the mirror in the same transaction, write nothing.
        """
        if source not in ORIGINS:
            raise BadInput(f"unknown transition source {source!r}; one of {', '.join(ORIGINS)}")
        changes = dict(changes or {})
        unknown = set(changes) - MUTABLE
        if unknown:
            raise BadInput(f"an event cannot change {', '.join(sorted(unknown))}")
        _check_detail(detail)
        now = self.clock()
        with self.store.write() as s:
            task = s.get(Task, task_id)
            if task is None:
                raise NotFound(f"no task {task_id!r}")
            if expect_version is not None and task.version != expect_version:
                raise BadInput(f"task {task.short_id} changed meanwhile (version {task.version}, expected {expect_version})")
            before = task.state
            after = next_state(before, event, to)
            proposed = task.body
            for key, value in changes.items():
                setattr(task, key, value)
            task.state = after
            task.version += 1
            task.updated_at = now
            self._stamp(task, event, changes, actor, now)
            _remember_style(s, task, event, proposed, now)
            if adopt_note is not None:
                task.note_path, task.mirrored_version = adopt_note, task.version
            s.add(
                Transition(
                    task_id=task.id, version=task.version, event=event, from_state=before, to_state=after,
                    actor=actor, host=self.agent, source=source, at=now, detail=detail,
                )
            )
        self.journal.append((task.id, event, after))
        crashpoint("after-commit")
        if adopt_note is None:
            self.mirror(task)
        return task

    def fire_many(
        self, moves: list["Move"], *, actor: str, source: str
    ) -> tuple[list[Task], list[tuple[str, str]]]:
        """Many transitions — each exactly as :meth:`fire` would make it — in one transaction.

        Every move is validated against the table first; an illegal one is left out (and returned
        with its reason) without stopping the others. Each task still gets its own version bump and
        its own ``transitions`` row; the notes are written after the commit (in a :meth:`batch`, at
        its next :meth:`flush`) and marked mirrored in one more transaction. For the daemon's bulk
        steps (draft, sync, present, claim, expire, the person's approvals, completions).
        """
        if source not in ORIGINS:
            raise BadInput(f"unknown transition source {source!r}; one of {', '.join(ORIGINS)}")
        for move in moves:
            unknown = set(move.changes) - MUTABLE
            if unknown:
                raise BadInput(f"an event cannot change {', '.join(sorted(unknown))}")
            _check_detail(move.detail)
        if not moves:
            return [], []
        now = self.clock()
        done: list[Task] = []
        refused: list[tuple[str, str]] = []
        with self.store.write() as s:
            tasks = {t.id: t for t in s.scalars(select(Task).where(Task.id.in_([m.task_id for m in moves])))}
            for move in moves:
                task = tasks.get(move.task_id)
                if task is None:
                    refused.append((move.task_id, "no such task"))
                    continue
                try:
                    after = next_state(task.state, move.event, move.to)
                except InvalidTransition as exc:
                    refused.append((move.task_id, str(exc)))
                    continue
                before, proposed = task.state, task.body
                for key, value in move.changes.items():
                    setattr(task, key, value)
                task.state, task.version, task.updated_at = after, task.version + 1, now
                self._stamp(task, move.event, move.changes, move.actor or actor, now)
                _remember_style(s, task, move.event, proposed, now)
                s.add(Transition(task_id=task.id, version=task.version, event=move.event, from_state=before,
                                 to_state=after, actor=move.actor or actor, host=self.agent, source=source, at=now,
                                 detail=move.detail))
                done.append(task)
                self.journal.append((task.id, move.event, after))
        crashpoint("after-commit")
        self._mirror_many(done)
        return done, refused

    def adopt(self, note: Note, path: str, state: str, *, actor: str, **detail: Any) -> Task:
        """Take in a task first seen as another host's note: its own row, in ``state``, in one transaction.

        Two transitions rows — ``detect`` and ``observe`` (when ``state`` is later) — so the log
        still replays; the note at ``path`` is recorded as the mirror, not rewritten.
        """
        fields = note_fields(note)
        now = self.clock()
        with self.store.write() as s:
            if s.get(Task, note.id) is not None:
                raise BadInput(f"task {note.id[:8]} is already known here")
            clash = s.scalar(select(Task).where(Task.source == fields["source"], Task.source_ref == fields["source_ref"]))
            if clash is not None:
                raise BadInput(f"note {path} repeats the source of task {clash.short_id} under another id")
            task = Task(
                id=note.id, kind=fields["kind"], state="detected", version=1, mirrored_version=0,
                source=fields["source"], source_ref=fields["source_ref"], origin=fields["origin"],
                title=fields["title"], params=fields["params"], body=fields["body"], original=fields["original"],
                created_at=fields["created"] or now, updated_at=now, expires_at=fields["expires_at"],
                claimed_by=fields["claimed_by"], approval=fields["approval"], last_error=fields["last_error"],
                flags={}, epoch=fields["epoch"], assertion=fields["assertion"],
            )
            s.add(task)
            # Detected when the host that detected it says so (its note's ``created``), not when this
            # host first saw the note: the audit log measures from the mail, not from the sync.
            detected_at = min(fields["created"], now) if fields["created"] else now
            s.add(Transition(task_id=task.id, version=1, event="detect", from_state=None, to_state="detected",
                             actor=actor, host=self.agent, source="daemon", at=detected_at,
                             detail={"adopted": path, **detail}))
            if state != "detected":
                after = next_state("detected", "observe", to=state)
                task.state, task.version = after, 2
                s.add(Transition(task_id=task.id, version=2, event="observe", from_state="detected", to_state=after,
                                 actor=actor, host=self.agent, source="daemon", at=now, detail={"note": path}))
            task.note_path, task.mirrored_version = path, task.version
        self.journal.append((task.id, "adopt", task.state))
        return task

    def mirror(self, task: Task) -> bool:
        """Render the task's note from its row; move it if its folder changed. True if bytes were written.

        Idempotent, so it is also the crash repair: write the new note, remove the old one, then
        record the mirrored version — each step is safe to redo.
        """
        rel = note_relpath(task)
        wrote = self.vault.write(rel, render_task(task, self._person_parts(task), self.vault.tz))
        crashpoint("after-note-write")
        if task.note_path and task.note_path != rel:
            self.vault.remove(task.note_path)
        self.store.mark_mirrored(task.id, task.version, rel, durable=not self._batching)
        task.mirrored_version, task.note_path = task.version, rel
        return wrote

    def _person_parts(self, task: Task) -> PersonParts:
        """What the person added to the task's current note: kept when fte writes it again."""
        if not task.note_path:
            return PersonParts()
        try:
            return person_parts(self.vault.read(task.note_path))
        except (BadInput, OSError):
            return PersonParts()  # a path that is not a plain file in the vault: nothing to keep

    def repair(self) -> int:
        """Bring every note that is behind its row up to date; returns how many were repaired.

        A note that cannot be written (its path is taken by a folder, or refused) is an
        ``unwritable-note`` incident and stays behind; the others are repaired all the same, and
        the host starts."""
        self.vault.sweep_temp_files()
        repaired = 0
        for task in self.store.unmirrored():
            try:
                self.mirror(task)
            except (BadInput, OSError) as exc:
                self.incident("unwritable-note", task.id, note_relpath(task), error=str(exc)[:500])
                continue
            repaired += 1
        return repaired

    def get(self, ref: str) -> Task:
        return self.store.get(ref)

    def incident(self, kind: str, task_id: str | None = None, path: str | None = None, **detail: Any) -> None:
        """Record an incident (a refused note, a conflict, a recovery…) at this host's clock: the one
        way every part of fte records one (the Dashboard, ``fte sql incidents`` and the notices read
        them). The kinds are listed in docs/schema.md."""
        self.store.record_incident(self.clock(), self.agent, kind, task_id, path, **detail)
