"""The per-host loop: one :meth:`Runner.tick` reads inputs, decides, persists, performs.

The order of a tick, by role, is in docs/architecture.md ("One tick"): recover; the person's moves
and edits first (committed before anything is merged in); sync in and reconcile; detect and draft
(cloud, all); publish; present and expire (local, all); execute (local, all); Dashboard,
heartbeat, audit export. Each step is its own object in :mod:`fte.tick`, given a small context
(the home, the log, the clock); the runner builds them for the host's role and keeps the order.
The cloud role never approves, claims or executes — those steps are not even built for it.
"""

from __future__ import annotations

from typing import Any, Callable

from fte.config import APPROVAL_KEY_NAME, Settings
from fte.errors import RoleViolation
from fte.host.home import Home
from fte.host.keys import KEY_NAME
from fte.io.channels.contract import Drafter, Executor, Source
from fte.io.channels.drafters import TemplateDrafter
from fte.io.channels.registry import (
    DrafterSettings,
    build_drafter,
    build_executors,
    build_sources,
    executor_secrets,
)
from fte.io.vault.gitrepo import SyncResult
from fte.reports.notify import Notifier
from fte.settings.env import load_env
from fte.settings.tables import NotifySettings
from fte.states.execution import Executions
from fte.tick.archive import Archiver
from fte.tick.context import TickReport
from fte.tick.desk import Desk
from fte.tick.execute import Execute
from fte.tick.intake import Intake
from fte.tick.outputs import Outputs

__all__ = ["Runner", "TickReport", "check_role", "report_dict", "EXECUTOR_SECRETS"]

#: Environment variables that give a host the power to act (every executor's, from the channel
#: registry); a cloud host must hold none.
EXECUTOR_SECRETS = executor_secrets()


def check_role(settings: Settings) -> None:
    if settings.role == "cloud":
        held = [k for k in EXECUTOR_SECRETS if load_env(settings.home).get(k)]
        if held:
            raise RoleViolation(f"a cloud host must not hold executor credentials; remove {', '.join(held)}")
        for name in (KEY_NAME, APPROVAL_KEY_NAME):
            if (settings.home / name).exists():
                raise RoleViolation(f"a cloud host must not hold a signing key; remove {settings.home / name}")


class Runner:
    """One host's work, tick by tick. The clock comes from the home's lifecycle (injected)."""

    def __init__(
        self,
        home: Home,
        log: Callable[[str], None] = lambda _m: None,
        *,
        sources: list[Source] | None = None,
        executors: dict[str, Executor] | None = None,
        drafter: Drafter | None = None,
    ) -> None:
        """Sources, executors and the drafter come from the settings; pass them to use others (tests,
        embedding) — they keep the same contracts (fte/io/channels/contract.py)."""
        self.home = home
        self.settings = settings = home.settings
        self.log = log
        check_role(settings)
        desk = Desk(home, log)
        ctx, self.trust, self.reconciler, self.sync, self.person = (desk.ctx, desk.trust, desk.reconciler,
                                                                    desk.sync, desk.person)
        # A local host drafts only what its own sources and `fte post` bring (LOCAL_SOURCES).
        template = TemplateDrafter(settings.table(DrafterSettings).signature)
        self.intake = Intake(ctx, sources if sources is not None else build_sources(settings),
                             drafter or (build_drafter(settings) if settings.drafts else template), template)
        self.executions = (
            Executions(home.lifecycle, executors if executors is not None else build_executors(settings), self.trust,
                       settings.dry_run, log, rate_limits=settings.rate_limits)
            if settings.executes else None
        )
        self.execute = Execute(ctx, self.executions, self.sync.publish) if self.executions is not None else None
        # Finished notes are a local host's (it writes everything from Pending_Approval/ on).
        self.archiver = Archiver(ctx, self.sync.publish) if settings.executes else None
        notify = settings.table(NotifySettings)
        self.outputs = Outputs(ctx, self.sync, Notifier(notify.urls, load_env(settings.home), log)
                               if notify.urls else None)

    # The steps tests run alone (the use cases build a Desk instead: fte/tick/desk.py).

    def work_tree(self, report: TickReport) -> None:
        self.person.work_tree(report)

    def sync_in(self, report: TickReport) -> None:
        self.sync.sync_in(report)

    def publish(self, report: TickReport, push: bool = True, message: str | None = None) -> SyncResult:
        return self.sync.publish(report, push, message)

    # -- the tick --------------------------------------------------------------------------------------

    def tick(self) -> TickReport:
        """One full tick (see the module's docstring). Notes are batched: their folder fsyncs and
        "mirrored" marks happen once per publish, before anything is committed to git."""
        with self.home.lifecycle.batch():
            return self._tick()

    def _tick(self) -> TickReport:
        report = TickReport()
        sync, person, intake, outputs = self.sync, self.person, self.intake, self.outputs
        executes = self.settings.executes
        sync.recover()
        person.ensure_folders()
        # The person's moves and edits are read first and become events — and fte's own commit
        # before the remote is integrated, when it has anything new (inside sync_in), so the
        # sync never has to step around them.
        person.work_tree(report)
        sync.sync_in(report)
        intake.detect(report)
        intake.draft(report)
        if report.detected or report.drafted or self.home.store.tasks(state="drafted", limit=1):
            # Drafts must reach the remote before they are "synced". Without drafts, this host's
            # other changes (approvals) wait for the claims' commit: one commit fewer per busy tick.
            result = sync.publish(report)
            if intake.mark_synced(result) and not executes:
                # A host that presents goes on to write these notes as pending, once, below.
                sync.publish(report)
        if executes:
            intake.present(report)
            intake.expire(report)
        if self.execute is not None:
            self.execute(report)
        self.home.lifecycle.flush()  # the Dashboard and the briefing link notes where their rows say
        if outputs.writes_shared_files():  # one local host writes them (docs/sync.md, "One voice")
            outputs.write_dashboard()
            outputs.weekly_briefing()
        sync.audit(report)  # anti-entropy, every few minutes: a read some race made miss is made again
        outputs.daily_audit()
        outputs.heartbeat()
        sync.publish(report)
        if self.archiver is not None and self.archiver(report):
            sync.publish(report)  # the month's commits, pushed
        outputs.notify()
        return report


def report_dict(report: TickReport) -> dict[str, Any]:
    return dict(report.__dict__)
