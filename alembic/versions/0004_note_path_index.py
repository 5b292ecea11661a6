"""An index on tasks.note_path: finding a note's task by path is one lookup, not a scan.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_tasks_note_path", "tasks", ["note_path"])


def downgrade() -> None:
    op.drop_index("ix_tasks_note_path", "tasks")
