"""Plain, JSON-ready views of tasks and transitions, shared by the command line and scripts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fte.clock import iso
from fte.support.plaintext import visible

if TYPE_CHECKING:
    from fte.models.tables import Task, Transition


def task_summary(task: Task) -> dict[str, Any]:
    return {
        "id": task.id,
        "kind": task.kind,
        "state": task.state,
        "version": task.version,
        "title": task.title,
        "source": task.source,
        "origin": task.origin,
        "created": iso(task.created_at),
        "updated": iso(task.updated_at),
        "note": task.note_path,
    }


def task_detail(task: Task) -> dict[str, Any]:
    out = task_summary(task)
    out.update(
        epoch=task.epoch,
        source_ref=task.source_ref,
        params=task.params,
        body=task.body,
        original=task.original,
        expires=iso(task.expires_at) if task.expires_at else None,
        claimed_by=task.claimed_by,
        approval=task.approval,
        error=task.last_error,
        mirrored_version=task.mirrored_version,
        flags=task.flags,
    )
    return out


def transition_view(t: Transition) -> dict[str, Any]:
    return {
        "version": t.version,
        "at": iso(t.at),
        "event": t.event,
        "from": t.from_state,
        "to": t.to_state,
        "actor": t.actor,
        "host": t.host,
        "source": t.source,
        "detail": t.detail,
    }


def format_table(columns: list[str], rows: list[tuple[Any, ...]], max_width: int | None = 60) -> str:
    """A plain aligned text table; a value longer than ``max_width`` (None: no limit) ends in "…"."""

    def cell(v: Any) -> str:
        s = visible("" if v is None else str(v))
        return s if max_width is None or len(s) <= max_width else s[: max_width - 1] + "…"

    cells = [[cell(v) for v in r] for r in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() for r in cells]
    return "\n".join(lines)


def longest_value(rows: list[tuple[Any, ...]]) -> int:
    """The length of the longest value in ``rows``, as a table shows it."""
    return max((len(visible("" if v is None else str(v))) for r in rows for v in r), default=0)
