"""crisis mode: holding statements (one per incident and channel), crisis replies in drafts

`statement` holds an incident's holding statements; the unique (incident_id, channel,
live_slot) keeps one that is not cancelled per channel. `draft.kind` tells routine replies
from crisis replies and `draft.first_approved_by` records a crisis reply's first approver.
A mention may now have a crisis reply beside its routine one: the unique key of `draft` moves
from `mention_id` to (`mention_id`, `kind`).

Revision ID: 0015
Revises: 0014
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import listener.store.types

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_DT = listener.store.types.UTCDateTime
# SQLite keeps the old unique key unnamed: batch mode names it by this convention to drop it.
_NAMING = {"uq": "uq_%(table_name)s_%(column_0_name)s"}


def upgrade() -> None:
    op.create_table(
        "statement",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("brand", sa.String(length=200), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("live_slot", sa.String(length=40), nullable=False),
        sa.Column("template", sa.String(length=200), nullable=False),
        sa.Column("text", sa.String(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("recipients", sa.JSON(), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("edited_by", sa.String(length=200), nullable=False),
        sa.Column("first_approved_by", sa.String(length=200), nullable=False),
        sa.Column("approved_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", _DT(timezone=True), nullable=False),
        sa.Column("updated_at", _DT(timezone=True), nullable=False),
        sa.Column("claimed_by", sa.String(length=200), nullable=False),
        sa.Column("claimed_at", _DT(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", _DT(timezone=True), nullable=True),
        sa.Column("hold_reason", sa.String(length=2000), nullable=False),
        sa.Column("posted_at", _DT(timezone=True), nullable=True),
        sa.Column("platform_id", sa.String(length=400), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("error", sa.String(length=4000), nullable=False),
        sa.Column("needs_check", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["incident_id"], ["incident.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("incident_id", "channel", "live_slot", name="uq_statement_channel"),
    )
    with op.batch_alter_table("statement", schema=None) as batch_op:
        batch_op.create_index("ix_statement_status", ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_statement_incident_id"), ["incident_id"], unique=False)

    with op.batch_alter_table("draft", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kind", sa.String(length=20), nullable=False, server_default="routine")
        )
        batch_op.add_column(
            sa.Column("first_approved_by", sa.String(length=200), nullable=False, server_default="")
        )
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint("draft_mention_id_key", "draft", type_="unique")
        op.create_unique_constraint("uq_draft_mention_kind", "draft", ["mention_id", "kind"])
    else:
        with op.batch_alter_table("draft", naming_convention=_NAMING) as batch_op:
            batch_op.drop_constraint("uq_draft_mention_id", type_="unique")
            batch_op.create_unique_constraint("uq_draft_mention_kind", ["mention_id", "kind"])


def downgrade() -> None:
    op.execute("DELETE FROM draft WHERE kind <> 'routine'")
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint("uq_draft_mention_kind", "draft", type_="unique")
        op.create_unique_constraint("draft_mention_id_key", "draft", ["mention_id"])
    else:
        with op.batch_alter_table("draft", schema=None) as batch_op:
            batch_op.drop_constraint("uq_draft_mention_kind", type_="unique")
            batch_op.create_unique_constraint("uq_draft_mention_id", ["mention_id"])
    with op.batch_alter_table("draft", schema=None) as batch_op:
        batch_op.drop_column("first_approved_by")
        batch_op.drop_column("kind")
    with op.batch_alter_table("statement", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_statement_incident_id"))
        batch_op.drop_index("ix_statement_status")
    op.drop_table("statement")
