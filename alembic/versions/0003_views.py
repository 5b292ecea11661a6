"""Views that answer what people ask of the audit log (see docs/schema.md).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

VIEWS = {
    # Every transition with its task: the timeline of each task, in order.
    "task_timeline": """
        SELECT t.task_id, k.kind, k.title, t.version, t.at, t.event, t.from_state, t.to_state,
               t.actor, t.host, t.source, t.detail
        FROM transitions t JOIN tasks k ON k.id = t.task_id
    """,
    # From the moment a task was last presented for a decision to the decision.
    "approval_latency": """
        SELECT d.task_id, k.kind, k.title,
               (SELECT max(p.at) FROM transitions p
                 WHERE p.task_id = d.task_id AND p.to_state = 'pending' AND p.version < d.version) AS presented_at,
               d.at AS decided_at, d.to_state AS decision, d.actor AS decided_by, d.source,
               round((julianday(d.at) - julianday((SELECT max(p.at) FROM transitions p
                 WHERE p.task_id = d.task_id AND p.to_state = 'pending' AND p.version < d.version))) * 86400.0, 3)
                 AS seconds_waited
        FROM transitions d JOIN tasks k ON k.id = d.task_id
        WHERE d.from_state = 'pending' AND d.to_state IN ('approved', 'rejected', 'expired')
    """,
    # Attempts per task and how the last one ended.
    "execution_outcomes": """
        SELECT e.task_id, k.kind, k.title, k.state, count(*) AS attempts, count(*) - 1 AS retries,
               min(e.started_at) AS first_started, max(e.finished_at) AS last_finished,
               (SELECT e2.outcome FROM executions e2 WHERE e2.task_id = e.task_id ORDER BY e2.attempt DESC LIMIT 1)
                 AS last_outcome,
               (SELECT e2.external_id FROM executions e2 WHERE e2.task_id = e.task_id ORDER BY e2.attempt DESC LIMIT 1)
                 AS external_id,
               sum(e.outcome = 'error') AS errors
        FROM executions e JOIN tasks k ON k.id = e.task_id
        GROUP BY e.task_id
    """,
    # How many tasks entered each state, per day (UTC) and kind.
    "throughput_daily": """
        SELECT date(t.at) AS day, k.kind,
               sum(t.event = 'detect') AS detected,
               sum(t.to_state = 'drafted') AS drafted,
               sum(t.to_state = 'pending' AND t.from_state <> 'pending') AS presented,
               sum(t.to_state = 'approved' AND t.from_state = 'pending') AS approved,
               sum(t.to_state = 'rejected') AS rejected,
               sum(t.to_state = 'expired') AS expired,
               sum(t.to_state = 'done') AS done,
               sum(t.to_state = 'failed') AS failed
        FROM transitions t JOIN tasks k ON k.id = t.task_id
        GROUP BY day, k.kind
    """,
    # Why things failed, most common first.
    "failures_by_cause": """
        SELECT coalesce(json_extract(t.detail, '$.error'), 'unknown') AS cause, k.kind,
               count(*) AS failures, max(t.at) AS last_at
        FROM transitions t JOIN tasks k ON k.id = t.task_id
        WHERE t.to_state = 'failed'
        GROUP BY cause, k.kind
    """,
    # Who approved (or rejected) what, and when.
    "decisions": """
        SELECT d.at, d.actor AS person, d.to_state AS decision, d.source, d.task_id, k.kind, k.title,
               json_extract(k.params, '$.to') AS recipient, json_extract(d.detail, '$.reason') AS reason
        FROM transitions d JOIN tasks k ON k.id = d.task_id
        WHERE d.event IN ('approve', 'reject')
    """,
}


def upgrade() -> None:
    for name, sql in VIEWS.items():
        op.execute(f"CREATE VIEW {name} AS {sql}")


def downgrade() -> None:
    for name in VIEWS:
        op.execute(f"DROP VIEW IF EXISTS {name}")
