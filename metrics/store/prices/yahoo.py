"""Daily bars from Yahoo Finance through yfinance: the only module that imports yfinance.

``YahooSource.fetch`` asks the chart endpoint per ticker with ``auto_adjust=False`` (raw close and
adjusted close, not back-adjusted OHLC), takes the currency from the response metadata, and dates each
bar by its day in the exchange's own time zone. A ticker whose response fails or is malformed gets a
``FetchError`` and the others go on. Rate limits (HTTP 429, ``YFRateLimitError``) are retried with
exponential backoff and jitter, the one retry policy of this adapter (``_retrying``).

yfinance is imported on first use, not at import time. Process-wide yfinance settings touched here:
exceptions are raised rather than logged (``config.debug.hide_exceptions = False``) and, when
``cache_dir`` is given, its time-zone/cookie cache lives there. A caller (tests) may inject a
``requests.Session``; set ``YF_DISABLE_CURL_CFFI=1`` before the first use for a plain-requests one.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import polars as pl
import stamina

from metrics.errors import FetchError
from metrics.store.prices import FetchReport
from metrics.store.schema import PRICES, conform

_COLUMNS = {"Open": "open", "High": "high", "Low": "low", "Close": "close", "Adj Close": "adj_close",
            "Volume": "volume"}


def _yf() -> Any:
    import yfinance  # noqa: TID251 - this module is the one place yfinance is imported

    yfinance.config.debug.hide_exceptions = False
    return yfinance


class YahooSource:
    """A ``PriceSource`` over yfinance; ``session``: a requests/curl_cffi session (tests inject one)."""

    source_name = "yahoo"

    def __init__(self, session: Any | None = None, *, cache_dir: Path | str | None = None,
                 max_attempts: int = 4, wait_initial: float = 1.0, wait_max: float = 60.0,
                 timeout: float = 30.0) -> None:
        self.session = session
        self.max_attempts = max_attempts
        self.wait_initial = wait_initial
        self.wait_max = wait_max
        self.timeout = timeout
        if cache_dir is not None:
            Path(cache_dir).mkdir(parents=True, exist_ok=True)
            _yf().set_tz_cache_location(str(cache_dir))

    @contextmanager
    def _retrying(self) -> Iterator[Any]:
        """The adapter's one retry policy: only rate limits, exponential backoff with jitter."""
        yield stamina.retry_context(on=_yf().exceptions.YFRateLimitError, attempts=self.max_attempts,
                                    wait_initial=self.wait_initial, wait_max=self.wait_max,
                                    timeout=None)

    def fetch(self, tickers: Sequence[str], start: dt.date, end: dt.date) -> FetchReport:
        """Bars of each ticker dated ``start`` to ``end`` inclusive; errors per ticker.

        ``fetched_at`` is left null for the caller (``update_prices``) to stamp with its ``now``.
        """
        report = FetchReport()
        for ticker in tickers:
            try:
                report.frames[ticker] = self._fetch_one(ticker, start, end)
            except FetchError as e:
                report.errors[ticker] = e
        return report

    def _fetch_one(self, ticker: str, start: dt.date, end: dt.date) -> pl.DataFrame:
        yf = _yf()
        try:
            with self._retrying() as attempts:
                for attempt in attempts:
                    with attempt:
                        tk = yf.Ticker(ticker, session=self.session)
                        stop = end + dt.timedelta(days=1)           # yfinance's end is exclusive
                        hist = tk.history(start=start.isoformat(), end=stop.isoformat(), interval="1d",
                                          auto_adjust=False, actions=False, repair=False,
                                          timeout=self.timeout)
                        currency = _currency(tk)
        except yf.exceptions.YFRateLimitError as e:
            raise FetchError(f"rate limited after {self.max_attempts} attempts", ticker=ticker) from e
        except yf.exceptions.YFPricesMissingError:
            return pl.DataFrame(schema=PRICES)          # no trading in the range
        except Exception as e:  # yfinance raises many kinds (HTTP, KeyError on malformed JSON...)
            reason = f"{type(e).__name__}: {e}".splitlines()[0]
            raise FetchError(f"fetch failed: {reason}", ticker=ticker) from e
        return _to_bars(ticker, hist, currency, start, end)


def _currency(tk: Any) -> str | None:
    """The currency of the last chart response (key lookup only: iterating loads intraday data)."""
    try:
        value = tk.history_metadata["currency"]
    except (KeyError, TypeError):
        return None
    return str(value) if value else None


def _to_bars(ticker: str, hist: Any, currency: str | None, start: dt.date, end: dt.date) -> pl.DataFrame:
    """yfinance's pandas frame -> bars conforming to ``schema.PRICES`` (``fetched_at`` null)."""
    if hist is None or len(hist) == 0:
        return pl.DataFrame(schema=PRICES)
    missing = [c for c in ("Open", "High", "Low", "Close", "Volume") if c not in hist.columns]
    if missing:
        raise FetchError(f"malformed response: columns {missing} missing", ticker=ticker)
    if not currency:
        raise FetchError("malformed response: no currency in the metadata", ticker=ticker)
    frame = hist.reset_index()
    index_name = frame.columns[0]
    local_days = [ts.date() for ts in frame[index_name]]
    data = {"ticker": [ticker] * len(frame), "date": local_days}
    for src, dst in _COLUMNS.items():
        if src in frame.columns:
            data[dst] = [None if math.isnan(v) else float(v) for v in frame[src].tolist()]
    bars = pl.DataFrame(data, schema_overrides={"date": pl.Date})
    if "adj_close" not in bars.columns:
        bars = bars.with_columns(pl.col("close").alias("adj_close"))
    bars = (bars.with_columns(pl.col("volume").round(0).cast(pl.Int64), pl.lit(currency).alias("currency"),
                              pl.lit(YahooSource.source_name).alias("source"))
            .filter(pl.col("close").is_not_null(), pl.col("date").is_between(start, end)))
    bad = bars.filter(pl.any_horizontal(pl.col(c) < 0 for c in ("open", "high", "low", "close", "adj_close")))
    if bad.height:
        raise FetchError(f"malformed response: negative price on {bad['date'][0]}", ticker=ticker)
    return conform(bars.unique(["ticker", "date"], keep="last", maintain_order=True), "prices")
