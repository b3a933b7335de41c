"""Market prices: where daily bars come from, and bringing the store up to date.

A ``PriceSource`` fetches daily bars for tickers over a date range (``yahoo.YahooSource`` over
yfinance; tests may add an in-memory one); ``files.import_price_file`` reads bars from CSV/Parquet.
``update_prices`` asks a source only for the days the store lacks and appends what comes back.
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


@dataclass
class FetchReport:
    """What a fetch brought: bars per ticker (each conforming to ``schema.PRICES``, possibly empty)
    and the error of each ticker that failed. A ticker is in exactly one of the two."""

    frames: dict[str, pl.DataFrame] = field(default_factory=dict)
    errors: dict[str, FetchError] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)     # already up to date, nothing asked

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
    no trading in the range) in ``frames`` or a ``FetchError`` in ``errors``. One ticker failing never
    stops the others. Transient failures (rate limits) are retried inside the source. ``fetched_at``
    may be left null: ``update_prices`` stamps it with its ``now``.
    """

    def fetch(self, tickers: Sequence[str], start: dt.date, end: dt.date) -> FetchReport: ...


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
    for (first, last), group in sorted(ranges.items()):
        part = source.fetch(group, first, last)
        for ticker, frame in part.frames.items():
            before = report.frames.get(ticker)
            report.frames[ticker] = frame if before is None else pl.concat([before, frame])
        report.errors.update(part.errors)
    asked = {t for group in ranges.values() for t in group}
    report.skipped.extend(t for t in wanted if t not in asked)
    stamp = pl.lit(now).cast(PRICES["fetched_at"])
    bars = report.bars().with_columns(pl.col("fetched_at").fill_null(stamp))
    if bars.height:
        store.append("prices", bars, now=now)
    for ticker, error in report.errors.items():
        log.warning("prices.fetch_failed", ticker=ticker, error=str(error))
    log.info("prices.fetched", tickers=len(report.frames), rows=report.rows, failed=len(report.errors),
             skipped=len(report.skipped))
    return report
