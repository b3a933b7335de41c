"""The prices jobs: fetch each exchange's tickers after its close; seed an empty store from files.

Tickers come from the registry's listed companies plus ``prices.tickers``, grouped by exchange
(``metrics.store.prices.universe``, which the CLI uses too). Only missing
days are fetched (``update_prices``); a ticker that fails (offline, unknown, rate limited past the
retries) is reported in ``failures`` and the others go on. ``seed`` imports ``prices.seed_files``
when the store holds no prices at all, so a first run offline has history to evaluate.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from jobs import calendars
from jobs.services import Services
from metrics.errors import InputError
from metrics.log import get_logger
from metrics.store.prices import universe

log = get_logger("jobs.prices")


def tickers_by_exchange(services: Services) -> dict[str, list[str]]:
    """Tickers to fetch, grouped by the calendar name of their exchange (``XNAS`` joins ``XNYS``)."""
    return universe.tickers_by_exchange(services.registry.companies, services.settings.prices.tickers)


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
    if report.deferred:
        summary["deferred"] = len(report.deferred)
        delay = services.settings.prices.fetch_delay_minutes
        next_try = next_fetch(list(groups), now=now, delay_minutes=delay)
        summary["next_try"] = next_try.isoformat() if next_try else None
        log.warning("prices.source_unreachable", reason=report.unreachable, failed=summary["failed"],
                    deferred=len(report.deferred), tickers=_sample(report.deferred),
                    next_try=summary["next_try"])
    return summary


def _sample(tickers: list[str], limit: int = 20) -> str:
    """Up to ``limit`` tickers, comma-separated, with how many more."""
    more = len(tickers) - limit
    return ",".join(tickers[:limit]) + (f" (+{more} more)" if more > 0 else "")


def next_fetch(exchanges: list[str], *, now: dt.datetime, delay_minutes: int) -> dt.datetime | None:
    """The earliest scheduled fetch after ``now`` among ``exchanges``: a regular close plus the delay."""
    times = []
    for exchange in exchanges:
        closes = calendars.closes_between(exchange, now - dt.timedelta(minutes=delay_minutes),
                                          now + dt.timedelta(days=14))
        times += [c + dt.timedelta(minutes=delay_minutes) for c in closes[:1]]
    return min(times) if times else None


def _has_prices(services: Services) -> bool:
    return services.store.scan("prices").select("ticker").head(1).collect().height > 0


def seed(services: Services, *, now: dt.datetime, files: Iterable[Path] | None = None) -> dict[str, Any]:
    """Import ``prices.seed_files`` when the store has no prices yet; otherwise do nothing."""
    from metrics.store.prices.files import import_price_file

    summary: dict[str, Any] = {"files": 0, "rows": 0, "failed": 0, "failures": []}
    if _has_prices(services):
        summary["skipped"] = "store already has prices"
        return summary
    currencies = universe.currencies(services.registry.companies)
    for path in files if files is not None else services.settings.prices.seed_files:
        if not path.exists():  # the bundled sample is relative to the project: optional elsewhere
            summary["missing"] = ", ".join(filter(None, [summary.get("missing"), str(path)]))
            continue
        try:
            # a shipped sample may hold bars after a replayed ``now`` (daemon --once --now ...)
            frame = import_price_file(path, now=now, currencies=currencies, future_ok=True)
        except InputError as e:
            summary["failures"].append(str(e))
            continue
        services.store.append("prices", frame, now=now)
        summary["files"] += 1
        summary["rows"] += frame.height
    summary["failed"] = len(summary["failures"])
    return summary
