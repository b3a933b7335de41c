"""The state database's schema migrations (Alembic), run in code: no alembic.ini at run time.

``upgrade(engine)`` brings a database to ``HEAD`` in ONE transaction: on PostgreSQL it first takes
``pg_advisory_xact_lock(MIGRATE_LOCK)``, so two processes starting together upgrade once (the
second waits, then finds the database at ``HEAD``); on SQLite the ``BEGIN IMMEDIATE`` transaction
does the same. A database made before Alembic by the former ``StateDB.migrate()`` (our tables, no
``alembic_version``) is adopted: the missing tables of revision 0001 are created, the missing
columns added (as the former code did), 0001 stamped, then the later revisions run.

Revisions live in ``versions/`` (``r0001_initial``: the tables of the former code; ``r0002``: the
leadership and replica tables; ``r0003``: outbox claims). A new revision is a new file there with
``down_revision`` set to the last one, and ``HEAD`` moved to it (a test checks both, and that the
revisions build exactly the tables of ``metrics.alerting.state_schema``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from metrics.alerting.state_engine import MIGRATE_LOCK, advisory_xact_lock

if TYPE_CHECKING:
    from alembic.config import Config

HEAD = "0003"
VERSION_TABLE = "alembic_version"
LOCATION = Path(__file__).resolve().parent


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic ``Config`` for the revisions of this package, bound to ``connection`` (for env.py)."""
    from alembic.config import Config  # noqa: PLC0415 - alembic is heavy; loaded only when used

    cfg = Config()
    cfg.set_main_option("script_location", str(LOCATION).replace("%", "%%"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def current_revision(conn: Connection) -> str | None:
    """The revision the database is at (None: no ``alembic_version`` table or no row).

    Read with plain SQL (Alembic's own table), so that opening an up-to-date database never loads
    Alembic."""
    if not sa.inspect(conn).has_table(VERSION_TABLE):
        return None
    value = conn.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()
    return None if value is None else str(value)


def _adopt_legacy(conn: Connection) -> None:
    """Bring a database made by the former ``migrate()`` to exactly revision 0001 (see the module)."""
    from metrics.alerting.migrations.versions import (  # noqa: PLC0415 - alembic is heavy; loaded only when used
        r0001_initial,
    )

    insp = sa.inspect(conn)
    have_tables = set(insp.get_table_names())

    def repair(name: str, *items: sa.schema.SchemaItem) -> None:
        table = sa.Table(name, sa.MetaData(), *items)
        if name not in have_tables:
            table.create(conn)
            return
        have = {c["name"] for c in insp.get_columns(name)}
        preparer = conn.dialect.identifier_preparer
        for col in table.columns:
            if col.name not in have:
                ddl = col.type.compile(dialect=conn.dialect)
                conn.exec_driver_sql(f"ALTER TABLE {preparer.quote(name)} ADD COLUMN "
                                     f"{preparer.quote(col.name)} {ddl}")

    r0001_initial.create_tables(repair)


def _is_legacy(conn: Connection) -> bool:
    names = set(sa.inspect(conn).get_table_names())
    return bool(names & {"meta", "alert_states", "notifications", "evaluations", "endpoints", "job_runs",
                         "transitions", "silences", "delivery_attempts"})


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Upgrade the database of ``engine`` to ``HEAD``; returns (revision before, revision after).

    Safe to run from several processes at once (see the module docstring). Fast when the database
    is already at ``HEAD``: one read, no Alembic script loading.
    """
    with engine.connect() as conn:
        if current_revision(conn) == HEAD:
            return HEAD, HEAD
        conn.rollback()
    with engine.connect() as raw:
        conn = raw.execution_options(sqlite_begin="IMMEDIATE")
        with conn.begin():
            advisory_xact_lock(conn, MIGRATE_LOCK)
            before = current_revision(conn)
            if before == HEAD:
                return HEAD, HEAD
            from alembic import command  # noqa: PLC0415 - alembic is heavy; loaded only when used

            cfg = alembic_config(conn)
            if before is None and _is_legacy(conn):
                _adopt_legacy(conn)
                command.stamp(cfg, "0001")
            command.upgrade(cfg, "head")
            after = current_revision(conn)
    return before, after or HEAD


__all__ = ["HEAD", "LOCATION", "alembic_config", "current_revision", "upgrade"]
