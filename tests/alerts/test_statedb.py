"""The state database: creation, migration, WAL, UTC round trips, job runs, delivery status."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa

from metrics.alerting.state import StateDB, delivery_status, evaluations, metadata, open_db
from metrics.errors import StoreError
from tests.alerts.conftest import enqueue

NOW = dt.datetime(2026, 3, 2, 21, 0, tzinfo=dt.UTC)


def test_open_creates_every_table_in_wal_mode(tmp_path: Path) -> None:
    """Opening a new SQLite database creates all tables, in WAL mode with a busy timeout."""
    db = open_db(f"sqlite:///{tmp_path / 'sub' / 'state.db'}", busy_timeout_ms=1234)
    names = set(sa.inspect(db.engine).get_table_names())
    assert {"alert_states", "notifications", "silences", "job_runs", "evaluations", "endpoints",
            "transitions", "delivery_attempts"} <= names
    with db.read() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 1234
    db.close()


def test_datetimes_round_trip_as_utc(db: StateDB) -> None:
    """A time stored with any zone is read back as the same instant in UTC."""
    cet = dt.timezone(dt.timedelta(hours=1))
    with db.write() as conn:
        conn.execute(evaluations.insert().values(at=dt.datetime(2026, 3, 2, 22, 0, tzinfo=cet), ran_at=NOW,
                                                 rules=1, instances=1, transitions=0, notifications=0))
    got = db.last_evaluation()
    assert got == NOW and got is not None and got.tzinfo == dt.UTC


def test_naive_datetimes_are_refused(db: StateDB) -> None:
    """Writing a naive datetime is an error, never a silent local-time guess."""
    with pytest.raises(StoreError, match="naive"), db.write() as conn:
        conn.execute(evaluations.insert().values(at=dt.datetime(2026, 3, 2), ran_at=NOW, rules=0,
                                                 instances=0, transitions=0, notifications=0))


def test_job_runs_keep_the_latest_per_job(db: StateDB) -> None:
    """Each job's latest run is reported with its status and summary."""
    first = db.start_job("evaluate", now=NOW)
    db.finish_job(first, now=NOW + dt.timedelta(seconds=2), status="ok", summary={"transitions": 1})
    second = db.start_job("evaluate", now=NOW + dt.timedelta(hours=1))
    db.finish_job(second, now=NOW + dt.timedelta(hours=1, seconds=1), status="failed",
                  summary={"error": "boom"})
    db.start_job("deliver", now=NOW)
    runs = {r["job"]: r for r in db.last_job_runs()}
    assert runs["evaluate"]["status"] == "failed" and runs["evaluate"]["summary"] == {"error": "boom"}
    assert runs["deliver"]["status"] == "running" and runs["deliver"]["finished_at"] is None


def test_delivery_status_counts_queue_and_dead_letters(db: StateDB) -> None:
    """The status section counts notifications per status and lists disabled endpoints."""
    enqueue(db, 2, channel="hook", now=NOW)
    db.disable_endpoint("hook", "HTTP 410 Gone", now=NOW)
    status = delivery_status(db)
    assert status["queued"] == 2 and status["dead"] == 0
    assert status["disabled_endpoints"] == {"hook": {"disabled_at": NOW, "reason": "HTTP 410 Gone"}}
    assert db.enable_endpoint("hook") and delivery_status(db)["disabled_endpoints"] == {}


def test_two_connections_write_in_turn(tmp_path: Path) -> None:
    """Two handles on one database file both write: the second waits for the first (busy timeout)."""
    url = f"sqlite:///{tmp_path / 'state.db'}"
    a, b = open_db(url), open_db(url)
    a.add_silence("r", None, "one", now=NOW, expires_at=NOW + dt.timedelta(hours=1))
    b.add_silence("r", "E", "two", now=NOW, expires_at=NOW + dt.timedelta(hours=1))
    assert [s.reason for s in a.silences()] == ["one", "two"]
    a.close()
    b.close()


def test_schema_has_one_unique_idempotency_key() -> None:
    """The outbox refuses two notifications with one idempotency key."""
    table = metadata.tables["notifications"]
    assert table.c.idempotency_key.unique
