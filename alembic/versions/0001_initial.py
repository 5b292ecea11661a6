"""The lifecycle core: tasks, the append-only transitions log, executions, cursors, hosts.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.String(32)  # fte.models.tables.UTCDateTime: ISO 8601 text, UTC


def upgrade() -> None:
    op.create_table(
        "tasks",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("mirrored_version", sa.Integer, nullable=False),
        sa.Column("source", sa.String(40), nullable=False),
        sa.Column("source_ref", sa.Text, nullable=False),
        sa.Column("origin", sa.String(40), nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("params", sa.JSON, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("original", sa.Text, nullable=False),
        sa.Column("note_path", sa.Text, nullable=True),
        sa.Column("claimed_by", sa.String(40), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=True),
        sa.Column("approval", sa.JSON, nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("flags", sa.JSON, nullable=False),
        sa.UniqueConstraint("source", "source_ref", name="uq_tasks_source_ref"),
    )
    op.create_index("ix_tasks_state", "tasks", ["state"])
    op.create_index("ix_tasks_mirrored_version", "tasks", ["mirrored_version"])
    op.create_table(
        "transitions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("task_id", sa.String(32), sa.ForeignKey("tasks.id"), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("event", sa.String(24), nullable=False),
        sa.Column("from_state", sa.String(16), nullable=True),
        sa.Column("to_state", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(80), nullable=False),
        sa.Column("host", sa.String(40), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("detail", sa.JSON, nullable=False),
        sa.UniqueConstraint("task_id", "version", name="uq_transitions_task_version"),
    )
    op.create_index("ix_transitions_at", "transitions", ["at"])
    # The audit log is append-only: SQLite itself refuses to change or remove a row.
    op.execute(
        "CREATE TRIGGER transitions_no_update BEFORE UPDATE ON transitions "
        "BEGIN SELECT RAISE(ABORT, 'transitions is append-only: UPDATE refused'); END"
    )
    op.execute(
        "CREATE TRIGGER transitions_no_delete BEFORE DELETE ON transitions "
        "BEGIN SELECT RAISE(ABORT, 'transitions is append-only: DELETE refused'); END"
    )
    op.create_table(
        "executions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("task_id", sa.String(32), sa.ForeignKey("tasks.id"), nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("idempotency_key", sa.String(80), nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("finished_at", TS, nullable=True),
        sa.Column("outcome", sa.String(16), nullable=True),
        sa.Column("external_id", sa.Text, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.UniqueConstraint("task_id", "attempt", name="uq_executions_task_attempt"),
    )
    op.create_index("ix_executions_task_id", "executions", ["task_id"])
    op.create_table(
        "cursors",
        sa.Column("name", sa.String(80), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_table(
        "hosts",
        sa.Column("agent", sa.String(40), primary_key=True),
        sa.Column("role", sa.String(8), nullable=False),
        sa.Column("last_seen", TS, nullable=False),
        sa.Column("info", sa.JSON, nullable=False),
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS transitions_no_delete")
    op.execute("DROP TRIGGER IF EXISTS transitions_no_update")
    for table in ("hosts", "cursors", "executions", "transitions", "tasks"):
        op.drop_table(table)
