"""0001: the tables of the state database as the former ``StateDB.migrate()`` made them.

``create_tables(create)`` spells every table out once; ``upgrade`` passes ``op.create_table``, and
``metrics.alerting.migrations`` passes a repair function when it adopts a database made before
Alembic (create the missing tables, add the missing columns, then stamp 0001).
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def create_tables(create: Callable[..., object]) -> None:
    """Call ``create(name, *columns_and_constraints)`` for every table of revision 0001."""
    create("meta",
           sa.Column("key", sa.String(64), primary_key=True),
           sa.Column("value", sa.String(256), nullable=False))
    create("alert_states",
           sa.Column("rule", sa.String(200), primary_key=True),
           sa.Column("entity", sa.String(200), primary_key=True),
           sa.Column("state", sa.String(16), nullable=False),
           sa.Column("active_since", sa.DateTime()),
           sa.Column("pending_evals", sa.Integer, nullable=False),
           sa.Column("fired_at", sa.DateTime()),
           sa.Column("cleared_since", sa.DateTime()),
           sa.Column("cleared_evals", sa.Integer),
           sa.Column("last_notified_at", sa.DateTime()),
           sa.Column("value", sa.Float),
           sa.Column("statement", sa.String(200)),
           sa.Column("fired_fields", sa.JSON),
           sa.Column("notified_state", sa.String(16)),
           sa.Column("notified_fired_at", sa.DateTime()),
           sa.Column("notified_at", sa.DateTime()),
           sa.Column("updated_at", sa.DateTime(), nullable=False))
    create("transitions",
           sa.Column("alert_id", sa.String(64), primary_key=True),
           sa.Column("rule", sa.String(200), nullable=False),
           sa.Column("entity", sa.String(200), nullable=False),
           sa.Column("state", sa.String(16), nullable=False),
           sa.Column("at", sa.DateTime(), nullable=False),
           sa.Column("value", sa.Float),
           sa.Column("severity", sa.String(32)),
           sa.Column("summary", sa.Text),
           sa.Column("statement", sa.String(200)),
           sa.Column("recorded", sa.Boolean, nullable=False),
           sa.Column("created_at", sa.DateTime(), nullable=False),
           sa.Index("ix_transitions_recorded", "recorded"))
    create("notifications",
           sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
           sa.Column("idempotency_key", sa.String(64), nullable=False, unique=True),
           sa.Column("rule", sa.String(200), nullable=False),
           sa.Column("entity", sa.String(200), nullable=False),
           sa.Column("state", sa.String(16), nullable=False),
           sa.Column("channel", sa.String(100), nullable=False),
           sa.Column("payload", sa.JSON, nullable=False),
           sa.Column("created_at", sa.DateTime(), nullable=False),
           sa.Column("next_attempt_at", sa.DateTime(), nullable=False),
           sa.Column("attempts", sa.Integer, nullable=False),
           sa.Column("status", sa.String(16), nullable=False),
           sa.Column("last_error", sa.Text),
           sa.Column("delivered_at", sa.DateTime()),
           sa.Index("ix_notifications_due", "status", "next_attempt_at"))
    create("delivery_attempts",
           sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
           sa.Column("notification_id", sa.Integer, nullable=False, index=True),
           sa.Column("attempt", sa.Integer, nullable=False),
           sa.Column("at", sa.DateTime(), nullable=False),
           sa.Column("outcome", sa.String(16), nullable=False),
           sa.Column("error", sa.Text))
    create("silences",
           sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
           sa.Column("rule", sa.String(200), nullable=False),
           sa.Column("entity", sa.String(200)),
           sa.Column("reason", sa.Text, nullable=False),
           sa.Column("created_at", sa.DateTime(), nullable=False),
           sa.Column("expires_at", sa.DateTime(), nullable=False))
    create("endpoints",
           sa.Column("channel", sa.String(100), primary_key=True),
           sa.Column("disabled_at", sa.DateTime()),
           sa.Column("reason", sa.Text))
    create("evaluations",
           sa.Column("at", sa.DateTime(), primary_key=True),
           sa.Column("ran_at", sa.DateTime(), nullable=False),
           sa.Column("rules", sa.Integer, nullable=False),
           sa.Column("instances", sa.Integer, nullable=False),
           sa.Column("transitions", sa.Integer, nullable=False),
           sa.Column("notifications", sa.Integer, nullable=False))
    create("job_runs",
           sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
           sa.Column("job", sa.String(100), nullable=False, index=True),
           sa.Column("started_at", sa.DateTime(), nullable=False),
           sa.Column("finished_at", sa.DateTime()),
           sa.Column("status", sa.String(16), nullable=False),
           sa.Column("summary", sa.JSON))


def upgrade() -> None:
    create_tables(op.create_table)


def downgrade() -> None:
    for name in ("job_runs", "evaluations", "endpoints", "silences", "delivery_attempts",
                 "notifications", "transitions", "alert_states", "meta"):
        op.drop_table(name)
