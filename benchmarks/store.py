"""Store benchmark: import the 1.72 M real bars, then two queries against DuckDB on the same files.

Run: ``.venv/bin/python benchmarks/store.py [PARQUET] [--repeat N]``. Prints medians (ms) and the
ratio store / DuckDB (below 1: the store is faster). Each query is run on a warm ``Store`` object
(as a notebook or the daemon holds one) and DuckDB on a warm connection, both over the same hive
files under a temporary root. "latest" = the latest close of every ticker; "history" = one
ticker's full history, sorted by date, both as polars DataFrames; the last row is the same
without the sort and with DuckDB's result left in Arrow (DuckDB's cheapest output).
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from metrics.prices.files import import_price_file
from metrics.store import Store

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "data" / "prices" / "daily_1999_2026.parquet"
NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)


def median_ms(fn: Callable[[], Any], repeat: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("parquet", nargs="?", type=Path, default=DEFAULT.resolve())
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--ticker", default="NVDA")
    args = parser.parse_args()

    imports = []
    for _ in range(3):
        root = Path(tempfile.mkdtemp(prefix="bench-store-"))
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
    cases: dict[str, tuple[Callable[[], Any], Callable[[], Any]]] = {
        "latest close of every ticker": (
            lambda: store.prices_as_of(NOW.date()).select("ticker", "date", "close").collect(),
            lambda: con.sql(f"select ticker, max(date) as date, arg_max(close, date) as close "
                            f"from {files} group by ticker").pl(),
        ),
        f"{t} full history": (
            lambda: store.scan("prices").filter(pl.col("ticker") == t).sort("date").collect(),
            lambda: con.sql(f"select * from {files} where ticker = '{t}' order by date").pl(),
        ),
        f"{t} history, unsorted, duckdb to Arrow": (
            lambda: store.scan("prices").filter(pl.col("ticker") == t).collect(),
            lambda: con.sql(f"select * from {files} where ticker = '{t}'").arrow(),
        ),
    }
    a, b = cases["latest close of every ticker"]
    assert a().sort("ticker").select("ticker", "close").equals(b().sort("ticker").select("ticker", "close"))
    print(f"{'query':40} {'store ms':>9} {'duckdb ms':>10} {'ratio':>6}")
    for name, (mine, theirs) in cases.items():
        m, d = median_ms(mine, args.repeat), median_ms(theirs, args.repeat)
        print(f"{name:40} {m:9.1f} {d:10.1f} {m / d:6.2f}")


if __name__ == "__main__":
    main()
