"""The ORM models: one row per task, and the append-only audit log of its transitions.

The schema itself is created and changed only by the Alembic migrations in ``alembic/``; these
classes must match the newest migration (a test compares them).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from fte.clock import iso, parse_iso


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes stored as ISO 8601 text, so ``fte sql`` shows and sorts them plainly."""

    impl = String(32)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> str | None:
        return None if value is None else iso(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> datetime | None:
        return None if value is None else parse_iso(value)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON()}


class Task(Base):
    """One piece of work: a message to answer, a post, an invoice. ``state`` follows fte.states."""

    __tablename__ = "tasks"
    __table_args__ = (
        UniqueConstraint("source", "source_ref", name="uq_tasks_source_ref"),
        # The few redacted tasks, found without reading every row's flags (migration 0007).
        Index("ix_tasks_redacted", "id", sqlite_where=text("json_extract(flags, '$.redacted') IS NOT NULL")),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    state: Mapped[str] = mapped_column(String(16), index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    mirrored_version: Mapped[int] = mapped_column(Integer, default=0, index=True)
    source: Mapped[str] = mapped_column(String(40))
    source_ref: Mapped[str] = mapped_column(Text)
    origin: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(Text, default="")
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    body: Mapped[str] = mapped_column(Text, default="")
    original: Mapped[str] = mapped_column(Text, default="")
    note_path: Mapped[str | None] = mapped_column(Text, default=None, index=True)
    claimed_by: Mapped[str | None] = mapped_column(String(40), default=None)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    expires_at: Mapped[datetime | None] = mapped_column(default=None)
    approval: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    flags: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: The presentation epoch: bumped by every edit, invalidation and replay of a presented task, so
    #: an approval (which signs it) of an earlier presentation never verifies again.
    epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: The signed record of the last decision or execution step (reject, expire, claim, complete,
    #: fail) — what another host checks before it believes the state (docs/protocol.md).
    assertion: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)

    @property
    def domain(self) -> str:
        """The first part of the kind (``email.reply`` → ``email``): the vault's sub-folder."""
        return self.kind.split(".", 1)[0]

    @property
    def short_id(self) -> str:
        return self.id[:8]


class Transition(Base):
    """The audit log: one row per state change, never updated or deleted (SQLite triggers refuse)."""

    __tablename__ = "transitions"
    __table_args__ = (
        UniqueConstraint("task_id", "version", name="uq_transitions_task_version"),
        Index("ix_transitions_at", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    task_id: Mapped[str] = mapped_column(ForeignKey("tasks.id"))
    version: Mapped[int] = mapped_column(Integer)
    event: Mapped[str] = mapped_column(String(24))
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(80))
    host: Mapped[str] = mapped_column(String(40))
    source: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime]
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Execution(Base):
    """One attempt at performing an approved action, committed before the external call."""

    __tablename__ = "executions"
    __table_args__ = (UniqueConstraint("task_id", "attempt", name="uq_executions_task_attempt"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    task_id: Mapped[str] = mapped_column(ForeignKey("tasks.id"), index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    idempotency_key: Mapped[str] = mapped_column(String(80))
    started_at: Mapped[datetime] = mapped_column(index=True)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    outcome: Mapped[str | None] = mapped_column(String(16), default=None)  # ok | error | unknown
    external_id: Mapped[str | None] = mapped_column(Text, default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)


class Cursor(Base):
    """Where a source got to (a Gmail historyId, an X since_id, a Maildir's seen set marker)."""

    __tablename__ = "cursors"

    name: Mapped[str] = mapped_column(String(80), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime]


class Host(Base):
    """A host seen by this one: itself (heartbeat) and the others (from their notes in the vault)."""

    __tablename__ = "hosts"

    agent: Mapped[str] = mapped_column(String(40), primary_key=True)
    role: Mapped[str] = mapped_column(String(8))
    last_seen: Mapped[datetime]
    info: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Incident(Base):
    """The audit log of what is not a state change: git conflicts resolved, stale locks cleared,
    interrupted rebases recovered, redacted notes, held pushes, refused or malformed notes. Append-only."""

    __tablename__ = "incidents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(index=True)
    host: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(40), index=True)
    task_id: Mapped[str | None] = mapped_column(String(32), default=None)
    path: Mapped[str | None] = mapped_column(Text, default=None)
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class StyleExample(Base):
    """One task's draft as proposed and as sent (``sent`` is None until it is done): what the style
    memory learns from (fte/io/channels/style.py). The person's own text; this host only."""

    __tablename__ = "style_examples"

    task_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    recipient: Mapped[str] = mapped_column(Text, index=True)
    domain: Mapped[str] = mapped_column(Text, index=True)
    proposed: Mapped[str] = mapped_column(Text)
    sent: Mapped[str | None] = mapped_column(Text, default=None)
    at: Mapped[datetime | None] = mapped_column(default=None)
