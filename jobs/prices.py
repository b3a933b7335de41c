"""The prices jobs: fetch each exchange's tickers after its close; seed an empty store from files.

Tickers come from the registry's listed companies (grouped by their exchange, ``XNYS`` when a
company names none) plus ``prices.tickers`` (exchange guessed from the Yahoo suffix). Only missing
days are fetched (``update_prices``); a ticker that fails (offline, unknown, rate limited past the
retries) is reported in ``failures`` and the others go on. ``seed`` imports ``prices.seed_files``
when the store holds no prices at all, so a first run offline has history to evaluate.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from jobs.services import Services
from metrics.errors import ConfigError, InputError
from metrics.store.calendars import DEFAULT_EXCHANGE, canonical, exchange_of_ticker


def tickers_by_exchange(services: Services) -> dict[str, list[str]]:
    """Tickers to fetch, grouped by the calendar name of their exchange (``XNAS`` joins ``XNYS``)."""
    groups: dict[str, set[str]] = {}
    pairs: list[tuple[str, str]] = [
        (c.ticker, c.calendar or exchange_of_ticker(c.ticker))
        for c in services.registry.listed() if c.ticker]
    pairs += [(t, exchange_of_ticker(t)) for t in services.settings.prices.tickers]
    for ticker, exchange in pairs:
        try:
            name = canonical(exchange)
        except ConfigError:  # unknown MIC: fetch it with the default exchange's schedule
            name = DEFAULT_EXCHANGE
        groups.setdefault(name, set()).add(ticker)
    return {ex: sorted(ts) for ex, ts in sorted(groups.items())}


def run(services: Services, *, now: dt.datetime, exchange: str | None = None) -> dict[str, Any]:
    """Fetch the missing days of every ticker (or of ``exchange``'s tickers) up to ``now``."""
    from metrics.store.prices import update_prices

    groups = tickers_by_exchange(services)
    if exchange is not None:
        groups = {exchange: groups.get(exchange, [])}
    tickers = sorted({t for ts in groups.values() for t in ts})
    summary: dict[str, Any] = {"exchanges": ",".join(groups), "tickers": len(tickers), "rows": 0,
                               "failed": 0, "failures": []}
    if not services.settings.prices.fetch:
        summary["skipped"] = "prices.fetch is false"
        return summary
    if not tickers:
        return summary
    report = update_prices(services.store, services.price_source, tickers, now=now,
                           start=services.settings.prices.start)
    summary["rows"] = report.rows
    summary["failures"] = [str(e) for e in report.errors.values()]
    summary["failed"] = len(summary["failures"])
    return summary


def _has_prices(services: Services) -> bool:
    return services.store.scan("prices").select("ticker").head(1).collect().height > 0


def seed(services: Services, *, now: dt.datetime, files: Iterable[Path] | None = None) -> dict[str, Any]:
    """Import ``prices.seed_files`` when the store has no prices yet; otherwise do nothing."""
    from metrics.store.prices.files import import_price_file

    summary: dict[str, Any] = {"files": 0, "rows": 0, "failed": 0, "failures": []}
    if _has_prices(services):
        summary["skipped"] = "store already has prices"
        return summary
    for path in files if files is not None else services.settings.prices.seed_files:
        if not path.exists():  # the bundled sample is relative to the project: optional elsewhere
            summary["missing"] = ", ".join(filter(None, [summary.get("missing"), str(path)]))
            continue
        try:
            frame = import_price_file(path, now=now)
        except InputError as e:
            summary["failures"].append(str(e))
            continue
        services.store.append("prices", frame, now=now)
        summary["files"] += 1
        summary["rows"] += frame.height
    summary["failed"] = len(summary["failures"])
    return summary
