"""Benchmark: one evaluation tick of 10,000 threshold rules, and a one-rule backtest.

1. Tick: synthetic seeded daily closes, 5,000 tickers x 20 years of business days (~26 M rows),
   10,000 rules (each over 1-3 tickers, plus a few over all tickers) of several condition shapes.
   Timed: features at ``at`` (point in time) + every condition, with ``metrics.alerting.evaluate.Evaluator``
   (rules compiled once, as the daemon does at load), against DuckDB computing the same features
   with SQL window functions and the same conditions on the same in-memory Arrow table.
2. Backtest: one rule (``change_pct_5 <= -10``) over every ticker of
   ../shared/data/prices/daily_2023_2026.parquet, ~300 k bars.

Prints medians and ratios. Run: ``.venv/bin/python benchmarks/evaluate.py [--tickers N] [--years Y]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import polars as pl

from metrics.alerting.backtest import backtest
from metrics.alerting.evaluate import TICK_WINDOW_DAYS, Evaluator
from metrics.alerting.rules import parse_rules
from metrics.store.schema import FACTS

# the shared material beside the checkout (../shared)
REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "prices" / "daily_2023_2026.parquet"

SHAPES = [  # (condition template, DuckDB template, threshold generator)
    ("value < {x}", "value < {x}", lambda rng, px: px * rng.uniform(0.8, 1.2)),
    ("value > {x}", "value > {x}", lambda rng, px: px * rng.uniform(0.8, 1.2)),
    ("change_pct_5 <= -{x}", "change_pct_5 <= -{x}", lambda rng, px: rng.uniform(1, 10)),
    ("change_pct >= {x}", "change_pct >= {x}", lambda rng, px: rng.uniform(0.5, 5)),
    ("value < sma_200 * {x}", "value < sma_200 * {x}", lambda rng, px: rng.uniform(0.9, 1.1)),
    ("value >= high_52w * {x}", "value >= high_52w * {x}", lambda rng, px: rng.uniform(0.9, 1.0)),
    (
        "sma_20 < sma_50 and change_pct_20 < -{x}",
        "sma_20 < sma_50 and change_pct_20 < -{x}",
        lambda rng, px: rng.uniform(0, 10),
    ),
]


def synthetic(n_tickers: int, years: int, seed: int = 7) -> pl.DataFrame:
    """Seeded random-walk closes for ``n_tickers`` over ``years`` of business days."""
    rng = np.random.default_rng(seed)
    days = np.arange(
        np.datetime64("2006-01-02"), np.datetime64(f"{2006 + years}-01-01"), dtype="datetime64[D]"
    )
    days = days[np.is_busday(days)]
    n = len(days)
    steps = rng.normal(0.0003, 0.02, size=(n_tickers, n)).astype(np.float32)
    closes = (rng.uniform(5, 500, size=(n_tickers, 1)) * np.exp(np.cumsum(steps, axis=1))).astype(np.float64)
    del steps
    tickers = pl.Series("ticker", [f"T{i:04d}" for i in range(n_tickers)]).cast(pl.Categorical)
    return pl.DataFrame(
        {
            "ticker": tickers.gather(np.repeat(np.arange(n_tickers), n)).cast(pl.String),
            "date": pl.Series(np.tile(days, n_tickers)).cast(pl.Date),
            "close": closes.ravel(),
        }
    )


def make_rules(prices: pl.DataFrame, n_rules: int, seed: int = 11) -> tuple[list[Any], pl.DataFrame]:
    """``n_rules`` rules over random tickers (a few over all), and the same as rows for DuckDB."""
    rng = np.random.default_rng(seed)
    last = prices.group_by("ticker").agg(pl.col("close").last()).sort("ticker")
    tickers, closes = last["ticker"].to_list(), last["close"].to_numpy()
    raw: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    for i in range(n_rules):
        k = int(rng.integers(len(SHAPES)))
        tmpl, _, gen = SHAPES[k]
        every = i < 5
        chosen = (
            []
            if every
            else [int(j) for j in rng.choice(len(tickers), size=int(rng.integers(1, 4)), replace=False)]
        )
        x = round(float(gen(rng, closes[chosen[0]] if chosen else 100.0)), 4)
        raw.append(
            {
                "name": f"r{i:05d}",
                "series": "prices.close",
                "condition": tmpl.format(x=x),
                **({} if every else {"entities": [tickers[j] for j in chosen]}),
            }
        )
        for t in tickers if every else [tickers[j] for j in chosen]:
            rows.append({"rule": f"r{i:05d}", "ticker": t, "shape": k, "x": x})
    rules, errors = parse_rules({"rules": raw})
    assert not errors, errors[:3]
    return rules, pl.DataFrame(rows)


def duck_tick(con: duckdb.DuckDBPyConnection, at: dt.date) -> pl.DataFrame:
    """The same tick in DuckDB: window-function features of the latest bar, then the conditions."""
    cutoff = at - dt.timedelta(days=TICK_WINDOW_DAYS)
    cases = " ".join(f"WHEN {k} THEN {d.replace('{x}', 'r.x')}" for k, (_, d, _) in enumerate(SHAPES))
    sql = f"""
    WITH w AS (
      SELECT ticker, date, close AS value FROM prices WHERE date > DATE '{cutoff}' AND date <= DATE '{at}'),
    f AS (
      SELECT ticker, date, value,
        lag(value) OVER o AS prev_value,
        (value / lag(value, 1) OVER o - 1) * 100 AS change_pct,
        (value / lag(value, 5) OVER o - 1) * 100 AS change_pct_5,
        (value / lag(value, 20) OVER o - 1) * 100 AS change_pct_20,
        value - lag(value) OVER o AS change,
        CASE WHEN count(*) OVER (o ROWS 19 PRECEDING) = 20
             THEN avg(value) OVER (o ROWS 19 PRECEDING) END sma_20,
        CASE WHEN count(*) OVER (o ROWS 49 PRECEDING) = 50
             THEN avg(value) OVER (o ROWS 49 PRECEDING) END sma_50,
        CASE WHEN count(*) OVER (o ROWS 199 PRECEDING) = 200
             THEN avg(value) OVER (o ROWS 199 PRECEDING) END sma_200,
        CASE WHEN min(date) OVER (PARTITION BY ticker) <= date - 363
             THEN max(value) OVER y END high_52w,
        CASE WHEN min(date) OVER (PARTITION BY ticker) <= date - 363
             THEN min(value) OVER y END low_52w,
        row_number() OVER (PARTITION BY ticker ORDER BY date DESC) AS rn
      FROM w WINDOW o AS (PARTITION BY ticker ORDER BY date),
                    y AS (o RANGE BETWEEN INTERVAL 363 DAYS PRECEDING AND CURRENT ROW))
    SELECT r.rule, r.ticker AS entity,
      CASE WHEN f.ticker IS NULL THEN NULL ELSE coalesce(CASE r.shape {cases} END, false) END AS holds,
      f.value
    FROM rules r LEFT JOIN (SELECT * FROM f WHERE rn = 1) f ON f.ticker = r.ticker
    """
    out = pl.from_arrow(con.sql(sql).to_arrow_table())
    assert isinstance(out, pl.DataFrame)
    return out


def median_time(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tickers", type=int, default=5000)
    ap.add_argument("--years", type=int, default=20)
    ap.add_argument("--rules", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()

    t0 = time.perf_counter()
    prices = synthetic(args.tickers, args.years)
    print(
        f"synthetic prices: {prices.height:,} rows, {args.tickers} tickers, "
        f"{prices.estimated_size('mb'):.0f} MB, generated in {time.perf_counter() - t0:.1f} s"
    )
    rules, rule_rows = make_rules(prices, args.rules)
    at = prices["date"].max()
    assert isinstance(at, dt.date)
    facts = pl.LazyFrame(schema=FACTS)
    evaluator = Evaluator(rules)
    lazy = prices.lazy()

    def ours() -> pl.DataFrame:
        return evaluator.evaluate(lazy, facts, at=at)

    ours()  # warm-up
    t_ours, res = median_time(ours, args.repeat)

    con = duckdb.connect()
    con.register("prices", prices.to_arrow())
    con.register("rules", rule_rows.to_arrow())
    duck_tick(con, at)
    t_duck, dres = median_time(lambda: duck_tick(con, at), args.repeat)

    a = res.select("rule", "entity", "holds").sort("rule", "entity")
    b = dres.select("rule", "entity", "holds").sort("rule", "entity")
    agree = (
        a.join(b, on=["rule", "entity"], how="inner")
        .filter(pl.col("holds").ne_missing(pl.col("holds_right")))
        .height
    )
    print(
        f"\ntick at {at}: {len(rules):,} rules, {res.height:,} (rule, entity) rows, "
        f"{int(res['holds'].sum()):,} holding; disagreements with DuckDB: {agree}"
    )
    print(f"{'':28}{'median':>10}")
    print(f"{'metrics (polars) tick':28}{t_ours * 1000:>8.1f} ms")
    print(f"{'DuckDB same tick':28}{t_duck * 1000:>8.1f} ms")
    print(f"{'ratio DuckDB / metrics':28}{t_duck / t_ours:>8.2f} x")

    real = pl.read_parquet(REAL).lazy()
    one, _ = parse_rules(
        {
            "rules": [
                {
                    "name": "fall-10pct-5d",
                    "series": "prices.close",
                    "condition": "change_pct_5 <= -10",
                    "keep_firing_for": "3d",
                }
            ]
        }
    )
    start, end = dt.date(2023, 1, 1), dt.date(2026, 5, 29)
    backtest(one, real, facts, start=start, end=end)  # warm-up
    t_bt, bt = median_time(lambda: backtest(one, real, facts, start=start, end=end), args.repeat)
    print(
        f"\nbacktest of one rule over {REAL.name} ({real.select(pl.len()).collect().item():,} bars, "
        f"{bt['entity'].n_unique()} tickers with changes, {bt.height:,} state changes)"
    )
    print(f"{'metrics backtest':28}{t_bt * 1000:>8.1f} ms  (target < 1000 ms)")


if __name__ == "__main__":
    main()
