"""Drop three indexes no query reads: score.dissatisfied, audit_log.at and audit_log.action.

The audit log is read by id (the chain, newest first) and filtered by entity; nothing asks
for its records by time or by action, yet every record (one per complaint case opened, so
one for most dissatisfied mentions) was two more B-tree inserts. A yes/no column is no index
to search by: for "the newest unhappy mentions" SQLite chose it over walking the mentions by
date and then sorted every dissatisfied mention to return fifty, a cost that grows with the
store, and it cost every mention stored an insert.

Revision ID: 0011
Revises: 0010
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_score_dissatisfied", table_name="score")
    op.drop_index("ix_audit_log_at", table_name="audit_log")
    op.drop_index("ix_audit_log_action", table_name="audit_log")


def downgrade() -> None:
    op.create_index("ix_audit_log_action", "audit_log", ["action"])
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_index("ix_score_dissatisfied", "score", ["dissatisfied"])
