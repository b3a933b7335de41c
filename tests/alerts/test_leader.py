"""Leadership and fencing on the real state database (SQLite and a real PostgreSQL): the epoch,
the tick's fence, the election's failover and the eviction of a stalled leader."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import pytest

from jobs.leader import Election
from metrics.alerting.leader import AdvisoryLock, FileLockHeld, check_epoch, evict, leadership_status
from metrics.alerting.lifecycle import AlertState
from metrics.alerting.state import StateDB, TickWrites, open_db
from metrics.errors import Fenced

NOW = dt.datetime(2026, 5, 22, 22, 0, tzinfo=dt.UTC)


def _plan(_prior: dict[tuple[str, str], AlertState]) -> TickWrites:
    return TickWrites(evaluation={"rules": 0, "instances": 0, "transitions": 0, "notifications": 0})


def test_each_new_leader_bumps_the_epoch_and_an_old_epochs_tick_writes_nothing(state_url: str) -> None:
    """Two leaders in turn get epochs 1 and 2; a tick fenced with epoch 1 raises ``Fenced`` and
    writes nothing, the same tick with epoch 2 commits."""
    db = open_db(state_url)
    try:
        assert db.take_leadership("a:1", now=NOW) == 1
        assert db.take_leadership("b:2", now=NOW) == 2
        with pytest.raises(Fenced) as info:
            db.apply_tick(NOW, [], _plan, now=NOW, fence=lambda conn: check_epoch(conn, 1))
        assert (info.value.epoch, info.value.current) == (1, 2)
        assert db.last_evaluation() is None
        assert db.apply_tick(NOW, [], _plan, now=NOW, fence=lambda conn: check_epoch(conn, 2)) == []
        assert db.last_evaluation() == NOW
        row = db.leadership_row()
        assert row is not None and (row["holder"], row["epoch"], row["since"]) == ("b:2", 2, NOW)
    finally:
        db.close()


def test_a_superseded_leaders_heartbeat_tells_it_to_step_down(state_url: str) -> None:
    """A leader's heartbeat moves ``leadership.heartbeat_at`` while its epoch is current, and
    answers False once another replica took the leadership; every heartbeat updates its replica row."""
    db = open_db(state_url)
    try:
        epoch = db.take_leadership("a:1", now=NOW)
        row = {"replica_id": "a:1", "host": "a", "pid": 1, "started_at": NOW, "role": "leader",
               "epoch": epoch}
        later = NOW + dt.timedelta(seconds=5)
        assert db.heartbeat(row, now=later)
        leadership = db.leadership_row()
        assert leadership is not None and leadership["heartbeat_at"] == later
        db.take_leadership("b:2", now=later)
        assert not db.heartbeat(row, now=later + dt.timedelta(seconds=1))
        [replica] = db.replica_rows()
        assert replica["heartbeat_at"] == later + dt.timedelta(seconds=1)
    finally:
        db.close()


def test_status_names_the_leader_and_marks_stale_replicas(state_url: str) -> None:
    """``leadership_status`` gives the leader, since when, its epoch, and each replica's last
    heartbeat, stale past the given age."""
    db = open_db(state_url)
    try:
        epoch = db.take_leadership("a:1", now=NOW)
        db.heartbeat({"replica_id": "a:1", "host": "a", "pid": 1, "started_at": NOW, "role": "leader",
                      "epoch": epoch}, now=NOW)
        db.heartbeat({"replica_id": "b:2", "host": "b", "pid": 2, "started_at": NOW, "role": "follower",
                      "epoch": None}, now=NOW - dt.timedelta(minutes=5))
        status = leadership_status(db, now=NOW + dt.timedelta(seconds=2), stale_after_s=15)
    finally:
        db.close()
    assert (status["leader"], status["epoch"], status["since"], status["stale"]) == ("a:1", 1, NOW, False)
    assert {r["replica"]: r["stale"] for r in status["replicas"]} == {"a:1": False, "b:2": True}


def _election(db: StateDB, url: str, name: str, **kw: float) -> Election:
    return Election(db, AdvisoryLock(url, application_name=name), replica=name, **kw)


def test_a_follower_leads_as_soon_as_the_leaders_session_ends(pg_url: str) -> None:
    """On PostgreSQL one replica holds the advisory lock; when its session ends (the process died)
    the follower takes the lock at its next try with a new epoch, and the old leader's next tick is
    fenced (it steps down)."""
    db = open_db(pg_url)
    a, b = _election(db, pg_url, "host-a:1"), _election(db, pg_url, "host-b:2")
    try:
        a.step()
        b.step()
        assert a.is_leader() and not b.is_leader() and a.epoch == 1
        assert evict(db, "host-a:1") == 1       # its only session: the lock's
        b.step()
        assert b.is_leader() and b.epoch == 2
        with pytest.raises(Fenced):
            db.apply_tick(NOW, [], _plan, now=NOW, fence=a.fence)
        assert not a.is_leader() and db.last_evaluation() is None
        db.apply_tick(NOW, [], _plan, now=NOW, fence=b.fence)
        assert db.last_evaluation() == NOW
    finally:
        a.stop()
        b.stop()
        db.close()


def test_a_leader_that_stops_heartbeating_is_evicted_after_the_lease(pg_url: str) -> None:
    """A leader that holds its lock but no longer heartbeats (paused) is evicted by a follower once
    its heartbeat stood still for the lease; the follower then leads."""
    db = open_db(pg_url)
    a = _election(db, pg_url, "host-a:1")
    b = _election(db, pg_url, "host-b:2", heartbeat_s=0.1, lease_s=0.5)
    try:
        a.step()
        assert a.is_leader()
        deadline = time.monotonic() + 10
        while not b.is_leader() and time.monotonic() < deadline:
            b.step()                # ``a`` makes no step: it is paused
            time.sleep(0.05)
        assert b.is_leader() and b.epoch == 2
        a.step()                    # resumed: its lock connection was terminated
        assert not a.is_leader()
    finally:
        a.stop()
        b.stop()
        db.close()


def test_on_sqlite_the_file_lock_is_the_leadership(tmp_path: Path) -> None:
    """With the file lock held (one daemon per root) the first step leads, at the next epoch."""
    db = open_db(f"sqlite:///{tmp_path}/state.db")
    try:
        db.take_leadership("earlier:1", now=NOW)
        election = Election(db, FileLockHeld(), replica="host:9")
        election.step()
        assert election.is_leader() and election.epoch == 2
        election.stop()
        assert db.replica_rows() == []
    finally:
        db.close()
