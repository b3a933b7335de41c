"""Market prices: where daily bars come from, and bringing the store up to date.

A ``PriceSource`` fetches daily bars for tickers over a date range (``yahoo.YahooSource`` over
yfinance; tests may add an in-memory one); ``files.import_price_file`` reads bars from CSV/Parquet.
``update_prices`` asks a source only for the days the store lacks and appends what comes back.

**Circuit breaker.** When the source cannot be reached (DNS, refused connections, timeouts: a
``FetchError`` with ``unreachable``) for ``BREAKER_AFTER`` tickers in a row, the fetch stops: the
tickers not asked yet are ``deferred`` (not failed) and ``unreachable`` says why, so an offline run
costs a few failed requests and a few log lines, not one per ticker.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import polars as pl

from metrics.errors import FetchError
from metrics.log import get_logger
from metrics.store.schema import PRICES

if TYPE_CHECKING:
    from metrics.store.tables import Store

log = get_logger(__name__)

BREAKER_AFTER = 3      # consecutive unreachable failures that stop a fetch


@dataclass
class FetchReport:
    """What a fetch brought: bars per ticker (each conforming to ``schema.PRICES``, possibly empty)
    and the error of each ticker that failed. A ticker is in exactly one of the two."""

    frames: dict[str, pl.DataFrame] = field(default_factory=dict)
    errors: dict[str, FetchError] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)     # already up to date, nothing asked
    deferred: list[str] = field(default_factory=list)    # not asked: the source was unreachable
    unreachable: str | None = None                       # why the breaker stopped the fetch

    @property
    def rows(self) -> int:
        return sum(f.height for f in self.frames.values())

    def bars(self) -> pl.DataFrame:
        """All fetched bars as one frame."""
        frames = [f for f in self.frames.values() if f.height]
        return pl.concat(frames) if frames else pl.DataFrame(schema=PRICES)


@runtime_checkable
class PriceSource(Protocol):
    """A source of daily bars.

    ``fetch(tickers, start, end)`` returns the bars dated ``start`` to ``end`` (both included) of
    each ticker: for every ticker either a frame conforming to ``schema.PRICES`` (possibly empty:
    no trading in the range) in ``frames``, a ``FetchError`` in ``errors``, or, once the source
    proved unreachable (``breaker``), its name in ``deferred``. One ticker failing never stops the
    others; an unreachable source does. Transient failures (rate limits) are retried inside the
    source. ``fetched_at`` may be left null: ``update_prices`` stamps it with its ``now``.
    """

    def fetch(self, tickers: Sequence[str], start: dt.date, end: dt.date) -> FetchReport: ...


class Breaker:
    """Counts consecutive unreachable failures; ``open`` once ``limit`` are seen in a row."""

    def __init__(self, limit: int = BREAKER_AFTER) -> None:
        self.limit = limit
        self.count = 0
        self.reason: str | None = None

    @property
    def open(self) -> bool:
        return self.count >= self.limit

    def record(self, error: FetchError | None) -> None:
        """A ticker's outcome: None for success; an error counts only when ``unreachable``."""
        if error is None or not error.unreachable:
            self.count = 0
            return
        self.count += 1
        self.reason = str(error).split(": ", 1)[-1]


def missing_ranges(store: Store, tickers: Iterable[str], *, start: dt.date,
                   end: dt.date) -> dict[tuple[dt.date, dt.date], list[str]]:
    """Tickers grouped by the date range (both ends included) they lack between ``start`` and ``end``.

    A ticker with no bars lacks ``start..end``. One with bars lacks the days before its first bar
    (when ``start`` is earlier) and those after its last bar; its last bar's day is asked again when
    that bar was fetched on or before its own date (possibly an unfinished day). Empty ranges are
    left out.
    """
    wanted = sorted(set(tickers))
    known = (store.prices_for(wanted)
             .group_by("ticker")
             .agg(pl.col("date").min().alias("first"), pl.col("date").max().alias("last"),
                  pl.col("fetched_at").sort_by("date").last())
             .collect())
    have = {r["ticker"]: r for r in known.iter_rows(named=True)}
    groups: dict[tuple[dt.date, dt.date], list[str]] = {}
    for t in wanted:
        ranges: list[tuple[dt.date, dt.date]] = []
        if t not in have:
            ranges.append((start, end))
        else:
            r = have[t]
            if start < r["first"]:
                ranges.append((start, min(end, r["first"] - dt.timedelta(days=1))))
            final = r["fetched_at"] is not None and r["fetched_at"].date() > r["last"]
            ranges.append((r["last"] + dt.timedelta(days=1) if final else r["last"], end))
        for rng in ranges:
            if rng[0] <= rng[1]:
                groups.setdefault(rng, []).append(t)
    return groups


def update_prices(store: Store, source: PriceSource, tickers: Iterable[str], *, now: dt.datetime,
                  start: dt.date, end: dt.date | None = None) -> FetchReport:
    """Fetch only the days the store lacks for each ticker (up to ``end``, default ``now``'s date),
    append the bars, and return the combined report (per-ticker errors included)."""
    last_day = end or now.date()
    wanted = sorted(set(tickers))
    report = FetchReport()
    ranges = missing_ranges(store, wanted, start=start, end=last_day)
    breaker = Breaker()             # across calls: the source is asked a few tickers at a time
    for (first, last), group in sorted(ranges.items()):
        todo = list(group)
        while todo:
            if report.unreachable is not None:      # the breaker opened: ask nothing more this run
                report.deferred.extend(todo)
                break
            chunk, todo = todo[:breaker.limit - breaker.count], todo[breaker.limit - breaker.count:]
            part = source.fetch(chunk, first, last)
            for ticker, frame in part.frames.items():
                before = report.frames.get(ticker)
                report.frames[ticker] = frame if before is None else pl.concat([before, frame])
            report.errors.update(part.errors)
            report.deferred.extend(part.deferred)
            for ticker in chunk:
                if ticker in part.errors or ticker in part.frames:
                    breaker.record(part.errors.get(ticker))
            report.unreachable = report.unreachable or part.unreachable or (
                breaker.reason if breaker.open else None)
    report.deferred = sorted(set(report.deferred) - set(report.errors) - set(report.frames))
    asked = {t for group in ranges.values() for t in group}
    report.skipped.extend(t for t in wanted if t not in asked)
    stamp = pl.lit(now).cast(PRICES["fetched_at"])
    bars = report.bars().with_columns(pl.col("fetched_at").fill_null(stamp))
    if bars.height:
        store.append("prices", bars, now=now)
    for ticker, error in report.errors.items():
        log.warning("prices.fetch_failed", ticker=ticker, error=str(error))
    log.info("prices.fetched", tickers=len(report.frames), rows=report.rows, failed=len(report.errors),
             skipped=len(report.skipped), deferred=len(report.deferred))
    return report
