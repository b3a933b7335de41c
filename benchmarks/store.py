"""Store benchmark: import the 1.72 M real bars, then the same queries on the store and on DuckDB.

Run: ``.venv/bin/python benchmarks/store.py [PARQUET] [--repeat N]``. Prints medians (ms) and the
ratio store / DuckDB (below 1: the store is faster). Each query is run on a warm ``Store`` object
(as a notebook or the daemon holds one) and DuckDB on a warm connection, both over the same hive
files under a temporary root, and both sides return the same thing, fully materialized:

- "latest close": the latest close of every ticker, polars DataFrames;
- "history, DataFrame": one ticker's full history sorted by date (``Store.prices_for``), polars
  DataFrames on both sides;
- "history, Arrow": the same as a pyarrow Table on both sides (DuckDB 1.4+ returns a lazy
  ``RecordBatchReader`` from ``.arrow()``: ``read_all()`` runs the query to the end);
- "history, scan+filter": the general lazy path ``scan("prices").filter(ticker == X)`` unsorted
  against DuckDB's unsorted query, DataFrames on both sides.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from metrics.store.prices.files import import_price_file
from metrics.store.tables import Store

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "data" / "prices" / "daily_1999_2026.parquet"
NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)


def median_ms(fns: tuple[Callable[[], Any], Callable[[], Any]], repeat: int) -> tuple[float, float]:
    """Median ms of each of two functions, run alternately (so both see the same machine load)."""
    times: tuple[list[float], list[float]] = ([], [])
    for fn in fns:
        fn()  # warm-up
    for _ in range(repeat):
        for fn, out in zip(fns, times, strict=True):
            t0 = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t0)
    return statistics.median(times[0]) * 1000, statistics.median(times[1]) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("parquet", nargs="?", type=Path, default=DEFAULT.resolve())
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--ticker", default="NVDA")
    args = parser.parse_args()

    imports, roots = [], []
    for _ in range(3):
        root = Path(tempfile.mkdtemp(prefix="bench-store-"))
        roots.append(root)
        t0 = time.perf_counter()
        bars = import_price_file(args.parquet, now=NOW)
        Store(root).append("prices", bars, now=NOW)
        imports.append(time.perf_counter() - t0)
    rows = bars.height
    print(f"import {rows:,} bars ({args.parquet.name}): median {statistics.median(imports):.2f} s "
          f"(runs: {', '.join(f'{t:.2f}' for t in imports)})")

    store = Store(root)
    con = duckdb.connect()
    files = f"read_parquet('{root}/prices/*/*.parquet', hive_partitioning = true)"
    t = args.ticker
    by_date = f"select * from {files} where ticker = '{t}' order by date"
    cases: dict[str, tuple[Callable[[], Any], Callable[[], Any]]] = {
        "latest close of every ticker": (
            lambda: store.prices_as_of(NOW.date()).select("ticker", "date", "close").collect(),
            lambda: con.sql(f"select ticker, max(date) as date, arg_max(close, date) as close "
                            f"from {files} group by ticker").pl(),
        ),
        f"{t} history, DataFrame": (
            lambda: store.prices_for(t).collect(),
            lambda: con.sql(by_date).pl(),
        ),
        f"{t} history, Arrow table": (
            lambda: store.prices_for(t).collect().to_arrow(),
            lambda: con.sql(by_date).arrow().read_all(),
        ),
        f"{t} history, scan+filter, unsorted": (
            lambda: store.scan("prices").filter(pl.col("ticker") == t).collect(),
            lambda: con.sql(f"select * from {files} where ticker = '{t}'").pl(),
        ),
    }
    a, b = cases["latest close of every ticker"]
    assert a().sort("ticker").select("ticker", "close").equals(b().sort("ticker").select("ticker", "close"))
    a, b = cases[f"{t} history, DataFrame"]
    got, expected = a(), b()
    assert got.height == expected.height > 0
    assert got.select("date", "close").equals(expected.select("date", "close"))
    print(f"{'query':40} {'store ms':>9} {'duckdb ms':>10} {'ratio':>6}")
    for name, fns in cases.items():
        m, d = median_ms(fns, args.repeat)
        print(f"{name:40} {m:9.1f} {d:10.1f} {m / d:6.2f}")
    for old in roots:
        shutil.rmtree(old, ignore_errors=True)


if __name__ == "__main__":
    main()
