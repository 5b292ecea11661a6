"""Safe execution (docs/execution.md): claim by move, then one attempt row before every external call.

``claim`` moves approved tasks to ``In_Progress/<agent>/``; the caller commits and pushes, and only
tasks whose claim is still this host's in the pushed tree are executed (:meth:`Executions.settle`).
Every attempt is an ``executions`` row committed before the call and finished after it. A row left
unfinished (a crash mid-call) is settled by asking the provider for the idempotency key: found = done,
not found = try again (payments: never automatically).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Callable

from fte.clock import iso, parse_iso
from fte.errors import BadInput, FteError, Unreachable
from fte.io.channels import kinds
from fte.io.channels.contract import ExecutionError, Executor, OutcomeUnknown
from fte.models.tables import Task
from fte.states.approvals import Trust, verify_task
from fte.states.service import Lifecycle, Move
from fte.support.crashpoints import crashpoint

NEVER_RETRY = kinds.NEVER_RETRY  # fte/io/channels/kinds.py
MAX_ATTEMPTS = 3
#: Seconds before the n-th retry of a transient error: 30 s, 60 s, 120 s…
BACKOFF_BASE = 30.0


@dataclass
class Outcome:
    task_id: str
    state: str
    detail: str = ""


@dataclass
class Executions:
    lifecycle: Lifecycle
    executors: dict[str, Executor]
    trust: Trust
    dry_run: bool = False
    log: Callable[[str], None] = lambda _msg: None
    #: Most executions started per hour, by kind (e.g. ``{"email.reply": 10}``); absent = no limit.
    rate_limits: dict[str, int] = field(default_factory=dict)

    @property
    def agent(self) -> str:
        return self.lifecycle.agent

    def claim(self, limit: int = 50) -> list[Task]:
        """Claim up to ``limit`` approved tasks whose approval verifies; send the others back to pending."""
        claimed: list[Task] = []
        moves: list[Move] = []
        counts: dict[str, int] = {}
        self._started: dict[str, int] = {}
        for task in self.lifecycle.store.tasks(state="approved"):
            if len(moves) >= limit:
                break
            reason = verify_task(self.trust, task)
            if reason is not None:
                self.lifecycle.fire(task.id, "invalidate", actor=self.agent, source="daemon",
                                    changes={"approval": None, "last_error": f"not executed: {reason}"}, reason=reason)
                self.log(f"refused {task.short_id}: {reason}")
                continue
            if task.kind not in self.executors:
                continue  # another host's executor (or a later version of fte) handles this kind
            if self.dry_run:
                self.log(f"dry run: would claim and perform {task.kind} {task.short_id} ({task.title})")
                continue
            if self._over_limit(task.kind, counts.get(task.kind, 0)):
                continue
            counts[task.kind] = counts.get(task.kind, 0) + 1
            moves.append(Move(task.id, "claim", changes={"claimed_by": self.agent}))
        claimed, _refused = self.lifecycle.fire_many(moves, actor=self.agent, source="daemon")
        return claimed

    def _over_limit(self, kind: str, claimed_now: int) -> bool:
        limit = self.rate_limits.get(kind)
        if limit is None:
            return False
        if kind not in self._started:  # once per kind per claim round
            since = self.lifecycle.clock() - timedelta(hours=1)
            self._started[kind] = self.lifecycle.store.executions_started(kind, since)
        if self._started[kind] + claimed_now >= limit:
            self.log(f"rate limit: {limit} {kind} per hour reached; the rest waits")
            return True
        return False

    def settle(self, claimed: list[Task], paths_in_head: Callable[[list[str]], dict[str, list[str]]],
               pushed: bool) -> list[Task]:
        """After the push: keep the claims that are ours in the pushed tree; release the others.

        ``paths_in_head(ids)`` maps each task id to the paths of its notes in the pushed tree (one
        listing of the tree for all claims, not one per task).
        """
        won: list[Task] = []
        in_head = paths_in_head([t.id for t in claimed])
        rows = {t.id: t for t in self.lifecycle.store.tasks_by_id([t.id for t in claimed])}
        for task in claimed:
            row = rows.get(task.id)
            if row is None:
                continue  # no such row any more (a database rebuilt meanwhile): nothing to perform
            paths = in_head.get(task.id, [])
            mine = pushed and paths == [row.note_path]
            if mine and row.state == "claimed" and row.claimed_by == self.agent:
                won.append(row)
                continue
            other = [p for p in paths if p != row.note_path]
            if row.state == "claimed":
                if other:
                    self.lifecycle.fire(row.id, "release", actor=self.agent, source="daemon", adopt_note=other[0],
                                        reason="another host's claim reached the remote first", winner=other[0])
                    self.log(f"lost the claim on {row.short_id} to {other[0]}")
                elif not pushed:
                    continue  # the remote is unreachable: the claim stays, retried at the next push
        return won

    def execute(self, task: Task) -> Outcome:
        """Perform one claimed task. Assumes the claim has been pushed (or there is no remote)."""
        return self.execute_many([task])[0]

    def execute_many(self, tasks: list[Task]) -> list[Outcome]:
        """Perform claimed tasks: the attempt rows of all of them are committed (one transaction)
        before the first call; each call's result is recorded as it comes; the successes are
        finished and moved to ``done`` together. A crash anywhere in between leaves attempts with no
        outcome, which :meth:`resume` settles by asking the provider for their keys."""
        outcomes: list[Outcome] = []
        ready: list[tuple[Task, Executor, str]] = []
        for task in tasks:
            executor = self.executors[task.kind]
            reason = verify_task(self.trust, task)
            if reason is not None:
                outcomes.append(self._fail(task, f"not executed: {reason}", outcome=None))
                continue
            ready.append((task, executor, executor.key_for(task)))
        if not ready:
            return outcomes
        now = self.lifecycle.clock()
        attempts = self.lifecycle.store.start_executions([(t.id, key) for t, _e, key in ready], now)
        crashpoint("before-call")
        succeeded: list[tuple[Task, int, str, str]] = []
        for (task, executor, key), attempt in zip(ready, attempts):
            try:
                performed = executor.perform(task, key, now)
            except ExecutionError as exc:
                outcomes.append(self._after_error(task, executor, key, attempt.id, attempt.attempt, exc))
                continue
            except BadInput as exc:
                # The contract: perform raises BadInput only before anything is sent (a reply that
                # cannot be built safely): definitely not done, a permanent failure.
                error = f"not sent: {exc}"
                self.lifecycle.store.finish_execution(attempt.id, "error", self.lifecycle.clock(), error=error)
                outcomes.append(self._fail(task, error, outcome="error"))
                continue
            except Exception as exc:  # noqa: BLE001 — one task's bug never stops the others
                # Where the executor broke is unknown, so whether the action happened is too.
                error = f"the {task.kind} executor failed: {type(exc).__name__}: {exc}"[:500]
                self.lifecycle.store.finish_execution(attempt.id, "unknown", self.lifecycle.clock(), error=error)
                self.log(f"{task.short_id}: {error}")
                outcomes.append(self._fail(task, f"outcome unknown: {error}", outcome="unknown"))
                continue
            crashpoint("after-call")
            succeeded.append((task, attempt.id, performed.external_id, ""))
        return outcomes + self._complete_many(succeeded)

    def _after_error(self, task: Task, executor: Executor, key: str, attempt_id: int, attempt_no: int,
                     exc: ExecutionError) -> Outcome:
        store, clock = self.lifecycle.store, self.lifecycle.clock
        if isinstance(exc, OutcomeUnknown):
            store.finish_execution(attempt_id, "unknown", clock(), error=str(exc))
            return self._fail(task, f"outcome unknown: {exc}", outcome="unknown")
        outcome = "error"
        if exc.transient:
            try:
                found = self._lookup(executor, key)
            except OutcomeUnknown as unknown:
                store.finish_execution(attempt_id, "unknown", clock(), error=str(unknown))
                return self._fail(task, f"outcome unknown: {unknown}", outcome="unknown")
            if found:
                return self._complete(task, attempt_id, found, "found at the provider after an error")
            if task.kind in NEVER_RETRY:
                outcome = "unknown"
            elif attempt_no < MAX_ATTEMPTS:
                # Keep the claim; retry after a backoff (resume() picks it up when it is due).
                delay = BACKOFF_BASE * 2 ** (attempt_no - 1)
                store.finish_execution(attempt_id, "error", clock(), error=str(exc))
                retry_at = clock() + timedelta(seconds=delay)
                store.set_flags(task.id, retry_at=iso(retry_at))
                self.log(f"{task.short_id}: {exc}; retry {attempt_no + 1}/{MAX_ATTEMPTS} after {delay:.0f} s")
                return Outcome(task.id, "claimed", f"retry at {iso(retry_at)}")
        store.finish_execution(attempt_id, outcome, clock(), error=str(exc))
        return self._fail(task, str(exc), outcome=outcome)

    def stale_claims(self) -> list[Task]:
        """This host's claims with no attempt yet (a crash between the claim and the call)."""
        return [t for t in self.lifecycle.store.tasks(state="claimed")
                if t.claimed_by == self.agent and t.kind in self.executors and not self.lifecycle.store.executions(t.id)]

    def resume(self) -> list[Outcome]:
        """Settle this host's claimed tasks whose last attempt was cut short by a crash.

        Finished attempt, unrecorded transition → record it. Unfinished attempt → look the key up at
        the provider: found = done; not found = try again (never for payments).
        """
        outcomes: list[Outcome] = []
        for task in self.lifecycle.store.tasks(state="claimed"):
            if task.claimed_by != self.agent or task.kind not in self.executors:
                continue
            attempts = self.lifecycle.store.executions(task.id)
            if not attempts and (task.flags or {}).get("rebuilt"):
                # Read back from the vault after the database was lost: whether it was performed
                # is unknown here, so it counts as an attempt cut short — its key is looked up first.
                attempts = self.lifecycle.store.start_executions(
                    [(task.id, self.executors[task.kind].key_for(task))], self.lifecycle.clock())
                self.lifecycle.store.set_flags(task.id, rebuilt=None)
            if not attempts:
                continue
            last = attempts[-1]
            if last.outcome == "ok":
                self.lifecycle.fire(task.id, "complete", actor=self.agent, source="daemon",
                                    external_id=last.external_id, note="recorded after a restart")
                outcomes.append(Outcome(task.id, "done", last.external_id or ""))
                continue
            retry_at = (task.flags or {}).get("retry_at")
            if last.outcome == "error" and retry_at:
                if self.lifecycle.clock() >= parse_iso(retry_at):
                    self.lifecycle.store.set_flags(task.id, retry_at=None)
                    outcomes.append(self.execute(self.lifecycle.store.get(task.id)))
                continue
            if last.outcome is not None:
                outcomes.append(self._fail(task, last.error or "failed", last.outcome))
                continue
            executor = self.executors[task.kind]
            try:
                found = executor.lookup(last.idempotency_key)
            except FteError as exc:
                if isinstance(exc, Unreachable) or (isinstance(exc, ExecutionError) and exc.transient
                                                    and not isinstance(exc, OutcomeUnknown)):
                    # The provider cannot be asked now: the claim and its open attempt stay, and
                    # the key is looked up again at the next tick (never sent blind).
                    self.log(f"{task.short_id}: lookup of {last.idempotency_key} postponed: {exc}")
                    continue
                # It cannot tell (OutcomeUnknown) or refuses to be asked (a missing permission).
                outcomes.append(self._unknown_after_restart(task, last.id, str(exc)))
                continue
            except Exception as exc:  # noqa: BLE001 — an answer the client could not read, or a bug
                # Not an answer either way: never sent blind, and the other claims go on.
                outcomes.append(self._unknown_after_restart(task, last.id, f"{type(exc).__name__}: {exc}"))
                continue
            if found:
                outcomes.append(self._complete(task, last.id, found, "found at the provider after a restart"))
                continue
            self.lifecycle.store.finish_execution(last.id, "unknown", self.lifecycle.clock(),
                                                  error="interrupted; not found at the provider")
            if task.kind in NEVER_RETRY:
                outcomes.append(self._fail(task, "interrupted; not found at the provider; needs a person", "unknown"))
            elif len(attempts) >= MAX_ATTEMPTS:
                outcomes.append(self._fail(task, f"gave up after {len(attempts)} attempts", "unknown"))
            else:
                outcomes.append(self.execute(task))
        return outcomes

    def _unknown_after_restart(self, task: Task, attempt_id: int, why: str) -> Outcome:
        """An interrupted attempt the provider cannot settle: whether it happened is for the person."""
        error = f"interrupted; the provider cannot tell whether it was done ({why}); a person decides"[:500]
        self.lifecycle.store.finish_execution(attempt_id, "unknown", self.lifecycle.clock(), error=error)
        return self._fail(task, error, "unknown")

    def _lookup(self, executor: Executor, key: str) -> str | None:
        """The provider's answer for ``key`` after it said "not done, try later"; OutcomeUnknown
        passes through, any other failure of the lookup counts as not found (the provider already
        answered that the call was not done)."""
        try:
            return executor.lookup(key)
        except OutcomeUnknown:
            raise
        except Exception as exc:  # noqa: BLE001 — FteError, or an answer the client could not read
            self.log(f"lookup of {key} failed: {type(exc).__name__}: {exc}")
            return None

    def _complete(self, task: Task, attempt_id: int, external_id: str, note: str = "") -> Outcome:
        return self._complete_many([(task, attempt_id, external_id, note)])[0]

    def _complete_many(self, done: list[tuple[Task, int, str, str]]) -> list[Outcome]:
        """Finish the attempts (one transaction), then move the tasks to ``done`` (one more)."""
        if not done:
            return []
        now = self.lifecycle.clock()
        self.lifecycle.store.finish_executions([(attempt_id, "ok", external_id) for _t, attempt_id, external_id, _n in done], now)
        moves = [Move(t.id, "complete", detail={"external_id": ext, **({"note": note} if note else {})})
                 for t, _a, ext, note in done]
        self.lifecycle.fire_many(moves, actor=self.agent, source="daemon")
        return [Outcome(t.id, "done", ext) for t, _a, ext, _n in done]

    def _fail(self, task: Task, error: str, outcome: str | None) -> Outcome:
        self.lifecycle.fire(task.id, "fail", actor=self.agent, source="daemon", changes={"last_error": error},
                            error=error, outcome=outcome)
        return Outcome(task.id, "failed", error)
