"""The daemon end to end: real store, real state database, real webhook receiver, real CLI."""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import signal
import socket
import time
from pathlib import Path

import polars as pl
import pytest

from metrics.alerting.state import StateDB, open_db
from metrics.settings import load_settings
from metrics.store.tables import Store
from tests.daemon.conftest import (
    EVENING,
    PROJECT,
    TEST_RULES,
    US_COMPANIES,
    Receiver,
    events,
    run_metrics,
    spawn,
    write_config,
)

UTC = dt.UTC


def store_args(config: Path, root: Path) -> list[str]:
    return ["--root", str(root), "--config", str(config)]


def state_db(config: Path, root: Path) -> StateDB:
    """The state database the daemon of ``config`` uses (SQLite under ``root`` or PostgreSQL)."""
    return open_db(load_settings(config, root=root).database_url)


def webhook_ids(config: Path, root: Path) -> set[str]:
    """Idempotency keys of the notifications the outbox holds for the webhook channel."""
    db = state_db(config, root)
    try:
        return {n["idempotency_key"] for n in db.notifications() if n["channel"] == "hook"}
    finally:
        db.close()


def test_once_ingests_imports_evaluates_and_delivers(capsys: pytest.CaptureFixture[str],
                                                     daemon_env: tuple[Path, Path],
                                                     receiver: Receiver) -> None:
    """``daemon --once`` on a fresh store ingests the inbox, seeds prices, evaluates, delivers, exits 0."""
    config, root = daemon_env
    res = run_metrics(capsys, *store_args(config, root), "daemon", "--once", "--now", EVENING)
    assert res.code == 0, res.err
    store = Store(root)
    assert store.scan("facts").select(pl.len()).collect().item() > 0
    assert store.scan("prices").select(pl.len()).collect().item() > 20_000
    alerts = store.scan("alerts").collect()
    assert set(alerts.get_column("entity")) == {"NVDA", "MSFT", "AMD"}
    assert "notify.log" in res.err
    ids = webhook_ids(config, root)  # the three firing alerts of the first evaluation travel as one digest
    assert len(ids) == 1 and set(receiver.unique) == ids
    [digest] = receiver.unique.values()
    assert {a["labels"]["entity"] for a in digest["alerts"]} == {"NVDA", "MSFT", "AMD"}
    finished = [line for line in res.err.splitlines() if "job.finished" in line]
    assert len(finished) == 6  # seed, ingest, prices, evaluate, deliver, compact: one line each


def test_once_again_fires_nothing_twice(capsys: pytest.CaptureFixture[str], daemon_env: tuple[Path, Path],
                                        receiver: Receiver) -> None:
    """A second ``--once`` at the same time stores no new facts and sends no notification again."""
    config, root = daemon_env
    assert run_metrics(capsys, *store_args(config, root), "daemon", "--once", "--now", EVENING).code == 0
    facts = Store(root).scan("facts").select(pl.len()).collect().item()
    sent = list(receiver.received)
    res = run_metrics(capsys, *store_args(config, root), "daemon", "--once", "--now", EVENING)
    assert res.code == 0, res.err
    assert Store(root).scan("facts").select(pl.len()).collect().item() == facts
    assert receiver.received == sent


def test_status_shows_each_jobs_last_run(capsys: pytest.CaptureFixture[str],
                                         daemon_env: tuple[Path, Path]) -> None:
    """After a run, the jobs section of the status lists every job with its outcome and lag."""
    from jobs.status import jobs_status
    from metrics.settings import load_settings

    config, root = daemon_env
    assert run_metrics(capsys, *store_args(config, root), "daemon", "--once", "--now", EVENING).code == 0
    settings = load_settings(config, root=root)
    db = open_db(settings.database_url)
    try:
        section = jobs_status(db, settings, now=dt.datetime(2026, 5, 22, 23, 0, tzinfo=UTC))
    finally:
        db.close()
    by_job = {j["job"]: j for j in section["jobs"]}
    assert set(by_job) == {"seed", "ingest", "prices", "evaluate", "deliver", "compact"}
    assert all(j["status"] == "ok" for j in by_job.values())
    assert 3500 < by_job["evaluate"]["lag_s"] < 3700
    assert "evaluated=" in by_job["evaluate"]["counts"] and by_job["evaluate"]["error"] is None
    assert section["evaluated_to"] == dt.datetime(2026, 5, 22, 20, 0, tzinfo=UTC)  # Friday's close
    assert section["closes_behind"] == 0
    assert section["daemon"] is None


def test_on_sqlite_each_daemon_start_leads_at_the_next_epoch(capsys: pytest.CaptureFixture[str],
                                                             daemon_env: tuple[Path, Path]) -> None:
    """On SQLite the file lock is the leadership: each daemon run takes the next epoch, and
    ``metrics status`` names the last leader (``host:pid``) with no replica left running."""
    config, root = daemon_env
    for epoch in (1, 2):
        assert run_metrics(capsys, *store_args(config, root), "daemon", "--once", "--now", EVENING).code == 0
        status = run_metrics(capsys, *store_args(config, root), "status", "--format", "json")
        assert status.code == 0, status.err
        section = json.loads(status.out)["leadership"]
        assert section["epoch"] == epoch
        assert section["leader"] == f"{socket.gethostname()}:{os.getpid()}"
        assert section["replicas"] == []


BETWEEN_RULE = """
[[rules]]
name = "nvda-above-230"
series = "prices.close"
entities = ["NVDA"]
condition = "value > 230"
for = "0"
keep_firing_for = "0d"
repeat_interval = "0"
severity = "warning"
channels = ["hook"]
summary = "{entity} closed at {value:.2f}"
"""


def test_downtime_replays_missed_closes_in_order(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                 receiver: Receiver) -> None:
    """Down from one close to five closes later: each missed close is evaluated in order and its
    transitions recorded (appended to the alerts dataset in one commit); the alert that fired and
    resolved in between is no longer current, so nothing is sent (as Alertmanager would)."""
    root = tmp_path / "store"
    config = write_config(tmp_path / "cfg", root, hook_url=receiver.url, rules=BETWEEN_RULE,
                          companies=US_COMPANIES)
    args = store_args(config, root)
    assert run_metrics(capsys, *args, "daemon", "--once", "--now", "2026-05-08T22:00:00Z").code == 0
    assert receiver.unique == {}  # NVDA closed at 215.20: nothing fired yet
    version = Store(root).table_version("alerts")
    res = run_metrics(capsys, *args, "daemon", "--once", "--now", "2026-05-15T22:00:00Z")
    assert res.code == 0, res.err
    ticks = [e["at"] for e in events(res.err) if e["event"] == "tick.done"]
    assert ticks == [f"2026-05-{d}T20:00:00+00:00" for d in (11, 12, 13, 14, 15)]
    assert receiver.unique == {}  # firing on the 14th (235.74), resolved on the 15th
    alerts = Store(root).scan("alerts").sort("at").collect()
    assert alerts.select("state", "at").rows() == [
        ("firing", dt.datetime(2026, 5, 14, 20, 0, tzinfo=UTC)),
        ("resolved", dt.datetime(2026, 5, 15, 20, 0, tzinfo=UTC))]
    assert version is not None and Store(root).table_version("alerts") == version + 1  # one append
    again = run_metrics(capsys, *args, "daemon", "--once", "--now", "2026-05-15T22:00:00Z")
    assert again.code == 0 and receiver.received == []


def test_rules_with_errors_refuse_to_start(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """A rules file with an error stops the daemon before it starts: exit 2, naming rule and field."""
    root = tmp_path / "store"
    bad = TEST_RULES.replace('for = "0"', 'for = "two days"', 1).replace('channels = ["log", "hook"]',
                                                                         'channels = ["log"]')
    config = write_config(tmp_path / "cfg", root, rules=bad)
    res = run_metrics(capsys, *store_args(config, root), "daemon", "--once", "--now", EVENING)
    assert res.code == 2
    assert "nvda-close-seen" in res.err and "'for'" in res.err
    assert not (root / "facts").exists()


def test_now_without_once_is_a_usage_error(capsys: pytest.CaptureFixture[str],
                                           daemon_env: tuple[Path, Path]) -> None:
    """The hidden ``--now`` only makes sense for one run: without ``--once`` it is refused (exit 2)."""
    config, root = daemon_env
    res = run_metrics(capsys, *store_args(config, root), "daemon", "--now", EVENING)
    assert res.code == 2 and "--now" in res.err


def wait_for_event(proc: object, name: str, seen: list[dict[str, object]], timeout: float = 60) -> None:
    """Read the subprocess's stderr until a JSON event ``name`` appears."""
    import subprocess

    assert isinstance(proc, subprocess.Popen)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            raise AssertionError(f"daemon exited before {name}: {seen[-5:]}")
        seen.extend(events(line))
        if seen and seen[-1].get("event") == name:
            return
    raise AssertionError(f"no {name} within {timeout}s")


def test_second_daemon_on_the_same_store_refuses(capsys: pytest.CaptureFixture[str],
                                                 sqlite_daemon_env: tuple[Path, Path]) -> None:
    """While a daemon runs, another on the same store exits 2 naming the holder's pid."""
    config, root = sqlite_daemon_env
    proc = spawn(*store_args(config, root), "daemon")
    seen: list[dict[str, object]] = []
    try:
        wait_for_event(proc, "daemon.started", seen)
        res = run_metrics(capsys, *store_args(config, root), "daemon", "--once", "--now", EVENING)
        assert res.code == 2
        assert f"pid {proc.pid}" in res.err and "another daemon" in res.err
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
    assert proc.returncode == 0


def test_sigterm_finishes_the_job_in_hand_and_exits_cleanly(daemon_env: tuple[Path, Path]) -> None:
    """SIGTERM during the start-up jobs lets the job in hand finish, then the daemon exits 0 and
    leaves no temp file, no unreadable part and no job recorded as still running."""
    config, root = daemon_env
    proc = spawn(*store_args(config, root), "daemon")
    seen: list[dict[str, object]] = []
    wait_for_event(proc, "daemon.started", seen)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    names = [e.get("event") for e in seen + events(err)]
    assert "daemon.stopping" in names and "daemon.stopped" in names
    assert not list(root.rglob("*.tmp"))
    for part in root.rglob("*.parquet"):
        pl.read_parquet(part)
    db = state_db(config, root)
    try:
        assert all(r["status"] != "running" for r in db.last_job_runs())
    finally:
        db.close()


@pytest.mark.parametrize("seed", [7, 20260522])
def test_sigkill_at_a_random_point_then_restart_loses_and_doubles_nothing(
        seed: int, capsys: pytest.CaptureFixture[str], tmp_path: Path, receiver: Receiver,
        state_url: str) -> None:
    """Killed with SIGKILL at a random point of a run and restarted, the daemon delivers every
    notification of an uninterrupted run (on SQLite), none twice after the receiver's dedup by
    webhook-id, on either state database."""
    rules = TEST_RULES + BETWEEN_RULE.replace('channels = ["hook"]', 'channels = ["hook", "log"]')
    clean_root = tmp_path / "clean"
    clean_cfg = write_config(tmp_path / "clean_cfg", clean_root, hook_url=receiver.url, rules=rules,
                             companies=US_COMPANIES)
    now = "2026-05-15T22:00:00Z"
    clean = run_metrics(capsys, *store_args(clean_cfg, clean_root), "daemon", "--once", "--now", now)
    assert clean.code == 0, clean.err
    expected = set(receiver.unique)
    lines = len(events(clean.err))
    receiver.received.clear()
    receiver.unique.clear()

    root = tmp_path / "killed"
    config = write_config(tmp_path / "cfg", root, hook_url=receiver.url, rules=rules,
                          companies=US_COMPANIES,
                          state_url=None if state_url.startswith("sqlite") else state_url)
    kill_after = random.Random(seed).randint(1, lines)
    proc = spawn(*store_args(config, root), "daemon", "--once", "--now", now)
    seen: list[dict[str, object]] = []
    while len(seen) < kill_after:
        line = proc.stderr.readline()
        if not line:
            break
        seen.extend(events(line))
    proc.kill()
    proc.communicate(timeout=30)
    res = run_metrics(capsys, *store_args(config, root), "daemon", "--once", "--now", now)
    assert res.code == 0, f"killed after {kill_after} events: {res.err[-2000:]}"
    assert set(receiver.unique) == expected, f"killed after {kill_after} of {lines} events"
    assert webhook_ids(config, root) == expected
    db = state_db(config, root)
    try:
        counts = db.notification_counts()
    finally:
        db.close()
    assert counts["queued"] == 0 and counts["dead"] == 0


def test_first_run_of_the_shipped_project_shows_facts_and_alerts(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """The shipped rules, example documents and sample prices give facts and firing alerts at once,
    and ``metrics status`` then shows every job's last run."""
    root = tmp_path / "store"
    rules = (PROJECT / "config" / "rules.toml").read_text(encoding="utf-8")
    config = write_config(tmp_path / "cfg", root, rules=rules)
    res = run_metrics(capsys, *store_args(config, root), "daemon", "--once")
    assert res.code == 0, res.err[-3000:]
    assert any(e["event"] == "notify.log" and e["state"] == "firing" for e in events(res.err))
    assert Store(root).scan("facts").select(pl.len()).collect().item() > 0
    listed = run_metrics(capsys, *store_args(config, root), "alerts", "--format", "json")
    assert listed.code == 0 and "firing" in listed.out
    status = run_metrics(capsys, *store_args(config, root), "status", "--format", "json")
    assert status.code == 0, status.err
    jobs = {j["job"]: j for j in json.loads(status.out)["jobs"]["jobs"]}
    assert set(jobs) == {"seed", "ingest", "prices", "evaluate", "deliver", "compact"}


def test_evaluate_job_keeps_the_last_good_rules_when_the_file_breaks(
        capsys: pytest.CaptureFixture[str], daemon_env: tuple[Path, Path]) -> None:
    """A rules file broken while the daemon runs is reported (rules.reload_failed, rules_error) and
    the evaluation goes on with the rules last loaded."""
    from jobs import evaluate, prices
    from jobs.runner import execute
    from jobs.services import build_services
    from metrics.settings import load_settings

    config, root = daemon_env
    services = build_services(load_settings(config, root=root))
    try:
        services.rules.load()
        prices.seed(services, now=dt.datetime(2026, 5, 22, 22, 0, tzinfo=UTC))
        (config / "rules.toml").write_text(TEST_RULES.replace('for = "0"', 'for = "whenever"', 1),
                                           encoding="utf-8")
        result = execute("evaluate", evaluate.run, services,
                         now=dt.datetime(2026, 5, 22, 22, 0, tzinfo=UTC))
    finally:
        services.close()
    assert result.status == "ok" and result.summary["rules"] == 2
    assert "nvda-close-seen" in result.summary["rules_error"]
    assert any(e["event"] == "rules.reload_failed" for e in events(capsys.readouterr().err))
    assert set(Store(root).scan("alerts").collect().get_column("rule")) == {"nvda-close-seen",
                                                                          "msft-close-seen"}


def test_the_schedule_runs_jobs_on_their_intervals(tmp_path: Path, receiver: Receiver) -> None:
    """After the start-up jobs the scheduler keeps running each job on its own interval."""
    root = tmp_path / "store"
    config = write_config(tmp_path / "cfg", root, hook_url=receiver.url, rules=TEST_RULES,
                          extra="deliver_every_s = 1\ningest_every_s = 1\n", companies=US_COMPANIES)
    proc = spawn(*store_args(config, root), "daemon")
    seen: list[dict[str, object]] = []
    try:
        wait_for_event(proc, "daemon.scheduled", seen)
        start = len(seen)
        while not {"deliver", "ingest"} <= {e.get("job") for e in seen[start:]
                                            if e.get("event") == "job.finished"}:
            wait_for_event(proc, "job.finished", seen)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
    assert proc.returncode == 0


def test_first_start_alerts_before_the_web_view_loads(tmp_path: Path) -> None:
    """With the web view enabled, a first start delivers its first alerts (``notify.log``) before it
    loads and starts the web view, which then serves; a public address without a token still
    refuses to start before any job runs (exit 2, naming the variable)."""
    import urllib.request

    root = tmp_path / "store"
    rules = (PROJECT / "config" / "rules.toml").read_text(encoding="utf-8")
    config = write_config(tmp_path / "cfg", root, rules=rules, extra="\n[http]\nenabled = true\nport = 0\n")
    proc = spawn(*store_args(config, root), "daemon")
    seen: list[dict[str, object]] = []
    try:
        wait_for_event(proc, "daemon.ready", seen, timeout=300)
        names = [e.get("event") for e in seen]
        assert "notify.log" in names and "http.serving" in names
        assert names.index("notify.log") < names.index("http.serving")
        url = next(str(e["url"]) for e in seen if e.get("event") == "http.serving")
        with urllib.request.urlopen(url + "metrics", timeout=30) as response:
            assert response.status == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
    assert proc.returncode == 0
    public = write_config(tmp_path / "public", tmp_path / "other", rules=rules,
                          extra='\n[http]\nenabled = true\nhost = "0.0.0.0"\nport = 0\n')
    refused = spawn(*store_args(public, tmp_path / "other"), "daemon")
    _, err = refused.communicate(timeout=120)
    assert refused.returncode == 2 and "METRICS_HTTP__TOKEN" in err
    assert not [e for e in events(err) if e.get("event") == "job.finished"]
