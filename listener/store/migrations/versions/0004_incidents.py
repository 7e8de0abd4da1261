"""incidents: incidents, their mentions and timeline, detector state, alert outbox

Revision ID: 0004
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import listener.store.types

revision: str = "0004"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_DT = listener.store.types.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "incident",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("brand", sa.String(length=200), nullable=False),
        sa.Column("type", sa.String(length=40), nullable=False),
        sa.Column("severity", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("title", sa.String(length=400), nullable=False),
        sa.Column("summary", sa.String(), nullable=False),
        sa.Column("trigger", sa.String(length=400), nullable=False),
        sa.Column("first_mention_at", _DT(timezone=True), nullable=False),
        sa.Column("opened_at", _DT(timezone=True), nullable=False),
        sa.Column("last_mention_at", _DT(timezone=True), nullable=False),
        sa.Column("updated_at", _DT(timezone=True), nullable=False),
        sa.Column("resolved_at", _DT(timezone=True), nullable=True),
        sa.Column("mention_count", sa.Integer(), nullable=False),
        sa.Column("max_followers", sa.Integer(), nullable=False),
        sa.Column("total_reach", sa.BigInteger(), nullable=False),
        sa.Column("top_authors", sa.JSON(), nullable=True),
        sa.Column("profile", sa.JSON(), nullable=True),
        sa.Column("merged_into", sa.Integer(), nullable=True),
        sa.Column("acknowledged_by", sa.String(length=200), nullable=False),
        sa.Column("acknowledged_at", _DT(timezone=True), nullable=True),
        sa.Column("closed_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.create_index("ix_incident_brand_status", ["brand", "status"], unique=False)
        batch_op.create_index(batch_op.f("ix_incident_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_incident_opened_at"), ["opened_at"], unique=False)
    op.create_table(
        "incident_mention",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("mention_id", sa.Integer(), nullable=False),
        sa.Column("joined_at", _DT(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["incident_id"], ["incident.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["mention_id"], ["mention.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("mention_id"),
    )
    with op.batch_alter_table("incident_mention", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_incident_mention_incident_id"), ["incident_id"], unique=False
        )
    op.create_table(
        "incident_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("at", _DT(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(["incident_id"], ["incident.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("incident_event", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_incident_event_incident_id"), ["incident_id"], unique=False
        )
    op.create_table(
        "detector_state",
        sa.Column("brand", sa.String(length=200), nullable=False),
        sa.Column("state", sa.JSON(), nullable=True),
        sa.Column("updated_at", _DT(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("brand"),
    )
    op.create_table(
        "alert",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=60), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=True),
        sa.Column("brand", sa.String(length=200), nullable=False),
        sa.Column("severity", sa.String(length=20), nullable=False),
        sa.Column("title", sa.String(length=400), nullable=False),
        sa.Column("body", sa.JSON(), nullable=True),
        sa.Column("dedupe_key", sa.String(length=400), nullable=False),
        sa.Column("created_at", _DT(timezone=True), nullable=False),
        sa.Column("routed_at", _DT(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dedupe_key"),
    )
    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alert_incident_id"), ["incident_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_alert_routed_at"), ["routed_at"], unique=False)
    op.create_table(
        "alert_delivery",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("cooldown_key", sa.String(length=400), nullable=False),
        sa.Column("created_at", _DT(timezone=True), nullable=False),
        sa.Column("next_attempt_at", _DT(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("claimed_by", sa.String(length=200), nullable=False),
        sa.Column("claimed_at", _DT(timezone=True), nullable=True),
        sa.Column("sent_at", _DT(timezone=True), nullable=True),
        sa.Column("hold_reason", sa.String(length=400), nullable=False),
        sa.Column("last_error", sa.String(length=2000), nullable=False),
        sa.ForeignKeyConstraint(["alert_id"], ["alert.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("alert_id", "channel", name="uq_alert_delivery_alert_channel"),
    )
    with op.batch_alter_table("alert_delivery", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alert_delivery_alert_id"), ["alert_id"], unique=False)
        batch_op.create_index(
            "ix_alert_delivery_status_next", ["status", "next_attempt_at"], unique=False
        )


def downgrade() -> None:
    op.drop_table("alert_delivery")
    op.drop_table("alert")
    op.drop_table("detector_state")
    op.drop_table("incident_event")
    op.drop_table("incident_mention")
    op.drop_table("incident")
