"""The per-host loop: one :meth:`Runner.tick` reads inputs, decides, persists, performs.

The order of a tick, by role, is in docs/architecture.md ("One tick"): recover; the person's moves
and edits first (committed before anything is pulled); sync in and reconcile; detect and draft
(cloud, all); publish; present and expire (local, all); execute (local, all); Dashboard,
heartbeat, audit export. The cloud role never approves, claims or executes — those steps are not
even built for it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Callable

from fte.clock import iso, parse_iso
from fte.crashpoints import crashpoint
from fte.config import APPROVAL_KEY_NAME, Settings, check_agent, load_env
from fte.audit import export
from fte.dashboard import render_dashboard
from fte.report import briefing_path, figures, odoo_figures, render
from fte.errors import BadInput, FteError, RoleViolation
from fte.home import Home
from fte.errors import DraftError
from fte.io.channels.contract import Draft, Drafter
from fte.io.channels.drafters import TemplateDrafter
from fte.io.channels.registry import build_drafter, build_executors, build_sources, executor_secrets
from fte.io.channels.contract import Executor
from fte.io.vault.gitsync import GitEvent, SyncResult
from fte.io.vault.notes import TASK_FOLDERS
from fte.keys import KEY_NAME
from fte.notify import Notice, Notifier, task_notices
from fte.plaintext import visible
from fte.states.execution import Executions
from fte.states.reconcile import ADDRESSED, Reconciler
from fte.states.service import Detection, Move

#: Environment variables that give a host the power to act (every executor's, from the channel
#: registry); a cloud host must hold none.
EXECUTOR_SECRETS = executor_secrets()


MAX_DRAFT_ATTEMPTS = 3
#: Where a person's moves and edits matter, looked at every tick (Done/ can hold 100,000 notes).
ACTIVE_FOLDERS = ("Needs_Action", "Updates", "Pending_Approval", "Approved", "Rejected", "In_Progress", "Failed",
                  "Company_Handbook.md", "Business_Goals.md")
FULL_LOOK_EVERY = 100
#: Cursor holding the tasks whose note this host changed where a merge kept the remote's.
LOST = "git.lost"
#: Tasks whose note this host changed and whose merge kept this host's version: the remote's version
#: lost, and must not be applied when the pull is read (kept in the database like LOST).
WON = "git.won"
#: Most tasks claimed in one push: big enough for a burst of approvals, small enough for one commit.
CLAIM_BATCH = 500


#: Events the person's moves and edits make: each is logged as it happens.
PERSON_EVENTS = frozenset({"approve", "reject", "edit", "invalidate"})


#: Sources read on the local host itself (their tasks are drafted there too): WhatsApp's webhook
#: runs beside the person, and ``fte post`` writes tasks on whichever host the person uses.
LOCAL_SOURCES = frozenset({"whatsapp", "cli", "mcp"})


def unanswerable(task: Any) -> Draft | None:
    """A message with no usable sender address is not sent to a drafter (there is no one to answer):
    its note asks the person, and it cannot be approved until someone adds a recipient."""
    if task.kind not in ADDRESSED or str((task.params or {}).get("to") or "").strip():
        return None
    first = (task.original or "").split("\n", 1)[0]
    sender = first if first.startswith("From:") and first[5:].strip() else "no From header"
    body = (f"This message has no usable sender address ({visible(sender)[:200]}), so there is no one to reply to "
            "and nothing will be sent.\n\nRead it below and handle it yourself, then reject this task. To answer "
            "it after all, add a `to` property with the address first.\n")
    return Draft(body=body, params=dict(task.params or {}), action="ignore", reason="no usable sender address")


def check_role(settings: Settings) -> None:
    if settings.role == "cloud":
        held = [k for k in EXECUTOR_SECRETS if load_env(settings.home).get(k)]
        if held:
            raise RoleViolation(f"a cloud host must not hold executor credentials; remove {', '.join(held)}")
        for name in (KEY_NAME, APPROVAL_KEY_NAME):
            if (settings.home / name).exists():
                raise RoleViolation(f"a cloud host must not hold a signing key; remove {settings.home / name}")


@dataclass
class TickReport:
    detected: int = 0
    drafted: int = 0
    presented: int = 0
    expired: int = 0
    claimed: int = 0
    executed: int = 0
    failed: int = 0
    pulled: int = 0
    sync_error: str | None = None
    events: list[str] = field(default_factory=list)


class Runner:
    """One host's work, tick by tick. The clock comes from the home's lifecycle (injected)."""

    def __init__(
        self,
        home: Home,
        log: Callable[[str], None] = lambda _m: None,
        *,
        sources: list[Any] | None = None,
        executors: dict[str, Executor] | None = None,
        drafter: Drafter | None = None,
    ) -> None:
        """Sources, executors and the drafter come from the settings; pass them to use others (tests,
        embedding) — they keep the same contracts (``poll``; ``perform``/``lookup``; ``draft``)."""
        self.home = home
        self.settings = home.settings
        self.log = log
        check_role(self.settings)
        assert home.lifecycle.trust is not None  # open_home sets it
        self.trust = home.lifecycle.trust
        self.reconciler = Reconciler(home.lifecycle, self.settings.role, self.trust, self.settings.person)
        self.sources = sources if sources is not None else build_sources(self.settings)
        # A local host drafts only what its own sources and `fte post` bring (LOCAL_SOURCES).
        notify = self.settings.section("notify")
        self.notifier = Notifier(notify["urls"], load_env(self.settings.home), log) if notify["urls"] else None
        self._told: set[str] = set()  # held pushes and sync failures already told (per process)
        self._template = TemplateDrafter(self.settings.signature)
        self.drafter = drafter or (build_drafter(self.settings) if self.settings.drafts else self._template)
        self.executions = (
            Executions(home.lifecycle, executors if executors is not None else build_executors(self.settings), self.trust,
                       self.settings.dry_run, log, rate_limits=self.settings.rate_limits)
            if self.settings.executes else None
        )
        self._last_heartbeat: datetime | None = None
        self._last_sync: SyncResult | None = None
        self._ticks = 0
        self._last_redacted: list[dict[str, Any]] = []
        self._held_reported: set[tuple[str, str | None]] = set()
        self._error_since: str | None = None
        self._folder_problems: set[str] = set()
        #: Paths syncs removed from the tree, looked at after the next reconcile.
        self._removed: list[str] = []

    @property
    def lifecycle(self):  # type: ignore[no-untyped-def]
        return self.home.lifecycle

    @property
    def store(self):  # type: ignore[no-untyped-def]
        return self.home.store

    @property
    def git(self):  # type: ignore[no-untyped-def]
        return self.home.git

    def now(self) -> datetime:
        return self.lifecycle.clock()

    # -- the tick --------------------------------------------------------------------------------------

    def tick(self) -> TickReport:
        """One full tick (see the module's docstring). Notes are batched: their folder fsyncs and
        "mirrored" marks happen once per publish, before anything is committed to git."""
        with self.lifecycle.batch():
            return self._tick()

    def _tick(self) -> TickReport:
        report = TickReport()
        # Before anything looks at the working tree: finish a tree update a crash interrupted, and
        # forget a git operation someone left half-done (docs/sync.md, "Recovery").
        for event in self.git.recover():
            self._record(event)
        self.ensure_folders()
        # The person's moves and edits are read first and become events and fte's own commit
        # before the remote is integrated, so the sync never has to step around them.
        self.work_tree(report)
        if self.home.vault.touched:
            self.publish(report, push=False)
        self.sync_in(report)
        self.detect(report)
        self.draft(report)
        if report.detected or report.drafted or self.store.tasks(state="drafted", limit=1):
            # Drafts must reach the remote before they are "synced". Without drafts, this host's
            # other changes (approvals) wait for the claims' commit: one commit fewer per busy tick.
            result = self.publish(report)
            if self.mark_synced(result):
                self.publish(report)
        if self.settings.executes:
            self.present(report)
            self.expire(report)
        if self.executions is not None:
            self.execute(report)
        if self.settings.executes:
            self.write_dashboard()
            self.weekly_briefing()
        self.daily_audit()
        self.heartbeat()
        self.publish(report)
        self.notify()
        return report

    def notify(self) -> None:
        """Tell the person what needs them (fte/notify.py): what waits, expires soon, failed; a push
        held by the secret guard; a sync failing for an hour. Never stops the tick."""
        if self.notifier is None:
            return
        notices = task_notices(self.store, self.now(), self.settings.section("notify")["include_text"]) \
            if self.settings.executes else []
        sync = self._last_sync
        for event in (sync.held if sync else []):
            key = f"held:{event.detail['commit']}:{event.path}"
            if key not in self._told:
                self._told.add(key)
                notices.append(Notice("fte: a push is held: a commit holds a secret",
                                      f"commit {event.detail['commit'][:8]} by {event.detail['author']}: "
                                      f"{', '.join(event.detail['kinds'])} in {event.path}. See the Dashboard."))
        since = self._error_since
        if since and (self.now() - parse_iso(since)).total_seconds() >= 3600 and f"sync:{since}" not in self._told:
            self._told.add(f"sync:{since}")
            notices.append(Notice("fte: sync has failed for an hour", f"since {since}: {sync.error if sync else ''}"))
        for notice in notices:
            self.notifier.send(notice)

    def ensure_folders(self) -> None:
        """Every protocol folder exists (git keeps no empty folder: an emptied ``Approved/`` would
        vanish, and a person's move into it would fail). A folder that is a symlink or a file is
        reported once and left alone."""
        for problem in self.home.vault.ensure_folders():
            if problem not in self._folder_problems:
                self._folder_problems.add(problem)
                self.store.record_incident(self.now(), self.settings.agent, "bad-folder", None, problem,
                                           reason="a protocol folder is not a plain folder in the vault")
                self.log(f"bad-folder: {problem}")

    def sync_in(self, report: TickReport) -> None:
        result = self.git.sync()
        self._after_sync(result, report)
        upstream = result.upstream if self.settings.remote else self.git.head()
        cursor = self.store.cursor("git.integrated")
        if upstream and upstream != cursor:
            try:
                changes = self.git.changes(cursor, upstream)
                # Signed claims and outcomes at every version, not only the last: an execution
                # another host started or finished stays known here even if a later push replaced
                # its note, so it is never claimed and performed a second time (docs/protocol.md).
                outcomes = self.git.history(cursor, upstream, ["In_Progress", "Done", "Failed"])
                since = cursor
            except Exception:  # the cursor's commit is gone (a re-cloned vault): start over
                changes, outcomes, since = self.git.changes(None, upstream), [], None
            lost = frozenset(json.loads(self.store.cursor(LOST) or "[]"))
            won = frozenset(json.loads(self.store.cursor(WON) or "[]"))
            report.pulled += len(self.reconciler.pulled(
                changes, self.git.read_blob, lost, history=outcomes,
                versions=lambda: self.git.history(since, upstream, sorted(TASK_FOLDERS)), won=won))
            if lost:
                self.store.set_cursor(LOST, "[]", self.now())
            if won:
                self.store.set_cursor(WON, "[]", self.now())
            self._heartbeats_seen(changes)
            self.store.set_cursor("git.integrated", upstream, self.now())
        removed, self._removed = self._removed, []
        self.reconciler.removed_by_sync(removed)

    def _heartbeats_seen(self, changes: list[Any]) -> None:
        """Other hosts' heartbeats, from their ``Logs/<agent>/heartbeat.json`` (untrusted input)."""
        for change in changes:
            parts = change.path.split("/")
            if change.status == "D" or len(parts) != 3 or parts[0] != "Logs" or parts[2] != "heartbeat.json":
                continue
            if parts[1] == self.settings.agent:
                continue
            try:
                data = json.loads(self.home.vault.path(change.path).read_bytes()[:10_000])
                at = parse_iso(str(data["at"]))
                role = str(data.get("role", "?"))[:8]
                check_agent(parts[1])
                redacted = [{"task": str(q["task"])[:8], "kinds": str(q["kinds"])[:200]}
                            for q in data.get("redacted", [])[:100]]
            except (OSError, ValueError, KeyError, TypeError, AttributeError, FteError):
                continue
            self.store.heartbeat(parts[1], role, at, redacted=redacted)

    def work_tree(self, report: TickReport) -> None:
        """The person's moves and edits. Each tick looks where people act (every folder but
        ``Done/``, ``Logs/``, ``Briefings/``); the first tick, and every FULL_LOOK_EVERY-th, looks at
        the whole vault (edits of old done notes, this host's writes left by a crash)."""
        full = self._ticks % FULL_LOOK_EVERY == 0
        self._ticks += 1
        folders = None if full else list(ACTIVE_FOLDERS)
        seen = len(self.lifecycle.journal)
        touched = self.reconciler.working_tree(self.git.working_changes(folders))
        self.home.vault.touched |= touched
        for task_id, event, state in self.lifecycle.journal[seen:]:
            if event in PERSON_EVENTS:  # the person's decisions and edits, as they happen
                task = self.store.find(task_id)
                title = visible(task.title)[:80] if task else ""
                self.log(f"{event}: {task_id[:8]} {title!r} by {self.settings.person} -> {state}")

    def detect(self, report: TickReport) -> None:
        """Each source's new items since its cursor; the cursor moves in the same transaction."""
        for source in self.sources:
            cursor_name = getattr(source, "cursor_name", source.name)
            try:
                before = self.store.cursor(cursor_name)
                polled = source.poll(before)
            except FteError as exc:  # unreachable, rate-limited, a bad token: this source waits, the rest go on
                self.log(f"source {source.name}: {exc}")
                report.events.append(f"{source.name}: {exc}")
                continue
            items = [self._detection(source.name, item) for item in polled.items]
            results = self.lifecycle.detect_many(items, cursor=(cursor_name, polled.cursor))
            if polled.cursor != before:  # said once, when the source's state changes (not at every poll)
                for note in polled.notices:  # sentences for the person (fte/io/channels/contract.py)
                    self.log(f"source {source.name}: {note}")
                    report.events.append(f"{source.name}: {note}")
            report.detected += sum(created for _t, created in results)
            forget = getattr(source, "forget", None)
            if forget is not None and items:  # a spooling source: what is a task now leaves the spool
                forget([item.source_ref for item in items])

    def _detection(self, source: str, item: Any) -> Detection:
        """A source's item as a new task: each item says what task it is (``task_fields``: its kind,
        its key at the source, its title, what a reply needs; fte/io/channels)."""
        fields = getattr(item, "task_fields", None)
        if fields is None:
            raise BadInput(f"source {source!r} gave an item that does not say what task it is: {type(item).__name__}")
        f = fields(source)
        return self._new(f["kind"], source, f["ref"], f["title"], f["params"], f["original"], f["actor"])

    def _new(self, kind: str, source: str, ref: str, title: str, params: dict[str, Any], original: str,
             actor: str) -> Detection:
        hours = self.settings.expiry_hours.get(kind, self.settings.expiry_hours["default"])
        return Detection(kind=kind, source=source, source_ref=ref, title=title, params=params, original=original,
                         expires_at=self.now() + timedelta(hours=hours), actor=actor)

    def draft(self, report: TickReport) -> None:
        assert self.drafter is not None
        handbook = self._handbook()
        drafted: list[Move] = []
        for task in self.store.tasks(state="detected"):
            if not self.settings.drafts and task.source not in LOCAL_SOURCES:
                continue  # the cloud drafts it
            # Accounting tasks and posts carry their content in their parameters: their note is a plain
            # summary, never model-written.
            drafter = self._template if task.kind.startswith(("odoo.", "linkedin.")) else self.drafter
            try:
                draft = unanswerable(task) or drafter.draft(task, handbook)
            except DraftError as exc:
                tries = int((task.flags or {}).get("draft_attempts", 0)) + 1
                if exc.transient and tries < MAX_DRAFT_ATTEMPTS:
                    self.store.set_flags(task.id, draft_attempts=tries)  # try again at a later tick
                    self.log(f"{task.short_id}: drafting will be retried ({exc})")
                    continue
                self.lifecycle.fire(task.id, "fail", actor=drafter.name, source="daemon",
                                    changes={"last_error": f"drafting failed: {exc}"}, error=str(exc), attempts=tries)
                report.failed += 1
                continue
            drafted.append(Move(task.id, "draft", changes={"body": draft.body, "params": draft.params},
                                detail={"action": draft.action, "reason": draft.reason or None}, actor=drafter.name))
            if draft.action == "invoice_request" and task.kind == "email.reply":
                self._invoice_task(task)
        done, _refused = self.lifecycle.fire_many(drafted, actor=self.drafter.name, source="daemon")
        report.drafted += len(done)

    def _invoice_task(self, task: Any) -> None:
        """The sender asked for an invoice: an ``odoo.invoice`` task beside the reply, for the person
        to complete (amounts) and approve. Nothing reaches Odoo before that."""
        who = task.original.split("\n", 1)[0].removeprefix("From: ") if task.original else ""
        name = who.split("<", 1)[0].strip() or str((task.params or {}).get("to", ""))
        params = {"partner": name, "partner_email": str((task.params or {}).get("to", "")),
                  "lines": [{"description": task.title, "quantity": 1, "price_unit": 0}],
                  "invoice_date": None, "due_date": None, "requested_in": task.id}
        self.lifecycle.detect_many([self._new("odoo.invoice", "derived", f"invoice-request:{task.id}",
                                              f"Invoice for {name}", params, task.original, "drafter")])

    def present(self, report: TickReport) -> None:
        moves = [Move(t.id, "present") for t in self.store.tasks(state="synced")]
        done, _refused = self.lifecycle.fire_many(moves, actor=self.settings.agent, source="daemon")
        report.presented += len(done)

    def expire(self, report: TickReport) -> None:
        now = self.now()
        moves = [Move(t.id, "expire", changes={"last_error": f"expired at {iso(t.expires_at)} without a decision"})
                 for t in self.store.tasks(state="pending") if t.expires_at is not None and t.expires_at <= now]
        done, _refused = self.lifecycle.fire_many(moves, actor=self.settings.agent, source="daemon")
        report.expired += len(done)

    def publish(self, report: TickReport, push: bool = True) -> SyncResult:
        """Commit what this host changed (after the secret guard) and, with ``push``, sync.

        Nothing committed and nothing waiting to be pushed: no sync (the tick's first step fetched).
        """
        self.lifecycle.flush()  # notes durable and marked before git sees them
        paths = self.home.vault.drain_touched()
        committed = False
        if paths:
            result = self.git.commit(paths, self._message())
            committed = result.sha is not None
            for event in result.redacted:
                if event.task_id and self.store.find(event.task_id):
                    self.store.set_flags(event.task_id, redacted=", ".join(event.detail.get("kinds", [])))
                self._record(event)
            for event in result.events:
                self._record(event)
        if not push:
            return SyncResult(pushed=False, head=self.git.head(), upstream=self.git.upstream())
        head, upstream = self.git.head(), self.git.upstream()
        if not committed and self._last_sync is not None and self._last_sync.pushed and (
                not self.settings.remote or head == upstream):
            return SyncResult(pushed=True, head=head, upstream=upstream)
        cursor = self.store.cursor("git.integrated")
        result = self.git.sync()
        self._after_sync(result, report)
        if (result.pushed and self.settings.remote and cursor is not None and cursor == upstream
                and result.head == head and result.upstream == head and upstream is not None
                and self.git.only_ours_since(upstream, head)):
            # Everything up to the remote's old head was read, the sync took nothing in (our head
            # is what was pushed), and all the push added on top is fte's own work on this host:
            # the remote now holds nothing unread. Without this, a later pull read
            # while the remote is away would offer this host's own older notes back as "remote"
            # changes (an edit reverted by its own previous version: found by the model, run 7).
            self.store.set_cursor("git.integrated", result.upstream, self.now())
        return result

    def mark_synced(self, result: SyncResult) -> bool:
        """Drafts whose note is in the remote's tree (or committed, with no remote) become ``synced``."""
        if not result.pushed:
            return False
        ref = result.upstream if self.settings.remote else result.head
        if ref is None:
            return False
        in_tree = set(self.git.tree_paths(ref, "Updates"))
        moves = [Move(t.id, "sync", detail={"commit": ref}) for t in self.store.tasks(state="drafted")
                 if (self.settings.drafts or t.source in LOCAL_SOURCES)
                 and t.note_path in in_tree]
        done, _refused = self.lifecycle.fire_many(moves, actor=self.settings.agent, source="daemon")
        return bool(done)

    def execute(self, report: TickReport) -> None:
        assert self.executions is not None
        for out in self.executions.resume():
            report.executed += out.state == "done"
            report.failed += out.state == "failed"
        stale = self.executions.stale_claims()
        claimed = self.executions.claim(limit=CLAIM_BATCH)
        if not claimed and not stale:
            return
        report.claimed += len(claimed)
        claimed = stale + claimed
        result = self.publish(report)
        crashpoint("after-claim-push")
        won = self.executions.settle(claimed, self.git.paths_of, result.pushed or not self.settings.remote)
        for out in self.executions.execute_many(won):
            report.executed += out.state == "done"
            report.failed += out.state == "failed"
            self.log(f"{out.task_id[:8]}: {out.state} {out.detail}")

    def write_dashboard(self) -> None:
        host = next((h for h in self.store.hosts() if h.agent == self.settings.agent), None)
        sync = (host.info or {}).get("sync") if host else None
        text = render_dashboard(self.store, self.now(), self.settings.agent, sync, self.home.vault.tz)
        self.home.vault.write("Dashboard.md", text.encode("utf-8"))

    def weekly_briefing(self) -> str | None:
        """The first tick of each week (UTC, from Monday) writes that week's briefing."""
        rel = briefing_path(self.now())
        if self.home.vault.path(rel).exists():
            return None
        f = figures(self.store, self.now())
        text = render(f, odoo_figures(self.settings, f))
        self.home.vault.write(rel, text.encode("utf-8"))
        self.log(f"wrote {rel}")
        return rel

    def daily_audit(self) -> None:
        """Once a day, the audit files of the days that ended since the last export."""
        today = self.now().date()
        last = self.store.cursor("audit.exported")
        if last == today.isoformat():
            return
        # One day at a time (memory stays bounded however long the history), within the retention.
        oldest = today - timedelta(days=self.settings.audit_retention_days)
        day = max(date.fromisoformat(last), oldest) if last else oldest
        while day < today:
            export(self.store, self.home.vault, self.settings.agent, self.now(), since=day, until=day,
                   retention_days=self.settings.audit_retention_days)
            day += timedelta(days=1)
        self.store.set_cursor("audit.exported", today.isoformat(), self.now())

    def heartbeat(self) -> None:
        """The heartbeat: in the database every tick; in ``Logs/<agent>/heartbeat.json`` now and then.

        The file also lists this host's redacted notes (ids and kinds of secret only — never
        titles, which could hold the secret), so the local Dashboard can tell the person.
        """
        now = self.now()
        self.store.heartbeat(self.settings.agent, self.settings.role, now)
        redacted = [{"task": t.short_id, "kinds": t.flags["redacted"]} for t in self.store.redacted()]
        due = (self._last_heartbeat is None or redacted != self._last_redacted
               or (now - self._last_heartbeat).total_seconds() >= self.settings.heartbeat_interval)
        if due:
            self._last_heartbeat, self._last_redacted = now, redacted
            data = {"agent": self.settings.agent, "role": self.settings.role, "at": iso(now),
                    "redacted": redacted}
            rel = f"Logs/{self.settings.agent}/heartbeat.json"
            self.home.vault.write(rel, (json.dumps(data, indent=2) + "\n").encode())

    # -- helpers ---------------------------------------------------------------------------------------

    def _after_sync(self, result: SyncResult, report: TickReport) -> None:
        self._last_sync = result
        self._removed += result.removed
        for event in result.held:  # reported once per commit and file, for as long as it is held
            if (event.detail["commit"], event.path) not in self._held_reported:
                self._held_reported.add((event.detail["commit"], event.path))
                self._record(event)
        for event in result.events:
            self._record(event)
        if result.error:
            report.sync_error = result.error
            self._error_since = self._error_since or iso(self.now())
        else:
            self._error_since = None
        info = {"remote": bool(self.settings.remote), "pushed": result.pushed, "error": result.error,
                "held": [{"commit": e.detail["commit"][:8], "author": e.detail["author"], "path": e.path,
                          "kinds": e.detail["kinds"]} for e in result.held[:20]],
                "error_since": self._error_since, "ahead": result.ahead, "behind": result.behind,
                "at": iso(self.now())}
        self.store.heartbeat(self.settings.agent, self.settings.role, self.now(), sync=info)

    def _record(self, event: GitEvent) -> None:
        if event.kind == "conflict" and event.task_id and event.detail.get("kept") in ("remote", "local"):
            # Who won the race at the merge decides how the pull is read: a loss converges to the
            # winner; a win means the remote's version of the task is not applied (this host's goes
            # out with its push). Kept in the database, since `fte approve` merges in its own process.
            name = LOST if event.detail["kept"] == "remote" else WON
            other = WON if name == LOST else LOST
            tasks = set(json.loads(self.store.cursor(name) or "[]")) | {event.task_id}
            self.store.set_cursor(name, json.dumps(sorted(tasks)), self.now())
            others = set(json.loads(self.store.cursor(other) or "[]"))
            if event.task_id in others:  # the newest merge's word stands
                self.store.set_cursor(other, json.dumps(sorted(others - {event.task_id})), self.now())
        if event.detail.get("kept") == "committed":
            # Copies written by a recovery (not by a merge commit) go out with the next publish.
            copies = event.detail.get("copy")
            self.home.vault.touched.update([copies] if isinstance(copies, str) else list(copies or []))
        task_id = event.task_id if event.task_id and self.store.find(event.task_id) else None
        self.store.record_incident(self.now(), self.settings.agent, event.kind, task_id, event.path, **event.detail)
        self.log(f"{event.kind}: {event.path or ''} {event.detail}")

    def _message(self) -> str:
        journal, self.lifecycle.journal[:] = list(self.lifecycle.journal), []
        if not journal:
            return f"fte {self.settings.agent}: dashboard, heartbeat and logs"
        parts = [f"{event} {task_id[:8]}" for task_id, event, _state in journal[:8]]
        more = f" (+{len(journal) - 8} more)" if len(journal) > 8 else ""
        body = "\n".join(f"{task_id} {event} -> {state}" for task_id, event, state in journal)
        return f"fte {self.settings.agent}: {', '.join(parts)}{more}\n\n{body}\n"

    def _handbook(self) -> str:
        try:
            return (self.home.vault.root / "Company_Handbook.md").read_text(encoding="utf-8")[:20_000]
        except (OSError, UnicodeDecodeError):
            return ""


def report_dict(report: TickReport) -> dict[str, Any]:
    return dict(report.__dict__)
