"""Alembic's environment for the state database: run on the connection ``upgrade`` hands over.

Only ``metrics.alerting.migrations.upgrade`` runs it (a ``Config`` built in code, no alembic.ini):
the connection, already inside its transaction and holding the migration lock, is in
``config.attributes["connection"]``. There is no offline (SQL script) mode.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from metrics.alerting.state_schema import metadata

connection = context.config.attributes.get("connection")
if not isinstance(connection, Connection):
    raise RuntimeError("run the state database's migrations through metrics.alerting.migrations.upgrade")
context.configure(connection=connection, target_metadata=metadata,
                  render_as_batch=connection.dialect.name == "sqlite", compare_type=True)
with context.begin_transaction():
    context.run_migrations()
