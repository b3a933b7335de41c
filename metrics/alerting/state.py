"""The state database: alert states, the notification outbox, silences, job runs, evaluations.

SQLAlchemy 2 Core, so ``settings.database_url`` may name SQLite (default, ``<root>/state.db``,
WAL journal with a busy timeout) or PostgreSQL. Every datetime is stored as UTC and read back
tz-aware. Tables are created, and missing nullable columns added, when the database is opened
(``open_db``), so an older file keeps working after an upgrade.

Tables::

    alert_states   one row per (rule, entity): the state machine's memory
    transitions    every state change, with ``recorded`` once appended to the ``alerts`` dataset
    notifications  the outbox: one row per (notification, channel), UNIQUE idempotency_key
    delivery_attempts  one row per send attempt (outcome, error), for audit
    silences       rule (+ entity) muted until ``expires_at``, with a reason
    endpoints      channels disabled after a 410 Gone
    evaluations    the evaluation times of the rule set (the daemon replays from the last one)
    job_runs       each job's runs (status, summary)

This module is the only writer of these tables: a tick's writes go through ``apply_tick``, a
delivery attempt's through ``record_attempt``, silences, endpoints and job runs through their
methods.

Write transactions on SQLite start with ``BEGIN IMMEDIATE`` so two processes never deadlock on a
lock upgrade; the busy timeout makes the second wait instead of failing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from metrics.alerting.lifecycle import AlertState
from metrics.errors import StoreError
from metrics.store.tables import Store

SCHEMA_VERSION = 1
NOTIFICATION_STATUSES = ("queued", "delivered", "dead", "disabled", "silenced")


class UTCDateTime(sa.types.TypeDecorator[dt.datetime]):
    """A timestamp stored as naive UTC and read back tz-aware (SQLite keeps no zone)."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: sa.Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: the state database stores UTC only")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(self, value: dt.datetime | None, dialect: sa.Dialect) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


TS = UTCDateTime()
metadata = sa.MetaData()

meta = sa.Table(
    "meta", metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.String(256), nullable=False),
)

alert_states = sa.Table(
    "alert_states", metadata,
    sa.Column("rule", sa.String(200), primary_key=True),
    sa.Column("entity", sa.String(200), primary_key=True),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("active_since", TS),
    sa.Column("pending_evals", sa.Integer, nullable=False, default=0),
    sa.Column("fired_at", TS),
    sa.Column("cleared_since", TS),
    sa.Column("cleared_evals", sa.Integer, default=0),      # null in files from before it
    sa.Column("last_notified_at", TS),
    sa.Column("value", sa.Float),
    sa.Column("statement", sa.String(200)),
    sa.Column("fired_fields", sa.JSON),                     # template values when it fired
    sa.Column("notified_state", sa.String(16)),             # last told: none | firing | resolved
    sa.Column("notified_fired_at", TS),
    sa.Column("notified_at", TS),
    sa.Column("updated_at", TS, nullable=False),
)

transitions = sa.Table(
    "transitions", metadata,
    sa.Column("alert_id", sa.String(64), primary_key=True),
    sa.Column("rule", sa.String(200), nullable=False),
    sa.Column("entity", sa.String(200), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("at", TS, nullable=False),
    sa.Column("value", sa.Float),
    sa.Column("severity", sa.String(32)),
    sa.Column("summary", sa.Text),
    sa.Column("statement", sa.String(200)),
    sa.Column("recorded", sa.Boolean, nullable=False, default=False),
    sa.Column("created_at", TS, nullable=False),
    sa.Index("ix_transitions_recorded", "recorded"),
)

notifications = sa.Table(
    "notifications", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("idempotency_key", sa.String(64), nullable=False, unique=True),
    sa.Column("rule", sa.String(200), nullable=False),
    sa.Column("entity", sa.String(200), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("channel", sa.String(100), nullable=False),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("next_attempt_at", TS, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("status", sa.String(16), nullable=False, default="queued"),
    sa.Column("last_error", sa.Text),
    sa.Column("delivered_at", TS),
    sa.Index("ix_notifications_due", "status", "next_attempt_at"),
)

delivery_attempts = sa.Table(
    "delivery_attempts", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("notification_id", sa.Integer, nullable=False, index=True),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("at", TS, nullable=False),
    sa.Column("outcome", sa.String(16), nullable=False),   # delivered | retry | dead | disabled
    sa.Column("error", sa.Text),
)

silences = sa.Table(
    "silences", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("rule", sa.String(200), nullable=False),
    sa.Column("entity", sa.String(200)),                    # null: every entity of the rule
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("expires_at", TS, nullable=False),
)

endpoints = sa.Table(
    "endpoints", metadata,
    sa.Column("channel", sa.String(100), primary_key=True),
    sa.Column("disabled_at", TS),
    sa.Column("reason", sa.Text),
)

evaluations = sa.Table(
    "evaluations", metadata,
    sa.Column("at", TS, primary_key=True),                  # the evaluation time of the rule set
    sa.Column("ran_at", TS, nullable=False),                # wall time of the run
    sa.Column("rules", sa.Integer, nullable=False),
    sa.Column("instances", sa.Integer, nullable=False),
    sa.Column("transitions", sa.Integer, nullable=False),
    sa.Column("notifications", sa.Integer, nullable=False),
)

job_runs = sa.Table(
    "job_runs", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("job", sa.String(100), nullable=False, index=True),
    sa.Column("started_at", TS, nullable=False),
    sa.Column("finished_at", TS),
    sa.Column("status", sa.String(16), nullable=False),     # running | ok | failed
    sa.Column("summary", sa.JSON),
)

ALERT_STATE_FIELDS = ("rule", "entity", "state", "active_since", "pending_evals", "fired_at",
                      "cleared_since", "cleared_evals", "last_notified_at", "value", "statement",
                      "fired_fields", "notified_state", "notified_fired_at", "notified_at")


def to_state(row: Mapping[str, Any]) -> AlertState:
    """The ``AlertState`` of an ``alert_states`` row (a row from before the notified_* columns, where
    ``notified_state`` is null, counts a firing alert as notified)."""
    fields: dict[str, Any] = {f: row.get(f) for f in ALERT_STATE_FIELDS}
    fields["cleared_evals"] = fields["cleared_evals"] or 0
    fields["pending_evals"] = fields["pending_evals"] or 0
    if fields["notified_state"] is None and fields["state"] == "firing":
        fields["notified_state"], fields["notified_fired_at"] = "firing", fields["fired_at"]
    return AlertState(**fields)


def state_row(s: AlertState, *, now: dt.datetime) -> dict[str, Any]:
    """The ``alert_states`` row of ``s``, updated at ``now``."""
    row = {f: getattr(s, f) for f in ALERT_STATE_FIELDS}
    v = row["value"]
    row["value"] = None if isinstance(v, float) and not math.isfinite(v) else v
    row["updated_at"] = now
    return row


@dataclass
class TickWrites:
    """What one evaluation tick writes, in one transaction (``StateDB.apply_tick``)."""

    states: list[AlertState] = field(default_factory=list)        # changed instances
    transitions: list[dict[str, Any]] = field(default_factory=list)
    notifications: list[dict[str, Any]] = field(default_factory=list)
    evaluation: dict[str, Any] = field(default_factory=dict)       # the ``evaluations`` row


@dataclass(frozen=True, slots=True)
class Silence:
    """A rule (and optionally one entity) muted until ``expires_at``."""

    id: int
    rule: str
    entity: str | None
    reason: str
    created_at: dt.datetime
    expires_at: dt.datetime

    def matches(self, rule: str, entity: str, *, now: dt.datetime) -> bool:
        """True when this silence covers ``(rule, entity)`` at ``now``."""
        return (self.rule == rule and (self.entity is None or self.entity == entity)
                and self.created_at <= now < self.expires_at)


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
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table)
    if name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

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


class StateDB:
    """The state database behind ``url``; see the module docstring. Open with ``open_db``."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- plumbing ---------------------------------------------------------------------------

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """One write transaction (``BEGIN IMMEDIATE`` on SQLite); commits on success."""
        try:
            with self.engine.connect() as raw:
                conn = raw.execution_options(sqlite_begin="IMMEDIATE")
                with conn.begin():
                    yield conn
        except SQLAlchemyError as e:
            raise StoreError(f"state database {self.engine.url!r}: {e}") from e

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only snapshot transaction."""
        try:
            with self.engine.connect() as conn, conn.begin():
                yield conn
        except SQLAlchemyError as e:
            raise StoreError(f"state database {self.engine.url!r}: {e}") from e

    def migrate(self) -> None:
        """Create missing tables, add missing nullable columns, record the schema version."""
        try:
            metadata.create_all(self.engine)
            insp = sa.inspect(self.engine)
            with self.write() as conn:
                for table in metadata.sorted_tables:
                    have = {c["name"] for c in insp.get_columns(table.name)}
                    for col in table.columns:
                        if col.name not in have:
                            ddl = col.type.compile(dialect=self.engine.dialect)
                            conn.exec_driver_sql(f'ALTER TABLE {table.name} ADD COLUMN "{col.name}" {ddl}')
                upsert(conn, meta, [{"key": "schema_version", "value": str(SCHEMA_VERSION)}], ["key"])
        except SQLAlchemyError as e:
            raise StoreError(f"state database {self.engine.url!r}: cannot migrate: {e}") from e

    def close(self) -> None:
        self.engine.dispose()

    # -- alert states -------------------------------------------------------------------------

    def states(self, *, state: str | None = None) -> list[dict[str, Any]]:
        """Every stored alert instance (optionally one state), ordered by rule and entity."""
        q = sa.select(alert_states).order_by(alert_states.c.rule, alert_states.c.entity)
        if state is not None:
            q = q.where(alert_states.c.state == state)
        with self.read() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]

    # -- ticks ----------------------------------------------------------------------------------

    def apply_tick(self, at: dt.datetime, rules: Sequence[str],
                   plan: Callable[[dict[tuple[str, str], AlertState]], TickWrites],
                   *, now: dt.datetime) -> list[Mapping[str, Any]] | None:
        """One tick at ``at`` in ONE write transaction; None (nothing written) when ``at`` is not after
        the last evaluation.

        ``plan`` gets the prior states of ``rules`` (by (rule, entity)) and returns what to write:
        changed states, transitions (ignored when their ``alert_id`` is present), notifications
        (ignored when their idempotency key is present) and the evaluation row. Returns the
        notifications that were new.
        """
        with self.write() as conn:
            last = evaluated_to(conn)
            if last is not None and at <= last:
                return None
            q = sa.select(*(alert_states.c[f] for f in ALERT_STATE_FIELDS))
            names = set(rules)
            if len(names) <= 500:
                q = q.where(alert_states.c.rule.in_(sorted(names)))
            prior = {(r.rule, r.entity): to_state(dict(r._mapping))
                     for r in conn.execute(q) if r.rule in names}
            writes = plan(prior)
            upsert(conn, alert_states, [state_row(st, now=now) for st in writes.states], ["rule", "entity"])
            insert_ignore(conn, transitions, writes.transitions, "alert_id")
            new = insert_ignore(conn, notifications, writes.notifications, "idempotency_key")
            upsert(conn, evaluations, [{"at": at, "ran_at": now, **writes.evaluation}], ["at"])
        return new

    def unrecorded_transitions(self) -> list[dict[str, Any]]:
        """Transitions not yet appended to the ``alerts`` dataset, oldest first."""
        cols = [transitions.c[c] for c in ("alert_id", "rule", "entity", "state", "at", "value",
                                           "severity", "summary", "statement")]
        with self.read() as conn:
            return [dict(r._mapping) for r in conn.execute(
                sa.select(*cols).where(transitions.c.recorded.is_(False)).order_by(transitions.c.at))]

    def mark_recorded(self, alert_ids: Sequence[str]) -> None:
        """Mark transitions as appended to the ``alerts`` dataset."""
        with self.write() as conn:
            for i in range(0, len(alert_ids), 500):
                conn.execute(transitions.update().where(transitions.c.alert_id.in_(alert_ids[i:i + 500]))
                             .values(recorded=True))

    # -- delivery -------------------------------------------------------------------------------

    def record_attempt(self, row: Mapping[str, Any], *, now: dt.datetime, status: str, attempts: int,
                       error: str | None, next_at: dt.datetime | None = None,
                       disable_channel: bool = False) -> None:
        """The outcome of one delivery attempt of notification ``row``: its new status (``queued`` for
        a retry at ``next_at``, delivered, dead, disabled) and an audit row; ``disable_channel``
        disables its channel (410 Gone) in the same transaction."""
        values: dict[str, Any] = {"status": status, "attempts": attempts, "last_error": error}
        if status == "delivered":
            values["delivered_at"] = now
        if next_at is not None:
            values["next_attempt_at"] = next_at
        with self.write() as conn:
            conn.execute(notifications.update()
                         .where(notifications.c.id == row["id"], notifications.c.status == "queued")
                         .values(**values))
            outcome = "retry" if status == "queued" else status
            conn.execute(delivery_attempts.insert().values(
                notification_id=row["id"], attempt=attempts, at=now, outcome=outcome, error=error))
            if disable_channel:
                upsert(conn, endpoints, [{"channel": row["channel"], "disabled_at": now, "reason": error}],
                       ["channel"])

    def requeue_dead(self, *, now: dt.datetime, channel: str | None = None) -> int:
        """Queue dead and disabled notifications (of one channel, or all) again; re-enable the endpoint(s)."""
        q = (notifications.update()
             .where(notifications.c.status.in_(["dead", "disabled"]))
             .values(status="queued", next_attempt_at=now, attempts=0))
        enable = endpoints.delete()
        if channel is not None:
            q = q.where(notifications.c.channel == channel)
            enable = enable.where(endpoints.c.channel == channel)
        with self.write() as conn:
            n = conn.execute(q).rowcount or 0
            conn.execute(enable)
        return int(n)

    def due_notifications(self, *, now: dt.datetime, limit: int) -> list[dict[str, Any]]:
        """Queued notifications whose next attempt has come, oldest first."""
        q = (sa.select(notifications)
             .where(notifications.c.status == "queued", notifications.c.next_attempt_at <= now)
             .order_by(notifications.c.next_attempt_at, notifications.c.id)
             .limit(limit))
        with self.read() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]

    # -- silences -----------------------------------------------------------------------------

    def add_silence(self, rule: str, entity: str | None, reason: str, *, now: dt.datetime,
                    expires_at: dt.datetime) -> Silence:
        """Mute ``rule`` (one entity, or all when ``entity`` is None) from ``now`` to ``expires_at``."""
        if expires_at <= now:
            raise ValueError("a silence must expire after it starts")
        with self.write() as conn:
            res = conn.execute(silences.insert().values(
                rule=rule, entity=entity, reason=reason, created_at=now, expires_at=expires_at))
            pk = res.inserted_primary_key
            assert pk is not None
            sid = int(pk[0])
        return Silence(sid, rule, entity, reason, now, expires_at)

    def silences(self, *, now: dt.datetime | None = None) -> list[Silence]:
        """Every silence, or only those active at ``now`` when given."""
        q = sa.select(silences).order_by(silences.c.id)
        if now is not None:
            q = q.where(silences.c.created_at <= now, silences.c.expires_at > now)
        with self.read() as conn:
            return [Silence(**dict(r._mapping)) for r in conn.execute(q)]

    def expire_silence(self, silence_id: int, *, now: dt.datetime) -> bool:
        """End silence ``silence_id`` at ``now``; False when it does not exist or already ended."""
        with self.write() as conn:
            res = conn.execute(silences.update()
                               .where(silences.c.id == silence_id, silences.c.expires_at > now)
                               .values(expires_at=now))
            return bool(res.rowcount)

    # -- endpoints ----------------------------------------------------------------------------

    def disable_endpoint(self, channel: str, reason: str, *, now: dt.datetime) -> None:
        """Disable ``channel`` (after a 410 Gone): its queued notifications are no longer sent."""
        row = {"channel": channel, "disabled_at": now, "reason": reason}
        with self.write() as c:
            upsert(c, endpoints, [row], ["channel"])

    def enable_endpoint(self, channel: str) -> bool:
        """Re-enable ``channel``; False when it was not disabled."""
        with self.write() as conn:
            return bool(conn.execute(endpoints.delete().where(endpoints.c.channel == channel)).rowcount)

    def disabled_endpoints(self) -> dict[str, dict[str, Any]]:
        """Disabled channels: name -> {disabled_at, reason}."""
        with self.read() as conn:
            return {r.channel: {"disabled_at": r.disabled_at, "reason": r.reason}
                    for r in conn.execute(sa.select(endpoints).where(endpoints.c.disabled_at.is_not(None)))}

    # -- evaluations and job runs --------------------------------------------------------------

    def last_evaluation(self) -> dt.datetime | None:
        """The latest evaluation time of the rule set, or None before the first tick."""
        with self.read() as conn:
            return evaluated_to(conn)

    def start_job(self, job: str, *, now: dt.datetime) -> int:
        """Record that ``job`` started at ``now``; returns the run id for ``finish_job``."""
        with self.write() as conn:
            pk = conn.execute(job_runs.insert().values(job=job, started_at=now, status="running")
                              ).inserted_primary_key
            assert pk is not None
            return int(pk[0])

    def finish_job(self, run_id: int, *, now: dt.datetime, status: str = "ok",
                   summary: Mapping[str, Any] | None = None) -> None:
        """Record the end of run ``run_id`` with its status (ok | failed) and a JSON summary."""
        with self.write() as conn:
            conn.execute(job_runs.update().where(job_runs.c.id == run_id)
                         .values(finished_at=now, status=status, summary=dict(summary or {})))

    def last_job_runs(self) -> list[dict[str, Any]]:
        """The latest run of each job."""
        latest = (sa.select(job_runs.c.job, sa.func.max(job_runs.c.id).label("id"))
                  .group_by(job_runs.c.job).subquery())
        q = (sa.select(job_runs).join(latest, job_runs.c.id == latest.c.id).order_by(job_runs.c.job))
        with self.read() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]

    # -- outbox overview ----------------------------------------------------------------------

    def notification_counts(self) -> dict[str, int]:
        """Number of notifications per status."""
        q = sa.select(notifications.c.status, sa.func.count()).group_by(notifications.c.status)
        with self.read() as conn:
            counts = dict.fromkeys(NOTIFICATION_STATUSES, 0)
            counts.update({r[0]: int(r[1]) for r in conn.execute(q)})
            return counts

    def notifications(self, *, status: str | None = None, limit: int = 1000) -> list[dict[str, Any]]:
        """Notifications (optionally of one status), newest first."""
        q = sa.select(notifications).order_by(notifications.c.id.desc()).limit(limit)
        if status is not None:
            q = q.where(notifications.c.status == status)
        with self.read() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]


def stable_hash(*parts: object) -> str:
    """sha256 (hex) of ``parts`` joined by ``|`` (None as empty, datetimes in ISO)."""
    text = "|".join("" if p is None else (p.isoformat() if isinstance(p, dt.datetime) else str(p))
                    for p in parts)
    return hashlib.sha256(text.encode()).hexdigest()


def alert_id(rule: str, entity: str, state: str, at: dt.datetime) -> str:
    """Stable id of a transition (the ``alerts`` dataset key)."""
    return stable_hash("alert", rule, entity, state, at)


_ALERTS_SCHEMA = pl.Schema({"alert_id": pl.String(), "rule": pl.String(), "entity": pl.String(),
                            "state": pl.String(), "at": pl.Datetime("us", "UTC"), "value": pl.Float64(),
                            "severity": pl.String(), "summary": pl.String(), "statement": pl.String()})


def flush_transitions(store: Store, db: StateDB, *, now: dt.datetime) -> int:
    """Append transitions not yet in the ``alerts`` dataset, then mark them recorded; returns how many."""
    rows = db.unrecorded_transitions()
    if not rows:
        return 0
    df = pl.DataFrame(rows, schema=_ALERTS_SCHEMA)
    store.append("alerts", df.with_columns(pl.lit(now).cast(pl.Datetime("us", "UTC")).alias("recorded_at")),
                 now=now)
    db.mark_recorded([r["alert_id"] for r in rows])
    return len(rows)



def open_db(url: str, *, busy_timeout_ms: int = 30_000) -> StateDB:
    """Open (creating or migrating) the state database at ``url``."""
    try:
        db = StateDB(make_engine(url, busy_timeout_ms=busy_timeout_ms))
    except SQLAlchemyError as e:
        raise StoreError(f"state database {url!r}: {e}") from e
    db.migrate()
    return db


def delivery_status(db: StateDB) -> dict[str, Any]:
    """The ``deliveries`` section of ``metrics status``: queue, dead letters, disabled endpoints."""
    counts = db.notification_counts()
    dead = db.notifications(status="dead", limit=20)
    return {
        "queued": counts["queued"],
        "delivered": counts["delivered"],
        "dead": counts["dead"],
        "disabled": counts["disabled"],
        "silenced": counts["silenced"],
        "dead_letters": [
            {"id": n["id"], "rule": n["rule"], "entity": n["entity"], "channel": n["channel"],
             "attempts": n["attempts"], "last_error": n["last_error"]} for n in dead],
        "disabled_endpoints": {k: {"disabled_at": v["disabled_at"], "reason": v["reason"]}
                               for k, v in db.disabled_endpoints().items()},
    }
