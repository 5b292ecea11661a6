"""The host's database: one writer (``BEGIN IMMEDIATE`` transactions) and queries over tasks.

This is the storage contract the lifecycle service builds on. It knows rows, not rules: which state
may follow which is :mod:`fte.states.lifecycle`'s business.
"""

from __future__ import annotations

import os
import sqlite3
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator

import sqlalchemy.exc
from sqlalchemy import bindparam, func, select, text, update
from sqlalchemy.orm import Session

from fte.clock import iso
from fte.errors import BadInput, NotFound
from fte.models import migrate
from fte.models.db import corrupt, session_factory, writer_engine
from fte.models.tables import (
    Cursor,
    Execution,
    Host,
    Incident,
    StyleExample,
    Task,
    Transition,
)


class Store:
    """A host's SQLite database. Create with :meth:`open`, which brings the schema to head."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.engine = writer_engine(path)
        self._sessions = session_factory(self.engine)

    @classmethod
    def open(cls, path: Path, upgrade: bool = True) -> "Store":
        """Open (creating if missing) and migrate; refuses a database newer than this fte."""
        if not path.exists():
            # It holds mail: made readable by this user only (SQLite gives its -wal and -shm files
            # the same mode), before anything is written into it.
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        store = cls(path)
        try:
            if migrate.at_head(store.engine):
                return store  # the common case: one query, no Alembic
            if upgrade:
                migrate.upgrade(store.engine)
            else:
                migrate.check_known(store.engine)
        except (sqlite3.DatabaseError, sqlalchemy.exc.DatabaseError) as exc:
            store.close()
            if "locked" in str(exc) or "busy" in str(exc):
                raise
            raise corrupt(path, exc) from None
        except BaseException:
            store.close()
            raise
        return store

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def write(self) -> Iterator[Session]:
        """One write transaction (``BEGIN IMMEDIATE``): committed on exit, rolled back on error."""
        with self._sessions() as session, session.begin():
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._sessions() as session:
            yield session

    def get(self, ref: str) -> Task:
        """A task by full id or an unambiguous prefix (at least 4 characters)."""
        ref = ref.strip().lower()
        with self.read() as s:
            task = s.get(Task, ref)
            if task is not None:
                return task
            if len(ref) < 4 or not all(c in "0123456789abcdef" for c in ref):
                raise NotFound(f"no task {ref!r} (give the id, or at least 4 of its first characters)")
            matches = list(s.scalars(select(Task).where(Task.id.startswith(ref)).limit(2)))
        if not matches:
            raise NotFound(f"no task {ref!r}")
        if len(matches) > 1:
            raise BadInput(f"{ref!r} matches more than one task; give more characters")
        return matches[0]

    def find(self, task_id: str) -> Task | None:
        """A task by its full id, or None."""
        with self.read() as s:
            return s.get(Task, task_id)

    def redacted(self) -> list[Task]:
        """Tasks whose note the secret guard redacted (through the partial index ix_tasks_redacted:
        the condition is written as the index's, so SQLite uses it)."""
        with self.read() as s:
            return list(s.scalars(select(Task).where(text("json_extract(flags, '$.redacted') IS NOT NULL"))))

    def tasks_by_id(self, task_ids: list[str]) -> list[Task]:
        """The rows of these tasks (the ones that exist), in chunks SQLite's variable limit allows."""
        found: list[Task] = []
        with self.read() as s:
            for i in range(0, len(task_ids), 500):
                found += s.scalars(select(Task).where(Task.id.in_(task_ids[i:i + 500])))
        return found

    def find_by_ref(self, source: str, source_ref: str) -> Task | None:
        """The task a source made for ``source_ref`` (unique per source), or None."""
        with self.read() as s:
            return s.scalar(select(Task).where(Task.source == source, Task.source_ref == source_ref))

    def find_by_note_path(self, note_path: str) -> Task | None:
        """The task whose note is recorded at ``note_path`` (indexed)."""
        with self.read() as s:
            return s.scalar(select(Task).where(Task.note_path == note_path).limit(1))

    def by_note_path(self, note_paths: list[str]) -> dict[str, Task]:
        """:meth:`find_by_note_path` for many paths: path → the task recorded there (indexed)."""
        found: dict[str, Task] = {}
        with self.read() as s:
            for i in range(0, len(note_paths), 500):
                for task in s.scalars(select(Task).where(Task.note_path.in_(note_paths[i:i + 500]))):
                    found.setdefault(str(task.note_path), task)
        return found

    def tasks(self, state: str | None = None, limit: int | None = None) -> list[Task]:
        with self.read() as s:
            q = select(Task).order_by(Task.created_at, Task.id)
            if state is not None:
                q = q.where(Task.state == state)
            if limit is not None:
                q = q.limit(limit)
            return list(s.scalars(q))

    def flagged(self, flag: str) -> list[Task]:
        """The tasks whose flags hold ``flag`` (a name of letters and underscores), oldest first."""
        if not flag.replace("_", "").isalpha():
            raise BadInput(f"flag {flag!r} is not a name")
        with self.read() as s:
            q = select(Task).where(func.json_extract(Task.flags, f"$.{flag}").is_not(None))
            return list(s.scalars(q.order_by(Task.created_at, Task.id)))

    def cursor(self, name: str) -> str | None:
        with self.read() as s:
            row = s.get(Cursor, name)
            return row.value if row else None

    def set_cursor(self, name: str, value: str, at: datetime) -> None:
        with self.write() as s:
            row = s.get(Cursor, name)
            if row is None:
                s.add(Cursor(name=name, value=value, updated_at=at))
            else:
                row.value, row.updated_at = value, at

    def timeline(self, task_id: str) -> list[Transition]:
        with self.read() as s:
            q = select(Transition).where(Transition.task_id == task_id).order_by(Transition.version)
            return list(s.scalars(q))

    def counts(self) -> dict[str, int]:
        with self.read() as s:
            rows = s.execute(select(Task.state, func.count()).group_by(Task.state)).all()
            return {state: n for state, n in rows}

    def unmirrored(self) -> list[Task]:
        """Tasks whose note is behind their row (a crash between commit and note write)."""
        with self.read() as s:
            q = select(Task).where(Task.mirrored_version < Task.version).order_by(Task.updated_at)
            return list(s.scalars(q))

    def mark_mirrored(self, task_id: str, version: int, note_path: str, durable: bool = True) -> bool:
        """Record that the note at ``note_path`` shows ``version``; a no-op if the row moved on since.

        ``durable=False`` commits without its own fsync (``synchronous=NORMAL`` for this one
        transaction): the mark is bookkeeping that repair can redo, and the next ``FULL`` commit
        (the next transition) makes it durable anyway, as WAL commits are sequential.
        """
        stmt = (update(Task).where(Task.id == task_id, Task.version == version)
                .values(mirrored_version=version, note_path=note_path))
        return bool(self._bookkeeping(stmt, None, durable).rowcount)  # type: ignore[attr-defined]

    def _bookkeeping(self, stmt: Any, params: Any, durable: bool) -> Any:
        """Run one write; when not ``durable``, in a transaction without its own fsync."""
        if durable:
            with self.write() as s:
                return s.execute(stmt, params) if params is not None else s.execute(stmt)
        with self.engine.connect() as conn:
            raw = conn.connection.driver_connection  # outside any transaction: SQLite refuses it inside
            assert raw is not None
            raw.execute("PRAGMA synchronous = NORMAL")
            try:
                with conn.begin():
                    return conn.execute(stmt, params) if params is not None else conn.execute(stmt)
            finally:
                raw.execute("PRAGMA synchronous = FULL")

    def mark_mirrored_many(self, marks: list[tuple[str, int, str]], durable: bool = True) -> None:
        """:meth:`mark_mirrored` for many notes, in one transaction."""
        if not marks:
            return
        values = [{"i": i, "v": v, "p": p} for i, v, p in marks]
        stmt = text("UPDATE tasks SET mirrored_version = :v, note_path = :p WHERE id = :i AND version = :v")
        self._bookkeeping(stmt, values, durable)

    def record_incident(
        self, at: datetime, host: str, kind: str, task_id: str | None = None, path: str | None = None, **detail: Any
    ) -> None:
        """Append to the incidents log (conflicts, recoveries, redactions, refused notes)."""
        with self.write() as s:
            s.add(Incident(at=at, host=host, kind=kind, task_id=task_id, path=path, detail=detail))

    def style_examples(self, *, recipient: str | None = None, domain: str | None = None, kind: str | None = None,
                       limit: int = 10) -> list[StyleExample]:
        """The style memory's finished examples (sent), newest first, for one recipient or domain
        (both None: any), of one kind if given."""
        with self.read() as s:
            q = select(StyleExample).where(StyleExample.sent.is_not(None))
            if recipient is not None:
                q = q.where(StyleExample.recipient == recipient)
            if domain is not None:
                q = q.where(StyleExample.domain == domain)
            if kind is not None:
                q = q.where(StyleExample.kind == kind)
            return list(s.scalars(q.order_by(StyleExample.at.desc(), StyleExample.task_id).limit(limit)))

    def style_recipients(self) -> list[tuple[str, int]]:
        """Each recipient the memory holds finished examples for, and how many."""
        from sqlalchemy import func

        with self.read() as s:
            rows = s.execute(select(StyleExample.recipient, func.count()).where(StyleExample.sent.is_not(None))
                             .group_by(StyleExample.recipient).order_by(StyleExample.recipient))
            return [(r, n) for r, n in rows]

    def forget_style(self, recipient: str | None) -> int:
        """Remove what the memory holds for ``recipient`` (None: everything); how many examples went."""
        from sqlalchemy import delete

        with self.write() as s:
            q = delete(StyleExample)
            if recipient is not None:
                q = q.where(StyleExample.recipient == recipient)
            result: Any = s.execute(q)  # a CursorResult: how many rows the DELETE removed
            return int(result.rowcount or 0)

    def incidents(self, kind: str | None = None, last: int | None = None) -> list[Incident]:
        """Incidents, oldest first; ``last`` keeps only the newest N."""
        with self.read() as s:
            q = select(Incident).order_by(Incident.id.desc() if last else Incident.id)
            if kind is not None:
                q = q.where(Incident.kind == kind)
            if last:
                q = q.limit(last)
            rows = list(s.scalars(q))
            return rows[::-1] if last else rows

    def set_flags(self, task_id: str, **flags: Any) -> None:
        """Merge ``flags`` into a task's flags (``None`` removes one). Not a transition: no version bump."""
        with self.write() as s:
            task = s.get(Task, task_id)
            if task is None:
                raise NotFound(f"no task {task_id!r}")
            merged = dict(task.flags or {})
            for key, value in flags.items():
                if value is None:
                    merged.pop(key, None)
                else:
                    merged[key] = value
            task.flags = merged

    def archivable(self, before: datetime, limit: int) -> list[Task]:
        """Finished tasks (done, rejected, expired) last changed before ``before``, not archived and not
        brought back by the person, nor refused once (a note that cannot be archived as it is),
        oldest first (docs/sync.md, "Archive")."""
        stmt = text("SELECT id FROM tasks WHERE state IN ('done', 'rejected', 'expired') AND updated_at < :before "
                    "AND json_extract(coalesce(flags, '{}'), '$.archived') IS NULL "
                    "AND json_extract(coalesce(flags, '{}'), '$.restored') IS NULL "
                    "AND json_extract(coalesce(flags, '{}'), '$.archive_refused') IS NULL "
                    "ORDER BY updated_at, id LIMIT :limit")
        with self.read() as s:
            ids = [r[0] for r in s.execute(stmt, {"before": iso(before), "limit": limit})]
            return [t for t in (s.get(Task, i) for i in ids) if t is not None]

    def archived_in(self, month: str) -> list[Task]:
        """Tasks archived into ``month``'s archive note."""
        stmt = text("SELECT id FROM tasks WHERE json_extract(coalesce(flags, '{}'), '$.archived') = :m ORDER BY id")
        with self.read() as s:
            ids = [r[0] for r in s.execute(stmt, {"m": month})]
            return [t for t in (s.get(Task, i) for i in ids) if t is not None]

    def set_archived(self, marks: list[tuple[str, str | None, str, str | None]], at: datetime,
                     open_month: str | None = None) -> None:
        """In one transaction: each ``(task id, month or None, note path, archived from)`` — a task
        whose note moved into a month's archive note (month), or came back from it (None: the
        note path is the note's again, and the task is kept out of later archival); and the
        ``archive.open`` cursor (the month being archived, redone after a crash)."""
        with self.write() as s:
            for task_id, month, note_path, archived_from in marks:
                task = s.get(Task, task_id)
                if task is None:
                    raise NotFound(f"no task {task_id!r}")
                flags = dict(task.flags or {})
                if month is None:
                    flags.pop("archived", None)
                    flags.pop("archived_from", None)
                    flags["restored"] = True
                else:
                    flags["archived"], flags["archived_from"] = month, archived_from
                task.flags, task.note_path = flags, note_path
            if open_month is not None:
                cursor = s.get(Cursor, "archive.open")
                if cursor is None:
                    s.add(Cursor(name="archive.open", value=open_month, updated_at=at))
                else:
                    cursor.value, cursor.updated_at = open_month, at

    def heartbeat(self, agent: str, role: str, at: datetime, **info: Any) -> None:
        """Record that ``agent`` was seen at ``at``; ``info`` is merged into what is known of it."""
        with self.write() as s:
            host = s.get(Host, agent)
            if host is None:
                s.add(Host(agent=agent, role=role, last_seen=at, info=dict(info)))
            else:
                host.role, host.last_seen = role, max(at, host.last_seen)
                host.info = {**(host.info or {}), **info}

    def hosts(self) -> list[Host]:
        with self.read() as s:
            return list(s.scalars(select(Host).order_by(Host.agent)))

    def start_execution(self, task_id: str, key: str, at: datetime) -> Execution:
        """Commit an attempt row *before* the external call (docs/execution.md)."""
        with self.write() as s:
            last = s.scalar(select(func.max(Execution.attempt)).where(Execution.task_id == task_id)) or 0
            row = Execution(task_id=task_id, attempt=last + 1, idempotency_key=key, started_at=at)
            s.add(row)
        return row

    def start_executions(self, items: list[tuple[str, str]], at: datetime) -> list[Execution]:
        """:meth:`start_execution` for many tasks, in one transaction (all committed before any call)."""
        rows: list[Execution] = []
        with self.write() as s:
            ids = sorted({task_id for task_id, _key in items})
            last: dict[str, int] = {}
            for i in range(0, len(ids), 500):
                q = (select(Execution.task_id, func.max(Execution.attempt))
                     .where(Execution.task_id.in_(ids[i:i + 500])).group_by(Execution.task_id))
                last.update({task_id: int(n) for task_id, n in s.execute(q)})
            for task_id, key in items:
                attempt = last.get(task_id, 0) + 1
                last[task_id] = attempt
                row = Execution(task_id=task_id, attempt=attempt, idempotency_key=key, started_at=at)
                s.add(row)
                rows.append(row)
        return rows

    def finish_executions(self, items: list[tuple[int, str, str | None]], at: datetime) -> None:
        """Finish many attempts, in one transaction: (execution id, outcome, external id)."""
        if not items:
            return
        stmt = (update(Execution).where(Execution.id == bindparam("i"))
                .values(outcome=bindparam("o"), finished_at=bindparam("at"), external_id=bindparam("x")))
        with self.write() as s:
            s.connection().execute(stmt, [{"i": i, "o": o, "at": at, "x": x} for i, o, x in items])

    def finish_execution(
        self, execution_id: int, outcome: str, at: datetime, external_id: str | None = None, error: str | None = None
    ) -> None:
        with self.write() as s:
            row = s.get(Execution, execution_id)
            assert row is not None
            row.outcome, row.finished_at, row.external_id, row.error = outcome, at, external_id, error

    def executions_started(self, kind: str, since: datetime) -> int:
        """How many attempts at tasks of ``kind`` started since ``since`` (for rate limits)."""
        with self.read() as s:
            q = (select(func.count()).select_from(Execution).join(Task, Task.id == Execution.task_id)
                 .where(Task.kind == kind, Execution.started_at >= since))
            return int(s.scalar(q) or 0)

    def executions(self, task_id: str) -> list[Execution]:
        with self.read() as s:
            q = select(Execution).where(Execution.task_id == task_id).order_by(Execution.attempt)
            return list(s.scalars(q))
