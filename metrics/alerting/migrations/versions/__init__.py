"""The revisions of the state database (Alembic; see ``metrics.alerting.migrations``)."""
