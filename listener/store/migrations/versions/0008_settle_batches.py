"""Unsettled batches instead of a settled flag on every mention.

Marking each mention settled rewrote every row of a batch a second time (on PostgreSQL a new
row version with an entry in each of the mention table's nine indexes); a
batch row written with the batch and deleted once its after-store steps have run costs one
insert and one delete per batch. Mentions left unsettled before this migration become
batches of their own, so the service still finishes their steps.

Revision ID: 0008
Revises: 0007
"""

import json
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BATCH = 2000


def upgrade() -> None:
    batches = op.create_table(
        "unsettled_batch",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("stored_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("mention_ids", sa.JSON(), nullable=False),
    )
    op.create_index("ix_unsettled_batch_stored_at", "unsettled_batch", ["stored_at"])
    conn = op.get_bind()
    query = sa.text("SELECT id FROM mention WHERE NOT settled ORDER BY id")
    ids = [int(r.id) for r in conn.execute(query)]
    now = datetime.now(UTC)  # settled by the service's next pass after its grace period
    for start in range(0, len(ids), _BATCH):
        conn.execute(
            batches.insert().values(stored_at=now, mention_ids=ids[start : start + _BATCH])
        )
    op.drop_index("ix_mention_unsettled", table_name="mention")
    if conn.dialect.name == "sqlite" and sqlite3.sqlite_version_info >= (3, 35):
        # Native DROP COLUMN: no copy of what may be a very large table.
        op.execute("ALTER TABLE mention DROP COLUMN settled")
    else:
        with op.batch_alter_table("mention") as batch:
            batch.drop_column("settled")


def downgrade() -> None:
    with op.batch_alter_table("mention") as batch:
        batch.add_column(
            sa.Column("settled", sa.Boolean(), nullable=False, server_default=sa.true())
        )
    conn = op.get_bind()
    for (ids,) in conn.execute(sa.text("SELECT mention_ids FROM unsettled_batch")).all():
        wanted = json.loads(ids) if isinstance(ids, str) else ids
        conn.execute(
            sa.text("UPDATE mention SET settled = :f WHERE id IN :ids").bindparams(
                sa.bindparam("ids", expanding=True)
            ),
            {"f": False, "ids": list(wanted)},
        )
    op.create_index("ix_mention_unsettled", "mention", ["settled", "fetched_at"])
    op.drop_index("ix_unsettled_batch_stored_at", table_name="unsettled_batch")
    op.drop_table("unsettled_batch")
