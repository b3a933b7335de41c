"""The state database: alert states, the notification outbox, silences, job runs, evaluations.

SQLAlchemy 2 Core, so ``settings.database_url`` may name SQLite (default, ``<root>/state.db``,
WAL journal with a busy timeout) or PostgreSQL, through the same code. Every datetime is stored as
UTC and read back tz-aware. The schema is made and upgraded by Alembic revisions
(``metrics.alerting.migrations``) when the database is opened (``open_db``), so an older file keeps
working after an upgrade. Messages name the database by its URL with the password masked.

Tables::

    alert_states   one row per (rule, entity): the state machine's memory
    transitions    every state change, with ``recorded`` once appended to the ``alerts`` dataset
    notifications  the outbox: one row per (notification, channel), UNIQUE idempotency_key
    delivery_attempts  one row per send attempt (outcome, error), for audit
    silences       rule (+ entity) muted until ``expires_at``, with a reason
    endpoints      channels disabled after a 410 Gone
    evaluations    the evaluation times of the rule set (the daemon replays from the last one)
    job_runs       each job's runs (status, summary)
    leadership     one row ("daemon"): the leader's epoch (fencing token), holder, since, heartbeat
    replicas       one row per running daemon: its role and last heartbeat (``metrics status``)

This module is the only writer of these tables: a tick's writes go through ``apply_tick``, a
delivery attempt's through ``record_attempt``, silences, endpoints and job runs through their
methods.

Write transactions on SQLite start with ``BEGIN IMMEDIATE`` so two processes never deadlock on a
lock upgrade; the busy timeout makes the second wait instead of failing. On PostgreSQL a tick takes
a transaction-level advisory lock before it reads the last evaluation, so two daemons never commit
the same tick; delivering workers claim notifications with ``FOR UPDATE SKIP LOCKED`` and a lease
(``claim_due``).

The schema (tables, value types) lives in ``metrics.alerting.state_schema``, the engine and the
ON CONFLICT helpers in ``metrics.alerting.state_engine``; this module holds ``StateDB`` (every
read and write), ``open_db`` and the ``alerts`` dataset flush, and re-exports the names of both.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from metrics.alerting.lifecycle import AlertState
from metrics.alerting.migrations import upgrade as upgrade_schema
from metrics.alerting.state_engine import (
    TICK_LOCK,
    advisory_xact_lock,
    evaluated_to,
    insert_ignore,
    make_engine,
    safe_url,
    upsert,
)
from metrics.alerting.state_schema import (
    ALERT_STATE_FIELDS,
    LEADERSHIP,
    NOTIFICATION_STATUSES,
    TS,
    Silence,
    TickWrites,
    UTCDateTime,
    alert_states,
    delivery_attempts,
    endpoints,
    evaluations,
    job_runs,
    leadership,
    meta,
    metadata,
    notifications,
    replicas,
    silences,
    state_row,
    to_state,
    transitions,
)
from metrics.errors import StoreError
from metrics.store.tables import Store


def prior_states(conn: Connection, rules: Iterable[str]) -> dict[tuple[str, str], AlertState]:
    """The stored states of the instances of ``rules`` (by rule and entity), read in ``conn``."""
    q = sa.select(*(alert_states.c[f] for f in ALERT_STATE_FIELDS))
    names = set(rules)
    if len(names) <= 500:
        q = q.where(alert_states.c.rule.in_(sorted(names)))
    return {(r.rule, r.entity): to_state(dict(r._mapping)) for r in conn.execute(q) if r.rule in names}


class StateDB:
    """The state database behind ``url``; see the module docstring. Open with ``open_db``."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.revisions: tuple[str | None, str] | None = None   # (before, after) of the last migrate()

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
            raise StoreError(f"state database {safe_url(self.engine.url)}: {e}") from e

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only snapshot transaction."""
        try:
            with self.engine.connect() as conn, conn.begin():
                yield conn
        except SQLAlchemyError as e:
            raise StoreError(f"state database {safe_url(self.engine.url)}: {e}") from e

    def migrate(self) -> tuple[str | None, str]:
        """Upgrade the schema to the latest revision (``metrics.alerting.migrations.upgrade``);
        returns the revisions before and after."""
        try:
            self.revisions = upgrade_schema(self.engine)
        except SQLAlchemyError as e:
            raise StoreError(f"state database {safe_url(self.engine.url)}: cannot migrate: {e}") from e
        return self.revisions

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
                   *, now: dt.datetime,
                   fence: Callable[[Connection], None] | None = None) -> list[Mapping[str, Any]] | None:
        """One tick at ``at`` in ONE write transaction; None (nothing written) when ``at`` is not after
        the last evaluation.

        ``plan`` gets the prior states of ``rules`` (by (rule, entity)) and returns what to write:
        changed states, transitions (ignored when their ``alert_id`` is present), notifications
        (ignored when their idempotency key is present) and the evaluation row. Returns the
        notifications that were new.

        ``fence`` (the daemon's leadership check, ``metrics.alerting.leader``) is called first inside
        the transaction; when it raises (``Fenced``), the transaction rolls back and nothing is written.
        """
        with self.write() as conn:
            if fence is not None:
                fence(conn)
            advisory_xact_lock(conn, TICK_LOCK)  # PostgreSQL: one tick at a time (SQLite: BEGIN IMMEDIATE)
            last = evaluated_to(conn)
            if last is not None and at <= last:
                return None
            prior = prior_states(conn, rules)
            writes = plan(prior)
            upsert(conn, alert_states, [state_row(st, now=now) for st in writes.states], ["rule", "entity"])
            insert_ignore(conn, transitions, writes.transitions, "alert_id")
            new = insert_ignore(conn, notifications, writes.notifications, "idempotency_key")
            upsert(conn, evaluations, [{"at": at, "ran_at": now, **writes.evaluation}], ["at"])
        return new

    def apply_ticks(self, ats: Sequence[dt.datetime], rules: Sequence[str],
                    plan: Callable[[int, dict[tuple[str, str], AlertState]], TickWrites | None],
                    *, now: dt.datetime,
                    fence: Callable[[Connection], None] | None = None) -> list[TickWrites | None]:
        """Ticks at ``ats`` (ascending) in ONE write transaction, as ``apply_tick`` at each in turn
        would write them (a catch-up's quiet closes); returns each tick's writes (None: skipped, not
        after the last evaluation), up to the tick for which ``plan`` returned None (left out with
        those after it: a signal came).

        ``plan(i, prior)`` gets the index of the tick and the states of ``rules`` as the ticks before
        it left them, and returns what tick ``i`` writes (its notifications must be empty: they are
        not written). The states each tick changed are written once, as the last tick left them;
        every tick's transitions and evaluation row are written.
        """
        out: list[TickWrites | None] = []
        with self.write() as conn:
            if fence is not None:
                fence(conn)
            advisory_xact_lock(conn, TICK_LOCK)
            last = evaluated_to(conn)
            prior = prior_states(conn, rules)
            changed: dict[tuple[str, str], AlertState] = {}
            moved, evaluated = [], []
            for i, at in enumerate(ats):
                if last is not None and at <= last:
                    out.append(None)
                    continue
                writes = plan(i, dict(prior))
                if writes is None:
                    break
                if writes.notifications:
                    raise ValueError("apply_ticks writes no notifications (the ticks must be quiet)")
                for st in writes.states:
                    prior[(st.rule, st.entity)] = changed[(st.rule, st.entity)] = st
                moved.extend(writes.transitions)
                evaluated.append({"at": at, "ran_at": now, **writes.evaluation})
                last = at
                out.append(writes)
            rows = [state_row(st, now=now) for st in changed.values()]
            upsert(conn, alert_states, rows, ["rule", "entity"])
            insert_ignore(conn, transitions, moved, "alert_id")
            upsert(conn, evaluations, evaluated, ["at"])
        return out

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
        disables its channel (410 Gone) in the same transaction. The claim (``claim_due``) is
        released; when ``row`` was claimed and its claim has passed to another worker since (the
        lease ran out), the notification is left to that worker and only the audit row is written."""
        values: dict[str, Any] = {"status": status, "attempts": attempts, "last_error": error,
                                  "claimed_by": None, "claim_until": None}
        if status == "delivered":
            values["delivered_at"] = now
        if next_at is not None:
            values["next_attempt_at"] = next_at
        with self.write() as conn:
            q = notifications.update().where(notifications.c.id == row["id"],
                                             notifications.c.status == "queued")
            if row.get("claimed_by") is not None:
                q = q.where(notifications.c.claimed_by == row["claimed_by"])
            conn.execute(q.values(**values))
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
        """Queued notifications whose next attempt has come and that no worker holds, oldest first."""
        q = (sa.select(notifications).where(*_due(now))
             .order_by(notifications.c.next_attempt_at, notifications.c.id)
             .limit(limit))
        with self.read() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]

    def claim_due(self, *, now: dt.datetime, limit: int, worker: str,
                  until: dt.datetime) -> list[dict[str, Any]]:
        """Claim up to ``limit`` due notifications for ``worker`` until ``until`` (a lease), oldest
        first, and return them (with ``claimed_by`` set).

        Due: queued, ``next_attempt_at <= now``, and unclaimed or its lease ended (a crashed worker's
        claim is taken over). One short transaction: on PostgreSQL the rows are selected
        ``FOR UPDATE SKIP LOCKED``, so concurrent workers claim disjoint rows without waiting; on
        SQLite the ``BEGIN IMMEDIATE`` transaction makes the claim atomic. Send outside it, then
        ``record_attempt``.
        """
        q = (sa.select(notifications).where(*_due(now))
             .order_by(notifications.c.next_attempt_at, notifications.c.id)
             .limit(limit).with_for_update(skip_locked=True))
        with self.write() as conn:
            rows = [dict(r._mapping) for r in conn.execute(q)]
            ids = [r["id"] for r in rows]
            if ids:
                conn.execute(notifications.update().where(notifications.c.id.in_(ids))
                             .values(claimed_by=worker, claim_until=until))
        for r in rows:
            r["claimed_by"], r["claim_until"] = worker, until
        return rows

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

    # -- leadership and replicas (metrics.alerting.leader) --------------------------------------

    def take_leadership(self, holder: str, *, now: dt.datetime) -> int:
        """Become the leader: bump the epoch and record ``holder`` in ONE transaction; the new epoch.

        Call it only while holding the leadership lock: the epoch is the fencing token that makes
        every write of an earlier leader fail (``metrics.alerting.leader.check_epoch``).
        """
        with self.write() as conn:
            insert_ignore(conn, leadership, [{"name": LEADERSHIP, "epoch": 0}], "name")
            epoch = conn.execute(
                leadership.update().where(leadership.c.name == LEADERSHIP)
                .values(epoch=leadership.c.epoch + 1, holder=holder, since=now, heartbeat_at=now)
                .returning(leadership.c.epoch)).scalar_one()
        return int(epoch)

    def heartbeat(self, replica: Mapping[str, Any], *, now: dt.datetime) -> bool:
        """Record ``replica``'s heartbeat (a ``replicas`` row: id, host, pid, started_at, role, epoch);
        a leader's also moves ``leadership.heartbeat_at``. False when a leader's epoch is no longer
        the current one (another replica took over): it must step down."""
        row = {**replica, "heartbeat_at": now}
        with self.write() as conn:
            still = True
            if row["role"] == "leader":
                res = conn.execute(leadership.update()
                                   .where(leadership.c.name == LEADERSHIP,
                                          leadership.c.epoch == row["epoch"],
                                          leadership.c.holder == row["replica_id"])
                                   .values(heartbeat_at=now))
                still = bool(res.rowcount)
            upsert(conn, replicas, [row], ["replica_id"])
        return still

    def remove_replica(self, replica_id: str) -> None:
        """Forget a replica that stopped cleanly."""
        with self.write() as conn:
            conn.execute(replicas.delete().where(replicas.c.replica_id == replica_id))

    def leadership_row(self) -> dict[str, Any] | None:
        """The leadership row (epoch, holder, since, heartbeat_at), or None before any leader."""
        with self.read() as conn:
            row = conn.execute(sa.select(leadership).where(leadership.c.name == LEADERSHIP)).first()
        return dict(row._mapping) if row is not None else None

    def replica_rows(self) -> list[dict[str, Any]]:
        """Every replica that heartbeats (or did, until it was killed), by id."""
        with self.read() as conn:
            rows = conn.execute(sa.select(replicas).order_by(replicas.c.replica_id))
            return [dict(r._mapping) for r in rows]

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


def _due(now: dt.datetime) -> tuple[sa.ColumnElement[bool], ...]:
    """The conditions of a notification due at ``now``: queued, its time come, no live claim."""
    c = notifications.c
    return (c.status == "queued", c.next_attempt_at <= now,
            sa.or_(c.claim_until.is_(None), c.claim_until <= now))


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
    except (SQLAlchemyError, ValueError) as e:
        raise StoreError(f"state database {safe_url(url)}: {e}") from e
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


__all__ = [
    "ALERT_STATE_FIELDS", "LEADERSHIP", "NOTIFICATION_STATUSES", "TS", "Silence",
    "StateDB", "TickWrites", "UTCDateTime", "alert_id", "alert_states", "delivery_attempts",
    "delivery_status", "endpoints", "evaluated_to", "evaluations", "flush_transitions", "insert_ignore",
    "job_runs", "leadership", "make_engine", "meta", "metadata", "notifications", "open_db", "replicas",
    "safe_url", "silences", "stable_hash", "state_row", "to_state", "transitions", "upsert",
]
