"""Named queries for ``fte sql NAME``: the questions people ask of the audit log, answered by views."""

from __future__ import annotations

NAMED: dict[str, tuple[str, str]] = {
    "timeline": ("every transition of every task, newest first",
                 "SELECT at, task_id, kind, event, from_state, to_state, actor, host, source FROM task_timeline "
                 "ORDER BY at DESC, task_id, version DESC"),
    "approval-latency": ("how long each decision waited, longest first",
                         "SELECT task_id, kind, title, decision, decided_by, presented_at, decided_at, seconds_waited "
                         "FROM approval_latency ORDER BY seconds_waited DESC"),
    "executions": ("attempts, retries and the last outcome per executed task",
                   "SELECT task_id, kind, title, state, attempts, retries, last_outcome, external_id, last_finished "
                   "FROM execution_outcomes ORDER BY last_finished DESC"),
    "throughput": ("tasks entering each state per day and kind",
                   "SELECT * FROM throughput_daily ORDER BY day DESC, kind"),
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
