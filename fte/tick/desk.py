"""The vault steps every writer of a home needs, daemon or not: the person's moves and edits read
first, and what changed committed and pushed. The daemon's runner builds its tick around them; the
use cases (``fte approve``, ``fte web``, ``fte mcp``…) use them alone, so deciding one task builds
no source, executor, drafter or notifier."""

from __future__ import annotations

from collections.abc import Callable

from fte.host.home import Home
from fte.io.vault.gitrepo import SyncResult
from fte.states.approvals import Trust
from fte.states.reconcile import Reconciler
from fte.tick.context import Context, TickReport
from fte.tick.person import Person
from fte.tick.sync import Sync


class Desk:
    """One home's reconciler, person and git steps, over one context."""

    def __init__(self, home: Home, log: Callable[[str], None] = lambda _m: None) -> None:
        assert home.lifecycle.trust is not None  # open_home sets it
        self.home = home
        self.ctx = Context(home, log)
        self.trust: Trust = home.lifecycle.trust
        settings = home.settings
        self.reconciler = Reconciler(home.lifecycle, settings.role, self.trust, settings.person)
        self.sync = Sync(self.ctx, self.reconciler)
        self.person = Person(self.ctx, self.reconciler)

    def work_tree(self, report: TickReport) -> None:
        """The person's moves and edits in the working tree, as events (before anything else)."""
        self.person.work_tree(report)

    def publish(self, report: TickReport, push: bool = True, message: str | None = None) -> SyncResult:
        """Commit what changed (after the secret guard) and, with ``push``, sync."""
        return self.sync.publish(report, push, message)
