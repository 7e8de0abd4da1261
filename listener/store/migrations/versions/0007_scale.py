"""scale: indexes for source leases and for recent-mention counts on a large store

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain CREATE INDEX on both databases (no batch table copy of a large mention table).
    # Instances look for due sources by lease expiry on every claim.
    op.create_index("ix_source_lease_expires_at", "source", ["lease_expires_at"])
    # Source health counts mentions of the last 24 h; without this it scans the whole table.
    op.create_index("ix_mention_source_fetched_at", "mention", ["source", "fetched_at"])


def downgrade() -> None:
    op.drop_index("ix_mention_source_fetched_at", table_name="mention")
    op.drop_index("ix_source_lease_expires_at", table_name="source")
