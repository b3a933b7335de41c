"""Tick overhead over evaluation: run_tick (evaluate + state db + outbox + alerts dataset) vs evaluate.

Usage: .venv/bin/python benchmarks/tick.py [PRICES_PARQUET]
Imports the real bars into a temp store, then times 5 consecutive ticks of one rule over every
ticker, once when nothing holds and once when every ticker fires (the first of those enqueues a
notification with a chart per ticker). Prints medians in ms.
"""

from __future__ import annotations

import datetime as dt
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

import polars as pl
import structlog

from metrics.alerting.evaluate import evaluate
from metrics.alerting.rules import parse_rules
from metrics.alerting.state import open_db
from metrics.alerting.tick import run_tick
from metrics.store.schema import conform
from metrics.store.tables import Store

# the shared material beside the checkout (../shared), wherever the script is run from
SHARED_PRICES = Path(__file__).resolve().parents[2] / "shared" / "data" / "prices" / "daily_2023_2026.parquet"
COLUMNS = ("ticker", "date", "open", "high", "low", "close", "adj_close", "volume", "currency")


def main() -> None:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    src = Path(sys.argv[1]) if len(sys.argv) > 1 else SHARED_PRICES
    tmp = Path(tempfile.mkdtemp())
    store = Store(tmp / "root")
    loaded = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    df = pl.read_parquet(src)
    df = df.select([c for c in df.columns if c in COLUMNS]).with_columns(
        fetched_at=pl.lit(loaded).cast(pl.Datetime("us", "UTC")), source=pl.lit("file:bench"))
    store.append("prices", conform(df, "prices"), now=loaded)
    print(f"{df.height} bars, {df['ticker'].n_unique()} tickers")
    for condition, label in (("value < 0", "nothing holds"), ("value > 0", "every ticker fires")):
        rules, _ = parse_rules({"rules": [{"name": "r", "series": "prices.close", "condition": condition,
                                           "for": "0", "repeat_interval": "0", "channels": ["log"]}]})
        db = open_db(f"sqlite:///{tmp / (label[:5] + '.db')}")
        ev, tk = [], []
        for i in range(5):
            at = dt.datetime(2025, 11, 3, 21, tzinfo=dt.UTC) + dt.timedelta(days=i)
            t = time.perf_counter()
            evaluate(rules, store.scan("prices"), store.scan("facts"), at=at, with_features=True)
            ev.append(time.perf_counter() - t)
            t = time.perf_counter()
            run_tick(store, db, rules, now=at)
            tk.append(time.perf_counter() - t)
        print(f"{label:>20}: evaluate median {statistics.median(ev) * 1000:.0f} ms | run_tick median "
              f"{statistics.median(tk) * 1000:.0f} ms | first tick {tk[0] * 1000:.0f} ms")


if __name__ == "__main__":
    main()
