"""A kill -9 during the first evaluation leaves the alert history as a run never killed would have."""

from __future__ import annotations

import random
import signal
import time
from pathlib import Path

import polars as pl
import pytest

from metrics.alerting.state import open_db
from metrics.store.tables import Store
from tests.daemon.conftest import PROJECT, events, spawn, write_config

# half a year after the sample's last bar: the first run replays the end of the history, then the
# latest close (where the stale-data rule fires), then now
NOW = "2026-11-23T18:00:00Z"


def _history(root: Path) -> tuple[list[tuple[object, ...]], set[str]]:
    """The alert history (transitions) and the idempotency keys of every notification of ``root``."""
    alerts = (Store(root).scan("alerts").select("alert_id", "rule", "entity", "state", "at", "summary")
              .sort("alert_id").collect())
    db = open_db(f"sqlite:///{root / 'state.db'}")
    try:
        keys = {n["idempotency_key"] for n in db.notifications(limit=100_000)}
    finally:
        db.close()
    return alerts.rows(), keys


def _run_once(config: Path, root: Path) -> None:
    proc = spawn("--root", str(root), "--config", str(config), "daemon", "--once", "--now", NOW)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-2000:]


def _kill_during_evaluation(config: Path, root: Path, rng: random.Random) -> None:
    """Start ``daemon --once`` and kill -9 it a random moment after its first tick."""
    proc = spawn("--root", str(root), "--config", str(config), "daemon", "--once", "--now", NOW)
    assert proc.stderr is not None
    try:
        for line in proc.stderr:
            if any(e.get("event") == "tick.done" for e in events(line)):
                break
        time.sleep(rng.uniform(0.0, 0.4))
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)


@pytest.mark.slow
def test_kill_during_the_first_evaluation_changes_no_history(tmp_path: Path) -> None:
    """Crash + restart gives the same transitions and notifications as one uninterrupted run."""
    rules = (PROJECT / "config" / "rules.toml").read_text(encoding="utf-8")
    ref_root, crash_root = tmp_path / "ref", tmp_path / "crash"
    ref_cfg = write_config(tmp_path / "ref-cfg", ref_root, rules=rules, replay_max_days=4)
    crash_cfg = write_config(tmp_path / "crash-cfg", crash_root, rules=rules, replay_max_days=4)
    _run_once(ref_cfg, ref_root)
    expected = _history(ref_root)
    assert expected[0] and expected[1]
    assert any(r[1] == "no-new-price-3-sessions" for r in expected[0])  # staleness seen at start
    _kill_during_evaluation(crash_cfg, crash_root, random.Random())
    _run_once(crash_cfg, crash_root)
    got = _history(crash_root)
    assert got[0] == expected[0]
    assert got[1] == expected[1]
    assert pl.DataFrame(got[0], orient="row").height == len(expected[0])
