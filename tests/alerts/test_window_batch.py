"""The window features of a catch-up's closes computed in one pass (``_window_latest_many``) are,
close by close, those of one window per close (``_window_latest_each``, what a tick computes): the
same rows and the same floats, on the bundled sample's real bars made harder (gaps, tickers gone
stale, a ticker whose history starts mid-way, bars in two year files) and on the bar series derived
from facts (``market_cap``, ``price_to_sales``)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from metrics.alerting.evaluate import (
    TICK_WINDOW_DAYS,
    Evaluator,
    _window_latest_each,
    _window_latest_many,
)
from metrics.alerting.features import with_age_and_stale_bars, with_age_and_stale_bars_many
from metrics.alerting.tick import recent_bars
from metrics.store.calendars import calendar
from metrics.store.prices.files import import_price_file
from metrics.store.tables import Store
from tests.alerts.conftest import facts_frame, make_rules

PROJECT = Path(__file__).resolve().parents[2]
LOADED = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)


def _bars() -> pl.DataFrame:
    """The sample's bars, with holes: every 7th bar of NVDA gone, a month of AAPL gone, TSLA
    stopped in March 2026 and AMD in April 2025 (stale, then out of the windows), MSFT starting in
    September 2025 (short of history), 005930.KS with 60 bars only (short, then stale)."""
    bars = import_price_file(PROJECT / "examples" / "prices" / "daily_sample.parquet", now=LOADED,
                             future_ok=True)
    t, d = pl.col("ticker"), pl.col("date")
    nth = pl.int_range(pl.len()).over("ticker")
    return bars.filter(
        ~((t == "NVDA") & (nth % 7 == 3))
        & ~((t == "AAPL") & d.is_between(dt.date(2026, 3, 20), dt.date(2026, 4, 20)))
        & ~((t == "TSLA") & (d > dt.date(2026, 3, 12)))
        & ~((t == "AMD") & (d > dt.date(2025, 4, 15)))
        & ~((t == "MSFT") & (d < dt.date(2025, 9, 15)))
        & ~((t == "005930.KS") & ~d.is_between(dt.date(2026, 1, 5), dt.date(2026, 4, 10)))
    )


def _fact(i: int, entity: str, ticker: str, metric: str, value: float, period: str,
          published: dt.date, unit: str = "USD") -> dict[str, Any]:
    return {"fact_id": f"f{i}", "entity": entity, "ticker": ticker, "metric": metric, "value": value,
            "period": period, "published": published, "kind": "actual", "unit": unit}


def _facts(*, republished: bool = False) -> pl.DataFrame:
    """Shares outstanding and yearly revenue, some published during the closes evaluated (the
    derived bars move then); ``republished``: one statement stored again with a later date."""
    rows = [
        _fact(0, "NVIDIA", "NVDA", "shares_outstanding", 24.5e9, "FY2025", dt.date(2025, 2, 26), "shares"),
        _fact(1, "NVIDIA", "NVDA", "revenue", 130.5e9, "FY2025", dt.date(2025, 2, 26)),
        _fact(2, "NVIDIA", "NVDA", "shares_outstanding", 24.3e9, "FY2026", dt.date(2026, 4, 2), "shares"),
        _fact(3, "NVIDIA", "NVDA", "revenue", 190.1e9, "FY2026", dt.date(2026, 4, 2)),
        _fact(4, "Apple", "AAPL", "shares_outstanding", 15.0e9, "FY2025", dt.date(2025, 10, 31), "shares"),
        _fact(5, "Apple", "AAPL", "revenue", 416.0e9, "FY2025", dt.date(2025, 10, 31)),
        _fact(6, "Tesla", "TSLA", "shares_outstanding", 3.2e9, "FY2025", dt.date(2026, 1, 29), "shares"),
        _fact(7, "Microsoft", "MSFT", "shares_outstanding", 7.4e9, "FY2025", dt.date(2026, 4, 29), "shares"),
        _fact(8, "Microsoft", "MSFT", "revenue", 281.7e9, "FY2025", dt.date(2026, 4, 29)),
    ]
    if republished:
        rows.append({**rows[2], "published": dt.date(2026, 4, 20)})
    return facts_frame(rows).collect()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Store:
    """A real store holding the bars (in year files, as ``prices import`` writes them)."""
    store = Store(tmp_path_factory.mktemp("window") / "store")
    store.init()
    store.append("prices", _bars(), now=LOADED)
    return store


def _closes(first: dt.date, last: dt.date) -> list[dt.date]:
    days = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
    return [d for d in days if d.weekday() < 5]


SERIES = ["prices.close", "prices.volume", "derived.market_cap", "derived.price_to_sales"]
CLOSES = [*_closes(dt.date(2026, 3, 2), dt.date(2026, 5, 29)), dt.date(2026, 6, 3), dt.date(2027, 6, 15)]


def _assert_same(got: list[pl.DataFrame], want: list[pl.DataFrame]) -> None:
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        if w.height == 0:
            assert g.height == 0
            continue
        assert_frame_equal(g, w, check_exact=True)


@pytest.mark.parametrize("series", SERIES)
@pytest.mark.parametrize("republished", [False, True])
def test_batch_equals_one_window_per_close(world: Store, series: str, republished: bool) -> None:
    """Every close's frame, row for row and float for float (``check_exact``), including closes a
    year after the last bar (no entity left) and a republished statement (computed per close)."""
    facts = _facts(republished=republished).lazy()
    bars = recent_bars(world)
    want = _window_latest_each(series, bars, facts, CLOSES)
    got = _window_latest_many(series, bars, facts, CLOSES)
    _assert_same(got, want)
    # the cases are there: stale and short entities, windows with and without them
    by_close = {d: set(w["entity"].to_list()) for d, w in zip(CLOSES, want, strict=True)}
    if series.startswith("prices."):
        assert "AMD" in by_close[dt.date(2026, 3, 2)] and "AMD" not in by_close[dt.date(2026, 5, 29)]
        assert {"TSLA", "MSFT", "005930.KS", "NVDA"} <= by_close[dt.date(2026, 5, 29)]
        assert not by_close[dt.date(2027, 6, 15)] and by_close[dt.date(2026, 6, 3)]
    last = want[CLOSES.index(dt.date(2026, 5, 29))]
    if series == "prices.close":
        msft = last.filter(pl.col("entity") == "MSFT").row(0, named=True)
        assert msft["sma_200"] is None and msft["sma_50"] is not None and msft["high_52w"] is None
        assert last.filter(pl.col("entity") == "TSLA")["date"].item() == dt.date(2026, 3, 12)


def test_batch_over_bars_given_as_one_frame(world: Store) -> None:
    """Bars given as a LazyFrame (shuffled: no sorted runs) give the same as one window per close."""
    bars = world.scan("prices").collect().sample(fraction=1.0, shuffle=True, seed=3).lazy()
    facts = _facts().lazy()
    for series in SERIES:
        _assert_same(_window_latest_many(series, bars, facts, CLOSES[::5]),
                     _window_latest_each(series, bars, facts, CLOSES[::5]))


def test_evaluate_many_equals_one_evaluation_per_close(world: Store) -> None:
    """Through the evaluator: the rules' rows at every close, as ``evaluate`` gives them one close
    at a time (holds, values, ages, stale-bar counts)."""
    rules = make_rules(
        {"name": "drop", "series": "prices.close", "condition": "change_pct < -2", "channels": ["log"]},
        {"name": "stale", "series": "prices.close", "condition": "stale_bars > 2", "channels": ["log"]},
        {"name": "over", "series": "prices.close", "condition": "value > sma_50", "channels": ["log"]},
        {"name": "cap", "series": "derived.market_cap", "condition": "value > 3e12", "channels": ["log"]},
        {"name": "pts", "series": "derived.price_to_sales", "condition": "value > 20", "channels": ["log"]},
    )
    facts = _facts().lazy()
    ats = [dt.datetime.combine(d, dt.time(21), tzinfo=dt.UTC) for d in CLOSES[:-1]]
    batch = Evaluator(rules).evaluate_many(recent_bars(world), facts, ats, with_features=True)
    one = Evaluator(rules)
    for at, got in zip(ats, batch, strict=True):
        want = one.evaluate(recent_bars(world), facts, at=at, with_features=True)
        keys = ["rule", "entity"]
        assert_frame_equal(got.sort(keys), want.sort(keys), check_exact=True)


def test_one_point_age_and_stale_bars(world: Store) -> None:
    """``with_age_and_stale_bars`` (the batch of one point) counts each ticker's sessions after its
    latest bar on its own exchange, and weekdays for a date beyond the calendar, where the batch of
    several points declines (None)."""
    day0 = dt.date(2026, 5, 29)
    latest = _window_latest_each("prices.close", recent_bars(world), _facts().lazy(), [day0])[0]
    mics = {"000660.KS": "XKRX", "005930.KS": "XKRX"}
    for day in (day0, dt.date(2026, 6, 3), dt.date(2040, 1, 2)):
        got = with_age_and_stale_bars(latest, "prices", day, {"000660.KS": "XKRX"})
        assert got.columns == [*(c if c != "date" else "data_at" for c in latest.columns), "age_days",
                               "stale_bars"]
        for row in got.iter_rows(named=True):
            sessions = calendar(mics.get(row["entity"], "XNYS")).sessions
            if day <= calendar("XNYS").last:
                want = sum(row["data_at"] < s.item() <= day for s in sessions)
            else:
                want = int(np.busday_count(row["data_at"] + dt.timedelta(days=1), day + dt.timedelta(days=1)))
            assert (row["age_days"], row["stale_bars"]) == ((day - row["data_at"]).days, want), row
    stale = with_age_and_stale_bars(latest, "prices", dt.date(2026, 6, 3), None)
    assert stale.filter(pl.col("entity") == "TSLA")["stale_bars"].item() > 50
    assert with_age_and_stale_bars_many([latest, latest], "prices", [day0, dt.date(2040, 1, 2)], None) is None
    assert TICK_WINDOW_DAYS > 364
