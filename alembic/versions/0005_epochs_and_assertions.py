"""Presentation epochs and signed assertions on tasks (docs/protocol.md).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN (SQLite has it): no table rebuild, the views over tasks stay valid.
    op.add_column("tasks", sa.Column("epoch", sa.Integer, nullable=False, server_default="0"))
    op.add_column("tasks", sa.Column("assertion", sa.JSON, nullable=True))


def downgrade() -> None:
    # Plain DROP COLUMN (SQLite 3.35+), for the same reason.
    op.execute("ALTER TABLE tasks DROP COLUMN assertion")
    op.execute("ALTER TABLE tasks DROP COLUMN epoch")
