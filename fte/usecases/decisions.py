"""What a person decides: approve, reject, edit, replay — the same rules from every front end.

A decision is read against the note as the person sees it now: their uncommitted moves and edits
in the vault are taken in first (:meth:`fte.tick.desk.Desk.work_tree`), so a decision can never
sign a draft the person has already changed. What is signed is what was shown: a front end that
showed a presentation passes its ``epoch``, and a decision about an older one is refused
(``Stale``). Every decision is one transition, committed and pushed before the call returns
(``sync_error`` says when the push must wait; the daemon pushes it later).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fte.clock import Clock, utcnow
from fte.errors import BadInput, NoteError, Stale
from fte.host.home import Home, open_home
from fte.models.tables import Task
from fte.states import replay as replaying
from fte.states.reconcile import approve as approve_task
from fte.states.reconcile import check_deadline
from fte.tick.context import TickReport
from fte.tick.desk import Desk

#: States in which a task has been decided already.
DECIDED = frozenset({"approved", "claimed", "done", "failed", "rejected", "expired"})


@dataclass(frozen=True)
class Decided:
    """The task after the decision, and why its commit is not on the remote yet (None: it is)."""

    task: Task
    sync_error: str | None = None


def approve(home: Path, task_id: str, *, by: str | None = None, epoch: int | None = None, via: str = "cli",
            device: str | None = None, clock: Clock = utcnow) -> Decided:
    """Approve a pending task, as the person's move into ``Approved/`` would: signed over the body
    and parameters its note shows, then pushed. ``epoch``: the presentation the front end showed;
    ``via`` (``cli``, ``web``) and ``device`` (the web page's signed-in device) go to the audit log."""
    return _decide(home, task_id, "approve", None, by, epoch, via, device, clock)


def reject(home: Path, task_id: str, *, reason: str | None = None, by: str | None = None, epoch: int | None = None,
           via: str = "cli", device: str | None = None, clock: Clock = utcnow) -> Decided:
    """Reject a pending task, as the person's move into ``Rejected/`` would; ``reason`` is kept in
    the audit log and the note."""
    return _decide(home, task_id, "reject", reason, by, epoch, via, device, clock)


def edit(home: Path, task_id: str, body: str, *, by: str | None = None, epoch: int | None = None,
         via: str = "cli", device: str | None = None, clock: Clock = utcnow) -> Decided:
    """Make ``body`` the pending task's draft (an ``edit``, as a change in Obsidian is: a new
    presentation epoch, so an approval must follow it). Unchanged text changes nothing."""
    with open_home(home, clock) as h:
        desk, report = _desk(h)
        try:
            task = _waiting(h, task_id, epoch)
            text = body.rstrip("\n") + "\n"
            if text != task.body:
                task = h.lifecycle.fire(task.id, "edit", actor=by or h.settings.person, source=via,
                                        changes={"body": text}, **_said_by(via, device))
        finally:
            desk.publish(report)
    return Decided(task, report.sync_error)


def _desk(h: Home) -> tuple[Desk, TickReport]:
    if not h.settings.executes:
        raise BadInput(f"a {h.settings.role} host does not decide; decisions are made on a local host")
    desk, report = Desk(h), TickReport()
    desk.work_tree(report)  # the note as the person sees it now: their edits count first
    return desk, report


def _waiting(h: Home, task_id: str, epoch: int | None) -> Task:
    task = h.store.get(task_id)
    if task.state != "pending":
        raise BadInput(f"task {task.short_id} is already decided ({task.state})" if task.state in DECIDED
                       else f"task {task.short_id} is {task.state}, not waiting for a decision")
    if epoch is not None and task.epoch != epoch:
        raise Stale(f"task {task.short_id} changed since it was shown (presentation {epoch}, now "
                    f"{task.epoch}); look at it again")
    return task


def _said_by(via: str, device: str | None) -> dict[str, Any]:
    """What the audit log keeps of where a decision was made."""
    return {"via": via} | ({"device": device} if device else {})


def _decide(home: Path, task_id: str, decision: str, reason: str | None, by: str | None, epoch: int | None,
            via: str, device: str | None, clock: Clock) -> Decided:
    with open_home(home, clock) as h:
        before = h.store.get(task_id)
        desk, report = _desk(h)
        person = by or h.settings.person
        try:
            task = _waiting(h, task_id, epoch)
            if decision == "approve":
                task = _approve(h, desk, before, task, person, via, device)
            else:
                check_deadline(task, h.lifecycle.clock())
                task = h.lifecycle.fire(task.id, "reject", actor=person, source=via, reason=reason,
                                        changes={"last_error": f"rejected: {reason}" if reason else None},
                                        **_said_by(via, device))
        finally:
            desk.publish(report)  # what was decided, or what the person did that a refusal read
    return Decided(task, report.sync_error)


def _approve(h: Home, desk: Desk, before: Task, task: Task, person: str, via: str, device: str | None) -> Task:
    if task.epoch != before.epoch:
        # What the note shows is not what this call was about to sign: recorded, and the person asked.
        raise BadInput(f"the note of {task.short_id} was changed since it was presented; the change is "
                       f"recorded as an edit — look at {task.note_path} again, then approve")
    shown = _shown_fields(h, task)
    if shown is not None and (shown["body"] != task.body or _canonical(shown["params"]) != _canonical(task.params or {})):
        # The note shows another draft than the row holds, and not as an uncommitted change (a
        # git plugin committed the person's edit, or a pull left it): what is signed must be what
        # was seen, so the note's draft becomes the task's, and the person looks again.
        h.lifecycle.fire(task.id, "edit", actor=person, source=via, adopt_note=task.note_path,
                         changes={"body": shown["body"], "params": shown["params"]},
                         reason="the note showed another draft than this host held")
        raise BadInput(f"the note of {task.short_id} showed another draft than this host held; it is "
                       f"recorded as an edit — look at {task.note_path} again, then approve")
    check_deadline(task, h.lifecycle.clock())
    return approve_task(h.lifecycle, desk.trust, task, person, via, detail=_said_by(via, device))


def _canonical(value: Any) -> str:
    """A comparable form of parameters (NaN equals NaN here: a note read back from YAML holds a new one)."""
    return json.dumps(value, sort_keys=True, default=str, ensure_ascii=False)


def _shown_fields(h: Home, task: Task) -> dict[str, Any] | None:
    """The draft and parameters the task's note shows now (None: no readable note)."""
    from fte.io.vault.notes import note_fields, parse_note

    path = task.note_path
    data = h.vault.read(path) if path else None
    if path is None or data is None:
        return None
    try:
        note = parse_note(data, path)
        return note_fields(note) if note.id == task.id else None
    except (NoteError, BadInput):
        return None


def replay(home: Path, task_ids: list[str], *, all_failed: bool = False, dry_run: bool = False,
           force: bool = False, clock: Clock = utcnow,
           log: Callable[[str], None] = lambda _m: None) -> list[replaying.ReplayPlan]:
    """Send failed tasks back into the lifecycle, safely (:mod:`fte.states.replay` says where each
    goes). All or nothing: if one is refused, none is replayed (``BadInput``). ``dry_run`` plans only."""
    from fte.io.channels.registry import build_executors

    with open_home(home, clock) as h:
        assert h.lifecycle.trust is not None
        executors = build_executors(h.settings) if h.settings.executes else {}
        found = h.store.tasks(state="failed") if all_failed else [h.store.get(t) for t in task_ids]
        plans = [replaying.plan(h.lifecycle, t, executors, h.lifecycle.trust, force) for t in found]
        if not dry_run:
            replaying.apply(h.lifecycle, plans, actor=h.settings.person)  # all or nothing
            if h.settings.executes:
                Desk(h, log).publish(TickReport())
    return plans
