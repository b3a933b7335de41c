"""Fixtures of the store tests: bar frames, the price samples, a replayed Yahoo Finance.

``yahoo`` serves the recorded chart responses of tests/data/yahoo_http to yfinance's own code
through a real ``requests.Session`` whose HTTP layer the ``responses`` library replays: no network.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import structlog

os.environ.setdefault("YF_DISABLE_CURL_CFFI", "1")  # plain requests, so `responses` can replay it

import requests
import responses

from metrics.store.schema import PRICES
from metrics.store.tables import Store
from tests.store.s3server import S3Server, seaweedfs

DATA = Path(__file__).resolve().parents[1] / "data"
YAHOO = DATA / "yahoo_http"
PRICE_SAMPLES = DATA / "prices"
NOW = dt.datetime(2026, 6, 1, 22, 0, tzinfo=dt.UTC)

RECORDED = {
    "AAPL": "chart-AAPL-2020-08-31-to-2020-11-07.json",      # USD, 49 bars
    "BABA": "chart-BABA-2020-01-01-to-2020-01-03.json",
    "OCDO.L": "chart-OCDO.L-2020-01-01-to-2020-01-03.json",  # quoted in GBp
    "WSU.DE": "chart-WSU.DE-2023-08-04-to-2023-08-09.json",  # EUR
    "FAKE1": "chart-notimestamp-quotes-length.fake.json",    # malformed
    "FAKE2": "chart-notimestamp-weird-quote.fake.json",      # malformed
}


@pytest.fixture(autouse=True)
def _reset_logging() -> Iterator[None]:
    """Undo the CLI's logging set-up after each test: it binds the stream pytest captured then."""
    yield
    structlog.reset_defaults()


def bars(ticker: str, dates: list[dt.date], close: float = 10.0, *, fetched_at: dt.datetime = NOW,
         source: str = "test") -> pl.DataFrame:
    """Bars of one ticker on ``dates`` with every price equal to ``close``."""
    n = len(dates)
    return pl.DataFrame({
        "ticker": [ticker] * n, "date": dates, "open": [close] * n, "high": [close] * n, "low": [close] * n,
        "close": [close] * n, "adj_close": [close] * n, "volume": [100] * n, "currency": ["USD"] * n,
        "source": [source] * n, "fetched_at": [fetched_at] * n,
    }, schema=PRICES)


def days(start: dt.date, n: int) -> list[dt.date]:
    """``n`` consecutive calendar days from ``start``."""
    return [start + dt.timedelta(days=i) for i in range(n)]


@dataclass
class YahooReplay:
    """The replayed Yahoo endpoints, the session to hand to yfinance, and the calls made."""

    mock: responses.RequestsMock
    session: requests.Session
    cache_dir: Path

    def chart_calls(self, ticker: str | None = None) -> list[str]:
        urls = [u for c in self.mock.calls if (u := c.request.url or "") and "/v8/finance/chart/" in u]
        return [u for u in urls if ticker is None or f"/chart/{ticker}?" in u]

    def add_chart(self, ticker: str, body: Any = None, *, status: int = 200) -> None:
        url = re.compile(rf"https://query\d\.finance\.yahoo\.com/v8/finance/chart/{re.escape(ticker)}\?.*")
        if body is None:
            self.mock.add(responses.GET, url, status=status, body="Too Many Requests")
        else:
            self.mock.add(responses.GET, url, json=body, status=status)


def recorded_body(ticker: str) -> Any:
    return json.loads((YAHOO / RECORDED[ticker]).read_text(encoding="utf-8"))["response"]["bodyJson"]


@pytest.fixture
def yahoo(tmp_path: Path) -> Iterator[YahooReplay]:
    """Yahoo's cookie, crumb and chart endpoints replayed from the recorded responses."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add(responses.GET, "https://fc.yahoo.com/", status=404, headers={
            "Set-Cookie": "A3=d=fake; Expires=Wed, 01 Jan 2031 00:00:00 GMT; Domain=.yahoo.com; Path=/"})
        mock.add(responses.GET, re.compile(r"https://query\d\.finance\.yahoo\.com/v1/test/getcrumb.*"),
                 body="FAKECRUMB")
        replay = YahooReplay(mock, requests.Session(), tmp_path / "yf-cache")
        for ticker in RECORDED:
            replay.add_chart(ticker, recorded_body(ticker))
        yield replay


@pytest.fixture(scope="session")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """A real S3 server (SeaweedFS) on 127.0.0.1, one per test session."""
    with seaweedfs(tmp_path_factory.mktemp("seaweedfs")) as server:
        yield server


ROOTS = ["local", "s3"]


@pytest.fixture(params=ROOTS)
def root_url(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, dict[str, str]]:
    """A fresh store root and its storage options: a local folder, or a fresh prefix on the S3 server."""
    if request.param == "local":
        return str(tmp_path / "root"), {}
    server: S3Server = request.getfixturevalue("s3")
    return f"s3://{server.bucket}/{request.node.name.replace('[', '-').rstrip(']')}-{os.urandom(4).hex()}", \
        server.storage_options


@pytest.fixture
def tables(root_url: tuple[str, dict[str, str]]) -> Store:
    """A real store with its tables created (``metrics store init``), on each kind of root."""
    url, options = root_url
    store = Store(url, storage_options=options)
    store.init()
    return store
