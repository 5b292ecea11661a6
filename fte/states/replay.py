"""``fte replay``: send failed tasks back into the lifecycle, safely (docs/execution.md).

Where a failed task goes:

* a drafting failure (it failed from ``detected``) → ``detected``, to be drafted again;
* a payment, or a task whose approval no longer verifies → ``pending``: a person decides again;
* an execution whose outcome is ``unknown`` → only with ``--force``, and only after the provider
  lookup found nothing (if it found the key, the action happened: replaying records it as done
  without performing it again, because the executor looks the key up first);
* anything else → ``approved``, to be claimed and executed again with the same idempotency key.
"""

from __future__ import annotations

from dataclasses import dataclass

from fte.errors import BadInput
from fte.io.channels.contract import ExecutionError, Executor
from fte.models.tables import Task
from fte.states.approvals import Trust, verify_task
from fte.states.execution import NEVER_RETRY
from fte.states.service import Lifecycle


@dataclass(frozen=True)
class ReplayPlan:
    task_id: str
    target: str | None  # None: refused
    reason: str


def plan(lifecycle: Lifecycle, task: Task, executors: dict[str, Executor], trust: Trust, force: bool) -> ReplayPlan:
    if task.state != "failed":
        return ReplayPlan(task.id, None, f"task {task.short_id} is {task.state}, not failed")
    timeline = lifecycle.store.timeline(task.id)
    failed_from = next((t.from_state for t in reversed(timeline) if t.event == "fail"), None)
    if failed_from == "detected":
        return ReplayPlan(task.id, "detected", "drafting failed: draft again")
    if task.kind in NEVER_RETRY:
        return ReplayPlan(task.id, "pending", "payments need a fresh approval")
    reason = verify_task(trust, task)
    if reason is not None:
        return ReplayPlan(task.id, "pending", f"approval no longer valid ({reason}): decide again")
    attempts = lifecycle.store.executions(task.id)
    if attempts and attempts[-1].outcome == "unknown":
        executor = executors.get(task.kind)
        try:
            found = executor.lookup(attempts[-1].idempotency_key) if executor else None
            looked = "not found at the provider"
        except ExecutionError as exc:  # the provider cannot be asked (a missing permission, an outage)
            found, looked = None, f"the provider could not be asked ({exc})"
        if found:
            return ReplayPlan(task.id, "approved", "found at the provider: will be recorded done, not sent again")
        if not force:
            return ReplayPlan(task.id, None, f"outcome unknown and {looked}: use --force to send again")
        return ReplayPlan(task.id, "approved", f"outcome unknown, {looked}: sending again (--force)")
    return ReplayPlan(task.id, "approved", "retry with the same idempotency key")


def apply(lifecycle: Lifecycle, plans: list[ReplayPlan], actor: str) -> list[Task]:
    """Fire every plan; refuses all (changing nothing) if any is refused."""
    refused = [p for p in plans if p.target is None]
    if refused:
        raise BadInput("; ".join(p.reason for p in refused))
    done = []
    for p in plans:
        changes = {"last_error": None, "claimed_by": None}
        if p.target == "pending":
            changes["approval"] = None  # type: ignore[assignment]
        done.append(lifecycle.fire(p.task_id, "replay", actor=actor, source="replay", to=p.target,
                                   changes=changes, reason=p.reason))
    return done
