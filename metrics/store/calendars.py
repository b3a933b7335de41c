"""Exchange trading calendars: the one module that imports exchange-calendars.

An exchange is named by its ISO MIC. ``calendar_mic`` maps the MICs exchange-calendars has no
calendar of to the one they trade by (``XSHE`` -> ``XSHG``); ``canonical`` then resolves
exchange-calendars' own aliases (``XNAS`` -> ``XNYS``). ``exchange_of_ticker`` guesses a Yahoo
symbol's MIC from its suffix (``XNYS`` without one).

``calendar(exchange)`` is built on first use (exchange-calendars is imported then, not at import
time) and cached for the process; XKRX takes seconds. Sessions span 1990-2035 where the calendar
reaches that far, else exchange-calendars' default range.
"""

from __future__ import annotations

import datetime as dt
import threading
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from metrics.errors import ConfigError

if TYPE_CHECKING:
    import numpy as np

DEFAULT_EXCHANGE = "XNYS"
# exchange-calendars has no separate calendar for these MICs; they trade on the same days as
CALENDAR_ALIASES: dict[str, str] = {"XSHE": "XSHG", "XKOS": "XKRX", "XNSE": "XBOM", "ROCO": "XTAI"}
# Yahoo symbol suffix -> MIC of the exchange
SUFFIX_EXCHANGE: dict[str, str] = {
    "KS": "XKRX", "KQ": "XKOS", "SS": "XSHG", "SZ": "XSHE", "HK": "XHKG", "TW": "XTAI", "TWO": "ROCO",
    "T": "XTKS", "L": "XLON", "DE": "XETR", "PA": "XPAR", "AS": "XAMS", "TO": "XTSE", "AX": "XASX",
    "SW": "XSWX", "NS": "XNSE", "BO": "XBOM",
}
_RANGE = ("1990-01-01", "2035-12-31")


def exchange_of_ticker(ticker: str) -> str:
    """The MIC a Yahoo symbol trades on, from its suffix (``XNYS`` without one or if unknown)."""
    _, dot, suffix = ticker.rpartition(".")
    return SUFFIX_EXCHANGE.get(suffix.upper(), DEFAULT_EXCHANGE) if dot else DEFAULT_EXCHANGE


def calendar_mic(exchange: str) -> str:
    """The MIC whose exchange-calendars calendar ``exchange`` trades by (``XSHE`` -> ``XSHG``)."""
    return CALENDAR_ALIASES.get(exchange, exchange)


def canonical(exchange: str) -> str:
    """The calendar name ``exchange`` resolves to (``XNAS`` -> ``XNYS``); ``ConfigError`` if unknown."""
    import exchange_calendars as xcals

    try:
        return str(xcals.resolve_alias(calendar_mic(exchange)))
    except xcals.errors.InvalidCalendarName as e:
        raise ConfigError(f"unknown exchange {exchange!r} (not an exchange-calendars MIC)",
                          key="exchange") from e


@dataclass(frozen=True, slots=True)
class Calendar:
    """A calendar as plain values: its sessions and their UTC close times."""

    name: str
    tz: ZoneInfo
    regular_close: dt.time
    sessions: np.ndarray                 # session dates, datetime64[D], ascending
    closes: tuple[dt.datetime, ...]      # close of sessions[i], UTC (early closes included)

    @property
    def first(self) -> dt.date:
        return self.sessions[0].item()  # type: ignore[no-any-return]

    @property
    def last(self) -> dt.date:
        return self.sessions[-1].item()  # type: ignore[no-any-return]


_cache: dict[str, Calendar] = {}
_lock = threading.Lock()


def calendar(exchange: str) -> Calendar:
    """The calendar of ``exchange`` (a MIC or an alias), built once per process; ``ConfigError`` if
    unknown."""
    name = canonical(exchange)
    cal = _cache.get(name)
    if cal is None:
        with _lock:
            cal = _cache.get(name)
            if cal is None:
                cal = _cache[name] = _build(name)
    return cal


def _build(name: str) -> Calendar:
    import exchange_calendars as xcals
    import numpy as np

    with warnings.catch_warnings():  # pandas deprecations raised inside exchange-calendars
        warnings.simplefilter("ignore")
        try:
            cal = xcals.get_calendar(name, start=_RANGE[0], end=_RANGE[1])
        except ValueError:  # the calendar does not reach that far back
            cal = xcals.get_calendar(name)
        closes = cal.closes
        return Calendar(
            name=cal.name,
            tz=ZoneInfo(str(cal.tz)),
            regular_close=cal.close_times[-1][1],
            sessions=np.asarray(closes.index.to_numpy().astype("datetime64[D]")),
            closes=tuple(c.to_pydatetime().astimezone(dt.UTC) for c in closes),
        )

