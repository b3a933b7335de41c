"""Prices from Yahoo Finance: yfinance's own code over recorded responses, offline; and ECB FX."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
import stamina
import structlog

from metrics.store.fx import to_usd
from metrics.store.prices import PriceSource, update_prices
from metrics.store.prices.yahoo import YahooSource
from metrics.store.tables import Store
from tests.store.conftest import NOW, YahooReplay, recorded_body

A0, A1 = dt.date(2020, 8, 31), dt.date(2020, 11, 6)


def source(yahoo: YahooReplay, **kw: object) -> YahooSource:
    return YahooSource(yahoo.session, cache_dir=yahoo.cache_dir, **kw)  # type: ignore[arg-type]


def test_yahoo_source_is_a_price_source(yahoo: YahooReplay) -> None:
    """YahooSource satisfies the PriceSource protocol."""
    assert isinstance(source(yahoo), PriceSource)


def test_fetch_gives_raw_and_adjusted_close_and_currency(yahoo: YahooReplay) -> None:
    """Bars carry raw close, adjusted close and the response's currency, dated on the exchange's day."""
    src = source(yahoo)
    report = src.fetch(["AAPL"], A0, A1)
    report.frames.update(src.fetch(["WSU.DE"], dt.date(2023, 8, 4), dt.date(2023, 8, 9)).frames)
    report.frames.update(src.fetch(["OCDO.L"], dt.date(2020, 1, 1), dt.date(2020, 1, 3)).frames)
    assert report.errors == {}
    aapl = report.frames["AAPL"]
    assert aapl.height == 49 and aapl["date"].min() == A0 and aapl["date"].max() == A1
    first = aapl.row(0, named=True)
    assert first["currency"] == "USD" and first["source"] == "yahoo"
    assert first["adj_close"] < first["close"]          # dividends: adjusted differs from raw
    assert report.frames["WSU.DE"]["currency"].to_list() == ["EUR"] * 3
    assert report.frames["OCDO.L"]["currency"].to_list() == ["GBp"]


def test_malformed_and_unknown_tickers_fail_alone(yahoo: YahooReplay) -> None:
    """The fake malformed payloads and an unanswered ticker are per-ticker errors; the good one is kept."""
    report = source(yahoo).fetch(["FAKE1", "AAPL", "FAKE2", "NOPE"], A0, A1)
    assert sorted(report.errors) == ["FAKE1", "FAKE2", "NOPE"]
    assert report.frames["AAPL"].height == 49
    assert "ticker FAKE1" in str(report.errors["FAKE1"])


def test_rate_limit_is_retried_with_backoff(yahoo: YahooReplay) -> None:
    """An HTTP 429 answer is retried (stamina) and the next answer is used."""
    yahoo.add_chart("RETRY", None, status=429)
    yahoo.add_chart("RETRY", recorded_body("AAPL"))
    with stamina.set_testing(True, attempts=3):
        report = source(yahoo).fetch(["RETRY"], A0, A1)
    assert report.errors == {} and report.frames["RETRY"].height == 49


def test_rate_limit_that_persists_is_reported(yahoo: YahooReplay) -> None:
    """A ticker still rate-limited after the last attempt is a FetchError saying so."""
    yahoo.add_chart("LIMITED", None, status=429)
    with stamina.set_testing(True, attempts=2):
        report = source(yahoo, max_attempts=2).fetch(["LIMITED", "AAPL"], A0, A1)
    assert "rate limited" in str(report.errors["LIMITED"]) and "AAPL" in report.frames


def test_update_prices_fetches_only_missing_days(yahoo: YahooReplay, store: Store) -> None:
    """The first update stores the range; the next asks Yahoo nothing when the store is complete."""
    src = source(yahoo)
    now = dt.datetime(2020, 11, 10, tzinfo=dt.UTC)
    first = update_prices(store, src, ["AAPL"], now=now, start=A0, end=A1)
    assert first.rows == 49 and first.errors == {}
    stored = store.scan("prices").collect()
    assert stored.height == 49 and set(stored["fetched_at"]) == {now}
    calls = len(yahoo.chart_calls("AAPL"))
    second = update_prices(store, src, ["AAPL"], now=now, start=A0, end=A1)
    assert second.skipped == ["AAPL"] and len(yahoo.chart_calls("AAPL")) == calls
    assert store.scan("prices").collect().height == 49


def test_update_prices_stores_good_tickers_despite_failures(yahoo: YahooReplay, store: Store) -> None:
    """One failing ticker does not stop the others from being stored."""
    report = update_prices(store, source(yahoo), ["FAKE1", "AAPL"], now=NOW, start=A0, end=A1)
    assert list(report.errors) == ["FAKE1"]
    assert store.scan("prices").select(pl.col("ticker").unique()).collect()["ticker"].to_list() == ["AAPL"]


def test_missing_days_before_and_after_are_asked(yahoo: YahooReplay, store: Store) -> None:
    """With bars in the middle stored, only the days before the first and after the last are fetched."""
    src = source(yahoo)
    update_prices(store, src, ["AAPL"], now=NOW, start=dt.date(2020, 9, 14), end=dt.date(2020, 9, 18))
    report = update_prices(store, src, ["AAPL"], now=NOW, start=A0, end=A1)
    assert report.rows == 44 and store.scan("prices").collect().height == 49


def test_fx_converts_at_the_ecb_rate_of_the_day_or_a_near_one() -> None:
    """USD is itself; EUR converts at the day's ECB rate; a weekend uses a nearby business day."""
    assert to_usd(5.0, "USD", dt.date(2025, 1, 4)) == 5.0
    friday = to_usd(100.0, "EUR", dt.date(2025, 1, 3))
    saturday = to_usd(100.0, "EUR", dt.date(2025, 1, 4))
    assert friday is not None and 100 < friday < 110
    assert saturday == friday
    rmb = to_usd(100.0, "RMB", dt.date(2025, 1, 3))
    assert rmb is not None and 13 < rmb < 14.5


@pytest.mark.parametrize(("currency", "on"), [("TWD", dt.date(2025, 1, 3)), ("EUR", dt.date(1990, 1, 1))])
def test_fx_missing_rate_is_none_and_logged(currency: str, on: dt.date) -> None:
    """A currency the ECB lacks (TWD) or a date far from any rate gives None and fx.missing_rate."""
    with structlog.testing.capture_logs() as logs:
        assert to_usd(100.0, currency, on) is None
    assert [e["event"] for e in logs] == ["fx.missing_rate"]
