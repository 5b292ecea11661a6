"""``fte audit export``: the audit log as daily JSON files, in the project's original format.

One file per UTC day, ``Logs/<agent>/audit/<YYYY-MM-DD>.json``: a JSON array of entries, one per
transition, each with ``timestamp``, ``action_type`` (``<kind>:<event>``), ``actor``, ``target``
(the recipient or counterpart, else the task's title), ``parameters`` (the task's parameters, its
id, and the state change), ``approval_status`` (``pending`` / ``approved`` / ``rejected`` /
``expired`` / ``not_yet``, as it stood *after* that transition), ``approved_by`` and ``result``.
Files older than the retention (``[audit] retention_days``, default 90) are removed.
"""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from sqlalchemy import select

from fte.clock import iso
from fte.io.vault.notes import Vault
from fte.models.store import Store
from fte.models.tables import Task, Transition

DECISIONS = {"approved": "approved", "rejected": "rejected", "expired": "expired"}


def _target(task: Task) -> str:
    params = task.params or {}
    for key in ("to", "partner", "recipient", "account"):
        if params.get(key):
            return str(params[key])
    return task.title


def _result(t: Transition) -> str:
    if t.to_state == "done":
        return "success"
    if t.to_state == "failed":
        return f"failure: {t.detail.get('error', 'unknown')}"
    return t.to_state


def entries_by_day(store: Store, since: date | None = None, until: date | None = None) -> dict[str, list[dict[str, Any]]]:
    """Every transition as an audit entry, grouped by UTC day (``since``/``until`` inclusive).

    Only the tasks with a transition in the period are read (their whole timeline, so the approval
    status is right), not the whole database.
    """
    with store.read() as s:
        period = select(Transition.task_id)
        if since:
            period = period.where(Transition.at >= datetime.combine(since, time.min, timezone.utc))
        if until:
            period = period.where(Transition.at < datetime.combine(until + timedelta(days=1), time.min, timezone.utc))
        ids = period.distinct().scalar_subquery()
        tasks = {t.id: t for t in s.scalars(select(Task).where(Task.id.in_(ids)))}
        rows = list(s.scalars(select(Transition).where(Transition.task_id.in_(ids))
                              .order_by(Transition.task_id, Transition.version)))
    status: dict[str, tuple[str, str | None]] = {}
    days: dict[str, list[dict[str, Any]]] = {}
    for t in rows:
        task = tasks[t.task_id]
        current, by = status.get(t.task_id, ("not_yet", None))
        if t.to_state == "pending":
            current, by = "pending", None
        elif t.from_state == "pending" and t.to_state in DECISIONS:
            current, by = DECISIONS[t.to_state], t.actor if t.to_state == "approved" else None
        elif t.event == "observe" and t.to_state in ("approved", "claimed", "done") and current != "approved":
            current, by = "approved", (task.approval or {}).get("by")
        status[t.task_id] = (current, by)
        day = t.at.date()
        if (since and day < since) or (until and day > until):
            continue
        days.setdefault(day.isoformat(), []).append({
            "timestamp": iso(t.at),
            "action_type": f"{task.kind}:{t.event}",
            "actor": t.actor,
            "target": _target(task),
            "parameters": {"task_id": t.task_id, **(task.params or {}), "from_state": t.from_state,
                           "to_state": t.to_state, "host": t.host, "source": t.source},
            "approval_status": current,
            "approved_by": by,
            "result": _result(t),
        })
    for entries in days.values():
        entries.sort(key=lambda e: e["timestamp"])
    return days


def export(
    store: Store, vault: Vault, agent: str, now: datetime,
    since: date | None = None, until: date | None = None, retention_days: int = 90,
) -> tuple[list[str], list[str]]:
    """Write the daily files; returns (written or unchanged paths, removed paths)."""
    folder = f"Logs/{agent}/audit"
    written = []
    for day, entries in sorted(entries_by_day(store, since, until).items()):
        rel = f"{folder}/{day}.json"
        vault.write(rel, (json.dumps(entries, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))
        written.append(rel)
    removed = []
    cutoff = (now - timedelta(days=retention_days)).date()
    base = vault.root / folder
    if base.is_dir():
        for f in sorted(base.glob("*.json")):
            try:
                file_day = date.fromisoformat(f.stem)
            except ValueError:
                continue
            if file_day < cutoff:
                vault.remove(f"{folder}/{f.name}")
                removed.append(f"{folder}/{f.name}")
    return written, removed
