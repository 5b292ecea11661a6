"""What every tick step receives: the host's home, its log and its clock; and what a tick reports."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fte.config import Settings
    from fte.host.home import Home
    from fte.io.vault.gitsync import GitSync
    from fte.io.vault.notes import Vault
    from fte.models.store import Store
    from fte.states.service import Lifecycle


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
    archived: int = 0
    sync_error: str | None = None
    events: list[str] = field(default_factory=list)
    #: Work left for the next tick by a step's batch limit (approvals beyond CLAIM_BATCH): the
    #: daemon ticks again at once instead of waiting for the next event or interval.
    more_waiting: bool = False


@dataclass(frozen=True)
class Context:
    """One host's home (settings, database, vault, git), its log, and the clock (the lifecycle's,
    injected). Steps read and write through it; none holds another step."""

    home: Home
    log: Callable[[str], None]

    @property
    def settings(self) -> Settings:
        return self.home.settings

    @property
    def store(self) -> Store:
        return self.home.store

    @property
    def lifecycle(self) -> Lifecycle:
        return self.home.lifecycle

    @property
    def git(self) -> GitSync:
        return self.home.git

    @property
    def vault(self) -> Vault:
        return self.home.vault

    def now(self) -> datetime:
        return self.lifecycle.clock()

    def incident(self, kind: str, task_id: str | None, path: str | None, **detail: Any) -> None:
        """An incident in the database (the Dashboard and ``fte sql`` show them) and the log."""
        known = task_id if task_id and self.store.find(task_id) else None
        self.lifecycle.incident(kind, known, path, **detail)
        self.log(f"{kind}: {path or ''} {detail}")
