"""0003: outbox claims: a delivering worker leases a notification (``claimed_by`` until ``claim_until``)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.add_column("notifications", sa.Column("claimed_by", sa.String(200), nullable=True))
    op.add_column("notifications", sa.Column("claim_until", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("notifications") as batch:
        batch.drop_column("claim_until")
        batch.drop_column("claimed_by")
