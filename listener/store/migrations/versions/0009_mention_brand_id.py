"""Index mentions by (brand, id); drop the unused author index.

Incident detection asks, for every stored batch, which of a brand's mentions lie between the
last one it saw and the batch (`missed_mentions`: another instance may have stored some).
With only (brand, published_at) to go on, SQLite walked every mention of the brand and
sorted them, so each batch cost more as the store grew; (brand, id) answers it with one
short range. No query looks mentions up
by exact author (opt-outs compare lower(author), the desk searches with LIKE), so the author
index was only a random insert into a large B-tree for every mention stored.

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_mention_brand_id", "mention", ["brand", "id"])
    op.drop_index("ix_mention_author", table_name="mention")


def downgrade() -> None:
    op.create_index("ix_mention_author", "mention", ["author"])
    op.drop_index("ix_mention_brand_id", table_name="mention")
