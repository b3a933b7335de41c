"""The daemon's leader election: which replica runs the jobs that must run once.

``Election`` runs on a thread of its own (``run``), on the wall clock whatever clock the jobs see:

- a follower tries the leadership lock every ``retry_s`` (0.3 s: after ``kill -9`` of the leader
  the server frees its lock at once and a follower leads within about that); it heartbeats its
  ``replicas`` row every ``heartbeat_s`` and watches the leader's heartbeat: when it stands still
  for ``lease_s`` of the follower's own clock (the leader is paused or hung but its connection
  lives), the follower evicts it (``metrics.alerting.leader.evict``) and takes over;
- the replica that takes the lock bumps the epoch (``leader.acquired``, with the epoch); then
  every ``heartbeat_s`` it checks, on the server, that its lock connection still holds the lock and
  moves ``leadership.heartbeat_at``. A lost connection, a superseded epoch, a fenced write or
  heartbeats failing for ``lease_s`` make it step down at once (``leader.lost``).

Jobs ask ``is_leader()`` when they start (a follower skips them); a tick's transaction calls
``fence`` (``metrics.alerting.leader.check_epoch``), the guarantee. On SQLite the lock is the
daemon's file lock, held already (``FileLockHeld``): the first step leads at epoch N+1.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import threading
import time
from collections.abc import Callable
from typing import Protocol

from sqlalchemy.engine import Connection

from metrics.alerting.leader import check_epoch, evict
from metrics.alerting.state import StateDB
from metrics.errors import Fenced, MetricsError
from metrics.log import get_logger

log = get_logger("jobs.leader")

RETRY_S = 0.3        # a follower tries the lock this often
HEARTBEAT_S = 1.0    # heartbeats (replicas row, leadership.heartbeat_at) and the leader's lock check
LEASE_S = 5.0        # a leader heartbeat standing still this long is evicted by a follower
STALE_AFTER_S = 3 * LEASE_S   # ``metrics status`` marks a replica stale past this


def replica_id(host: str | None = None, pid: int | None = None) -> str:
    """This process's replica id: ``host:pid``."""
    return f"{host or socket.gethostname()}:{pid or os.getpid()}"


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class LeaderLock(Protocol):
    """The leadership lock: PostgreSQL's ``AdvisoryLock`` or SQLite's ``FileLockHeld``."""

    held: bool

    def try_acquire(self) -> bool: ...
    def holds(self) -> bool: ...
    def release(self) -> None: ...
    def close(self) -> None: ...


class Election:
    """One replica's side of the election; see the module docstring."""

    def __init__(self, db: StateDB, lock: LeaderLock, *, replica: str | None = None,
                 started_at: dt.datetime | None = None,
                 on_acquired: Callable[[int], None] | None = None,
                 stopping: threading.Event | None = None,
                 retry_s: float = RETRY_S, heartbeat_s: float = HEARTBEAT_S,
                 lease_s: float = LEASE_S) -> None:
        self.db = db
        self.lock = lock
        self.replica = replica or replica_id()
        self.host, _, pid = self.replica.rpartition(":")
        self.pid = int(pid) if pid.isdigit() else os.getpid()
        self.started_at = started_at or utc_now()
        self.on_acquired = on_acquired
        self.stopping = stopping or threading.Event()   # set: the daemon stops, never lead again
        self.retry_s, self.heartbeat_s, self.lease_s = retry_s, heartbeat_s, lease_s
        self.epoch: int | None = None            # ours while we lead
        self._leader = threading.Event()
        self._guard = threading.Lock()           # step-downs from job threads vs the loop
        self._next_beat = 0.0
        self._last_beat_ok = time.monotonic()
        self._seen: tuple[object, object] | None = None   # the leader's (epoch, heartbeat) last seen
        self._seen_at = time.monotonic()
        self._told_follower = False
        self._release = False                    # a step-down left the lock for the loop to release
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    # -- what the jobs ask -------------------------------------------------------------------------

    def is_leader(self) -> bool:
        return self._leader.is_set()

    def fence(self, conn: Connection) -> None:
        """The tick's fence: refuse (``Fenced``) unless we lead and our epoch is the current one."""
        epoch = self.epoch
        if not self._leader.is_set() or epoch is None:
            raise Fenced("this replica is not the leader", epoch=epoch, current=None)
        try:
            check_epoch(conn, epoch)
        except Fenced as e:
            self.step_down(f"fenced: epoch {e.epoch} superseded by {e.current}")
            raise

    # -- the loop ------------------------------------------------------------------------------------

    def start(self) -> None:
        """One step now (a lone replica leads before its start-up jobs), then the loop on a thread."""
        self.step()
        self._thread = threading.Thread(target=self._run, name="leader-election", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the loop, give the leadership up and forget this replica's row."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._leader.is_set():
            self.step_down("stopping")
        self.lock.close()            # the loop has ended: this thread may use the lock now
        try:
            self.db.remove_replica(self.replica)
        except MetricsError as e:
            log.warning("leader.cleanup_failed", error=str(e))

    def _run(self) -> None:
        while not self._stop.wait(self.heartbeat_s / 4 if self.is_leader() else self.retry_s):
            try:
                self.step()
            except Exception as e:  # the loop must outlive a database outage
                log.warning("leader.step_failed", error=f"{type(e).__name__}: {e}")

    def step(self) -> None:
        """One round: a follower tries the lock (or evicts a stalled leader); a leader heartbeats.

        Only the loop's thread uses the lock (the lock's connection is not thread-safe): a step-down
        decided elsewhere (a fenced tick) releases it here.
        """
        if self._release:
            self._release = False
            self.lock.release()
        if self._leader.is_set():
            self._lead_step()
        else:
            self._follow_step()

    def _follow_step(self) -> None:
        if not self.stopping.is_set() and self.lock.try_acquire():
            try:
                previous = self.db.leadership_row()
                epoch = self.db.take_leadership(self.replica, now=utc_now())
            except MetricsError as e:
                log.warning("leader.take_failed", error=str(e))
                self.lock.release()
                return
            with self._guard:
                self.epoch = epoch
                self._leader.set()
            self._told_follower = False
            self._last_beat_ok = time.monotonic()
            self._next_beat = 0.0
            log.info("leader.acquired", replica=self.replica, epoch=epoch,
                     previous=previous["holder"] if previous else None)
            self._beat()
            if self.on_acquired is not None:
                self.on_acquired(epoch)
            return
        now = time.monotonic()
        if now < self._next_beat:
            return
        self._next_beat = now + self.heartbeat_s
        self._beat()
        row = self.db.leadership_row()
        if not self._told_follower:
            self._told_follower = True
            log.info("leader.follower", replica=self.replica, epoch=row["epoch"] if row else None,
                     leader=row["holder"] if row else None)
        seen = (row["epoch"], row["heartbeat_at"]) if row else None
        if seen != self._seen:
            self._seen, self._seen_at = seen, now
        elif row is not None and row["holder"] and now - self._seen_at > self.lease_s:
            ended = evict(self.db, str(row["holder"]))
            log.warning("leader.evicted", replica=self.replica, leader=row["holder"], epoch=row["epoch"],
                        stalled_s=round(now - self._seen_at, 1), sessions=ended)
            self._seen_at = now

    def _lead_step(self) -> None:
        now = time.monotonic()
        if now < self._next_beat:
            return
        self._next_beat = now + self.heartbeat_s
        if not self.lock.holds():
            self.step_down("the leadership connection was lost")
            return
        self._beat()
        if self._leader.is_set() and time.monotonic() - self._last_beat_ok > self.lease_s:
            self.step_down(f"no heartbeat recorded for {self.lease_s:.0f} s")

    def _beat(self) -> None:
        leading = self._leader.is_set()
        row = {"replica_id": self.replica, "host": self.host, "pid": self.pid, "started_at": self.started_at,
               "role": "leader" if leading else "follower", "epoch": self.epoch if leading else None}
        try:
            still = self.db.heartbeat(row, now=utc_now())
        except MetricsError as e:
            log.warning("leader.heartbeat_failed", replica=self.replica, error=str(e).splitlines()[0])
            return
        self._last_beat_ok = time.monotonic()
        if leading and not still:
            self.step_down("another replica took the leadership")

    def step_down(self, reason: str) -> None:
        """Stop leading now: jobs starting from here skip, the tick fence refuses; the loop releases
        the lock at its next step."""
        with self._guard:
            if not self._leader.is_set():
                return
            self._leader.clear()
            epoch, self.epoch = self.epoch, None
            self._release = True
        # a clean stop gives the leadership up on purpose: not a warning
        emit = log.info if reason == "stopping" else log.warning
        emit("leader.lost", replica=self.replica, epoch=epoch, reason=reason)
        self._seen, self._seen_at = None, time.monotonic()
