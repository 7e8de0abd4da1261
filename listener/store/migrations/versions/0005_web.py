"""web: review desk users, the generated session secret, indexes for the desk's pages.

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import listener.store.types

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "web_user",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("password_hash", sa.String(length=400), nullable=False),
        sa.Column("api_token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", listener.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    with op.batch_alter_table("web_user", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_web_user_api_token_hash"), ["api_token_hash"], unique=False
        )
    op.create_table(
        "web_secret",
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.Column("created_at", listener.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    # Plain CREATE INDEX (no batch table copy): the mention table may already be large.
    op.create_index("ix_mention_published_at", "mention", ["published_at"])
    op.create_index("ix_draft_status_brand_priority", "draft", ["status", "brand", "priority"])


def downgrade() -> None:
    op.drop_index("ix_draft_status_brand_priority", table_name="draft")
    op.drop_index("ix_mention_published_at", table_name="mention")
    op.drop_table("web_secret")
    with op.batch_alter_table("web_user", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_web_user_api_token_hash"))
    op.drop_table("web_user")
