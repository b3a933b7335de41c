"""Which tickers have prices, on which exchange, in which currency, and how fresh their bars are.

One home for what the CLI (``prices fetch``, ``prices import``, ``status``) and the daemon (the prices
jobs, the seed) must agree on:

* ``tickers_by_exchange``: the registry's listed companies (by their exchange's calendar, ``XNYS``
  when a company names none) plus ``prices.tickers`` (exchange guessed from the Yahoo suffix),
  grouped by calendar name (``XNAS`` joins ``XNYS``).
* ``currencies``: the currency of each ticker a price file without a currency column is stored in:
  the registry's, else the one of the ticker's Yahoo suffix (``.KS`` -> KRW), else USD for a symbol
  without suffix. ``currency_of`` answers for one ticker (None: unknown, the caller refuses).
* ``price_cache_dir``: where the Yahoo adapter keeps its time-zone and cookie cache (under the root).
* ``freshness``: per exchange, the newest bar and its age, the tickers without any bar.

The registry is taken structurally (``Listing``): this package knows nothing of extraction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import polars as pl

from metrics.errors import ConfigError
from metrics.store.calendars import DEFAULT_EXCHANGE, canonical, exchange_of_ticker

if TYPE_CHECKING:
    from metrics.store.tables import Store

# Yahoo symbol suffix -> the currency its exchange quotes in (London's .L is left out: pence or pounds)
SUFFIX_CURRENCY: dict[str, str] = {
    "KS": "KRW", "KQ": "KRW", "SS": "CNY", "SZ": "CNY", "HK": "HKD", "TW": "TWD", "TWO": "TWD",
    "T": "JPY", "DE": "EUR", "F": "EUR", "PA": "EUR", "AS": "EUR", "MI": "EUR", "MC": "EUR", "BR": "EUR",
    "HE": "EUR", "TO": "CAD", "V": "CAD", "AX": "AUD", "SW": "CHF", "ST": "SEK", "OL": "NOK", "CO": "DKK",
    "NS": "INR", "BO": "INR",
}
CACHE_DIR = Path(".cache") / "yfinance"


class Listing(Protocol):
    """What a registry entry says about a listing (``metrics.extraction.entities.Company`` is one)."""

    @property
    def ticker(self) -> str | None: ...

    @property
    def currency(self) -> str: ...

    @property
    def listed(self) -> bool: ...

    @property
    def calendar(self) -> str | None: ...


def tickers_by_exchange(listings: Iterable[Listing], extra: Iterable[str] = ()) -> dict[str, list[str]]:
    """Tickers to fetch, grouped by the calendar name of their exchange, sorted."""
    pairs: list[tuple[str, str]] = [(c.ticker, c.calendar or exchange_of_ticker(c.ticker))
                                    for c in listings if c.listed and c.ticker]
    pairs += [(t, exchange_of_ticker(t)) for t in extra]
    groups: dict[str, set[str]] = {}
    for ticker, exchange in pairs:
        try:
            name = canonical(exchange)
        except ConfigError:  # unknown MIC: fetched with the default exchange's schedule
            name = DEFAULT_EXCHANGE
        groups.setdefault(name, set()).add(ticker)
    return {ex: sorted(ts) for ex, ts in sorted(groups.items())}


def currency_of(ticker: str, registry: dict[str, str] | None = None) -> str | None:
    """The currency of ``ticker``'s bars: the registry's, its suffix's, USD without suffix, else None."""
    if registry and ticker in registry:
        return registry[ticker]
    _, dot, suffix = ticker.rpartition(".")
    if not dot:
        return "USD"
    return SUFFIX_CURRENCY.get(suffix.upper())


def currencies(listings: Iterable[Listing]) -> dict[str, str]:
    """The registry's currency of each of its tickers (what ``currency_of`` consults first)."""
    return {c.ticker: c.currency for c in listings if c.ticker and c.currency}


def price_cache_dir(root: Path) -> Path:
    """The Yahoo adapter's cache folder of the store at ``root``."""
    return Path(root) / CACHE_DIR


def freshness(store: Store, groups: Mapping[str, Sequence[str]], *, now: dt.datetime) -> list[dict[str, Any]]:
    """Per exchange: tickers, those with bars, the newest bar, its age in days and the stalest ticker.

    ``groups`` is ``tickers_by_exchange``'s result; tickers the store has bars of but no group names
    are listed under ``other``.
    """
    latest = (store.scan("prices").group_by("ticker").agg(pl.col("date").max().alias("last"))
              .collect())
    last = dict(zip(latest.get_column("ticker").to_list(), latest.get_column("last").to_list(), strict=True))
    named = {t for ts in groups.values() for t in ts}
    rows_of: dict[str, Sequence[str]] = dict(groups)
    others = sorted(set(last) - named)
    if others:
        rows_of["other"] = others
    today = now.date()
    rows = []
    for exchange, tickers in rows_of.items():
        dates = [last[t] for t in tickers if t in last]
        newest = max(dates) if dates else None
        stalest = min(((last[t], t) for t in tickers if t in last), default=None)
        rows.append({
            "exchange": exchange,
            "tickers": len(tickers),
            "with_bars": len(dates),
            "newest_bar": newest,
            "age_days": (today - newest).days if newest else None,
            "stalest": f"{stalest[1]} {stalest[0]}" if stalest else None,
        })
    return rows
