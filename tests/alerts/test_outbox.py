"""The outbox: retries with backoff, Retry-After, dead letters, 410, and crashes between send and mark."""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from jobs.cli import app
from metrics.alerting.notify import Notifier, build_notifiers, close_notifiers
from metrics.alerting.outbox import backoff_delay, deliver_due, requeue_dead
from metrics.alerting.state import StateDB, delivery_status, open_db
from metrics.errors import StoreError
from metrics.settings import DeliverySettings, LogChannel, WebhookChannel
from tests.alerts.conftest import WEBHOOK_SECRET, Received, Receiver, enqueue

NOW = dt.datetime(2026, 3, 2, 21, 0, tzinfo=dt.UTC)
PROJECT = Path(__file__).resolve().parents[2]
POLICY = DeliverySettings(max_attempts=4, backoff_base_s=10, backoff_max_s=60, batch_size=50)


@pytest.fixture
def hooks(receiver: Receiver) -> Iterator[dict[str, Notifier]]:
    """A webhook notifier (channel "hook") posting to the local receiver; closed afterwards."""
    notifiers = build_notifiers({"hook": WebhookChannel(url=receiver.url, secret=SecretStr(WEBHOOK_SECRET))})
    yield notifiers
    close_notifiers(notifiers)


def statuses(db: StateDB) -> dict[str, str]:
    return {n["idempotency_key"]: n["status"] for n in db.notifications()}


def test_500_then_200_is_delivered_once(db: StateDB, receiver: Receiver,
        hooks: dict[str, Notifier]) -> None:
    """A receiver answering 500 gets the notification again after the backoff, then it is delivered."""
    enqueue(db, 1, channel="hook", now=NOW)
    receiver.reply(500)
    notifiers = hooks
    first = deliver_due(db, notifiers, now=NOW, settings=POLICY, rng=random.Random(1))
    assert (first.retried, first.delivered) == (1, 0)
    [row] = db.notifications()
    assert row["attempts"] == 1 and "HTTP 500" in row["last_error"]
    assert NOW <= row["next_attempt_at"] <= NOW + dt.timedelta(seconds=POLICY.backoff_base_s)
    second = deliver_due(db, notifiers, now=row["next_attempt_at"], settings=POLICY, rng=random.Random(1))
    assert second.delivered == 1
    assert [r.status for r in receiver.requests] == [500, 200]
    assert len({r.headers["webhook-id"] for r in receiver.requests}) == 1
    assert list(receiver.accepted) == ["key-0"] and statuses(db) == {"key-0": "delivered"}


def test_429_retry_after_is_honoured(db: StateDB, receiver: Receiver,
        hooks: dict[str, Notifier]) -> None:
    """A 429 with Retry-After longer than the backoff delays the next attempt at least that long."""
    enqueue(db, 1, channel="hook", now=NOW)
    receiver.reply(429, {"Retry-After": "600"})
    notifiers = hooks
    deliver_due(db, notifiers, now=NOW, settings=POLICY, rng=random.Random(2))
    [row] = db.notifications()
    assert row["next_attempt_at"] == NOW + dt.timedelta(seconds=600)
    early = deliver_due(db, notifiers, now=NOW + dt.timedelta(seconds=599), settings=POLICY)
    assert early.attempted == 0 and len(receiver.requests) == 1
    late = deliver_due(db, notifiers, now=NOW + dt.timedelta(seconds=600), settings=POLICY)
    assert late.delivered == 1 and list(receiver.accepted) == ["key-0"]


def test_dead_letter_after_max_attempts(db: StateDB, receiver: Receiver,
        hooks: dict[str, Notifier]) -> None:
    """A notification failing transiently on every attempt is dead after max_attempts, with its error."""
    enqueue(db, 1, channel="hook", now=NOW)
    receiver.reply(503, times=10)
    notifiers = hooks
    at = NOW
    for _ in range(POLICY.max_attempts):
        deliver_due(db, notifiers, now=at, settings=POLICY, rng=random.Random(3))
        at += dt.timedelta(seconds=POLICY.backoff_max_s)
    [row] = db.notifications()
    assert row["status"] == "dead" and row["attempts"] == POLICY.max_attempts
    assert "HTTP 503" in row["last_error"]
    assert len(receiver.requests) == POLICY.max_attempts
    status = delivery_status(db)
    assert status["dead"] == 1 and status["dead_letters"][0]["attempts"] == POLICY.max_attempts


def test_410_disables_the_endpoint(db: StateDB, receiver: Receiver,
        hooks: dict[str, Notifier]) -> None:
    """410 Gone kills the notification and disables the channel: later ones go straight to disabled."""
    enqueue(db, 3, channel="hook", now=NOW)
    receiver.reply(410)
    notifiers = hooks
    report = deliver_due(db, notifiers, now=NOW, settings=POLICY)
    assert (report.dead, report.disabled) == (1, 2)
    assert len(receiver.requests) == 1
    assert "hook" in db.disabled_endpoints()
    enqueue(db, 1, channel="hook", now=NOW, prefix="later")
    assert deliver_due(db, notifiers, now=NOW, settings=POLICY).disabled == 1
    assert len(receiver.requests) == 1
    assert delivery_status(db)["disabled_endpoints"]["hook"]["reason"].startswith("channel 'hook': HTTP 410")
    assert requeue_dead(db, now=NOW, channel="hook") == 4
    assert deliver_due(db, notifiers, now=NOW, settings=POLICY).delivered == 4


def test_permanent_error_is_dead_at_once(db: StateDB, receiver: Receiver,
        hooks: dict[str, Notifier]) -> None:
    """A 4xx other than 408/410/429 is not retried."""
    enqueue(db, 1, channel="hook", now=NOW)
    receiver.reply(422)
    report = deliver_due(db, hooks, now=NOW, settings=POLICY)
    assert report.dead == 1 and statuses(db) == {"key-0": "dead"}


def test_unconfigured_channel_is_dead(db: StateDB) -> None:
    """A notification for a channel missing from settings becomes a dead letter naming it."""
    enqueue(db, 1, channel="pager", now=NOW)
    report = deliver_due(db, build_notifiers({"log": LogChannel()}), now=NOW, settings=POLICY)
    assert report.dead == 1
    assert "'pager' is not configured" in db.notifications()[0]["last_error"]


def test_backoff_is_full_jitter_and_capped() -> None:
    """Delays are uniform in [0, min(max, base * 2^(n-1))], reproducible with a seeded RNG."""
    rng = random.Random(42)
    for attempts, cap in [(1, 10), (2, 20), (3, 40), (4, 60), (9, 60)]:
        delays = [backoff_delay(attempts, POLICY, rng) for _ in range(200)]
        assert all(0 <= d <= cap for d in delays)
        assert max(delays) > cap * 0.8
    assert backoff_delay(1, POLICY, random.Random(5)) == backoff_delay(1, POLICY, random.Random(5))
    assert backoff_delay(1, POLICY, rng, retry_after=300) == 300


def test_crash_between_send_and_mark_resends_same_key(
        tmp_path: Path, receiver: Receiver,
        hooks: dict[str, Notifier]) -> None:
    """When the delivered-mark cannot be written (database locked while the receiver accepts), the
    notification stays claimed until its lease ends, then is sent again with the same key."""
    url = f"sqlite:///{tmp_path / 'state.db'}"
    db = open_db(url, busy_timeout_ms=100)
    keys = enqueue(db, 2, channel="hook", now=NOW)
    notifiers = hooks
    blocker = sqlite3.connect(tmp_path / "state.db", isolation_level=None, check_same_thread=False)

    def lock_on_first(req: Received) -> None:
        if len(receiver.requests) == 1:
            blocker.execute("BEGIN IMMEDIATE")  # another process takes the write lock mid-send

    receiver.on_request = lock_on_first
    with pytest.raises(StoreError, match="locked"):
        deliver_due(db, notifiers, now=NOW, settings=POLICY)
    receiver.on_request = None
    blocker.execute("ROLLBACK")
    blocker.close()
    assert statuses(db) == dict.fromkeys(keys, "queued")
    assert deliver_due(db, notifiers, now=NOW, settings=POLICY).delivered == 1   # key-0 is still claimed
    later = NOW + dt.timedelta(seconds=POLICY.claim_lease_s + 1)
    assert deliver_due(db, notifiers, now=later, settings=POLICY).delivered == 1  # its lease ended
    ids = [r.headers["webhook-id"] for r in receiver.requests]
    assert ids == ["key-0", "key-1", "key-0"]
    assert sorted(receiver.accepted) == keys and receiver.duplicates == 1
    assert statuses(db) == dict.fromkeys(keys, "delivered")
    db.close()


SENDER = """
import datetime as dt, sys
from pydantic import SecretStr
from typer.testing import CliRunner
from metrics.alerting.notify import build_notifiers
from metrics.alerting.outbox import deliver_due
from metrics.settings import WebhookChannel
from metrics.alerting.state import open_db
db = open_db(sys.argv[1])
notifiers = build_notifiers({"hook": WebhookChannel(url=sys.argv[2], secret=SecretStr(sys.argv[3]))})
deliver_due(db, notifiers, now=dt.datetime.fromisoformat(sys.argv[4]))
print("finished")
"""


def test_killed_deliverer_loses_nothing_and_receiver_dedups(db_url: str, receiver: Receiver,
        hooks: dict[str, Notifier]) -> None:
    """A deliverer killed while a request is in flight: its claim holds the notification until the
    lease ends, then another run sends it again; every key is accepted exactly once."""
    url = db_url
    db = open_db(url)
    keys = enqueue(db, 4, channel="hook", now=NOW)
    proc: list[subprocess.Popen[bytes]] = []

    def kill_on_second(req: Received) -> None:
        if len(receiver.requests) == 2:
            os.kill(proc[0].pid, signal.SIGKILL)
            proc[0].wait(10)

    receiver.on_request = kill_on_second
    proc.append(subprocess.Popen(
        [sys.executable, "-c", SENDER, url, receiver.url, WEBHOOK_SECRET, NOW.isoformat()],
        cwd=PROJECT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL))
    out, _ = proc[0].communicate(timeout=60)
    assert proc[0].returncode == -signal.SIGKILL and b"finished" not in out
    receiver.on_request = None
    assert statuses(db) == {"key-0": "delivered", "key-1": "queued", "key-2": "queued", "key-3": "queued"}
    assert deliver_due(db, hooks, now=NOW, settings=POLICY).delivered == 2         # not the claimed key-1
    later = NOW + dt.timedelta(seconds=POLICY.claim_lease_s + 1)
    assert deliver_due(db, hooks, now=later, settings=POLICY).delivered == 1
    ids = [r.headers["webhook-id"] for r in receiver.requests]
    assert ids == ["key-0", "key-1", "key-2", "key-3", "key-1"]
    assert sorted(receiver.accepted) == keys and receiver.duplicates == 1
    db.close()


def test_cli_outbox_list_and_requeue(tmp_path: Path) -> None:
    """`outbox list --status dead` shows dead letters; `outbox requeue --channel` queues them again."""
    root = tmp_path / "root"
    db = open_db(f"sqlite:///{root / 'state.db'}")
    enqueue(db, 2, channel="pager", now=NOW)
    deliver_due(db, build_notifiers({"log": LogChannel()}), now=NOW, settings=POLICY)
    db.close()
    base = ["--root", str(root), "--config", str(tmp_path)]
    listed = CliRunner().invoke(app, [*base, "outbox", "list", "--status", "dead", "--format", "json"])
    assert listed.exit_code == 0
    assert [(r["channel"], r["status"]) for r in json.loads(listed.stdout)] == [("pager", "dead")] * 2
    requeued = CliRunner().invoke(app, [*base, "outbox", "requeue", "--channel", "pager"])
    assert requeued.exit_code == 0 and "2 notification(s)" in requeued.stderr
    db = open_db(f"sqlite:///{root / 'state.db'}")
    assert db.notification_counts()["queued"] == 2
    db.close()
