"""Indexes for years of use. A partial index on the tasks whose note was redacted: the heartbeat and
the Dashboard ask for them at every tick, and after archival nearly every row has flags (the test
was a scan of all of them: 166 ms at 365,000 tasks). An index on when attempts started: the rate
limit counts the last hour's, once per claimed task (a scan of every task of the kind, 8 ms each).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

REDACTED = "json_extract(flags, '$.redacted') IS NOT NULL"


def upgrade() -> None:
    op.create_index("ix_tasks_redacted", "tasks", ["id"], sqlite_where=sa.text(REDACTED))
    op.create_index("ix_executions_started_at", "executions", ["started_at"])


def downgrade() -> None:
    op.drop_index("ix_executions_started_at", "executions")
    op.drop_index("ix_tasks_redacted", "tasks")
