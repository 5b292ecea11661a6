"""The tick's git steps: recover, publish (commit + sync), sync in (pull and reconcile), and the
record of what git reported (conflicts, held pushes, redactions). docs/sync.md says why each is
where it is; the conflict policy itself is in fte/states/convergence.py.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from fte.clock import iso, parse_iso
from fte.config import check_agent
from fte.errors import FteError, NoteError
from fte.io.vault.gitrepo import Change, GitEvent, SyncResult
from fte.io.vault.notes import MAX_NOTE_BYTES, TASK_FOLDERS
from fte.io.vault.treemerge import conflict_copy_path
from fte.states.reconcile import Reconciler, is_task_note
from fte.tick.context import Context, TickReport

#: Cursor holding the tasks whose note this host changed where a merge kept the remote's.
LOST = "git.lost"
#: Tasks whose note this host changed and whose merge kept this host's version: the remote's version
#: lost, and must not be applied when the pull is read (kept in the database like LOST).
WON = "git.won"
#: The last remote commit whose changes were read.
INTEGRATED = "git.integrated"
#: How often the committed tree is compared with the rows (:meth:`Sync.audit`).
AUDIT_EVERY = timedelta(minutes=10)


class Sync:
    """Git for one host, tick after tick. Remembers the last sync's result (for notices and the
    "nothing to push" shortcut), the paths syncs removed (read after the next reconcile), and which
    held pushes were already reported."""

    def __init__(self, ctx: Context, reconciler: Reconciler) -> None:
        self.ctx = ctx
        self.reconciler = reconciler
        self.last: SyncResult | None = None
        #: When sync started failing (None: it works).
        self.error_since: str | None = None
        self._removed: list[str] = []
        self._held_reported: set[tuple[str, str | None]] = set()
        #: (what this host had integrated, the remote's head) of each rewind already said.
        self._rewinds: set[tuple[str, str]] = set()
        #: The last time the remote was found to have gone back, for the heartbeat; or None.
        self.rewound: dict[str, str] | None = None
        self._audited: datetime | None = None  # the last anti-entropy pass (audit)

    def recover(self) -> None:
        """Finish a tree update a crash interrupted, and forget a git operation someone left
        half-done (docs/sync.md, "Recovery") — before anything looks at the working tree."""
        for event in self.ctx.git.recover():
            self.record(event)

    def sync_in(self, report: TickReport) -> None:
        """Fetch and integrate; then read what other hosts changed since the last commit read.

        What this host wrote so far (the person's moves, read just before) is committed first
        only when the remote brought something to merge; otherwise it goes out with the tick's
        next commit. Nothing is pushed here: this host's commits go out with the tick's next
        publish (the claims' or the last one) — docs/sync.md."""
        ctx = self.ctx
        cursor = ctx.store.cursor(INTEGRATED)

        def commit_first(upstream: str | None) -> None:
            # Nothing unread on the remote (its head is what was last read): nothing is merged
            # or read back below, and what this host wrote waits for the tick's next commit.
            # Otherwise it is committed first — a read of older versions must not find the
            # person's newest words only in the working tree.
            if upstream is None or upstream != cursor:
                self.publish(report, push=False)

        pending = bool(ctx.vault.touched or ctx.lifecycle.owes_notes)
        # What the remote held as far as this host knows (its last fetch or push): the cursor may
        # be this host's own merge, never pushed (another host pushed first) — the remote lacking
        # that is no rewind, and saying so made a false "the remote went back" at every such race
        # (a soak without faults said it 16 times in an hour).
        held = ctx.git.upstream() if ctx.settings.remote else None
        result = ctx.git.sync(push=False, before_merge=commit_first if pending else None)
        self._went_back(held, result.upstream)
        self._after_sync(result, report)
        self._read_in(cursor, result, report)
        removed, self._removed = self._removed, []
        self.reconciler.removed_by_sync(removed)

    def _read_in(self, cursor: str | None, result: SyncResult, report: TickReport) -> None:
        """Read what other hosts changed between ``cursor`` (what this host last read) and what
        ``result`` integrated, and move the cursor there."""
        ctx = self.ctx
        upstream = result.upstream if ctx.settings.remote else ctx.git.head()
        if upstream and upstream != cursor and result.head and result.head != upstream \
                and ctx.git.contains(upstream, result.head):
            # The remote's news merged into this host's unpushed commits: what is read is the
            # merge — the conflict policy's verdicts included — as when a push made it the
            # remote's head (the remote's own tip may hold a version the merge set aside).
            upstream = result.head
        if upstream and upstream != cursor:
            try:
                changes = ctx.git.changes(cursor, upstream)
                # Signed claims and outcomes at every version, not only the last: an execution
                # another host started or finished stays known here even if a later push replaced
                # its note, so it is never claimed and performed a second time (docs/protocol.md).
                outcomes = ctx.git.history(cursor, upstream, ["In_Progress", "Done", "Failed"])
                since = cursor
            except Exception:  # the cursor's commit is gone (a re-cloned vault): start over
                changes, outcomes, since = ctx.git.changes(None, upstream), [], None
            lost = frozenset(json.loads(ctx.store.cursor(LOST) or "[]"))
            won = frozenset(json.loads(ctx.store.cursor(WON) or "[]"))
            report.pulled += len(self.reconciler.pulled(
                changes, ctx.git.read_blob, lost, history=outcomes,
                versions=lambda: ctx.git.history(since, upstream, sorted(TASK_FOLDERS)), won=won))
            if lost:
                ctx.store.set_cursor(LOST, "[]", ctx.now())
            if won:
                ctx.store.set_cursor(WON, "[]", ctx.now())
            self._heartbeats_seen(changes)
            ctx.store.set_cursor(INTEGRATED, upstream, ctx.now())

    def audit(self, report: TickReport) -> int:
        """Anti-entropy (docs/sync.md, "Every host converges"): at most every :data:`AUDIT_EVERY`,
        the task notes of this host's own committed tree are compared with the rows. A task whose
        note stands where its row does not say, or that has two notes, was missed by some read (an
        interrupted merge, a race with the person): its notes are read again exactly as pulled
        notes are — proven, then ordered by the same rules — and the notes other than the one its
        row now names are set aside as conflict copies. Quiet when nothing is amiss: no write, no
        commit. Returns how many tasks it looked at again."""
        ctx = self.ctx
        now = ctx.now()
        if self._audited is not None and now - self._audited < AUDIT_EVERY:
            return 0
        self._audited = now
        notes = [c for c in ctx.git.tree_notes(ctx.git.head(), sorted(TASK_FOLDERS)) if is_task_note(c.path)]
        by_id8: dict[str, list[Change]] = {}
        for change in notes:
            by_id8.setdefault(change.path[-11:-3], []).append(change)
        rows = ctx.store.by_note_path([c.path for c in notes])
        suspect = [group for group in by_id8.values()
                   if len(group) > 1 or group[0].path not in rows or rows[group[0].path].note_path != group[0].path]
        if not suspect:
            return 0
        changes = [c for group in suspect for c in group]
        self.reconciler.pulled(changes, ctx.git.read_blob)
        for group in suspect:
            row = rows.get(group[0].path) or next((r for c in group if (r := rows.get(c.path))), None)
            row = ctx.store.find(row.id) if row is not None else None
            if row is None or len(group) < 2:
                continue
            for change in group:
                try:
                    committed = ctx.git.read_blob(str(change.blob), MAX_NOTE_BYTES)
                except NoteError:
                    continue  # not a note fte can read: the pull reported it
                if change.path != row.note_path and ctx.vault.read(change.path) == committed:
                    # (never a file the person changed since it was committed)
                    copy = conflict_copy_path(change.path, ctx.settings.agent, str(change.blob))
                    ctx.vault.write(copy, ctx.vault.read(change.path) or b"")
                    ctx.vault.remove(change.path)
                    ctx.incident("stray-note", row.id, change.path, kept=row.note_path, copy=copy)
        report.events.append(f"audit: {len(suspect)} task(s) read again")
        return len(suspect)

    def _went_back(self, cursor: str | None, upstream: str | None) -> None:
        """A remote that no longer holds what it held when this host last fetched from it or pushed
        to it (``cursor``) was rewound, rewritten or replaced (docs/protocol.md, "A host never goes
        backwards"): said once, as an incident, in the heartbeat (``fte status``) and on the
        Dashboard. Nothing it lacks is believed gone — the merge keeps this host's side — and the
        next push puts this host's history back on it."""
        ctx = self.ctx
        if not (ctx.settings.remote and cursor and upstream) or cursor == upstream or (cursor, upstream) in self._rewinds:
            return
        if not ctx.git.has_commit(cursor) or ctx.git.contains(cursor, upstream):
            return  # moved forward (or a vault cloned anew, which never held the cursor)
        self._rewinds.add((cursor, upstream))
        self.rewound = {"had": cursor[:12], "remote": upstream[:12], "at": iso(ctx.now())}
        ctx.incident("remote-rewound", None, None, had=cursor, remote=upstream,
                     reason="the remote no longer holds what this host had read from it; this host's history "
                            "goes back with its next push")

    def publish(self, report: TickReport, push: bool = True, message: str | None = None) -> SyncResult:
        """Commit what this host changed (after the secret guard) and, with ``push``, sync.
        ``message``: the commit's (default: the events of the lifecycle's journal).

        Nothing committed and nothing waiting to be pushed: no sync (the tick's first step fetched).
        """
        ctx = self.ctx
        ctx.lifecycle.flush()  # notes durable and marked before git sees them
        paths = ctx.vault.drain_touched()
        committed = False
        if paths:
            commit = ctx.git.commit(paths, message or self._message())
            committed = commit.sha is not None
            for event in commit.redacted:
                if event.task_id and ctx.store.find(event.task_id):
                    ctx.store.set_flags(event.task_id, redacted=", ".join(event.detail.get("kinds", [])))
                self.record(event)
            for event in commit.events:
                self.record(event)
        if not push:
            return SyncResult(pushed=False, head=ctx.git.head(), upstream=ctx.git.upstream())
        head, upstream = ctx.git.head(), ctx.git.upstream()
        if not committed and self.last is not None and self.last.pushed and (
                not ctx.settings.remote or head == upstream):
            return SyncResult(pushed=True, head=head, upstream=upstream)
        cursor = ctx.store.cursor(INTEGRATED)
        result = ctx.git.sync(fetch_first=False)  # the tick fetched in sync_in
        self._after_sync(result, report)
        if self._pushed_only_ours(cursor, upstream, head, result):
            # Without this, a later pull read while the remote is away would offer this host's
            # own older notes back as "remote" changes (an edit reverted by its own previous
            # version: found by the model, run 7).
            ctx.store.set_cursor(INTEGRATED, str(head), ctx.now())  # = result.upstream
        elif result.upstream and result.upstream not in (head, cursor):
            # The push was refused and the remote's news merged in (the claims' push, the tick's
            # last one): read it now. Left for the next tick, the tree held other hosts' notes that
            # the rows did not know yet, and the person's move of a note the merge had just replaced
            # was taken as a decision on the stale row (found by the soak with two local hosts: a
            # rejection committed beside another host's done).
            self._read_in(cursor, result, report)
        return result

    def _pushed_only_ours(self, cursor: str | None, upstream: str | None, head: str | None,
                          result: SyncResult) -> bool:
        """Whether the remote holds nothing unread after ``result``: everything up to the remote's
        old head (``upstream``) was read (the cursor is that head, or a merge of it the pull
        read), the sync took nothing in (our ``head`` is what was pushed), and all the push added
        on top of the cursor is fte's own work on this host."""
        ctx = self.ctx
        return bool(result.pushed and ctx.settings.remote and cursor is not None and upstream is not None
                    and head is not None and result.head == head and result.upstream == head
                    # read up to the remote's old head, or past it: a merge of it the pull read
                    and (cursor == upstream or ctx.git.contains(upstream, cursor))
                    and ctx.git.only_ours_since(cursor, head))

    def record(self, event: GitEvent) -> None:
        """One event git reported, as an incident; a merge's verdict on a race is kept for the read."""
        ctx = self.ctx
        if event.kind == "conflict" and event.task_id and event.detail.get("kept") in ("remote", "local"):
            # Who won the race at the merge decides how the pull is read: a loss converges to the
            # winner; a win means the remote's version of the task is not applied (this host's goes
            # out with its push). Kept in the database, since `fte approve` merges in its own process.
            name = LOST if event.detail["kept"] == "remote" else WON
            other = WON if name == LOST else LOST
            tasks = set(json.loads(ctx.store.cursor(name) or "[]")) | {event.task_id}
            ctx.store.set_cursor(name, json.dumps(sorted(tasks)), ctx.now())
            others = set(json.loads(ctx.store.cursor(other) or "[]"))
            if event.task_id in others:  # the newest merge's word stands
                ctx.store.set_cursor(other, json.dumps(sorted(others - {event.task_id})), ctx.now())
        if event.detail.get("kept") == "committed":
            # Copies written by a recovery (not by a merge commit) go out with the next publish.
            copies = event.detail.get("copy")
            ctx.vault.touched.update([copies] if isinstance(copies, str) else list(copies or []))
        ctx.incident(event.kind, event.task_id, event.path, **event.detail)

    def _after_sync(self, result: SyncResult, report: TickReport) -> None:
        ctx = self.ctx
        self.last = result
        self._removed += result.removed
        for event in result.held:  # reported once per commit and file, for as long as it is held
            if (event.detail["commit"], event.path) not in self._held_reported:
                self._held_reported.add((event.detail["commit"], event.path))
                self.record(event)
        for event in result.events:
            self.record(event)
        if result.error:
            report.sync_error = result.error
            self.error_since = self.error_since or iso(ctx.now())
        else:
            self.error_since = None
        info = {"remote": bool(ctx.settings.remote), "pushed": result.pushed, "error": result.error,
                "held": [{"commit": e.detail["commit"][:8], "author": e.detail["author"], "path": e.path,
                          "kinds": e.detail["kinds"]} for e in result.held[:20]],
                "error_since": self.error_since, "ahead": result.ahead, "behind": result.behind,
                "rewound": self.rewound, "at": iso(ctx.now())}
        ctx.store.heartbeat(ctx.settings.agent, ctx.settings.role, ctx.now(), sync=info)

    def _heartbeats_seen(self, changes: list[Any]) -> None:
        """Other hosts' heartbeats, from their ``Logs/<agent>/heartbeat.json`` (untrusted input)."""
        ctx = self.ctx
        for change in changes:
            parts = change.path.split("/")
            if change.status == "D" or len(parts) != 3 or parts[0] != "Logs" or parts[2] != "heartbeat.json":
                continue
            if parts[1] == ctx.settings.agent:
                continue
            try:
                data = json.loads(ctx.vault.path(change.path).read_bytes()[:10_000])
                at = parse_iso(str(data["at"]))
                role = str(data.get("role", "?"))[:8]
                check_agent(parts[1])
                redacted = [{"task": str(q["task"])[:8], "kinds": str(q["kinds"])[:200]}
                            for q in data.get("redacted", [])[:100]]
            except (OSError, ValueError, KeyError, TypeError, AttributeError, FteError):
                continue
            ctx.store.heartbeat(parts[1], role, at, redacted=redacted)

    def _message(self) -> str:
        ctx = self.ctx
        journal, ctx.lifecycle.journal[:] = list(ctx.lifecycle.journal), []
        if not journal:
            return f"fte {ctx.settings.agent}: dashboard, heartbeat and logs"
        parts = [f"{event} {task_id[:8]}" for task_id, event, _state in journal[:8]]
        more = f" (+{len(journal) - 8} more)" if len(journal) > 8 else ""
        body = "\n".join(f"{task_id} {event} -> {state}" for task_id, event, state in journal)
        return f"fte {ctx.settings.agent}: {', '.join(parts)}{more}\n\n{body}\n"
