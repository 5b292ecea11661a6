"""Incidents: the audit log of what is not a state change (conflicts, recoveries, quarantines).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "incidents",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.String(32), nullable=False),
        sa.Column("host", sa.String(40), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("task_id", sa.String(32), nullable=True),
        sa.Column("path", sa.Text, nullable=True),
        sa.Column("detail", sa.JSON, nullable=False),
    )
    op.create_index("ix_incidents_at", "incidents", ["at"])
    op.create_index("ix_incidents_kind", "incidents", ["kind"])
    op.execute(
        "CREATE TRIGGER incidents_no_update BEFORE UPDATE ON incidents "
        "BEGIN SELECT RAISE(ABORT, 'incidents is append-only: UPDATE refused'); END"
    )
    op.execute(
        "CREATE TRIGGER incidents_no_delete BEFORE DELETE ON incidents "
        "BEGIN SELECT RAISE(ABORT, 'incidents is append-only: DELETE refused'); END"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS incidents_no_delete")
    op.execute("DROP TRIGGER IF EXISTS incidents_no_update")
    op.drop_table("incidents")
