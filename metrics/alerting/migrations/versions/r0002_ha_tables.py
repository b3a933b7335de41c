"""0002: the tables of highly available daemons: ``leadership`` (one row, the leader and its epoch)
and ``replicas`` (each daemon's heartbeat)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "leadership",
        sa.Column("name", sa.String(64), primary_key=True),          # "daemon"
        sa.Column("epoch", sa.BigInteger, nullable=False),
        sa.Column("holder", sa.String(200), nullable=True),
        sa.Column("since", sa.DateTime(), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(), nullable=True),
    )
    op.create_table(
        "replicas",
        sa.Column("replica_id", sa.String(200), primary_key=True),
        sa.Column("host", sa.String(200), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("epoch", sa.BigInteger, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("replicas")
    op.drop_table("leadership")
