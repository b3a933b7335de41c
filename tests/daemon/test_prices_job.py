"""The prices jobs: fetching per exchange through yfinance over recorded responses, and seeding."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import polars as pl
import pytest
import responses
import stamina

from jobs import prices
from jobs.runner import execute
from jobs.services import build_services
from metrics.settings import load_settings
from metrics.store.prices.yahoo import YahooSource
from tests.daemon.conftest import SAMPLE_PRICES
from tests.store.conftest import YahooReplay

COMPANIES = """
[[company]]
name = "Apple"
ticker = "AAPL"
exchange = "XNAS"
currency = "USD"
aliases = ["苹果"]

[[company]]
name = "Nowhere Corp"
ticker = "NOPE"
exchange = "XNYS"
currency = "USD"
aliases = ["Nowhere"]

[[company]]
name = "Wacker Neuson"
ticker = "WSU.DE"
exchange = "XETR"
currency = "EUR"
aliases = ["Wacker"]
"""


def settings_for(tmp_path: Path, extra: str = "") -> Path:
    config = tmp_path / "cfg"
    config.mkdir()
    (config / "companies.toml").write_text(COMPANIES, encoding="utf-8")
    (config / "settings.toml").write_text(f"""
root = "{tmp_path / 'store'}"
[prices]
start = 2020-08-31
tickers = ["OCDO.L"]
seed_files = ["{SAMPLE_PRICES}"]
{extra}
""", encoding="utf-8")
    return config


def test_tickers_are_grouped_by_their_exchanges_calendar(tmp_path: Path) -> None:
    """Registry tickers go with their exchange's calendar (XNAS with XNYS); extra ones by suffix."""
    services = build_services(load_settings(settings_for(tmp_path)))
    try:
        assert prices.tickers_by_exchange(services) == {
            "XETR": ["WSU.DE"], "XLON": ["OCDO.L"], "XNYS": ["AAPL", "NOPE"]}
    finally:
        services.close()


def test_fetch_stores_bars_and_names_each_failed_ticker(tmp_path: Path, yahoo: YahooReplay) -> None:
    """A fetch of one exchange stores its tickers' bars; an unknown ticker fails alone, named."""
    source = YahooSource(yahoo.session, cache_dir=yahoo.cache_dir)
    services = build_services(load_settings(settings_for(tmp_path)), price_source=source)
    now = dt.datetime(2020, 11, 6, 23, 0, tzinfo=dt.UTC)
    try:
        with stamina.set_testing(True, attempts=1):
            result = execute("prices", prices.run, services, now=now, exchange="XNYS")
        assert result.status == "ok"
        assert result.summary["tickers"] == 2 and result.summary["rows"] == 49
        assert result.summary["failed"] == 1 and "NOPE" in result.summary["failures"][0]
        stored = services.store.scan("prices").collect()
        assert stored.get_column("ticker").unique().to_list() == ["AAPL"]
        assert [r["job"] for r in services.db.last_job_runs()] == ["prices"]
    finally:
        services.close()


def test_fetch_disabled_by_setting_asks_nothing(tmp_path: Path, yahoo: YahooReplay) -> None:
    """With ``prices.fetch = false`` the job fetches nothing and says why."""
    source = YahooSource(yahoo.session, cache_dir=yahoo.cache_dir)
    services = build_services(load_settings(settings_for(tmp_path, "fetch = false")), price_source=source)
    try:
        summary = prices.run(services, now=dt.datetime(2020, 11, 6, 23, 0, tzinfo=dt.UTC))
        assert summary["skipped"] == "prices.fetch is false" and yahoo.chart_calls() == []
    finally:
        services.close()


def test_seed_imports_only_into_an_empty_store(tmp_path: Path) -> None:
    """The seed files are imported when the store has no prices, and never again after that."""
    services = build_services(load_settings(settings_for(tmp_path)))
    now = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
    try:
        first = prices.seed(services, now=now)
        assert first["files"] == 1 and first["rows"] == pl.read_parquet(SAMPLE_PRICES).height
        second = prices.seed(services, now=now)
        assert second["files"] == 0 and second["skipped"] == "store already has prices"
    finally:
        services.close()


def test_missing_seed_file_is_noted_not_failed(tmp_path: Path) -> None:
    """A seed file that does not exist (run outside the project folder) is noted, not a failure."""
    services = build_services(load_settings(settings_for(tmp_path)))
    try:
        summary = prices.seed(services, now=dt.datetime(2026, 6, 1, tzinfo=dt.UTC),
                              files=[tmp_path / "absent.parquet"])
        assert summary["failed"] == 0 and summary["files"] == 0 and "absent.parquet" in summary["missing"]
    finally:
        services.close()


def test_unreachable_source_trips_the_breaker_and_defers_the_rest(
        tmp_path: Path, yahoo: YahooReplay, capsys: pytest.CaptureFixture[str]) -> None:
    """When Yahoo cannot be reached, three tickers fail, the rest are deferred, and one line says so."""
    import json

    import requests

    tickers = ["AAA", "BBB", "CCC", "DDD", "EEE", "FFF", "GGG"]
    for t in tickers:
        url = re.compile(rf"https://query\d\.finance\.yahoo\.com/v8/finance/chart/{t}\?.*")
        yahoo.mock.add(responses.GET, url, body=requests.ConnectionError("connection refused"))
    config = tmp_path / "cfg"
    config.mkdir()
    (config / "companies.toml").write_text("", encoding="utf-8")
    (config / "settings.toml").write_text(
        f'root = "{tmp_path / "store"}"\n[prices]\nstart = 2020-08-31\ntickers = {json.dumps(tickers)}\n',
        encoding="utf-8")
    source = YahooSource(yahoo.session, cache_dir=yahoo.cache_dir)
    services = build_services(load_settings(config), price_source=source)
    now = dt.datetime(2020, 11, 6, 23, 0, tzinfo=dt.UTC)
    try:
        capsys.readouterr()
        summary = prices.run(services, now=now)
        assert summary["failed"] == 3 and summary["deferred"] == 4
        assert len(yahoo.chart_calls()) == 3
        assert summary["next_try"] == "2020-11-09T21:30:00+00:00"   # Monday's close + 30 minutes
        lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
        unreachable = [e for e in lines if e["event"] == "prices.source_unreachable"]
        assert len(unreachable) == 1 and unreachable[0]["tickers"] == "DDD,EEE,FFF,GGG"
    finally:
        services.close()


def test_a_bad_bar_from_yahoo_is_dropped_and_logged(yahoo: YahooReplay,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """A zero close in Yahoo's answer is never stored: that bar is dropped with a warning, the rest kept."""
    import json

    from tests.store.conftest import recorded_body

    body = recorded_body("AAPL")
    quote = body["chart"]["result"][0]["indicators"]["quote"][0]
    quote["close"][5] = 0
    yahoo.add_chart("ZERO", body)
    source = YahooSource(yahoo.session, cache_dir=yahoo.cache_dir)
    capsys.readouterr()
    report = source.fetch(["ZERO"], dt.date(2020, 8, 31), dt.date(2020, 11, 6))
    assert report.frames["ZERO"].height == 48
    assert report.frames["ZERO"].filter(pl.col("close") <= 0).height == 0
    events = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    refused = [e for e in events if e["event"] == "prices.bar_refused"]
    assert len(refused) == 1 and refused[0]["column"] == "close"
