"""approval_latency waits from the task's last presentation, not from its last edit.

An ``edit`` keeps a task ``pending`` (``pending → pending``); it used to count as a new
presentation and reset the measured wait. A presentation is a transition *into* ``pending`` from
another state (``present``, an ``invalidate`` of an approval, a replay).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_PRESENTED = """(SELECT max(p.at) FROM transitions p
                 WHERE p.task_id = d.task_id AND p.to_state = 'pending' AND p.version < d.version
                   AND (p.from_state IS NULL OR p.from_state <> 'pending'))"""

NEW = f"""
        SELECT d.task_id, k.kind, k.title, {_PRESENTED} AS presented_at,
               d.at AS decided_at, d.to_state AS decision, d.actor AS decided_by, d.source,
               round((julianday(d.at) - julianday({_PRESENTED})) * 86400.0, 3) AS seconds_waited
        FROM transitions d JOIN tasks k ON k.id = d.task_id
        WHERE d.from_state = 'pending' AND d.to_state IN ('approved', 'rejected', 'expired')
"""

OLD = """
        SELECT d.task_id, k.kind, k.title,
               (SELECT max(p.at) FROM transitions p
                 WHERE p.task_id = d.task_id AND p.to_state = 'pending' AND p.version < d.version) AS presented_at,
               d.at AS decided_at, d.to_state AS decision, d.actor AS decided_by, d.source,
               round((julianday(d.at) - julianday((SELECT max(p.at) FROM transitions p
                 WHERE p.task_id = d.task_id AND p.to_state = 'pending' AND p.version < d.version))) * 86400.0, 3)
                 AS seconds_waited
        FROM transitions d JOIN tasks k ON k.id = d.task_id
        WHERE d.from_state = 'pending' AND d.to_state IN ('approved', 'rejected', 'expired')
"""


def upgrade() -> None:
    op.execute("DROP VIEW IF EXISTS approval_latency")
    op.execute(f"CREATE VIEW approval_latency AS {NEW}")


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS approval_latency")
    op.execute(f"CREATE VIEW approval_latency AS {OLD}")
