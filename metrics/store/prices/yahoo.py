"""Daily bars from Yahoo Finance through yfinance: the only module that imports yfinance.

``YahooSource.fetch`` asks the chart endpoint per ticker with ``auto_adjust=False`` (raw close and
adjusted close, not back-adjusted OHLC), takes the currency from the response metadata, and dates each
bar by its day in the exchange's own time zone. A ticker whose response fails or is malformed gets a
``FetchError`` and the others go on. A bar that fails ``checks.first_problem`` (a zero or non-finite
price, high below low) is dropped and logged (``prices.bar_refused``); more than
``MAX_REFUSED_BARS`` of them refuse the whole response. Rate limits (HTTP 429,
``YFRateLimitError``) are retried with exponential backoff and jitter, the one retry policy of this
adapter (``_retrying``).

Offline: a ticker that fails because Yahoo cannot be reached (DNS, refused connection, timeout) is
marked ``unreachable``; after ``BREAKER_AFTER`` in a row the remaining tickers are ``deferred``.
Whatever yfinance prints to stdout while fetching is captured and logged (``prices.source_output``).

yfinance is imported on first use, not at import time. Process-wide yfinance settings touched here:
exceptions are raised rather than logged (``config.debug.hide_exceptions = False``) and, when
``cache_dir`` is given, its time-zone/cookie cache lives there. A caller (tests) may inject a
``requests.Session``; set ``YF_DISABLE_CURL_CFFI=1`` before the first use for a plain-requests one.
"""

from __future__ import annotations

import datetime as dt
import io
import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, redirect_stdout
from pathlib import Path
from typing import Any

import polars as pl
import stamina

from metrics.errors import FetchError
from metrics.log import get_logger
from metrics.store.prices import Breaker, FetchReport
from metrics.store.prices.checks import first_problem
from metrics.store.schema import PRICES, conform

log = get_logger(__name__)

MAX_REFUSED_BARS = 20   # bad bars dropped (each logged) before the whole response is refused

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
        breaker = Breaker()
        for i, ticker in enumerate(tickers):
            if breaker.open:
                report.deferred = list(tickers[i:])
                report.unreachable = breaker.reason
                break
            try:
                with _captured_stdout(ticker):
                    report.frames[ticker] = self._fetch_one(ticker, start, end)
                breaker.record(None)
            except FetchError as e:
                report.errors[ticker] = e
                breaker.record(e)
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
            raise FetchError(f"fetch failed: {reason}", ticker=ticker, unreachable=_unreachable(e)) from e
        return _to_bars(ticker, hist, currency, start, end)


_UNREACHABLE_NAMES = ("ConnectionError", "DNSError", "Timeout", "ConnectTimeout", "ProxyError")


def _unreachable(error: BaseException) -> bool:
    """Whether ``error`` (or what caused it) says the host could not be reached at all."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, ConnectionError | TimeoutError) or any(
                c.__name__ in _UNREACHABLE_NAMES for c in type(seen).__mro__):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


@contextmanager
def _captured_stdout(ticker: str) -> Iterator[None]:
    """Log what yfinance prints during one fetch instead of letting it reach stdout."""
    buffer = io.StringIO()
    with redirect_stdout(buffer):
        yield
    for line in buffer.getvalue().splitlines():
        if line.strip():
            log.warning("prices.source_output", ticker=ticker, output=line.strip()[:500])


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
    refused = 0
    while (problem := first_problem(bars, now=dt.datetime.combine(end, dt.time(), dt.UTC))) is not None:
        day = bars.get_column("date")[problem.row]
        refused += 1
        if refused > MAX_REFUSED_BARS:
            raise FetchError(f"malformed response: more than {MAX_REFUSED_BARS} bad bars, the last "
                             f"{problem.column} on {day}: {problem.message}", ticker=ticker)
        log.warning("prices.bar_refused", ticker=ticker, date=str(day), column=problem.column,
                    reason=problem.message)
        bars = bars.filter(pl.int_range(pl.len()) != problem.row)
    return conform(bars.unique(["ticker", "date"], keep="last", maintain_order=True), "prices")
