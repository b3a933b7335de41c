"""Vectorized point-in-time evaluation: features of price, fact and derived series, and conditions."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import polars as pl
import pytest
from conftest import bars, empty_facts, facts_frame, make_rules

from metrics.alerting.evaluate import Evaluator, evaluate, features, templatize
from metrics.alerting.features import (
    FEATURE_SPECS,
    WINDOW_FEATURES,
    Feature,
    history_features,
    latest_bar_features,
    sessions_between,
)
from metrics.alerting.rules import COMMON_FEATURES

D = dt.date


def at(d: dt.date) -> dt.datetime:
    return dt.datetime(d.year, d.month, d.day, 22, 0, tzinfo=dt.UTC)


def one(df: pl.DataFrame, **where: Any) -> dict[str, Any]:
    rows = df.filter(**where).to_dicts()
    assert len(rows) == 1, rows
    return rows[0]


def test_price_features_at_the_latest_bar() -> None:
    """value, prev_value, change, change_pct(_5, _20) and sma_20 come from the bars up to ``at``."""
    closes = [float(i) for i in range(1, 31)]  # 30 weekdays from 2024-01-01
    prices = bars("X", closes).lazy()
    (r,) = make_rules({"name": "r", "series": "prices.close", "condition": "value > 0"})
    f = one(features(prices, empty_facts(), [r], at=D(2024, 2, 9)), entity="X")  # the 30th weekday
    assert (f["value"], f["prev_value"], f["change"]) == (30.0, 29.0, 1.0)
    assert f["change_pct"] == pytest.approx((30 / 29 - 1) * 100)
    assert f["change_pct_5"] == pytest.approx((30 / 25 - 1) * 100)
    assert f["change_pct_20"] == pytest.approx((30 / 10 - 1) * 100)
    assert f["sma_20"] == pytest.approx(sum(range(11, 31)) / 20)
    assert f["sma_50"] is None and f["sma_200"] is None  # too short: null
    assert f["high_52w"] is None and f["low_52w"] is None  # less than a year of history
    assert f["age_days"] == 0 and f["data_at"] == D(2024, 2, 9)


def test_point_in_time_ignores_later_bars() -> None:
    """Bars dated after the evaluation date are not seen; age_days counts from the latest seen one."""
    prices = bars("X", [10, 20, 30, 40]).lazy()  # Mon 1 .. Thu 4 Jan 2024
    (r,) = make_rules({"name": "r", "series": "prices.close", "condition": "value >= 20"})
    res = evaluate([r], prices, empty_facts(), at=at(D(2024, 1, 2)), with_features=True)
    row = one(res, entity="X")
    assert (row["value"], row["holds"], row["age_days"]) == (20.0, True, 0)
    res = evaluate([r], prices, empty_facts(), at=at(D(2024, 1, 1)), with_features=True)
    assert one(res, entity="X")["holds"] is False
    res = evaluate([r], prices, empty_facts(), at=at(D(2024, 1, 10)), with_features=True)
    assert one(res, entity="X")["age_days"] == 6


def test_52_week_window_and_sma_200() -> None:
    """high/low_52w cover the 364 days ending on the latest bar; sma_200 the last 200 bars."""
    n = 300
    closes = [100.0 + (i % 7) for i in range(n)]
    closes[0] = 1000.0  # older than 364 days at the end: outside the window
    closes[60] = 500.0  # inside
    df = bars("X", closes)
    last = df["date"][-1]
    assert (last - df["date"][60]).days < 364 <= (last - df["date"][0]).days
    (r,) = make_rules({"name": "r", "series": "prices.close", "condition": "value > 0"})
    f = one(features(df.lazy(), empty_facts(), [r], at=last), entity="X")
    assert f["high_52w"] == 500.0 and f["low_52w"] == 100.0
    assert f["sma_200"] == pytest.approx(float(np.mean(closes[-200:])))


def test_missing_entity_holds_null_and_null_feature_is_false() -> None:
    """An entity without the series gives holds null; a condition over a null feature is false."""
    prices = bars("X", [1, 2, 3]).lazy()
    rules = make_rules(
        {"name": "short", "series": "prices.close", "entities": ["X", "NOPE"], "condition": "value < sma_200"}
    )
    res = evaluate(rules, prices, empty_facts(), at=D(2024, 1, 3))
    assert one(res, entity="X")["holds"] is False
    missing = one(res, entity="NOPE")
    assert missing["holds"] is None and missing["value"] is None


def test_rules_without_entities_cover_every_entity() -> None:
    """A rule without entities is evaluated for every ticker having the series."""
    prices = pl.concat([bars("A", [1, 2]), bars("B", [5, 1]), bars("C", [3, 3])]).lazy()
    (r,) = make_rules({"name": "r", "series": "prices.close", "condition": "change < 0"})
    res = evaluate([r], prices, empty_facts(), at=D(2024, 1, 2))
    assert dict(res.select("entity", "holds").iter_rows()) == {"A": False, "B": True, "C": False}


def test_many_rules_of_one_shape() -> None:
    """Rules sharing a condition shape with different thresholds each use their own threshold."""
    prices = pl.concat([bars("A", [50]), bars("B", [150])]).lazy()
    specs = [
        {"name": f"lt{x}", "series": "prices.close", "condition": f"value < {x}"} for x in (40, 100, 200)
    ]
    specs.append({"name": "str", "series": "prices.close", "condition": "value < 100.5 and 'a1' = 'a1'"})
    specs.append({"name": "round", "series": "prices.close", "condition": "round(value, 0) = 50"})
    res = evaluate(make_rules(*specs), prices, empty_facts(), at=D(2024, 1, 1))
    got = {(r["rule"], r["entity"]): r["holds"] for r in res.to_dicts()}
    assert got == {
        ("lt40", "A"): False,
        ("lt40", "B"): False,
        ("lt100", "A"): True,
        ("lt100", "B"): False,
        ("lt200", "A"): True,
        ("lt200", "B"): True,
        ("str", "A"): True,
        ("str", "B"): False,
        ("round", "A"): True,
        ("round", "B"): False,
    }


def test_templatize() -> None:
    """Numbers become parameters, except inside quoted strings and identifiers."""
    assert templatize("change_pct_5 <= -10.5 and period = 'FY2025'") == (
        "change_pct_5 <= -__p0 and period = 'FY2025'",
        (10.5,),
    )
    assert templatize("value > 1e9") == ("value > __p0", (1e9,))


CAPEX = [
    {
        "entity": "Amazon",
        "ticker": "AMZN",
        "metric": "capex_guidance",
        "value": 100e9,
        "period": "FY2025",
        "kind": "guidance",
        "published": D(2025, 2, 6),
    },
    {
        "entity": "Amazon",
        "ticker": "AMZN",
        "metric": "capex_guidance",
        "value": 118e9,
        "period": "FY2025",
        "kind": "guidance",
        "published": D(2025, 8, 1),
    },
    {
        "entity": "Amazon",
        "ticker": "AMZN",
        "metric": "capex_guidance",
        "value": 200e9,
        "period": "FY2026",
        "kind": "guidance",
        "published": D(2025, 9, 1),
    },
    {
        "entity": "Amazon",
        "ticker": "AMZN",
        "metric": "capex_guidance",
        "value": 125e9,
        "period": "FY2025",
        "kind": "guidance",
        "published": D(2025, 10, 31),
    },
]


def test_fact_series_revision_and_statement() -> None:
    """revision_pct compares with the previous statement of the same period; statement is the fact_id."""
    facts = facts_frame(CAPEX)
    (r,) = make_rules(
        {
            "name": "capex",
            "series": "facts.capex_guidance",
            "entities": ["AMZN"],
            "condition": "revision_pct > 10",
        }
    )

    def row(d: dt.date) -> dict[str, Any]:
        return one(evaluate([r], pl.LazyFrame(), facts, at=d, with_features=True), rule="capex")

    first = row(D(2025, 2, 6))
    assert first["entity"] == "Amazon" and first["holds"] is False and first["revision_pct"] is None
    aug = row(D(2025, 8, 2))
    assert aug["holds"] is True and aug["revision_pct"] == pytest.approx(18.0)
    assert (aug["statement"], aug["period"], aug["age_days"], aug["kind"]) == ("f1", "FY2025", 1, "guidance")
    sep = row(D(2025, 9, 1))  # another period: no previous statement of FY2026
    assert (
        sep["holds"] is False
        and sep["revision_pct"] is None
        and sep["change_pct"] == pytest.approx((200 / 118 - 1) * 100)
    )
    octo = row(D(2025, 10, 31))
    assert octo["revision_pct"] == pytest.approx((125 / 118 - 1) * 100) and octo["statement"] == "f3"
    assert row(D(2025, 1, 1))["holds"] is None  # nothing published yet


def test_entity_names_map_to_tickers_and_back() -> None:
    """A price rule may name the company; a fact rule may name the ticker."""
    facts = facts_frame(CAPEX)
    prices = bars("AMZN", [180, 170], start=D(2025, 11, 3)).lazy()
    rules = make_rules(
        {"name": "px", "series": "prices.close", "entities": ["Amazon"], "condition": "value < 175"},
        {"name": "fx", "series": "facts.capex_guidance", "entities": ["AMZN"], "condition": "value > 1e11"},
    )
    res = evaluate(rules, prices, facts, at=D(2025, 11, 4), names={"Amazon.com": "AMZN"})
    assert one(res, rule="px")["entity"] == "AMZN" and one(res, rule="px")["holds"] is True
    assert one(res, rule="fx")["entity"] == "Amazon" and one(res, rule="fx")["holds"] is True


def test_derived_net_margin_same_period() -> None:
    """net_margin = net income / revenue * 100 of the same entity and period, as either is known."""
    rows = [
        {
            "entity": "A",
            "ticker": "AA",
            "metric": "revenue",
            "value": 200.0,
            "period": "2025Q2",
            "published": D(2025, 8, 1),
        },
        {
            "entity": "A",
            "ticker": "AA",
            "metric": "net_income",
            "value": 30.0,
            "period": "2025Q2",
            "published": D(2025, 8, 1),
        },
        {
            "entity": "A",
            "ticker": "AA",
            "metric": "net_income",
            "value": 10.0,
            "period": "2025Q3",
            "published": D(2025, 10, 30),
        },
        {
            "entity": "A",
            "ticker": "AA",
            "metric": "revenue",
            "value": 250.0,
            "period": "2025Q3",
            "published": D(2025, 11, 2),
        },
        {
            "entity": "A",
            "ticker": "AA",
            "metric": "net_income",
            "value": 20.0,
            "period": "2025Q2",
            "published": D(2025, 12, 1),
        },  # restated
    ]
    facts = facts_frame(rows)
    (r,) = make_rules({"name": "nm", "series": "derived.net_margin", "condition": "value < 10"})

    def row(d: dt.date) -> dict[str, Any]:
        return one(evaluate([r], pl.LazyFrame(), facts, at=d, with_features=True), entity="A")

    q2 = row(D(2025, 8, 1))
    assert q2["value"] == pytest.approx(15.0) and q2["holds"] is False and q2["period"] == "2025Q2"
    assert q2["statement"] == "f1+f0"
    assert row(D(2025, 10, 31))["value"] == pytest.approx(15.0)  # Q3 revenue not yet known
    q3 = row(D(2025, 11, 2))
    assert (
        q3["value"] == pytest.approx(4.0) and q3["holds"] is True and q3["prev_value"] == pytest.approx(15.0)
    )
    restated = row(D(2025, 12, 1))
    assert restated["value"] == pytest.approx(10.0) and restated["revision_pct"] == pytest.approx(-100 / 3)


def test_derived_market_cap_and_price_to_sales() -> None:
    """market_cap = close * the shares known at the bar; price_to_sales divides by fiscal-year revenue."""
    facts = facts_frame(
        [
            {
                "entity": "A",
                "ticker": "AA",
                "metric": "shares_outstanding",
                "value": 1e9,
                "unit": "count",
                "period": "ASOF",
                "published": D(2024, 1, 2),
            },
            {
                "entity": "A",
                "ticker": "AA",
                "metric": "revenue",
                "value": 5e10,
                "period": "FY2023",
                "published": D(2024, 1, 2),
            },
        ]
    )
    prices = bars("AA", [10, 20, 30]).with_columns(currency=pl.lit("USD")).lazy()
    rules = make_rules(
        {"name": "mc", "series": "derived.market_cap", "condition": "value > 25e9"},
        {"name": "ps", "series": "derived.price_to_sales", "condition": "value < 1"},
    )
    res = evaluate(rules, prices, facts, at=D(2024, 1, 3), with_features=True)
    assert one(res, rule="mc")["value"] == pytest.approx(30e9) and one(res, rule="mc")["holds"] is True
    assert one(res, rule="mc")["prev_value"] == pytest.approx(20e9)
    assert one(res, rule="ps")["value"] == pytest.approx(0.6) and one(res, rule="ps")["holds"] is True


def test_stale_bars_counts_exchange_sessions() -> None:
    """stale_bars counts the exchange's sessions after the latest bar up to the evaluation date."""
    prices = bars("X", [1, 2, 3], start=D(2025, 12, 22)).lazy()  # Mon 22 .. Wed 24 Dec 2025
    (r,) = make_rules({"name": "stale", "series": "prices.close", "condition": "stale_bars >= 3"})

    def row(d: dt.date) -> dict[str, Any]:
        return one(evaluate([r], prices, empty_facts(), at=d, with_features=True), entity="X")

    assert row(D(2025, 12, 24))["stale_bars"] == 0
    assert row(D(2025, 12, 26))["stale_bars"] == 1  # 25 Dec is no NYSE session
    assert row(D(2025, 12, 29))["holds"] is False and row(D(2025, 12, 29))["stale_bars"] == 2
    late = row(D(2025, 12, 30))
    assert late["stale_bars"] == 3 and late["holds"] is True and late["age_days"] == 6


def test_sessions_between_falls_back_to_weekdays() -> None:
    """An unknown calendar counts weekdays."""
    after = np.array(["2025-12-24"], dtype="datetime64[D]")
    upto = np.array(["2025-12-29"], dtype="datetime64[D]")
    assert sessions_between("XNYS", after, upto).tolist() == [2]
    assert sessions_between("NOPE", after, upto).tolist() == [3]


def test_tick_features_equal_history_features(real_prices: pl.LazyFrame) -> None:
    """The numpy tick path gives the same features as the rolling history path, also on shuffled rows."""
    from metrics.alerting.series import series_frame

    for d in (D(2023, 3, 1), D(2024, 1, 31), D(2026, 5, 29)):
        window = series_frame("prices.close", real_prices, empty_facts(), end=d).collect()
        tick = latest_bar_features(window.sample(fraction=1.0, shuffle=True, seed=3)).sort("entity")
        hist = history_features(window.lazy(), "prices").group_by("entity").last().collect().sort("entity")
        for c in ("value", *WINDOW_FEATURES):
            assert_same(tick[c], hist[c], (d, c))


def test_tick_features_over_sorted_year_files_equal_history_features(real_prices: pl.LazyFrame) -> None:
    """Rows as the store reads them (one sorted run per ticker and year file, tickers split across
    files, files in any order) give the same features as the rolling history path."""
    from metrics.alerting.series import series_frame

    window = series_frame("prices.close", real_prices, empty_facts(), end=D(2026, 5, 29)).collect()
    year = pl.col("date").dt.year()
    years = sorted(window["date"].dt.year().unique().to_list(), reverse=True)
    files = [window.filter(year == y).sort("entity", "date") for y in years]
    halves = [part for f in files for part in (f.head(f.height // 2), f.tail(f.height - f.height // 2))]
    tick = latest_bar_features(pl.concat(halves)).sort("entity")
    hist = history_features(window.lazy(), "prices").group_by("entity").last().collect().sort("entity")
    assert tick.height == hist.height
    for c in ("value", *WINDOW_FEATURES):
        assert_same(tick[c], hist[c], c)
    assert tick["__n"].to_list() == window.group_by("entity").len().sort("entity")["len"].to_list()


def assert_same(a: pl.Series, b: pl.Series, where: object) -> None:
    x, y = a.to_list(), b.to_list()
    assert [v is None for v in x] == [v is None for v in y], where
    assert np.allclose([v for v in x if v is not None], [v for v in y if v is not None]), where


def test_a_spec_added_to_the_table_is_computed_by_both_engines(real_prices: pl.LazyFrame) -> None:
    """Features added as lines of the spec table (sma_100, change_pct_60, a 26-week low) come out of
    both engines, with the same numbers, equal to the direct computation."""
    from metrics.alerting.series import series_frame

    added = (
        Feature("sma_100", "sma", 100),
        Feature("change_pct_60", "change_pct", 60),
        Feature("low_26w", "low", 182),
    )
    specs = (*FEATURE_SPECS, *added)
    window = series_frame("prices.close", real_prices, empty_facts(), end=D(2025, 6, 30)).collect()
    tick = latest_bar_features(window, specs=specs).sort("entity")
    hist = history_features(window.lazy(), "prices", specs=specs).group_by("entity").last().collect()
    hist = hist.sort("entity")
    for f in added:
        assert tick[f.name].null_count() == 0, f.name
        assert_same(tick[f.name], hist[f.name], f.name)
    nvda = window.filter(pl.col("entity") == "NVDA").sort("date")
    closes = nvda["value"].to_numpy()
    row = one(tick, entity="NVDA")
    assert row["sma_100"] == pytest.approx(closes[-100:].mean())
    assert row["change_pct_60"] == pytest.approx((closes[-1] / closes[-61] - 1) * 100)
    recent = nvda.filter(pl.col("date") > D(2025, 6, 30) - dt.timedelta(days=182))["value"]
    assert row["low_26w"] == pytest.approx(recent.min())


def test_rule_conditions_know_every_feature_of_the_table() -> None:
    """Every name of the spec table is a feature a rule condition may use, on bar and statement series."""
    for name in WINDOW_FEATURES:
        assert name in COMMON_FEATURES
        make_rules({"name": "r", "series": "prices.close", "condition": f"{name} > 0"})
        make_rules({"name": "r", "series": "facts.revenue", "condition": f"{name} > 0"})


def test_tick_window_reaches_back_for_gappy_history() -> None:
    """A ticker with a long gap in its bars still gets sma_200 over its last 200 bars."""
    old = bars("G", [float(i) for i in range(250)], start=D(2020, 1, 1))
    new = bars("G", [1000.0] * 10, start=D(2024, 6, 3))
    prices = pl.concat([old, new]).lazy()
    (r,) = make_rules({"name": "r", "series": "prices.close", "condition": "value > 0"})
    f = one(features(prices, empty_facts(), [r], at=D(2024, 6, 14)), entity="G")
    assert f["sma_200"] == pytest.approx((sum(range(60, 250)) + 10 * 1000.0) / 200)
    assert f["high_52w"] == 1000.0


def test_evaluator_is_reusable_across_ticks() -> None:
    """A compiled Evaluator evaluates successive ticks, as the daemon does."""
    prices = bars("X", [10, 20, 30]).lazy()
    ev = Evaluator(make_rules({"name": "r", "series": "prices.close", "condition": "value >= 20"}))
    assert [ev.evaluate(prices, empty_facts(), at=D(2024, 1, d))["holds"][0] for d in (1, 2, 3)] == [
        False,
        True,
        True,
    ]


def test_tick_features_over_runs_split_for_some_tickers_equal_history_features(
    real_prices: pl.LazyFrame,
) -> None:
    """One year file as a MERGE may write it: most tickers in one sorted run, a few split in two runs
    placed apart (and tickers not in name order): the same features as the rolling history path."""
    from metrics.alerting.series import series_frame

    window = series_frame("prices.close", real_prices, empty_facts(), end=D(2025, 12, 31)).collect()
    year = window.filter(pl.col("date").dt.year() == 2025).sort("entity", "date")
    split = {"AAPL", "NVDA"}
    whole = [year.filter(pl.col("entity") == e) for e in sorted(set(year["entity"]) - split, reverse=True)]
    heads, tails = [], []
    for e in sorted(split):
        rows = year.filter(pl.col("entity") == e)
        heads.append(rows.head(100))
        tails.append(rows.tail(rows.height - 100))
    laid_out = pl.concat([tails[0], *whole[:1], heads[1], heads[0], *whole[1:], tails[1]])
    tick = latest_bar_features(laid_out).sort("entity")
    hist = history_features(year.lazy(), "prices").group_by("entity").last().collect().sort("entity")
    assert tick["entity"].to_list() == hist["entity"].to_list()
    assert tick["date"].to_list() == hist["date"].to_list()
    for c in ("value", *WINDOW_FEATURES):
        assert_same(tick[c], hist[c], c)
    assert tick["__n"].to_list() == year.group_by("entity").len().sort("entity")["len"].to_list()
    assert tick["__first"].to_list() == year.group_by("entity").agg(pl.col("date").min()).sort("entity")[
        "date"].to_list()


def test_tick_reading_bars_since_a_day_equals_reading_them_all(real_prices: pl.LazyFrame) -> None:
    """Bars given as ``bars(since)`` (the store's recent partitions first, earlier ones only for the
    tickers that need them) give the same evaluation as all bars at once: on any day of the year,
    with a ticker stale for weeks, one listed within the year, one with a gap of years."""
    prices = real_prices.collect()
    stale = prices.filter((pl.col("ticker") != "MSFT") | (pl.col("date") < D(2025, 11, 20)))
    fresh = prices.filter(pl.col("ticker") == "AMZN", pl.col("date") >= D(2025, 3, 3)).with_columns(
        ticker=pl.lit("NEW"))
    gap = prices.filter(pl.col("ticker") == "AAPL", (pl.col("date") < D(2023, 6, 1))
                        | (pl.col("date") > D(2025, 10, 1))).with_columns(ticker=pl.lit("GAP"))
    cols = ["ticker", "date", "close"]
    every = pl.concat([stale.select(cols), fresh.select(cols), gap.select(cols)])
    # as the store reads them: one run per ticker and year, years newest first
    by_year = every.sort(pl.col("date").dt.year(), "ticker", "date", descending=[True, False, False])

    def since(day: dt.date | None) -> pl.LazyFrame:
        return by_year.lazy() if day is None else by_year.lazy().filter(pl.col("date") >= day)

    rules = make_rules(
        {"name": "high", "series": "prices.close", "condition": "value >= high_52w * 0.9"},
        {"name": "sma", "series": "prices.close", "condition": "sma_20 < sma_50 and change_pct_5 < 0"},
        {"name": "low", "series": "prices.close", "condition": "value <= low_52w * 1.2"},
    )
    ev = Evaluator(rules)
    for day in (D(2025, 1, 2), D(2025, 6, 30), D(2025, 12, 24), D(2025, 12, 30), D(2025, 12, 31),
                D(2026, 1, 4), D(2026, 5, 29)):
        got = ev.evaluate(since, empty_facts(), at=at(day), with_features=True)
        want = ev.evaluate(by_year.lazy(), empty_facts(), at=at(day), with_features=True)
        assert got.height == want.height > 0
        assert got.to_dicts() == want.to_dicts(), day


@pytest.mark.parametrize("day", [D(2025, 12, 31), D(2025, 12, 26), D(2025, 7, 1)])
def test_tick_features_of_a_window_over_two_year_files_equal_history_features(
    real_prices: pl.LazyFrame, day: dt.date
) -> None:
    """A tick's window as the store reads it (the year files newest first, each sorted): at the end
    of a year the last run of a ticker holds every bar its features read and is read in place, the
    days of the year before only count; mid-year its runs are put in order. Either way the features,
    row counts and first dates of the rolling history path."""
    from metrics.alerting.evaluate import TICK_WINDOW_DAYS
    from metrics.alerting.series import series_frame

    cutoff = day - dt.timedelta(days=TICK_WINDOW_DAYS)
    window = series_frame("prices.close", real_prices, empty_facts(), end=day, start=cutoff).collect()
    laid_out = window.sort(pl.col("date").dt.year(), "entity", "date", descending=[True, False, False])
    tick = latest_bar_features(laid_out).sort("entity")
    hist = history_features(window.lazy(), "prices").group_by("entity").last().collect().sort("entity")
    assert tick["entity"].to_list() == hist["entity"].to_list()
    assert tick["date"].to_list() == hist["date"].to_list()
    for c in ("value", *WINDOW_FEATURES):
        assert_same(tick[c], hist[c], (day, c))
    assert tick["high_52w"].null_count() == 0
    counts = window.group_by("entity").agg(pl.len(), pl.col("date").min()).sort("entity")
    assert tick["__n"].to_list() == counts["len"].to_list()
    assert tick["__first"].to_list() == counts["date"].to_list()
