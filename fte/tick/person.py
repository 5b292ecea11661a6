"""The person's side of a tick: the protocol folders they move notes into, and their moves and
edits read from the working tree (they become events before anything is pulled: docs/sync.md)."""

from __future__ import annotations

from fte.states.reconcile import Reconciler
from fte.support.plaintext import visible
from fte.tick.context import Context, TickReport

#: Where a person's moves and edits matter, looked at every tick (Done/ can hold 100,000 notes).
ACTIVE_FOLDERS = ("Needs_Action", "Updates", "Pending_Approval", "Approved", "Rejected", "In_Progress", "Failed",
                  "Company_Handbook.md", "Business_Goals.md")
#: Every how many ticks the whole vault is looked at (edits of old done notes, writes left by a crash).
FULL_LOOK_EVERY = 100
#: Events the person's moves and edits make: each is logged as it happens.
PERSON_EVENTS = frozenset({"approve", "reject", "edit", "invalidate"})


class Person:
    def __init__(self, ctx: Context, reconciler: Reconciler) -> None:
        self.ctx = ctx
        self.reconciler = reconciler
        self._ticks = 0
        self._folder_problems: set[str] = set()

    def ensure_folders(self) -> None:
        """Every protocol folder exists (git keeps no empty folder: an emptied ``Approved/`` would
        vanish, and a person's move into it would fail). A folder that is a symlink or a file is
        reported once and left alone."""
        for problem in self.ctx.vault.ensure_folders():
            if problem not in self._folder_problems:
                self._folder_problems.add(problem)
                self.ctx.incident("bad-folder", None, problem,
                                  reason="a protocol folder is not a plain folder in the vault")

    def work_tree(self, report: TickReport) -> None:
        """The person's moves and edits. Each tick looks where people act (every folder but
        ``Done/``, ``Logs/``, ``Briefings/``); the first tick, and every FULL_LOOK_EVERY-th, looks at
        the whole vault (edits of old done notes, this host's writes left by a crash)."""
        ctx = self.ctx
        full = self._ticks % FULL_LOOK_EVERY == 0
        self._ticks += 1
        folders = None if full else list(ACTIVE_FOLDERS)
        seen = len(ctx.lifecycle.journal)
        touched = self.reconciler.working_tree(ctx.git.working_changes(folders))
        ctx.vault.touched |= touched
        said = [(task_id, event, state) for task_id, event, state in ctx.lifecycle.journal[seen:]
                if event in PERSON_EVENTS]  # the person's decisions and edits, as they happen
        titles = {t.id: t.title for t in ctx.store.tasks_by_id(sorted({task_id for task_id, _e, _s in said}))}
        for task_id, event, state in said:
            title = visible(titles.get(task_id) or "")[:80]
            ctx.log(f"{event}: {task_id[:8]} {title!r} by {ctx.settings.person} -> {state}")
