"""The audit log's hash column is no longer a unique index.

Nothing looks a record up by its hash, and the uniqueness never guarded the chain: two
writers appending different records after the same one make different hashes, so only the
write lock (SQLite BEGIN IMMEDIATE, a PostgreSQL advisory lock) keeps the chain straight and
`verify` proves it. What the index did cost: every audit record is a random insert into a
B-tree of 64-character hex keys, a fresh page written for most of them once the log is
large, and complaint cases write an audit record per dissatisfied mention.

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Migration 0001 left the constraint unnamed: PostgreSQL named it audit_log_hash_key; on
# SQLite it has no name, so batch mode names the reflected one with this convention.
_NAMING = {"uq": "uq_%(table_name)s_%(column_0_name)s"}


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint("audit_log_hash_key", "audit_log", type_="unique")
        return
    with op.batch_alter_table("audit_log", naming_convention=_NAMING) as batch:
        batch.drop_constraint("uq_audit_log_hash", type_="unique")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.create_unique_constraint("audit_log_hash_key", "audit_log", ["hash"])
        return
    with op.batch_alter_table("audit_log", naming_convention=_NAMING) as batch:
        batch.create_unique_constraint("uq_audit_log_hash", ["hash"])
