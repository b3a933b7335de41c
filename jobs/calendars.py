"""Trading calendars for the daemon's schedules (the one module that imports exchange-calendars).

An exchange is named by its ISO MIC as exchange-calendars knows it (``XNYS``, ``XNAS`` is an alias of
it, ``XKRX``, ``XTAI``, ``XHKG``...). Calendars are built once per process (XKRX takes seconds).
"""

from __future__ import annotations

import bisect
import datetime as dt
import functools
import threading
import warnings
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import exchange_calendars as xcals
from pandas.errors import Pandas4Warning

from metrics.errors import ConfigError

DEFAULT_EXCHANGE = "XNYS"


@dataclass(frozen=True, slots=True)
class CloseTime:
    """An exchange's regular close: the calendar's canonical name, its time zone and local time."""

    exchange: str
    tz: str
    close: dt.time


@dataclass(frozen=True, slots=True)
class Calendar:
    """What the daemon needs of a calendar, as plain Python: sessions and their UTC close times."""

    name: str
    tz: ZoneInfo
    regular_close: dt.time
    first: dt.date
    last: dt.date
    sessions: tuple[dt.date, ...]
    closes: tuple[dt.datetime, ...]      # close of sessions[i], UTC (early closes included)


_lock = threading.Lock()


@functools.cache
def _build(name: str) -> Calendar:
    with _lock, warnings.catch_warnings():
        # exchange-calendars on pandas 3 warns about its own use of Series.values
        warnings.simplefilter("ignore", Pandas4Warning)
        cal = xcals.get_calendar(name)
        closes = cal.closes
        sessions = tuple(d.date() for d in closes.index)
        utc = tuple(c.to_pydatetime().astimezone(dt.UTC) for c in closes)
        return Calendar(cal.name, ZoneInfo(str(cal.tz)), cal.close_times[-1][1],
                        sessions[0], sessions[-1], sessions, utc)


def calendar(exchange: str) -> Calendar:
    """The calendar of ``exchange`` (a MIC or an alias); ``ConfigError`` if unknown."""
    try:
        return _build(canonical(exchange))
    except xcals.errors.InvalidCalendarName as e:
        raise ConfigError(f"unknown exchange {exchange!r} (not an exchange-calendars MIC)",
                          key="exchange") from e


def canonical(exchange: str) -> str:
    """The calendar name ``exchange`` resolves to (``XNAS`` -> ``XNYS``)."""
    return str(xcals.resolve_alias(exchange))


def regular_close(exchange: str) -> CloseTime:
    """The exchange's current regular close time in its own time zone."""
    cal = calendar(exchange)
    return CloseTime(cal.name, cal.tz.key, cal.regular_close)


def is_session(exchange: str, day: dt.date) -> bool:
    """True when ``day`` is a trading session of ``exchange`` (weekdays beyond the calendar's range)."""
    cal = calendar(exchange)
    if day < cal.first or day > cal.last:
        return day.weekday() < 5
    i = bisect.bisect_left(cal.sessions, day)
    return i < len(cal.sessions) and cal.sessions[i] == day


def closes_between(exchange: str, start: dt.datetime | None, end: dt.datetime) -> list[dt.datetime]:
    """Close times (UTC) of the sessions of ``exchange`` closing in ``(start, end]``, in order.

    ``start`` None means from the calendar's first session. Early closes are the real ones.
    """
    cal = calendar(exchange)
    lo = 0 if start is None else bisect.bisect_right(cal.closes, start)
    hi = bisect.bisect_right(cal.closes, end)
    return list(cal.closes[lo:hi])
