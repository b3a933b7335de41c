"""Period arithmetic: fiscal years and quarters, shifts, ends (no text here; see ``periods.py``).

Period names follow gold/SCHEMA.md: ``FY2025``, ``2025Q3``, ``FY2026Q1`` (a fiscal quarter, named
by the fiscal year that ends in the given year), ``2025H1``, ``2025-9M`` (``2025-10M``: the first ten
months), ``2025..2027``, ``ASOF``.
"""

from __future__ import annotations

import re
from datetime import date

__all__ = [
    "add_quarters",
    "current_fiscal_year",
    "fiscal_quarter_of",
    "last_quarter",
    "period_end",
    "previous_quarter",
    "quarter_name",
    "shift_year",
    "with_year",
]


def current_fiscal_year(on: date, fiscal_year_end: int) -> int:
    """The fiscal year (named by its end year) that contains ``on``."""
    if fiscal_year_end == 12:
        return on.year
    return on.year + (1 if on.month > fiscal_year_end else 0)


def last_quarter(on: date) -> tuple[int, int]:
    """The last calendar quarter completed before ``on``: (year, quarter)."""
    q = (on.month - 1) // 3 + 1
    return (on.year - 1, 4) if q == 1 else (on.year, q - 1)


def fiscal_quarter_of(on: date, fiscal_year_end: int) -> tuple[int, int]:
    """The fiscal (year, quarter) containing ``on`` (calendar ones for a December year end)."""
    months_in = (on.month - fiscal_year_end - 1) % 12  # 0..11 months into the fiscal year
    return current_fiscal_year(on, fiscal_year_end), months_in // 3 + 1


def quarter_name(year: int, q: int, fiscal_year_end: int, *, fiscal: bool) -> str:
    """``2025Q3`` for a calendar quarter, ``FY2026Q1`` for a fiscal one of a non-December year end."""
    if fiscal and fiscal_year_end != 12:
        return f"FY{year}Q{q}"
    return f"{year}Q{q}"


def add_quarters(year: int, q: int, n: int) -> tuple[int, int]:
    """Quarter ``q`` of ``year`` moved by ``n`` quarters."""
    k = year * 4 + (q - 1) + n
    return k // 4, k % 4 + 1


_Q = re.compile(r"^(FY)?(\d{4})Q([1-4])$")
_YEARISH = re.compile(r"^(FY)?(\d{4})(H[12]|-(?:[1-9]|1[01])M)?$")


def previous_quarter(period: str | None) -> str | None:
    """The quarter before a quarter period (``2025Q3`` -> ``2025Q2``, ``FY2026Q1`` -> ``FY2025Q4``)."""
    m = _Q.match(period or "")
    if m is None:
        return None
    y, q = add_quarters(int(m.group(2)), int(m.group(3)), -1)
    return f"{m.group(1) or ''}{y}Q{q}"


def shift_year(period: str | None, years: int) -> str | None:
    """The same period ``years`` later (``2025Q3``, -1 -> ``2024Q3``); None for ranges and ASOF."""
    if not period:
        return None
    m = _Q.match(period)
    if m is not None:
        return f"{m.group(1) or ''}{int(m.group(2)) + years}Q{m.group(3)}"
    m = _YEARISH.match(period)
    if m is not None:
        return f"{m.group(1) or ''}{int(m.group(2)) + years}{m.group(3) or ''}"
    return None


def with_year(period: str | None, year: int) -> str | None:
    """The same kind of period in ``year`` (``2025Q3`` with 2024 -> ``2024Q3``)."""
    m = _Q.match(period or "") or _YEARISH.match(period or "")
    if m is None:
        return None
    return shift_year(period, year - int(m.group(2)))


def period_end(period: str | None, fiscal_year_end: int) -> date | None:
    """The last month's first day of a period (enough to tell a future period from a past one)."""
    if not period:
        return None
    m = _Q.match(period)
    if m is not None:
        y, q = int(m.group(2)), int(m.group(3))
        if m.group(1):  # fiscal quarter: months counted from the fiscal year's start
            month0 = fiscal_year_end + 3 * q  # 1-based month index, may pass 12
            cal_year = y - 1 + (month0 - 1) // 12 if fiscal_year_end != 12 else y
            return date(cal_year, (month0 - 1) % 12 + 1, 1)
        return date(y, 3 * q, 1)
    m = _YEARISH.match(period)
    if m is not None:
        y = int(m.group(2))
        tail = m.group(3)
        months = {"H1": 6, "H2": 12}.get(tail) if tail else None
        if tail and tail.startswith("-"):
            months = int(tail[1:-1])  # 2025-9M, 2025-10M: the first months of the year
        if m.group(1) and months is not None and fiscal_year_end != 12:
            # a fiscal half or the first months: months counted from the fiscal year's start
            month0 = fiscal_year_end + months
            return date(y - 1 + (month0 - 1) // 12, (month0 - 1) % 12 + 1, 1)
        if months is not None:
            return date(y, months, 1)
        return date(y, fiscal_year_end if m.group(1) else 12, 1)
    return None
