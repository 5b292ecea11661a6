"""Named queries for ``fte sql NAME``: the questions people ask of the audit log, answered by views.

After years of use the audit log holds millions of transitions: the questions about a period look
at the log's last :data:`RECENT_DAYS` days, through the index on ``transitions.at`` (the views
themselves answer for all time: ``fte sql "SELECT … FROM approval_latency"``), and every named
query shows its first 1,000 rows unless ``--limit`` says otherwise.
"""

from __future__ import annotations

#: The period the named queries about a period look at.
RECENT_DAYS = 90
#: The log's last days: counted back from its newest transition (an index lookup), not from the
#: clock, so a host back after months, or a copy of the database, still answers.
def _since(newest: str) -> str:
    return f"strftime('%Y-%m-%dT%H:%M:%f', {newest}, '-{RECENT_DAYS} days')"


_SINCE = _since("(SELECT max(at) FROM transitions)")

NAMED: dict[str, tuple[str, str]] = {
    "timeline": ("every transition of every task, newest first",
                 "SELECT at, task_id, kind, event, from_state, to_state, actor, host, source FROM task_timeline "
                 "ORDER BY at DESC, task_id, version DESC"),
    "approval-latency": (f"how long each decision of the log's last {RECENT_DAYS} days waited, longest first",
                         "SELECT task_id, kind, title, decision, decided_by, presented_at, decided_at, seconds_waited "
                         f"FROM approval_latency WHERE decided_at >= {_SINCE} ORDER BY seconds_waited DESC"),
    # execution_outcomes' columns over the attempts of the last days, found through the index on
    # started_at ("+e.task_id": grouping must not pick the task_id index and read every attempt).
    "executions": (f"attempts, retries and the last outcome per task executed in the log's last {RECENT_DAYS} days",
                   "SELECT e.task_id, k.kind, k.title, k.state, count(*) AS attempts, count(*) - 1 AS retries, "
                   "(SELECT e2.outcome FROM executions e2 WHERE e2.task_id = e.task_id ORDER BY e2.attempt DESC "
                   "LIMIT 1) AS last_outcome, (SELECT e2.external_id FROM executions e2 WHERE e2.task_id = e.task_id "
                   "ORDER BY e2.attempt DESC LIMIT 1) AS external_id, max(e.finished_at) AS last_finished "
                   "FROM executions e JOIN tasks k ON k.id = e.task_id "
                   f"WHERE e.started_at >= {_since('(SELECT max(started_at) FROM executions)')} "
                   "GROUP BY +e.task_id ORDER BY last_finished DESC"),
    # throughput_daily's columns, over the last days only (a filter on the view's grouped day
    # would read the whole log first).
    "throughput": (f"tasks entering each state per day and kind, the log's last {RECENT_DAYS} days",
                   "SELECT date(t.at) AS day, k.kind, sum(t.event = 'detect') AS detected, "
                   "sum(t.to_state = 'drafted') AS drafted, "
                   "sum(t.to_state = 'pending' AND t.from_state <> 'pending') AS presented, "
                   "sum(t.to_state = 'approved' AND t.from_state = 'pending') AS approved, "
                   "sum(t.to_state = 'rejected') AS rejected, sum(t.to_state = 'expired') AS expired, "
                   "sum(t.to_state = 'done') AS done, sum(t.to_state = 'failed') AS failed "
                   f"FROM transitions t JOIN tasks k ON k.id = t.task_id WHERE t.at >= {_SINCE} "
                   "GROUP BY day, k.kind ORDER BY day DESC, k.kind"),
    "failures": ("failures grouped by cause",
                 "SELECT cause, kind, failures, last_at FROM failures_by_cause ORDER BY failures DESC, last_at DESC"),
    "decisions": ("who approved or rejected what, and when",
                  "SELECT at, person, decision, source, task_id, kind, title, recipient, reason FROM decisions "
                  "ORDER BY at DESC"),
    "incidents": ("conflicts, recoveries, redactions, held pushes and refused notes",
                  "SELECT at, host, kind, task_id, path, detail FROM incidents ORDER BY id DESC"),
    "waiting": ("what waits for a decision, oldest first",
                "SELECT id, kind, title, created_at, expires_at, note_path FROM tasks WHERE state = 'pending' "
                "ORDER BY created_at"),
}
