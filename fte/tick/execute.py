"""The local host's execution step: settle interrupted attempts, claim, push the claims (the push
is the lock: docs/execution.md), then perform what this host won."""

from __future__ import annotations

from collections.abc import Callable

from fte.io.vault.gitrepo import SyncResult
from fte.states.execution import Executions
from fte.support.crashpoints import crashpoint
from fte.tick.context import Context, TickReport

#: Most tasks claimed in one push: big enough for a burst of approvals, small enough for one commit.
CLAIM_BATCH = 500


class Execute:
    """``publish`` commits and pushes what changed (the sync step's): the claims must reach the
    remote before anything is performed."""

    def __init__(self, ctx: Context, executions: Executions,
                 publish: Callable[[TickReport], SyncResult]) -> None:
        self.ctx = ctx
        self.executions = executions
        self.publish = publish

    def __call__(self, report: TickReport) -> None:
        ex = self.executions
        for out in ex.resume():
            report.executed += out.state == "done"
            report.failed += out.state == "failed"
        stale = ex.stale_claims()
        claimed = ex.claim(limit=CLAIM_BATCH)
        report.more_waiting = report.more_waiting or len(claimed) >= CLAIM_BATCH
        if not claimed and not stale:
            return
        report.claimed += len(claimed)
        claimed = stale + claimed
        result = self.publish(report)
        crashpoint("after-claim-push")
        won = ex.settle(claimed, self.ctx.git.paths_of, result.pushed or not self.ctx.settings.remote)
        for out in ex.execute_many(won):
            report.executed += out.state == "done"
            report.failed += out.state == "failed"
            self.ctx.log(f"{out.task_id[:8]}: {out.state} {out.detail}")
