"""The state database's engine and its dialect-aware SQL helpers (SQLite and PostgreSQL).

Owns ``make_engine`` (SQLite: WAL journal, busy timeout, explicit ``BEGIN [IMMEDIATE]``), the
idempotent writes ``insert_ignore`` and ``upsert`` (INSERT ... ON CONFLICT), ``evaluated_to``, the
PostgreSQL transaction-level advisory locks (``advisory_xact_lock``: the keys below; a no-op on
SQLite, whose ``BEGIN IMMEDIATE`` already serializes writers) and ``safe_url`` (a URL with its
password masked, for every message and log). Callers use them inside a ``StateDB`` transaction
(``metrics.alerting.state``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Engine

from metrics.alerting.state_schema import evaluations
from metrics.errors import StoreError

# PostgreSQL advisory lock keys (bigint), one per thing that must run once at a time.
MIGRATE_LOCK = 0x6D65_7472_6963_0001   # schema upgrades (metrics.alerting.migrations)
TICK_LOCK = 0x6D65_7472_6963_0002      # evaluation ticks (StateDB.apply_tick)


def safe_url(url: str | sa.engine.URL) -> str:
    """``url`` as text with its password masked (``***``): the only form a message or log may show."""
    try:
        u = sa.engine.make_url(url) if isinstance(url, str) else url
    except (sa.exc.ArgumentError, ValueError):
        return "<unparsable database URL>"
    return u.render_as_string(hide_password=True)


def advisory_xact_lock(conn: Connection, key: int) -> None:
    """Wait for PostgreSQL's transaction-level advisory lock ``key`` (held until commit or rollback);
    nothing on SQLite, where the write transaction (``BEGIN IMMEDIATE``) already excludes others."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def _sqlite_pragmas(dbapi_conn: Any, busy_timeout_ms: int) -> None:
    dbapi_conn.isolation_level = None           # we issue BEGIN ourselves (see _begin)
    cur = dbapi_conn.cursor()
    try:
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
    finally:
        cur.close()


def make_engine(url: str, *, busy_timeout_ms: int = 30_000) -> Engine:
    """An engine for ``url``; SQLite gets WAL, a busy timeout and explicit BEGIN [IMMEDIATE]."""
    u = sa.engine.make_url(url)
    if u.get_backend_name() != "sqlite":
        return sa.create_engine(url, pool_pre_ping=True)
    if u.database and u.database != ":memory:":
        Path(u.database).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, connect_args={"timeout": busy_timeout_ms / 1000})

    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        _sqlite_pragmas(dbapi_conn, busy_timeout_ms)

    @sa.event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


def _dialect_insert(conn: Connection, table: sa.Table) -> Any:
    """The dialect's INSERT construct, which knows ON CONFLICT (SQLite and PostgreSQL)."""
    name = conn.dialect.name
    if name == "sqlite":
        return sqlite_insert(table)
    if name == "postgresql":
        from sqlalchemy.dialects.postgresql import (  # noqa: PLC0415 - the PostgreSQL dialect is heavy; loaded only when used
            insert as pg_insert,
        )

        return pg_insert(table)
    raise StoreError(f"unsupported database dialect {name!r}")  # pragma: no cover


def insert_ignore(conn: Connection, table: sa.Table, rows: Sequence[Mapping[str, Any]],
                  key: str) -> list[Mapping[str, Any]]:
    """INSERT ... ON CONFLICT (``key``, a unique column) DO NOTHING; returns the rows that were new.

    Call it inside a write transaction (``StateDB.write``): the rows already present are read
    first, so the answer is exact without relying on a driver's executemany rowcount.
    """
    if not rows:
        return []
    col = table.c[key]
    keys = [r[key] for r in rows]
    present: set[Any] = set()
    for i in range(0, len(keys), 500):
        present.update(conn.execute(sa.select(col).where(col.in_(keys[i:i + 500]))).scalars())
    new: list[Mapping[str, Any]] = []
    for k, row in zip(keys, rows, strict=True):
        if k not in present:
            present.add(k)
            new.append(row)
    if new:
        stmt = _dialect_insert(conn, table).on_conflict_do_nothing(index_elements=[key])
        conn.execute(stmt, list(new))
    return new


def upsert(conn: Connection, table: sa.Table, rows: Sequence[Mapping[str, Any]],
           index: Sequence[str]) -> None:
    """INSERT ... ON CONFLICT (``index``) DO UPDATE every other column."""
    if not rows:
        return
    stmt = _dialect_insert(conn, table)
    cols = {c.name: stmt.excluded[c.name] for c in table.columns if c.name not in index}
    conn.execute(stmt.on_conflict_do_update(index_elements=list(index), set_=cols), list(rows))


def evaluated_to(conn: Connection) -> dt.datetime | None:
    """The latest evaluation time of the rule set, read in ``conn``'s transaction (None before any)."""
    value: dt.datetime | None = conn.execute(sa.select(sa.func.max(evaluations.c.at))).scalar()
    return value
