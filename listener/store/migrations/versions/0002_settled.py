"""mention.settled: whether every after-store step has run for a mention.

A crash between storing a batch and running its after-store steps (opt-outs, cases,
incidents) leaves mentions unsettled; the service re-runs the steps for them, so an opt-out is
never lost. Rows that exist before this migration count as settled.

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("mention") as batch:
        batch.add_column(
            sa.Column("settled", sa.Boolean(), nullable=False, server_default=sa.true())
        )
        batch.create_index("ix_mention_unsettled", ["settled", "fetched_at"])


def downgrade() -> None:
    with op.batch_alter_table("mention") as batch:
        batch.drop_index("ix_mention_unsettled")
        batch.drop_column("settled")
