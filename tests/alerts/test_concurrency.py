"""Several processes on one state database: a tick commits once, each notification is sent once,
a dead worker's claim is taken over, and no password reaches a message or a log."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from metrics.alerting.lifecycle import AlertState
from metrics.alerting.state import StateDB, TickWrites, delivery_attempts, open_db
from metrics.errors import StoreError
from tests.alerts.conftest import WEBHOOK_SECRET, Receiver, enqueue

NOW = dt.datetime(2026, 3, 2, 21, 0, tzinfo=dt.UTC)
PROJECT = Path(__file__).resolve().parents[2]


def _tick_plan(calls: list[int]) -> object:
    def plan(prior: dict[tuple[str, str], AlertState]) -> TickWrites:
        calls.append(1)
        time.sleep(0.3)               # an evaluation that takes a while: the other replica catches up
        return TickWrites(notifications=[{
            "idempotency_key": f"tick-{time.monotonic_ns()}", "rule": "r", "entity": "E", "state": "firing",
            "channel": "hook", "payload": {"state": "firing"}, "created_at": NOW, "next_attempt_at": NOW,
            "attempts": 0, "status": "queued"}],
            evaluation={"rules": 1, "instances": 1, "transitions": 0, "notifications": 1})
    return plan


def test_two_replicas_racing_one_tick_commit_it_once(state_url: str) -> None:
    """Two replicas (own engines, own connections) apply the tick of the same close at the same moment,
    five rounds: each round exactly one commits; the other waits for it, then sees the tick done."""
    dbs = [open_db(state_url), open_db(state_url)]
    for round_ in range(5):
        at = NOW + dt.timedelta(days=round_)
        barrier = threading.Barrier(2)
        calls: list[int] = []
        results: list[object] = []

        def replica(db: StateDB, at: dt.datetime = at, calls: list[int] = calls,
                    results: list[object] = results, barrier: threading.Barrier = barrier) -> None:
            barrier.wait(10)
            results.append(db.apply_tick(at, ["r"], _tick_plan(calls), now=at))  # type: ignore[arg-type]

        threads = [threading.Thread(target=replica, args=(db,)) for db in dbs]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert len(calls) == 1, f"round {round_}: the tick was planned {len(calls)} times"
        assert sorted(r is None for r in results) == [False, True]
    assert dbs[0].notification_counts()["queued"] == 5
    for db in dbs:
        db.close()


WORKER = """
import datetime as dt, json, sys
from pydantic import SecretStr
from metrics.alerting.notify import build_notifiers, close_notifiers
from metrics.alerting.outbox import deliver_due
from metrics.alerting.state import open_db
from metrics.settings import DeliverySettings, WebhookChannel
db = open_db(sys.argv[1])
notifiers = build_notifiers({"hook": WebhookChannel(url=sys.argv[2], secret=SecretStr(sys.argv[3]))})
now = dt.datetime.fromisoformat(sys.argv[4])
sys.stdout.write("ready\\n"); sys.stdout.flush()
sys.stdin.readline()                                   # start together
import time; t0 = time.perf_counter()
delivered = 0
while True:
    report = deliver_due(db, notifiers, now=now, settings=DeliverySettings(batch_size=10))
    delivered += report.delivered
    if report.attempted + report.disabled == 0:
        break
close_notifiers(notifiers)
print(json.dumps({"delivered": delivered, "s": time.perf_counter() - t0}))
"""


def _workers(n: int, url: str, receiver: Receiver) -> list[subprocess.Popen[str]]:
    argv = [sys.executable, "-c", WORKER, url, receiver.url, WEBHOOK_SECRET, NOW.isoformat()]
    procs = [subprocess.Popen(argv, cwd=PROJECT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
             for _ in range(n)]
    for p in procs:
        assert p.stdout is not None and p.stdout.readline().strip() == "ready"
    for p in procs:
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    return procs


def test_four_processes_deliver_200_notifications_each_once(state_url: str, receiver: Receiver) -> None:
    """Four delivering processes on one outbox of 200 notifications: the receiver gets each once,
    every process takes part, each notification has one attempt, and its webhook-id is its key."""
    db = open_db(state_url)
    keys = enqueue(db, 200, channel="hook", now=NOW)
    receiver.delay_s = 0.01                  # a receiver that takes a little time, as real ones do
    procs = _workers(4, state_url, receiver)
    counts = []
    for p in procs:
        out, _ = p.communicate(timeout=240)
        assert p.returncode == 0
        counts.append(json.loads(out.strip().splitlines()[-1])["delivered"])
    ids = [r.headers["webhook-id"] for r in receiver.requests]
    assert len(ids) == 200 and sorted(ids) == sorted(keys)
    assert receiver.duplicates == 0 and sum(counts) == 200
    assert sum(1 for c in counts if c > 0) >= 2, counts
    assert db.notification_counts()["delivered"] == 200
    with db.read() as conn:
        per = conn.execute(sa.select(delivery_attempts.c.notification_id, sa.func.count())
                           .group_by(delivery_attempts.c.notification_id)).all()
    assert len(per) == 200 and {n for _, n in per} == {1}
    assert all(n["claimed_by"] is None and n["claim_until"] is None for n in db.notifications())
    db.close()


def test_a_claim_is_exclusive_until_its_lease_ends(db: StateDB) -> None:
    """A claimed notification is not due for anyone else until its lease ends; then it is claimable."""
    enqueue(db, 3, channel="hook", now=NOW)
    lease = NOW + dt.timedelta(seconds=60)
    a = db.claim_due(now=NOW, limit=2, worker="a", until=lease)
    b = db.claim_due(now=NOW, limit=5, worker="b", until=lease)
    assert [r["idempotency_key"] for r in a] == ["key-0", "key-1"]
    assert [r["idempotency_key"] for r in b] == ["key-2"]
    assert db.claim_due(now=NOW + dt.timedelta(seconds=59), limit=5, worker="c", until=lease) == []
    later = NOW + dt.timedelta(seconds=60)
    c = db.claim_due(now=later, limit=5, worker="c", until=later + dt.timedelta(seconds=60))
    assert [r["idempotency_key"] for r in c] == ["key-0", "key-1", "key-2"]
    # worker a comes back after its lease: its outcome no longer changes the row that c holds
    db.record_attempt(a[0], now=later, status="delivered", attempts=1, error=None)
    row = next(n for n in db.notifications() if n["idempotency_key"] == "key-0")
    assert (row["status"], row["claimed_by"]) == ("queued", "c")
    db.record_attempt(c[0], now=later, status="delivered", attempts=1, error=None)
    row = next(n for n in db.notifications() if n["idempotency_key"] == "key-0")
    assert (row["status"], row["claimed_by"], row["claim_until"]) == ("delivered", None, None)


def test_database_passwords_never_reach_messages_or_logs(pg_url: str,
                                                         capfd: pytest.CaptureFixture[str]) -> None:
    """A PostgreSQL URL's password is masked in every error: a failed open, a failed statement."""
    secret = "Sup3rS3cretPw"
    url = sa.engine.make_url(pg_url).set(password=secret)
    missing = url.set(database="no_such_database")
    with pytest.raises(StoreError) as failed:
        open_db(missing.render_as_string(hide_password=False))
    assert secret not in str(failed.value) and "***" in str(failed.value)
    db = open_db(url.render_as_string(hide_password=False))     # trust authentication: it opens
    with pytest.raises(StoreError) as failed, db.write() as conn:
        conn.execute(sa.text("SELECT * FROM no_such_table"))
    assert secret not in str(failed.value) and "***" in str(failed.value)
    db.close()
    out, err = capfd.readouterr()
    assert secret not in out and secret not in err
