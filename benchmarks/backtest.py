"""Benchmark: a backtest of 100 rules over 27 years of real daily bars, against plain polars.

Data: the 1,722,661 real bars of ../shared/data/prices/daily_1999_2026.parquet (362 tickers,
1999-12-31 to 2026-05-29) and seeded synthetic statements for 120 of those tickers (quarterly
revenue and net income, yearly revenue, shares outstanding, capex guidance revised during the year).
Rules: 100 seeded rules of 14 condition shapes over prices, facts and derived series, over all
tickers or 1-8 of them, with ``for`` in bars and days and ``keep_firing_for`` (``make_rules``).

Timed, each run in a fresh child process (so its peak RSS is its own), interleaved:

- ``metrics``: ``metrics.alerting.backtest.backtest`` over the whole range (2000-01-01 .. 2026-05-29);
- ``polars``: a plain-polars floor computing the same features per series once, every rule's
  condition on every row of its series and the rows where it changes (edges) per entity, without
  evaluation grids, as-of joins or the lifecycle.

The exchange calendars ``stale_bars`` needs (XNYS, XKRX) are built once before the runs into a cache
folder, as the CLI keeps them in the store. Prints the median of each and its peak RSS, and the
ratio; also each run's CPU seconds (all threads), a figure a loaded machine disturbs less than the
wall time. ``--write DIR`` instead writes a store
(``DIR/parquet``), a config (``DIR/config``, rules.toml = the 100 rules) for ``metrics rules
backtest``. Run: ``.venv/bin/python benchmarks/backtest.py [--repeat 3] [--write DIR]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "prices" / "daily_1999_2026.parquet"
START, END = dt.date(2000, 1, 1), dt.date(2026, 5, 29)
NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)

# (series, condition template, threshold range, all tickers?)
SHAPES: list[tuple[str, str, tuple[float, float], bool]] = [
    ("prices.close", "change_pct_5 <= -{x:.1f}", (10, 20), True),
    ("prices.close", "value < sma_200 * {x:.3f}", (0.7, 0.85), True),
    ("prices.close", "value >= high_52w * {x:.3f}", (0.98, 1.0), False),
    ("prices.close", "sma_20 < sma_50 and change_pct_20 < -{x:.1f}", (5, 20), False),
    ("prices.close", "value < {x:.2f}", (0.5, 1.2), False),
    ("prices.close", "change_pct >= {x:.1f} or change_pct <= -{x:.1f}", (4, 10), False),
    ("prices.close", "stale_bars >= {x:.0f}", (2, 4), False),
    ("prices.volume", "value > sma_20 * {x:.1f}", (3, 6), True),
    ("derived.market_cap", "value > {x:.0f}", (0.5, 1.5), False),
    ("derived.price_to_sales", "value > {x:.1f}", (3, 10), False),
    ("facts.revenue", "change_pct > {x:.1f} and period like '%Q%'", (5, 15), True),
    ("facts.capex_guidance", "revision_pct > {x:.1f}", (3, 10), True),
    ("derived.net_margin", "value < {x:.1f}", (5, 15), True),
    ("facts.revenue", "value_usd > {x:.0f} and kind = 'actual'", (0.5, 2), False),
]
HOLDS = ["0", "0", "1 bars", "3 bars", "2d", "1w"]
KEEPS = ["0", "0", "2d", "1w"]


def load_prices() -> pl.DataFrame:
    """The real bars, with the columns the store adds (adj_close, source, fetched_at)."""
    return pl.read_parquet(REAL).with_columns(
        adj_close=pl.col("close"), source=pl.lit("file:daily_1999_2026.parquet"), fetched_at=pl.lit(NOW)
    )


def make_facts(tickers: list[str], seed: int = 5) -> pl.DataFrame:
    """Seeded statements for ``tickers``: entity ``Co <ticker>``, USD, published after each period."""
    rng = np.random.default_rng(seed)
    rows: list[dict[str, Any]] = []

    def add(t: str, metric: str, value: float, period: str, *, kind: str, published: dt.date, k: int) -> None:
        rows.append({
            "fact_id": f"{t}-{metric}-{period}-{kind}-{k}", "doc": f"{t}-{published}.txt",
            "published": published, "entity": f"Co {t}", "ticker": t, "metric": metric,
            "value": value, "unit": "USD", "period": period, "kind": kind, "value_usd": value,
            "ingested_at": dt.datetime.combine(published, dt.time(18), tzinfo=dt.UTC),
        })

    for t in tickers:
        rev = float(rng.uniform(1e9, 2e10))
        shares = float(rng.uniform(2e8, 5e9))
        for year in range(2000, 2026):
            capex = rev * 0.4 * float(rng.uniform(0.05, 0.2))
            for k, month in enumerate((2, 5, 8, 11)):  # capex guidance for the year, revised
                capex *= float(rng.uniform(0.9, 1.25))
                day = dt.date(year, month, 10 + k)
                add(t, "capex_guidance", capex, f"FY{year}", kind="guidance", published=day, k=k)
            year_rev = 0.0
            for q in range(1, 5):
                rev *= float(rng.uniform(0.92, 1.12))
                year_rev += rev
                published = dt.date(year + (q == 4), (q * 3) % 12 + 1, 25)
                quarter = f"{year}Q{q}"
                income = rev * float(rng.uniform(-0.05, 0.3))
                add(t, "revenue", rev, quarter, kind="actual", published=published, k=0)
                add(t, "net_income", income, quarter, kind="actual", published=published, k=0)
                if rng.uniform() < 0.1:  # a restatement a week later
                    later = published + dt.timedelta(days=7)
                    add(t, "revenue", rev * 1.01, quarter, kind="actual", published=later, k=1)
            add(t, "revenue", year_rev, f"FY{year}", kind="actual", published=dt.date(year + 1, 2, 1), k=0)
            shares *= float(rng.uniform(0.97, 1.03))
            add(t, "shares_outstanding", shares, "ASOF", kind="actual", published=dt.date(year, 3, 1), k=0)
    return pl.DataFrame(rows)


def make_rules(
    prices: pl.DataFrame, fact_tickers: list[str], n: int = 100, seed: int = 3
) -> list[dict[str, Any]]:
    """``n`` seeded rules in the rules-file format, cycling through ``SHAPES``."""
    rng = np.random.default_rng(seed)
    tickers = sorted(prices["ticker"].unique().to_list())
    last = dict(prices.group_by("ticker").agg(pl.col("close").last()).iter_rows())
    rules: list[dict[str, Any]] = []
    for i in range(n):
        series, template, (lo, hi), every = SHAPES[i % len(SHAPES)]
        x = float(rng.uniform(lo, hi))
        rule: dict[str, Any] = {"name": f"r{i:03d}", "series": series}
        facts_side = series.startswith(("facts.", "derived.net_margin", "derived.market_cap", "derived.p"))
        pool = fact_tickers if facts_side else tickers
        if not every:
            picked = sorted(rng.choice(pool, size=int(rng.integers(1, 9)), replace=False).tolist())
            if series.startswith(("facts.", "derived.net_margin")) and i % 2:
                picked = [f"Co {t}" for t in picked]  # entity names rather than tickers
            rule["entities"] = picked
        if template.startswith("value < {x:.2f}"):  # a fraction of the ticker's last close
            x *= last[rule["entities"][0]]
        if series == "derived.market_cap":
            x *= 1e10
        if template.startswith("value_usd"):
            x *= 1e10
        rule["condition"] = template.format(x=x)
        rule["for"] = HOLDS[int(rng.integers(len(HOLDS)))]
        rule["keep_firing_for"] = KEEPS[int(rng.integers(len(KEEPS)))]
        rules.append(rule)
    return rules


def toml_of(rules: list[dict[str, Any]]) -> str:
    """The rules as a rules file."""
    out = []
    for r in rules:
        out.append("[[rules]]")
        for k, v in r.items():
            out.append(f"{k} = {json.dumps(v)}")
        out.append("")
    return "\n".join(out)


def fact_tickers_of(prices: pl.DataFrame) -> list[str]:
    tickers = sorted(prices["ticker"].unique().to_list())
    return [t for i, t in enumerate(tickers) if i % 3 == 0][:120]


def write(target: Path) -> None:
    """A store and config under ``target`` for ``metrics rules backtest``."""
    from metrics.store.tables import Store

    prices = load_prices()
    ft = fact_tickers_of(prices)
    store = Store(target / "parquet")
    store.append("prices", prices)
    store.append("facts", make_facts(ft))
    (target / "config").mkdir(parents=True, exist_ok=True)
    (target / "config" / "settings.toml").write_text('[channels.log]\ntype = "log"\n', encoding="utf-8")
    (target / "config" / "rules.toml").write_text(toml_of(make_rules(prices, ft)), encoding="utf-8")
    print(f"wrote {target}/parquet and {target}/config (100 rules)")


# ----------------------------------------------------------------------------------- the peer


def peer(prices: pl.LazyFrame, facts: pl.LazyFrame, rules: list[Any]) -> int:
    """Plain polars: features once per series, every condition over its rows, edges per entity."""
    from metrics.alerting.features import history_features
    from metrics.alerting.rules import compile_condition
    from metrics.alerting.series import series_frame

    edges = 0
    by_series: dict[str, list[Any]] = {}
    for r in rules:
        by_series.setdefault(r.series, []).append(r)
    for series, group in by_series.items():
        shape = group[0].shape
        conds = [compile_condition(r.condition, shape) for r in group]
        used = set().union(*(c.meta.root_names() for c in conds))
        feats = (
            history_features(series_frame(series, prices, facts, end=END), shape, only=used)
            .filter(pl.col("date").is_between(START, END))
            .with_columns(age_days=pl.lit(0, pl.Int64), stale_bars=pl.lit(0, pl.Int64))
            .collect()
        )
        named = (c.fill_null(False).alias(r.name) for c, r in zip(conds, group, strict=True))
        holds = feats.select("entity", *named)
        changed = holds.select(
            (pl.col(r.name) != pl.col(r.name).shift(1).over("entity")).sum() for r in group
        )
        edges += int(sum(changed.row(0)))
    return edges


def child(which: str, calendars: Path) -> None:
    """One timed run in this process; prints seconds and peak RSS (MB) as JSON."""
    from metrics.alerting.backtest import backtest
    from metrics.alerting.rules import parse_rules
    from metrics.store.calendars import use_cache_dir

    use_cache_dir(calendars)  # as the CLI does: built by the first run on a store, then loaded

    prices_df = load_prices()
    facts_df = make_facts(fact_tickers_of(prices_df))
    rules, errors = parse_rules({"rules": make_rules(prices_df, fact_tickers_of(prices_df))})
    assert not errors, errors
    prices, facts = prices_df.lazy(), facts_df.lazy()
    t0, cpu0 = time.perf_counter(), time.process_time()
    if which == "metrics":
        n = backtest(rules, prices, facts, start=START, end=END).height
    else:
        n = peer(prices, facts, rules)
    took, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": took, "cpu_seconds": cpu, "rss_mb": rss, "rows": n}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--write", type=Path, help="write a store and rules for the CLI instead")
    ap.add_argument("--child", choices=["metrics", "polars"], help=argparse.SUPPRESS)
    ap.add_argument("--calendars", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child, args.calendars)
        return
    if args.write:
        write(args.write)
        return
    from metrics.store.calendars import calendar, use_cache_dir

    cache = Path(tempfile.mkdtemp(prefix="calendars-"))
    use_cache_dir(cache)
    for mic in ("XNYS", "XKRX"):  # the exchanges of the data's tickers, as a store's cache holds them
        calendar(mic)
    runs: dict[str, list[dict[str, float]]] = {"metrics": [], "polars": []}
    for _ in range(args.repeat):
        for which, got in runs.items():
            cmd = [sys.executable, __file__, "--child", which, "--calendars", str(cache)]
            done = subprocess.run(cmd, check=True, capture_output=True, text=True)
            got.append(json.loads(done.stdout.strip().splitlines()[-1]))
    shutil.rmtree(cache)
    print(f"backtest of 100 rules over {REAL.name} ({START} .. {END}), median of {args.repeat} runs")
    print(f"{'':10}{'seconds':>10}{'CPU s':>10}{'peak RSS MB':>14}  rows")
    med, rss = {}, {}
    for which, rs in runs.items():
        med[which] = statistics.median(r["seconds"] for r in rs)
        rss[which] = statistics.median(r["rss_mb"] for r in rs)
        cpu = statistics.median(r["cpu_seconds"] for r in rs)
        print(f"{which:10}{med[which]:>10.2f}{cpu:>10.2f}{rss[which]:>14.0f}  {int(rs[0]['rows']):,}")
    ratio = med["metrics"] / med["polars"]
    print(f"ratio metrics / polars: {ratio:.2f}  (target: <= 20 s and <= 1 GB)")
    ok = med["metrics"] <= 20 and rss["metrics"] <= 1024
    print(f"target backtest 100 rules: measured {med['metrics']:.1f} s, {rss['metrics']:.0f} MB "
          f"(ratio {ratio:.2f} vs plain polars; target <= 20 s, <= 1 GB) {'PASS' if ok else 'MISS'}")


if __name__ == "__main__":
    main()
