"""The channel contract: what every source, executor and drafter guarantees (docs/channels.md).

**Sources** (:class:`Source`). A source has a ``name`` (the task's ``source``), an optional
``cursor_name`` (where its cursor is stored; default: its name) and ``poll(cursor) -> Polled``:
``items`` are what is new since ``cursor``, oldest first, each a :class:`SourceItem` that says what
task it makes (``task_fields(source)``: its key at the source, title, what a reply needs);
``cursor`` is the cursor to store; ``skipped`` names what was read and deliberately not made a task
(our own sent mail, a no-reply sender, an unreadable file), each with why; ``notices`` are
sentences for the person (logged once, when the cursor moves: a rate limit, a permission missing).
The daemon commits the cursor in the same transaction as the tasks it makes, so a crash between the
two re-reads and never loses (the tasks' dedupe on ``(source, source_ref)`` absorbs the re-read). A
source never skips silently: what it cannot read now it reads at a later poll (it keeps its cursor
behind it), or names in ``skipped``. A spooling source may add ``forget(refs)``, called once the
tasks are committed. A source raises :class:`~fte.errors.Unreachable` when the provider cannot be
reached or asks to wait, :class:`~fte.errors.AuthError` when it refuses the credentials.

**Executors** (:class:`Executor`). An executor has ``kinds`` (the task kinds it performs),
``key_for(task)`` (deterministic: the same task, the same key, on every attempt and every host),
``perform(task, key, now)`` (carries the key to the provider wherever the provider can hold one:
for mail the Message-ID and an ``X-FTE-Task`` header, for Odoo ``ref = fte:<task id>``) and
``lookup(key)`` (found: the provider's id; not found: ``None``, and only when the provider can
really tell; when it cannot, :class:`~fte.errors.OutcomeUnknown`). ``perform`` raises
:class:`~fte.errors.ExecutionError` with ``transient`` (definitely not done, may retry) or not
(definitely not done, permanent), or :class:`~fte.errors.OutcomeUnknown` (it may have happened).
A :class:`~fte.errors.BadInput` may be raised only **before** anything is sent (a reply that
cannot be built safely) and fails the task as permanent; anything else is a bug, and fails the task
alone with an unknown outcome. The classes per provider are in docs/channels.md, "Outcomes". An
executor may also have ``check() -> str``: reach the provider and log in, send nothing, and say in
a line what answered (``fte doctor`` calls it); it raises what ``perform`` would.

**Drafters** (:class:`Drafter`). ``draft(task, handbook) -> Draft``: text and parameters for a
person to approve, never more. Whatever a message says, a drafter cannot move a task past
``drafted``, and the reply's recipient, subject and threading headers come from the message being
answered, not from the drafter. A drafting failure is :class:`~fte.errors.DraftError`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

from fte.errors import DraftError, ExecutionError, OutcomeUnknown  # noqa: F401  (the contract raises these; drawn in fte/errors.py)
from fte.io.channels.style import Style
from fte.models.tables import Task


class SourceItem(Protocol):
    """One new thing a source read."""

    def task_fields(self, source: str) -> dict[str, Any]:
        """The task it makes: ``ref`` (its key at the source), ``title``, ``params``, and what else
        the detection needs (see ``fte.daemon``)."""
        ...


ItemT = TypeVar("ItemT", covariant=True)


@dataclass(frozen=True)
class Polled(Generic[ItemT]):
    """What one poll of a source read."""

    items: list[ItemT]
    cursor: str
    #: (reference, why) of what was read and deliberately not made a task
    skipped: list[tuple[str, str]] = field(default_factory=list)
    #: sentences for the person; the daemon logs them when the cursor moves (said once, not every poll)
    notices: list[str] = field(default_factory=list)


class Source(Protocol):
    """``poll(cursor)`` reads what is new since ``cursor`` (None: the start) and never changes the
    provider. A source may also have ``watch(wake: threading.Event) -> stop``: it sets ``wake`` when
    the provider says something arrived (IMAP IDLE), so the daemon ticks at once; the daemon starts
    it and calls ``stop()`` when it stops. A watch is an acceleration only: the ticks still poll."""

    name: str

    def poll(self, cursor: str | None) -> Polled[SourceItem]: ...


@dataclass(frozen=True)
class Performed:
    external_id: str


class Executor(Protocol):
    @property
    def kinds(self) -> tuple[str, ...]: ...

    def key_for(self, task: Task) -> str: ...

    def perform(self, task: Task, key: str, now: datetime) -> Performed: ...

    def lookup(self, key: str) -> str | None: ...


@dataclass(frozen=True)
class Draft:
    body: str
    params: dict[str, Any] = field(default_factory=dict)
    action: str = "reply"  # reply | ignore | invoice_request
    reason: str = ""


class Drafter(Protocol):
    """Writes a task's draft. ``style``: what the person's earlier edits taught for this recipient
    (fte/io/channels/style.py) — rules to apply, examples to imitate; a drafter may ignore it."""

    name: str

    def draft(self, task: Task, handbook: str, style: Style | None = None) -> Draft: ...
