"""``fte report``: the weekly CEO briefing, ``Briefings/<Monday>_Monday_Briefing.md``.

Numbers come from the views over the audit log (``approval_latency``, ``throughput_daily``…), for
the seven days before ``now``. Charts are Mermaid blocks, which Obsidian renders. Revenue and P&L
come from Odoo when it is configured on this host (issue 7); otherwise the section says so.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from fte.clock import iso, parse_iso
from fte.models.db import connect_readonly
from fte.models.store import Store

PERIOD = timedelta(days=7)


def monday_of(now: datetime) -> datetime:
    start = now - timedelta(days=now.weekday())
    return start.replace(hour=0, minute=0, second=0, microsecond=0)


def briefing_path(now: datetime) -> str:
    return f"Briefings/{monday_of(now):%Y-%m-%d}_Monday_Briefing.md"


@dataclass
class Figures:
    start: datetime
    end: datetime
    detected: int
    done: list[dict[str, Any]]
    failed: list[dict[str, Any]]
    waiting: list[dict[str, Any]]
    latencies: list[dict[str, Any]]
    per_day: dict[str, int]
    expiring: list[dict[str, Any]]
    recovered: int = 0  # tasks that failed this week and were completed after a replay

    @property
    def median_wait_hours(self) -> float | None:
        waits = [r["seconds_waited"] for r in self.latencies if r["seconds_waited"] is not None]
        return round(statistics.median(waits) / 3600, 2) if waits else None


def _rows(store: Store, sql: str, **params: Any) -> list[dict[str, Any]]:
    conn = connect_readonly(store.path)  # a reader: no write lock for a report
    try:
        return [dict(r) for r in conn.execute(sql, params)]
    finally:
        conn.close()


def figures(store: Store, now: datetime) -> Figures:
    start = now - PERIOD
    s, e = iso(start), iso(now)
    detected = _rows(store, "SELECT count(*) AS n FROM transitions WHERE event = 'detect' AND at >= :s AND at < :e", s=s, e=e)[0]["n"]
    done = _rows(store, """SELECT t.task_id, k.kind, k.title, t.at FROM transitions t JOIN tasks k ON k.id = t.task_id
                           WHERE t.to_state = 'done' AND t.at >= :s AND t.at < :e ORDER BY t.at""", s=s, e=e)
    # A task counts once, by where it stands: failed and still failed is a failure (its last one, with
    # the error it recorded, or the task's own when the failure was another host's, seen in a note); a
    # failure replayed to done is counted with the completed ones, as recovered.
    failed = _rows(store, """SELECT t.task_id, k.kind, k.title, t.at,
                                    coalesce(json_extract(t.detail, '$.error'), k.last_error) AS error
                             FROM transitions t JOIN tasks k ON k.id = t.task_id
                             WHERE t.to_state = 'failed' AND t.at >= :s AND t.at < :e AND k.state = 'failed'
                               AND t.id = (SELECT max(id) FROM transitions
                                           WHERE task_id = t.task_id AND to_state = 'failed')
                             ORDER BY t.at""", s=s, e=e)
    recovered = _rows(store, """SELECT count(DISTINCT t.task_id) AS n FROM transitions t JOIN tasks k ON k.id = t.task_id
                                WHERE t.to_state = 'failed' AND t.at >= :s AND t.at < :e
                                  AND k.state = 'done'""", s=s, e=e)[0]["n"]
    waiting = _rows(store, """SELECT k.id AS task_id, k.kind, k.title, max(t.at) AS since FROM tasks k
                              JOIN transitions t ON t.task_id = k.id AND t.to_state = 'pending'
                              WHERE k.state = 'pending' GROUP BY k.id ORDER BY since""")
    latencies = _rows(store, """SELECT task_id, kind, title, decision, decided_by, seconds_waited FROM approval_latency
                                WHERE decided_at >= :s AND decided_at < :e ORDER BY seconds_waited DESC""", s=s, e=e)
    per_day = {r["day"]: r["n"] for r in _rows(store, """SELECT date(at) AS day, count(*) AS n FROM transitions
                 WHERE to_state = 'done' AND at >= :s AND at < :e GROUP BY day""", s=s, e=e)}
    expiring = _rows(store, """SELECT id AS task_id, kind, title, expires_at FROM tasks WHERE state = 'pending'
                               AND expires_at IS NOT NULL AND expires_at < :soon ORDER BY expires_at""",
                     soon=iso(now + timedelta(hours=48)))
    return Figures(start, now, detected, done, failed, waiting, latencies, per_day, expiring, recovered)


def _cell(v: Any) -> str:
    return str(v or "").replace("|", "\\|").replace("\n", " ")[:100]


def render(f: Figures, odoo: dict[str, Any] | None = None) -> str:
    days = [(f.start + timedelta(days=i + 1)).date().isoformat() for i in range(7)]
    median = f.median_wait_hours
    out = [
        "---",
        "role: briefing",
        f"period_start: '{iso(f.start)}'",
        f"period_end: '{iso(f.end)}'",
        f"done: {len(f.done)}",
        f"failed: {len(f.failed)}",
        f"waiting: {len(f.waiting)}",
        "---",
        f"# Monday briefing — week to {f.end:%Y-%m-%d}",
        "",
        "## Executive summary",
        "",
        f"- {f.detected} new item(s) came in; {len(f.done)} task(s) were completed"
        + (f" ({f.recovered} of them after a failure and a replay)" if f.recovered else "")
        + f"; {len(f.failed)} failed.",
        f"- {len(f.waiting)} draft(s) wait for your decision"
        + (f"; the median decision took {median} h." if median is not None else "."),
        "",
        "## Completed",
        "",
    ]
    if f.done:
        out += ["| done at | kind | task |", "|---|---|---|"]
        out += [f"| {r['at'][:16]} | {r['kind']} | {_cell(r['title'])} |" for r in f.done]
    else:
        out.append("Nothing was completed this week.")
    out += ["", "## Bottlenecks", ""]
    slow = f.latencies[:5]
    if slow or f.waiting:
        out += ["| task | waited (h) | outcome |", "|---|---|---|"]
        out += [f"| {_cell(r['title'])} | {round((r['seconds_waited'] or 0) / 3600, 1)} | {r['decision']} by {r['decided_by']} |" for r in slow]
        out += [f"| {_cell(r['title'])} | {round((f.end - parse_iso(r['since'])).total_seconds() / 3600, 1)} | still waiting |"
                for r in f.waiting[:5]]
    else:
        out.append("No decision waited.")
    out += ["", "## Failures", ""]
    if f.failed:
        out += ["| at | kind | task | error |", "|---|---|---|---|"]
        out += [f"| {r['at'][:16]} | {r['kind']} | {_cell(r['title'])} | {_cell(r['error'])} |" for r in f.failed]
    else:
        out.append("No failures.")
    out += ["", "## Revenue and profit & loss", ""]
    if odoo and odoo.get("error"):
        out.append(f"Odoo could not be asked: {_cell(odoo['error'])}")
    elif odoo:
        out += [f"From posted entries in Odoo for {_cell(odoo['company'])}, {odoo['from']} to {odoo['to']} "
                f"(both included), in {_cell(odoo['currency'])}:", "",
                "| revenue | expenses | profit |", "|---|---|---|",
                f"| {odoo['income']:.2f} | {odoo['expenses']:.2f} | {odoo['profit']:.2f} |"]
    else:
        out.append("Odoo is not configured on this host (`[odoo]` in fte.toml), so there are no accounting figures.")
    out += ["", "## Expiring soon", ""]
    out += [f"- {_cell(r['title'])} — {r['expires_at'][:16]} UTC" for r in f.expiring] or ["Nothing expires in the next 48 hours."]
    out += ["", "## Suggestions", ""]
    tips = []
    if f.failed:
        tips.append(f"Look at the {len(f.failed)} failure(s); `fte replay --all --dry-run` shows what a retry would do.")
    if median is not None and median > 24:
        tips.append("Decisions take over a day at the median: consider a daily review of `Pending_Approval/`.")
    if len(f.waiting) > 10:
        tips.append(f"{len(f.waiting)} drafts are waiting: approve or reject in bulk from the Dashboard.")
    if not tips:
        tips.append("Nothing needs attention.")
    out += [f"- {t}" for t in tips]
    out += ["", "## Charts", "", "```mermaid", "xychart-beta", '    title "Tasks completed per day"',
            "    x-axis [" + ", ".join(f'"{d[5:]}"' for d in days) + "]",
            '    y-axis "tasks"',
            "    bar [" + ", ".join(str(f.per_day.get(d, 0)) for d in days) + "]", "```"]
    if f.latencies:
        lat = f.latencies[:10]
        out += ["", "```mermaid", "xychart-beta", '    title "Approval latency (hours)"',
                "    x-axis [" + ", ".join(f'"{r["task_id"][:6]}"' for r in lat) + "]",
                '    y-axis "hours"',
                "    bar [" + ", ".join(str(round((r["seconds_waited"] or 0) / 3600, 2)) for r in lat) + "]", "```"]
    return "\n".join(out) + "\n"


def odoo_figures(settings: Any, f: Figures) -> dict[str, Any] | None:
    """Revenue and P&L of the briefing's period from Odoo, when ``[odoo]`` is configured on this host."""
    from fte.errors import FteError
    from fte.odoo.accounting import get_profit_loss
    from fte.odoo.config import configured, make_client

    if not configured(settings):
        return None
    try:
        client = make_client(settings)
        try:
            return get_profit_loss(client, f.start.date().isoformat(), f.end.date().isoformat())
        finally:
            client.close()
    except FteError as exc:  # the briefing is still written, and says why the figures are missing
        return {"error": str(exc)}
