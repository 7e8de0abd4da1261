"""Crisis mode: replies held under an incident whose outreach is on hold.

`draft.held_incident_id` names the incident a `held` draft waits under; `incident.outreach_hold`
says whether the incident holds its authors' replies ("" no, "auto" by the severity rule,
"on" by a person, "released" by a person). Existing incidents start with "" and drafts with
no incident: nothing is held by the upgrade itself.

Revision ID: 0014
Revises: 0013
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("draft", schema=None) as batch_op:
        batch_op.add_column(sa.Column("held_incident_id", sa.Integer(), nullable=True))
        batch_op.create_index("ix_draft_held_incident_id", ["held_incident_id"], unique=False)
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("outreach_hold", sa.String(length=20), nullable=False, server_default="")
        )


def downgrade() -> None:
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.drop_column("outreach_hold")
    with op.batch_alter_table("draft", schema=None) as batch_op:
        batch_op.drop_index("ix_draft_held_incident_id")
        batch_op.drop_column("held_incident_id")
