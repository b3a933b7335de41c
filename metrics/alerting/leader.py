"""Leadership of the daemon's replicas: one leader at a time, fenced by an epoch.

Every replica runs the scheduler; only the leader runs the jobs that must run once (fetch, ingest,
evaluate, compact). This module holds the library side; the election loop (retries, heartbeats,
logs) is the daemon's (``jobs.leader``).

PostgreSQL
    Leadership is the session advisory lock ``LOCK_KEY``, taken with ``pg_try_advisory_lock`` on a
    dedicated connection (``AdvisoryLock``). The server frees it when that session ends: the process
    died (``kill -9``: the kernel closes its socket at once), its connection was closed or terminated,
    or TCP keepalives gave up on a silent peer (``keepalive_args``). The replica that takes the lock
    bumps ``leadership.epoch`` in one transaction (``StateDB.take_leadership``): the epoch is the
    fencing token.
SQLite
    The daemon's file lock (``jobs.lock``, one daemon per root) is the leadership: the daemon takes
    the epoch once at start (``FileLockHeld``), through the same code path.

Fencing (``check_epoch``): every tick calls it first inside its own write transaction. On
PostgreSQL it takes the transaction-level advisory lock ``FENCE_KEY`` (ticks of two replicas are
serialized) and reads ``leadership.epoch`` ``FOR SHARE``; when the epoch is not the caller's it
raises ``Fenced`` and the transaction rolls back, nothing written. The row lock also makes a new
leader's epoch bump wait for a tick in flight: every tick commits either before the bump (under the
old epoch, while it was the leader) or not at all. So a leader that lost its lock without noticing
(paused by SIGSTOP, cut off by a partition) cannot commit a tick once another replica leads.

A paused leader's TCP connection stays alive (the kernel answers keepalives for a stopped
process), so its lock would never be freed: a follower that sees the leadership heartbeat stand still
for ``lease_s`` of its own clock (no clock comparison across machines) evicts it (``evict``):
it terminates every session whose ``application_name`` is the holder's replica id, which frees the
lock and aborts the holder's open transactions. This needs the replicas to connect as one role (or a
role with ``pg_signal_backend``).
"""

from __future__ import annotations

import datetime as dt
from contextlib import suppress
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from metrics.alerting.state import LEADERSHIP, StateDB, leadership
from metrics.errors import Fenced
from metrics.log import get_logger

log = get_logger(__name__)

_CLASS = 0x6D657472                       # "metr": the high 32 bits of our advisory lock keys
LOCK_KEY = (_CLASS << 32) | 1             # session lock: the leadership
FENCE_KEY = (_CLASS << 32) | 2            # transaction lock: one tick at a time

# TCP keepalives of the leadership connection: a silent peer (power loss, partition) is dropped by
# the client after idle + interval * count = 5 + 2 * 3 = 11 s, and unacknowledged data after
# tcp_user_timeout; the server side is bounded by its own tcp_keepalives_* settings (README).
KEEPALIVE_IDLE_S = 5
KEEPALIVE_INTERVAL_S = 2
KEEPALIVE_COUNT = 3
TCP_USER_TIMEOUT_MS = 10_000
STATEMENT_TIMEOUT_MS = 5_000


def is_postgres(url: str) -> bool:
    """True when the state database ``url`` is PostgreSQL (leadership by advisory lock)."""
    return sa.engine.make_url(url).get_backend_name() == "postgresql"


def keepalive_args(*, application_name: str | None = None) -> dict[str, Any]:
    """libpq connection arguments that bound how long a dead peer goes unnoticed (see above)."""
    args: dict[str, Any] = {
        "keepalives": 1, "keepalives_idle": KEEPALIVE_IDLE_S,
        "keepalives_interval": KEEPALIVE_INTERVAL_S, "keepalives_count": KEEPALIVE_COUNT,
        "tcp_user_timeout": TCP_USER_TIMEOUT_MS, "connect_timeout": 5,
        "options": f"-c statement_timeout={STATEMENT_TIMEOUT_MS}",
    }
    if application_name is not None:
        args["application_name"] = application_name[:63]
    return args


def with_application_name(url: str, name: str) -> str:
    """``url`` with libpq's ``application_name`` (PostgreSQL only): ``evict`` finds the sessions of a
    replica by it. The password stays in the URL (never logged: SQLAlchemy masks it)."""
    u = sa.engine.make_url(url)
    if u.get_backend_name() != "postgresql":
        return url
    return u.update_query_dict({"application_name": name[:63]}).render_as_string(hide_password=False)


def check_epoch(conn: Connection, epoch: int) -> None:
    """The fence: raise ``Fenced`` unless ``epoch`` is the current leadership epoch (see above).

    Call it first inside a write transaction (``StateDB.apply_tick(fence=...)``).
    """
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": FENCE_KEY})
    current = conn.execute(sa.select(leadership.c.epoch).where(leadership.c.name == LEADERSHIP)
                           .with_for_update(read=True)).scalar()
    if current != epoch:
        raise Fenced("this replica is no longer the leader: its write was refused",
                     epoch=epoch, current=None if current is None else int(current))


class AdvisoryLock:
    """The PostgreSQL session advisory lock ``key`` on a dedicated connection of its own.

    Not thread-safe: one thread (the daemon's election loop) uses it.
    """

    def __init__(self, url: str, *, key: int = LOCK_KEY, application_name: str | None = None) -> None:
        self.key = key
        self._engine: Engine = sa.create_engine(
            url, poolclass=NullPool, isolation_level="AUTOCOMMIT",
            connect_args=keepalive_args(application_name=application_name))
        self._conn: Connection | None = None
        self.held = False

    def try_acquire(self) -> bool:
        """Take the lock if it is free (never waits); True when this connection holds it."""
        try:
            if self._conn is None:
                self._conn = self._engine.connect()
            self.held = bool(self._conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"),
                                                {"k": self.key}).scalar())
        except SQLAlchemyError as e:
            log.warning("leader.lock_error", error=str(e).splitlines()[0])
            self._drop()
        return self.held

    def holds(self) -> bool:
        """True while the lock's session is alive and holds the lock (asked of the server)."""
        if self._conn is None or not self.held:
            return False
        try:
            held = self._conn.execute(sa.text(
                "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted"
                " AND pid = pg_backend_pid() AND classid = :c AND objid = :o AND objsubid = 1)"),
                {"c": self.key >> 32, "o": self.key & 0xFFFFFFFF}).scalar()
        except SQLAlchemyError as e:
            log.warning("leader.lock_error", error=str(e).splitlines()[0])
            self._drop()
            return False
        self.held = bool(held)
        return self.held

    def release(self) -> None:
        """Give the lock up (closing the session frees it even if the unlock fails)."""
        if self._conn is not None and self.held:
            with suppress(SQLAlchemyError):  # the session is gone: so is the lock
                self._conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": self.key})
        self._drop()

    def close(self) -> None:
        self.release()
        self._engine.dispose()

    def _drop(self) -> None:
        self.held = False
        if self._conn is not None:
            with suppress(SQLAlchemyError):
                self._conn.close()
            self._conn = None


class FileLockHeld:
    """The leadership lock on SQLite: the daemon's file lock, already held (``jobs.lock``)."""

    held = True

    def try_acquire(self) -> bool:
        return True

    def holds(self) -> bool:
        return True

    def release(self) -> None:
        """The file lock is released by the daemon."""

    def close(self) -> None:
        """Nothing to close."""


def evict(db: StateDB, holder: str) -> int:
    """Terminate every session of replica ``holder`` (by ``application_name``); how many.

    Frees the leadership lock of a leader that stopped heartbeating (see the module docstring).
    """
    if db.engine.dialect.name != "postgresql":
        return 0
    with db.engine.connect() as conn, conn.begin():
        pids = conn.execute(sa.text(
            # The timeout (ms) waits for each backend to exit, so its session lock is free on return.
            "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity"
            " WHERE application_name = :name AND pid <> pg_backend_pid()"), {"name": holder[:63]}).all()
    return len(pids)


def leadership_status(db: StateDB, *, now: dt.datetime, stale_after_s: float) -> dict[str, Any]:
    """The ``leadership`` section of ``metrics status``: the leader (replica id ``host:pid``), since
    when, its epoch and last heartbeat, and every replica with its last heartbeat (``stale`` when
    older than ``stale_after_s``: killed, or paused)."""
    row = db.leadership_row()

    def age(at: dt.datetime | None) -> float | None:
        return round((now - at).total_seconds(), 1) if at is not None else None

    replicas = [{"replica": r["replica_id"], "role": r["role"], "epoch": r["epoch"],
                 "started_at": r["started_at"], "heartbeat_at": r["heartbeat_at"],
                 "heartbeat_age_s": age(r["heartbeat_at"]),
                 "stale": (now - r["heartbeat_at"]).total_seconds() > stale_after_s}
                for r in db.replica_rows()]
    if row is None:
        return {"leader": None, "since": None, "epoch": None, "heartbeat_at": None, "stale": None,
                "replicas": replicas}
    hb = row["heartbeat_at"]
    return {"leader": row["holder"], "since": row["since"], "epoch": int(row["epoch"]),
            "heartbeat_at": hb, "heartbeat_age_s": age(hb),
            "stale": hb is None or (now - hb).total_seconds() > stale_after_s,
            "replicas": replicas}


__all__ = ["FENCE_KEY", "LOCK_KEY", "AdvisoryLock", "FileLockHeld", "check_epoch", "evict", "is_postgres",
           "keepalive_args", "leadership_status", "with_application_name"]
