"""Archival: the finished notes of a month leave the task folders for one note, ``Archive/<YYYY-MM>.md``
(docs/sync.md, "Archive"), so the synced tree stops growing with the years. The database keeps
every row; ``fte show`` and ``fte sql`` still answer; ``fte archive restore`` brings a note back.

One commit per month. The order makes it resumable: the rows are marked (with the month left
"open") before any file changes; the archive note is written before any note is removed; a note is
removed only if it still holds the bytes that were archived; the month is closed after its commit.
A month left open by a crash is done again (the same bytes), and anything the person changed
meanwhile is archived as they left it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timezone

from fte.errors import BadInput, NoteError
from fte.io.vault.archive import (
    Entry,
    archive_path,
    entry_of_note,
    parse_archive,
    render_archive,
)
from fte.io.vault.gitrepo import SyncResult
from fte.io.vault.notes import folder_state
from fte.io.vault.treemerge import is_task_note
from fte.models.tables import Task
from fte.support.crashpoints import crashpoint
from fte.tick.context import Context, TickReport

#: Most notes archived in one tick (a first run over years of notes goes on at later ticks).
BATCH = 5_000
OPEN = "archive.open"
DAY = "archive.day"


def cutoff(now: datetime, after_months: int) -> datetime:
    """Tasks that finished before this are archived: the start of the month ``after_months``
    months before this one (0: now)."""
    if after_months == 0:
        return now
    index = now.year * 12 + (now.month - 1) - after_months
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=timezone.utc)


class Archiver:
    """``publish(report, push, message)`` commits what the step wrote (the sync step's)."""

    def __init__(self, ctx: Context, publish: Callable[..., SyncResult]) -> None:
        self.ctx = ctx
        self.publish = publish

    def __call__(self, report: TickReport, force: bool = False) -> list[tuple[str, int]]:
        """Archive what is due: once a day (every tick with ``after_months = 0``, always with
        ``force``); a month a crash left open first. Returns ``(month, notes archived)``."""
        ctx = self.ctx
        today = ctx.now().date().isoformat()
        after = ctx.settings.archive_after_months
        open_month = ctx.store.cursor(OPEN)
        if not (force or open_month or after == 0 or ctx.store.cursor(DAY) != today):
            return []
        ctx.lifecycle.flush()  # the notes it reads are on disk, at the paths their rows say
        done: list[tuple[str, int]] = []
        if open_month:
            done.append((open_month, self.archive_month(open_month, [], report)))
        due = ctx.store.archivable(cutoff(ctx.now(), after), BATCH)
        by_month: dict[str, list[Task]] = defaultdict(list)
        for task in due:
            by_month[f"{task.updated_at:%Y-%m}"].append(task)
        for month in sorted(by_month):
            done.append((month, self.archive_month(month, by_month[month], report)))
        if len(due) < BATCH:  # else more is due: the next tick goes on
            ctx.store.set_cursor(DAY, today, ctx.now())
        return done

    def archive_month(self, month: str, tasks: list[Task], report: TickReport) -> int:
        """Move ``tasks``' notes (and any note a crash left behind for ``month``) into the month's
        archive note; one commit. Returns how many notes left the task folders."""
        ctx = self.ctx
        rel = archive_path(month)
        try:
            entries = parse_archive(ctx.vault.read(rel) or b"", rel)
        except (NoteError, UnicodeDecodeError) as exc:
            ctx.incident("bad-archive", None, rel, error=str(exc))
            return 0  # the month waits for the person (or git) to repair the note
        taken: dict[str, tuple[Entry, bytes]] = {}
        noteless: list[str] = []  # finished tasks with no note left to move: archived as rows only
        # Notes a crash left behind, of the month left open (never otherwise: a note the person
        # brought back on another host stays where they put it).
        leftovers = [t for t in ctx.store.archived_in(month) if (t.flags or {}).get("archived_from")] \
            if ctx.store.cursor(OPEN) == month else []
        for task in [*tasks, *leftovers]:
            path = (task.note_path if task in tasks else str(task.flags["archived_from"])) or ""
            data = ctx.vault.read(path) if is_task_note(path) else None
            if data is None:
                if task in tasks:
                    noteless.append(task.id)
                continue
            try:
                entry = entry_of_note(path, data)
                if entry.task_id != task.id:
                    raise NoteError(f"{path} holds the note of another task ({entry.task_id[:8]})")
            except (NoteError, UnicodeDecodeError) as exc:
                # Kept where it is, said once: the task is not offered for archival again.
                ctx.incident("not-archived", task.id, path, error=str(exc))
                ctx.store.set_flags(task.id, archive_refused=str(exc)[:200])
                continue
            taken[task.id] = (entry, data)
        if not taken and not noteless:
            ctx.store.set_archived([], ctx.now(), open_month="")
            return 0
        marks: list[tuple[str, str | None, str, str | None]] = [
            (tid, month, rel, entry.path) for tid, (entry, _data) in taken.items()]
        marks += [(tid, month, rel, None) for tid in noteless]
        ctx.store.set_archived(marks, ctx.now(), open_month=month)
        crashpoint("archive-marked")
        entries.update({tid: entry for tid, (entry, _data) in taken.items()})
        ctx.vault.write(rel, render_archive(month, list(entries.values())))
        ctx.vault.touched.add(rel)  # committed even when a run a crash cut short had written it already
        ctx.lifecycle.flush()  # the archive note durable before any note it holds is removed
        crashpoint("archive-written")
        moved = 0
        for entry, data in taken.values():
            if ctx.vault.read(entry.path) == data:  # the person did not change it meanwhile
                ctx.vault.remove(entry.path)
                moved += 1
        self.publish(report, push=False, message=f"fte {ctx.settings.agent}: archive {month} ({moved} notes)")
        report.archived += moved
        if moved == len(taken):  # else the month stays open: what the person changed goes at the next tick
            ctx.store.set_archived([], ctx.now(), open_month="")
        ctx.log(f"archived {moved} note(s) of {month} into {rel}")
        return moved


def restore(ctx: Context, task: Task) -> str:
    """Bring an archived task's note back where it was, byte for byte, and take it out of its
    month's archive note; the task is not archived again. Returns the note's path. The caller
    commits (one commit)."""
    flags = task.flags or {}
    month = flags.get("archived")
    if not isinstance(month, str):
        raise BadInput(f"task {task.short_id} is not archived (its note: {task.note_path})")
    rel = archive_path(month)
    try:
        entries = parse_archive(ctx.vault.read(rel) or b"", rel)
    except (NoteError, UnicodeDecodeError) as exc:
        raise BadInput(f"{rel} cannot be read back ({exc}); the note is in the vault's git history") from exc
    entry = entries.pop(task.id, None)
    if entry is None:
        was = flags.get("archived_from") or "its old path"
        raise BadInput(f"{rel} does not hold the note of {task.short_id}; its last version is in the vault's git "
                       f"history: git log -- '{was}'")
    # The archive note came through git like any note: it may only put back a finished note, in
    # the folder of the task's own state (never into Approved/, where it would read as a move).
    home_folder = {"done": "done", "rejected": "rejected", "expired": "rejected"}.get(task.state)
    if not is_task_note(entry.path) or folder_state(entry.path) != home_folder or entry.meta.get("state") != task.state:
        raise BadInput(f"{rel} would put the note of {task.short_id} at {entry.path!r} as {entry.meta.get('state')!r}; "
                       f"it is {task.state}: refused")
    if ctx.vault.read(entry.path) not in (None, entry.note_bytes()):
        raise BadInput(f"{entry.path} exists and holds another note: move it away first")
    ctx.vault.write(entry.path, entry.note_bytes())
    ctx.store.set_archived([(task.id, None, entry.path, None)], ctx.now())
    if entries:
        ctx.vault.write(rel, render_archive(month, list(entries.values())))
    else:
        ctx.vault.remove(rel)
    ctx.log(f"restored {task.short_id} from {rel} to {entry.path}")
    return entry.path
