"""The read-only use cases: what is where, the tasks, one task and its timeline, SQL.

They open the database read-only (:func:`fte.models.readonly.run_query`): no SQLAlchemy, no git, no
write lock, so they answer while a daemon works, and never change anything — except that a missing
database is made again from the vault first (loudly; :func:`fte.host.home.open_home`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fte.config import Settings, load_settings
from fte.errors import BadInput, NotFound
from fte.models import migrate
from fte.models.readonly import run_query
from fte.reports.queries import NAMED
from fte.states.lifecycle import STATES

#: Rows a named query gives unless told otherwise (years of history: the newest first, not all).
NAMED_LIMIT = 1000
#: One-word SQL statements that a bare word may still be (``vacuum`` is refused as a write, not as
#: an unknown named query).
_SQL_WORDS = frozenset({"vacuum", "analyze", "reindex", "begin", "commit", "rollback", "end"})

_TASK_COLUMNS = ("id, kind, state, version, epoch, title, source, origin, created_at AS created, "
                 "updated_at AS updated, note_path AS note, source_ref, params, body, original, "
                 "expires_at AS expires, claimed_by, approval, last_error AS error, mirrored_version, flags")
_LIST_COLUMNS = ("id, kind, state, version, title, source, origin, created_at AS created, updated_at AS updated, "
                 "note_path AS note")
_JSON_COLUMNS = ("params", "approval", "flags", "detail")


def reader(home: Path) -> tuple[Settings, str]:
    """The host's settings and its database's schema revision, for a reader. A missing database is
    made and read back from the vault by opening the home (loudly: its audit history is lost),
    never silently created empty."""
    settings = load_settings(home)
    if not settings.db_path.exists():
        from fte.host.home import (
            open_home,  # SQLAlchemy and git only when there is something to repair
        )

        open_home(settings.home).close()
    return settings, migrate.ensure_schema(settings.db_path)


def status(home: Path) -> dict[str, Any]:
    """Tasks by state, notes behind their rows, the last transition, the sync, the hosts seen."""
    settings, revision = reader(home)
    db = settings.db_path
    _c, rows = run_query(db, "SELECT state, count(*) FROM tasks GROUP BY state")
    counts = {state: 0 for state in STATES} | {s: n for s, n in rows}
    _c, behind = run_query(db, "SELECT count(*) FROM tasks WHERE mirrored_version < version")
    _c, last = run_query(db, "SELECT at, event, task_id FROM transitions ORDER BY id DESC LIMIT 1")
    _c, me = run_query(db, "SELECT info FROM hosts WHERE agent = ?", (settings.agent,))
    _c, hosts = run_query(db, "SELECT agent, role, last_seen FROM hosts ORDER BY agent")
    return {
        "home": str(settings.home),
        "role": settings.role,
        "agent": settings.agent,
        "vault": str(settings.vault),
        "db": str(db),
        "remote": settings.remote,
        "schema": revision,
        "tasks": sum(counts.values()),
        "counts": counts,
        "notes_behind": behind[0][0],
        "last_transition": dict(zip(("at", "event", "task_id"), last[0])) if last else None,
        "sync": json.loads(me[0][0]).get("sync") if me else None,
        "hosts": [dict(zip(("agent", "role", "last_seen"), h)) for h in hosts],
    }


def tasks(home: Path, state: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
    """Tasks, oldest first; only those in ``state`` if given; at most ``limit``."""
    if state is not None and state not in STATES:
        raise BadInput(f"no state {state!r}; the states: {', '.join(STATES)}")
    settings, _rev = reader(home)
    query = (f"SELECT {_LIST_COLUMNS} FROM tasks" + (" WHERE state = ?" if state else "")
             + " ORDER BY created_at, id" + (" LIMIT ?" if limit else ""))
    columns, rows = run_query(settings.db_path, query, tuple(x for x in (state, limit) if x))
    return [dict(zip(columns, row)) for row in rows]


def show(home: Path, ref: str) -> dict[str, Any]:
    """One task and its timeline; ``ref`` is the id or at least 4 of its first characters (as
    :meth:`fte.models.store.Store.get`). ``NotFound`` when none matches, ``BadInput`` when several do."""
    settings, _rev = reader(home)
    ref = ref.strip().lower()
    if len(ref) < 4 or not re.fullmatch(r"[0-9a-f]+", ref):
        raise NotFound(f"no task {ref!r} (give the id, or at least 4 of its first characters)")
    columns, rows = run_query(settings.db_path, f"SELECT {_TASK_COLUMNS} FROM tasks WHERE id = ? OR id LIKE ? "
                              "ORDER BY id = ? DESC LIMIT 2", (ref, ref + "%", ref))
    if not rows:
        raise NotFound(f"no task {ref!r}")
    exact = [r for r in rows if r[0] == ref]
    if not exact and len(rows) > 1:
        raise BadInput(f"{ref!r} matches more than one task; give more characters")
    task = _decoded(dict(zip(columns, (exact or rows)[0])))
    columns, rows = run_query(settings.db_path, "SELECT version, at, event, from_state AS \"from\", to_state AS \"to\", "
                              "actor, host, source, detail FROM transitions WHERE task_id = ? ORDER BY version",
                              (task["id"],))
    task["timeline"] = [_decoded(dict(zip(columns, r))) for r in rows]
    return task


def waiting(home: Path) -> list[dict[str, Any]]:
    """What waits for a decision, oldest first: each task's id, kind, title, epoch, parameters and
    deadline (one query: a page of 50 waiting tasks is one read)."""
    settings, _rev = reader(home)
    columns, rows = run_query(settings.db_path, "SELECT id, kind, title, epoch, params, created_at AS created, "
                              "expires_at AS expires FROM tasks WHERE state = 'pending' ORDER BY created_at, id")
    return [_decoded(dict(zip(columns, row))) for row in rows]


@dataclass(frozen=True)
class Rows:
    """A query's answer: its columns, its rows, and whether ``limit`` cut it short."""

    columns: list[str]
    rows: list[tuple[Any, ...]]
    cut: bool = False


def named_queries() -> list[tuple[str, str]]:
    """The named queries: (name, what it answers)."""
    return [(name, about) for name, (about, _sql) in NAMED.items()]


def sql(home: Path, query: str, *, limit: int | None = None, timeout: float = 5.0) -> Rows:
    """One read-only query, or a named one (:data:`fte.reports.queries.NAMED`); a write is refused
    (``BadInput``), as is a query running longer than ``timeout`` seconds. A named query gives at
    most :data:`NAMED_LIMIT` rows unless ``limit`` says otherwise (0 = all)."""
    settings, _rev = reader(home)
    if query in NAMED:
        query = NAMED[query][1]
        limit = NAMED_LIMIT if limit is None else limit
    elif re.fullmatch(r"[a-z][a-z0-9_-]*", query.strip()) and query.strip().lower() not in _SQL_WORDS:
        raise BadInput(f"no named query {query.strip()!r}; the named queries: {', '.join(NAMED)} (or write SQL)")
    if limit:
        query = f"SELECT * FROM ({query.strip().rstrip(';')}) LIMIT {limit + 1}"
    columns, rows = run_query(settings.db_path, query, timeout=timeout)
    if limit and len(rows) > limit:
        return Rows(list(columns), list(rows[:limit]), cut=True)
    return Rows(list(columns), list(rows))


def _decoded(row: dict[str, Any]) -> dict[str, Any]:
    for key in _JSON_COLUMNS:
        if key in row and isinstance(row[key], str):
            row[key] = json.loads(row[key])
    return row
