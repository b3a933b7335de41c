"""Benchmark: a backtest of 100 rules on the local executor and on Ray, same store, same run.

The store is real: the bars of ../shared/data/prices/daily_1999_2026.parquet imported into Delta
tables in a temporary folder. The rules are seeded: most over every ticker (several condition shapes
and thresholds), some over 1-3 named tickers. Ray runs on this machine (``ray.init(num_cpus=N)``,
``--cpus``, default: all cores) or on a cluster (``--address``); its start-up is not timed, the
planning of the shards is. The results are checked equal, row for row.

Prints medians and the ratio. Run: ``.venv/bin/python benchmarks/backtest_ray.py [--rules 100]
[--from 2000-01-01] [--to 2026-12-31] [--repeat 3] [--cpus N] [--address ADDR]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import ray

from metrics.alerting.backtest import Window
from metrics.alerting.executors import LocalExecutor
from metrics.alerting.ray_executor import RayExecutor
from metrics.alerting.rules import Rule, parse_rules
from metrics.store.tables import Store

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "prices" / "daily_1999_2026.parquet"
NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
SHAPES = [
    "value < sma_200 * {x:.3f}",
    "change_pct_5 <= -{x:.2f}",
    "value >= high_52w * {x:.3f}",
    "sma_20 < sma_50 and change_pct_20 < -{x:.2f}",
    "change_pct >= {x:.2f}",
]
LOW = {0: 0.8, 1: 5.0, 2: 0.95, 3: 2.0, 4: 3.0}
HIGH = {0: 1.0, 1: 15.0, 2: 1.0, 3: 10.0, 4: 8.0}


def make_rules(tickers: list[str], n: int, seed: int = 5) -> list[Rule]:
    """``n`` seeded rules over prices.close: four in five over every ticker, the rest over 1-3 tickers."""
    rng = np.random.default_rng(seed)
    specs: list[dict[str, Any]] = []
    for i in range(n):
        k = int(rng.integers(len(SHAPES)))
        spec: dict[str, Any] = {
            "name": f"r{i:03d}",
            "series": "prices.close",
            "condition": SHAPES[k].format(x=rng.uniform(LOW[k], HIGH[k])),
            "for": ["0s", "2 bars", "3d"][int(rng.integers(3))],
        }
        if i % 5 == 4:
            picked = rng.choice(tickers, size=int(rng.integers(1, 4)), replace=False)
            spec["entities"] = sorted(picked.tolist())
        specs.append(spec)
    rules, errors = parse_rules({"rules": specs})
    assert not errors, errors
    return rules


def median_time(fn: Callable[[], Any], repeat: int) -> tuple[float, list[float], Any]:
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times, result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rules", type=int, default=100)
    ap.add_argument("--from", dest="start", default="2000-01-01")
    ap.add_argument("--to", dest="end", default="2026-12-31")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--cpus", type=int, default=os.cpu_count())
    ap.add_argument("--address", default=None, help="a Ray cluster's address (default: a local instance)")
    args = ap.parse_args()
    start, end = dt.date.fromisoformat(args.start), dt.date.fromisoformat(args.end)

    with tempfile.TemporaryDirectory(prefix="bench-ray-") as tmp:
        store = Store(Path(tmp) / "root")
        store.init()
        bars = pl.read_parquet(REAL)
        t0 = time.perf_counter()
        rows = bars.with_columns(source=pl.lit("file:bench"), fetched_at=pl.lit(NOW))
        store.append("prices", rows, now=NOW)
        print(f"imported {bars.height:,} bars of {bars['ticker'].n_unique()} tickers "
              f"in {time.perf_counter() - t0:.1f} s")
        rules = make_rules(sorted(bars["ticker"].unique().to_list()), args.rules)
        del bars

        if args.address:
            ray.init(address=args.address, include_dashboard=False, log_to_driver=False)
        else:
            ray.init(num_cpus=args.cpus, include_dashboard=False, log_to_driver=False)
        cpus = int(ray.cluster_resources().get("CPU", 1))
        try:
            local_ex, ray_ex = LocalExecutor(), RayExecutor()
            ray_ex.backtest(rules[:2], store, Window(start, end))  # warm the workers up
            t_local, ts_local, expected = median_time(
                lambda: local_ex.backtest(rules, store, Window(start, end)), args.repeat)
            t_ray, ts_ray, got = median_time(
                lambda: ray_ex.backtest(rules, store, Window(start, end)), args.repeat)
        finally:
            ray.shutdown()
        same = got.equals(expected)
        print(f"\nbacktest of {len(rules)} rules over {REAL.name}, {start} .. {end}: "
              f"{expected.height:,} state changes; {os.cpu_count()} cores here, Ray has {cpus} CPU(s)")
        print(f"{'executor':24}{'median':>10}  runs")
        print(f"{'local (polars)':24}{t_local:>9.2f}s  {' '.join(f'{t:.2f}' for t in ts_local)}")
        print(f"{f'ray ({cpus} tasks)':24}{t_ray:>9.2f}s  {' '.join(f'{t:.2f}' for t in ts_ray)}")
        print(f"ratio ray / local: {t_ray / t_local:.2f}   results identical: {same}")
        if not same:
            raise SystemExit("the Ray result differs from the local one")


if __name__ == "__main__":
    main()
