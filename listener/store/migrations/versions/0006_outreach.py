"""outreach: do-not-contact list, complaint cases and their mentions, send log, dispatch columns

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import listener.store.types

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_DT = listener.store.types.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "do_not_contact",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("brand", sa.String(length=200), nullable=False),
        sa.Column("author", sa.String(length=400), nullable=False),
        sa.Column("reason", sa.String(length=2000), nullable=False),
        sa.Column("mention_id", sa.Integer(), nullable=True),
        sa.Column("created_at", _DT(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("brand", "author", name="uq_do_not_contact_brand_author"),
    )
    op.create_table(
        "complaint_case",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("brand", sa.String(length=200), nullable=False),
        sa.Column("author", sa.String(length=400), nullable=False),
        sa.Column("author_email", sa.String(length=400), nullable=False),
        sa.Column("status", sa.String(length=40), nullable=False),
        sa.Column("open_slot", sa.String(length=40), nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=False),
        sa.Column("root_cause", sa.String(length=60), nullable=False),
        sa.Column("notes", sa.JSON(), nullable=True),
        sa.Column("opened_at", _DT(timezone=True), nullable=False),
        sa.Column("updated_at", _DT(timezone=True), nullable=False),
        sa.Column("first_response_at", _DT(timezone=True), nullable=True),
        sa.Column("resolved_at", _DT(timezone=True), nullable=True),
        sa.Column("sla_breach_alerted_at", _DT(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("brand", "author", "open_slot", name="uq_complaint_case_open"),
    )
    with op.batch_alter_table("complaint_case", schema=None) as batch_op:
        batch_op.create_index("ix_complaint_case_status", ["status"], unique=False)
    op.create_table(
        "case_mention",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("mention_id", sa.Integer(), nullable=False),
        sa.Column("linked_at", _DT(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["complaint_case.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["mention_id"], ["mention.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("mention_id"),
    )
    with op.batch_alter_table("case_mention", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_mention_case_id"), ["case_id"], unique=False)
    op.create_table(
        "send_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("draft_id", sa.Integer(), nullable=False),
        sa.Column("brand", sa.String(length=200), nullable=False),
        sa.Column("author", sa.String(length=400), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("at", _DT(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["draft_id"], ["draft.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("send_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_send_log_draft_id"), ["draft_id"], unique=False)
        batch_op.create_index("ix_send_log_brand_author_at", ["brand", "author", "at"])
        batch_op.create_index("ix_send_log_channel_at", ["channel", "at"])
    with op.batch_alter_table("draft", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("claimed_by", sa.String(length=200), nullable=False, server_default="")
        )
        batch_op.add_column(sa.Column("claimed_at", _DT(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("next_attempt_at", _DT(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("hold_reason", sa.String(length=2000), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("needs_check", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("draft", schema=None) as batch_op:
        batch_op.drop_column("needs_check")
        batch_op.drop_column("hold_reason")
        batch_op.drop_column("next_attempt_at")
        batch_op.drop_column("claimed_at")
        batch_op.drop_column("claimed_by")
    op.drop_table("send_log")
    op.drop_table("case_mention")
    op.drop_table("complaint_case")
    op.drop_table("do_not_contact")
