"""The style memory: the person's edits of drafts, as proposed and as sent, per task, so drafters
learn greetings, sign-offs and phrases per recipient and domain (docs/style.md). The person's own
text, on this host only; ``fte style forget`` removes rows.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-08
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "style_examples",
        sa.Column("task_id", sa.String(32), primary_key=True),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("recipient", sa.Text, nullable=False),
        sa.Column("domain", sa.Text, nullable=False),
        sa.Column("proposed", sa.Text, nullable=False),
        sa.Column("sent", sa.Text, nullable=True),
        sa.Column("at", sa.String(32), nullable=True),
    )
    op.create_index("ix_style_examples_recipient", "style_examples", ["recipient"])
    op.create_index("ix_style_examples_domain", "style_examples", ["domain"])


def downgrade() -> None:
    op.drop_index("ix_style_examples_domain", "style_examples")
    op.drop_index("ix_style_examples_recipient", "style_examples")
    op.drop_table("style_examples")
