"""Sessions that end on sign-out, and the audit chain's head kept beside it.

`web_user.session_epoch` is written into every session cookie and checked on every request;
signing out moves it on, so a copied cookie stops working (a signed cookie alone cannot be
taken back). `audit_head` records how many audit records there are and the last one's id and
hash, written in the same transaction as each append, so deleting the newest records is seen
by `audit verify`. The head starts from the chain as it is when this migration runs.

Revision ID: 0013
Revises: 0011
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("web_user", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("session_epoch", sa.Integer(), nullable=False, server_default="0")
        )
    op.create_table(
        "audit_head",
        sa.Column("name", sa.String(length=20), nullable=False),
        sa.Column("records", sa.Integer(), nullable=False),
        sa.Column("last_id", sa.Integer(), nullable=False),
        sa.Column("last_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.execute(
        "INSERT INTO audit_head (name, records, last_id, last_hash) "
        "SELECT 'chain', (SELECT COUNT(*) FROM audit_log), id, hash FROM audit_log "
        "WHERE id = (SELECT MAX(id) FROM audit_log)"
    )


def downgrade() -> None:
    op.drop_table("audit_head")
    with op.batch_alter_table("web_user", schema=None) as batch_op:
        batch_op.drop_column("session_epoch")
