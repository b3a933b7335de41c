"""kill -9 at random points of `prices import` and `ingest`: no committed row lost, no stale lock.

Each round starts the real console script and kills it with SIGKILL at a random point of a clean
run's duration (measured first, so the kills land while it works; seeded, so a failure replays).
The rows the store held before a kill never shrink, and the next command gets the writer lock at
once (a dead holder never blocks). A final uninterrupted run must leave exactly the rows of a clean
run: nothing lost, nothing doubled.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from pathlib import Path

import polars as pl

from metrics.store.tables import Store
from tests.conftest import PROJECT

METRICS_BIN = PROJECT / ".venv" / "bin" / "metrics"
SAMPLE = PROJECT / "examples" / "prices" / "daily_sample.parquet"
DOCUMENTS = PROJECT / "examples" / "documents"
ROUNDS = 3


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("METRICS_")}
    env.update({"METRICS_LOG_FORMAT": "json", "METRICS_LOCK_TIMEOUT_S": "5"})
    return env


def _run(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(METRICS_BIN), "--root", str(root), *args], capture_output=True, text=True,
                          env=_env(), cwd=PROJECT, timeout=300, check=False)


def _rows(root: Path, dataset: str) -> int:
    return int(Store(root).scan(dataset).select(pl.len()).collect().item()) if root.exists() else 0


def _timed(root: Path, *args: str) -> float:
    """Seconds a clean ``metrics ARGS`` run takes (it must succeed)."""
    started = time.monotonic()
    res = _run(root, *args)
    assert res.returncode == 0, res.stderr[-2000:]
    return time.monotonic() - started


def _kill_rounds(root: Path, args: tuple[str, ...], dataset: str, rng: random.Random,
                 duration: float) -> int:
    """Kill ``metrics ARGS`` ROUNDS times at random points of ``duration``; how many kills hit a live run."""
    hits = 0
    for _ in range(ROUNDS):
        before = _rows(root, dataset)
        proc = subprocess.Popen([str(METRICS_BIN), "--root", str(root), *args], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, env=_env(), cwd=PROJECT)
        time.sleep(rng.uniform(0.3, 0.95) * duration)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            hits += 1
        proc.wait(timeout=60)
        after = _rows(root, dataset)
        assert after >= before, f"{dataset}: {before} rows before the kill, {after} after"
    return hits


def test_kill_9_during_prices_import_loses_nothing(tmp_path: Path) -> None:
    """Killed imports never remove committed bars nor leave a lock; a last import gives the clean result."""
    duration = _timed(tmp_path / "clean", "prices", "import", str(SAMPLE))
    rng = random.Random(20261202)
    root = tmp_path / "killed"
    assert _kill_rounds(root, ("prices", "import", str(SAMPLE)), "prices", rng, duration) >= 1
    started = time.monotonic()
    final = _run(root, "prices", "import", str(SAMPLE))
    assert final.returncode == 0, final.stderr[-2000:]
    assert time.monotonic() - started < 60          # the writer lock of a killed run did not hold it up
    assert _rows(root, "prices") == pl.read_parquet(SAMPLE).height


def test_kill_9_during_ingest_loses_nothing(tmp_path: Path) -> None:
    """Killed ingests never remove stored facts; a last ingest stores what one clean ingest stores."""
    clean = tmp_path / "clean"
    duration = _timed(clean, "ingest", str(DOCUMENTS))
    rng = random.Random(1202)
    root = tmp_path / "killed"
    assert _kill_rounds(root, ("ingest", str(DOCUMENTS)), "facts", rng, duration) >= 1
    final = _run(root, "ingest", str(DOCUMENTS))
    assert final.returncode == 0, final.stderr[-2000:]
    assert _rows(root, "facts") == _rows(clean, "facts") > 0
