"""The daemon's view of the exchange calendars (``metrics.store.calendars``): close times and sessions.

An exchange is named by its ISO MIC as exchange-calendars knows it (``XNYS``, ``XNAS`` is an alias of
it, ``XKRX``, ``XTAI``, ``XHKG``...).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from metrics.store import calendars as _calendars
from metrics.store.calendars import DEFAULT_EXCHANGE, calendar, canonical

__all__ = ["DEFAULT_EXCHANGE", "CloseTime", "calendar", "canonical", "closes_between", "is_session",
           "regular_close"]


@dataclass(frozen=True, slots=True)
class CloseTime:
    """An exchange's regular close: the calendar's canonical name, its time zone and local time."""

    exchange: str
    tz: str
    close: dt.time


def regular_close(exchange: str) -> CloseTime:
    """The exchange's current regular close time in its own time zone (its sessions are not built)."""
    name, tz, close = _calendars.regular_close(exchange)
    return CloseTime(name, tz.key, close)


def is_session(exchange: str, day: dt.date) -> bool:
    """True when ``day`` is a trading session of ``exchange`` (weekdays beyond the calendar's range)."""
    cal = calendar(exchange)
    if day < cal.first or day > cal.last:
        return day.weekday() < 5
    d = np.datetime64(day, "D")
    i = int(np.searchsorted(cal.sessions, d))
    return bool(cal.sessions[i] == d)


def closes_between(exchange: str, start: dt.datetime | None, end: dt.datetime) -> list[dt.datetime]:
    """Close times (UTC) of the sessions of ``exchange`` closing in ``(start, end]``, in order.

    ``start`` None means from the calendar's first session. Early closes are the real ones.
    """
    return calendar(exchange).closes_between(start, end)
