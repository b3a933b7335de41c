"""The period names of the expressions ``periods.py`` finds: quarters (calendar, or fiscal in an
article that names quarters fiscally), quarters named by their last month, relative quarters and years,
full and fiscal years, horizons of years ahead; each resolver takes the match and a ``Ctx`` (article
date, fiscal year end, fiscal mode) and returns the name, None when it cannot be known.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from metrics.extraction.fiscal import add_quarters, current_fiscal_year, fiscal_quarter_of, quarter_name
from metrics.extraction.numerals import parse_chinese_numeral

__all__ = [
    "MONTHS",
    "ORD",
    "Ctx",
    "fiscal_quarter_now",
    "full_year",
    "interim",
    "month_cn",
    "month_of",
    "months_ending",
    "months_span",
    "num",
    "quarter",
    "quarter_any",
    "quarter_ending",
    "rel_fy",
    "rel_year",
    "relative_quarter",
    "stated_year",
    "year_of",
    "years_ahead",
]


@dataclass(frozen=True, slots=True)
class Ctx:
    published: date | None
    fye: int
    fiscal: bool


ORD = {"first": 1, "second": 2, "third": 3, "fourth": 4, "1st": 1, "2nd": 2, "3rd": 3, "4th": 4}
EN_NUM = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10}
MONTHS = {
    m: i + 1
    for i, m in enumerate(
        (
            "january",
            "february",
            "march",
            "april",
            "may",
            "june",
            "july",
            "august",
            "september",
            "october",
            "november",
            "december",
        )
    )
}


def num(s: str) -> int:
    """A count or ordinal: arabic digits, a Chinese numeral (一, 两, 十二) or first..4th; else 0."""
    if s.isdigit():
        return int(s)
    return parse_chinese_numeral(s) or ORD.get(s.lower(), 0) or EN_NUM.get(s.lower(), 0)


def year_of(s: str) -> int:
    y = int(s)
    return 2000 + y if y < 100 else y


def qname(y: int, q: int, c: Ctx) -> str:
    return quarter_name(y, q, c.fye, fiscal=c.fiscal)


def quarter(y: int | None, q: int, c: Ctx) -> str | None:
    """Quarter ``q`` of year ``y`` (fiscal in fiscal mode); without a year, the latest such quarter
    begun by the article date."""
    if not 1 <= q <= 4:
        return None
    if y is None:
        if c.published is None:
            return None
        now_cq = (c.published.month - 1) // 3 + 1
        if c.fye != 12 and (c.fiscal or q == now_cq):
            # the calendar quarter under way has not ended: a company whose year does not end in
            # December names its fiscal quarter
            fy, now_q = fiscal_quarter_of(c.published, c.fye)
            return f"FY{fy if q <= now_q else fy - 1}Q{q}"
        y = c.published.year - (1 if q > now_cq else 0)
    return qname(y, q, c)


def relative_quarter(shift: int, c: Ctx) -> str | None:
    if c.published is None:
        return None
    if c.fiscal and c.fye != 12:
        y, q = fiscal_quarter_of(c.published, c.fye)
    else:
        y, q = c.published.year, (c.published.month - 1) // 3 + 1
    y, q = add_quarters(y, q, shift)
    return qname(y, q, c)


def _latest_year(n: int, month: int, c: Ctx) -> int | None:
    """The year of the latest period of ``n`` months ending with ``month`` begun by the article date
    (None without a date)."""
    if c.published is None:
        return None
    now = c.published.year * 12 + c.published.month - 1
    year = c.published.year + 1
    while year * 12 + month - n > now:  # the first month of the period is still ahead
        year -= 1
    return year


def quarter_ending(year: int | None, month: int, c: Ctx) -> str | None:
    """The quarter that ends with ``month``: the company's fiscal quarter when the article names
    quarters fiscally (or the month closes no calendar quarter), else the calendar one; the year, when
    not given, that of the latest such quarter begun by the article date."""
    if not 1 <= month <= 12:
        return None
    year = year if year is not None else _latest_year(3, month, c)
    if year is None:
        return None
    fiscal = c.fye != 12 and (c.fiscal or month % 3 != 0)
    if not fiscal:
        return f"{year}Q{month // 3}" if month % 3 == 0 else None
    if (month - c.fye) % 3 != 0:
        return None
    fy, q = fiscal_quarter_of(date(year, month, 1), c.fye)
    return f"FY{fy}Q{q}"


def years_ahead(n: int, c: Ctx) -> str | None:
    if c.published is None or not 1 < n <= 30:
        return None
    return f"{c.published.year}..{c.published.year + n - 1}"


def rel_fy(shift: int) -> Callable[[re.Match[str], Ctx], str | None]:
    return lambda m, c: (
        None if c.published is None else f"FY{current_fiscal_year(c.published, c.fye) + shift}"
    )


def rel_year(shift: int) -> Callable[[re.Match[str], Ctx], str | None]:
    return lambda m, c: None if c.published is None else f"FY{c.published.year + shift}"


def stated_year(m: re.Match[str], c: Ctx) -> int | None:
    if m["y"]:
        return year_of(m["y"])
    return None if c.published is None else c.published.year


def full_year(m: re.Match[str], c: Ctx) -> str | None:
    """The fiscal year named, else the current one (the one just ended in a fiscal year's first quarter)."""
    if m["y"]:
        return f"FY{m['y']}"
    if c.published is None:
        return None
    fy, q = fiscal_quarter_of(c.published, c.fye)
    return f"FY{fy - 1 if q == 1 else fy}"


def fiscal_quarter_now(m: re.Match[str], c: Ctx) -> str | None:
    """'fiscal Q3 2026' is FY2026Q3; without a year, the latest fiscal third quarter begun."""
    q = num(m["q"] or m["q2"])
    if m["y"]:
        return f"FY{year_of(m['y'])}Q{q}"
    if c.published is None:
        return None
    fy, now_q = fiscal_quarter_of(c.published, c.fye)
    return f"FY{fy if q <= now_q else fy - 1}Q{q}"


def month_of(year: int | None, month: int, c: Ctx) -> str | None:
    """The month itself (2025-10), for a month's own figure (10月营收, October sales); without a year,
    the latest such month begun by the article date."""
    if year is None:
        if c.published is None:
            return None
        year = c.published.year if month <= c.published.month else c.published.year - 1
    return f"{year}-{month:02d}"


def months_span(first: int, last: int, c: Ctx) -> str | None:
    """'the April-September half', 'the July-September quarter': the quarter or half that ends with
    ``last`` (the latest begun by the article date), a fiscal half for a company whose year does not
    end in December."""
    n = (last - first) % 12 + 1
    if n == 3:
        return quarter_ending(None, last, c)
    if n != 6 or c.published is None:
        return None
    year = c.published.year if last <= c.published.month else c.published.year - 1
    fy, q = fiscal_quarter_of(date(year, last, 1), c.fye)
    if q not in (2, 4):
        return None
    return f"{year}H{q // 2}" if c.fye == 12 else f"FY{fy}H{q // 2}"


def months_ending(n: int, month: int, year: int | None, c: Ctx) -> str | None:
    """The ``n`` months that end with ``month`` (截至9月30日止六個月, the six months ended September 30):
    three are the quarter ending then, six a half, nine the first nine months, twelve the fiscal year,
    each in the company's fiscal calendar (a fiscal half FY2026H1 for a March year, a calendar 2025H1 for
    a December one); the year, when not given, that of the latest such period begun by the article date
    (截至12月31日的三個月 in November is the quarter under way)."""
    if not 1 <= month <= 12:
        return None
    year = year if year is not None else _latest_year(n, month, c)
    if year is None:
        return None
    if n == 3:
        return quarter_ending(year, month, c)
    if (month - c.fye) % 3 != 0:
        return None  # no fiscal quarter of the company ends then
    fy, q = fiscal_quarter_of(date(year, month, 1), c.fye)
    name = {(6, 2): "H1", (6, 4): "H2", (9, 3): "-9M", (12, 4): ""}.get((n, q))
    if name is None:
        return None
    return f"{year}{name}" if c.fye == 12 and name else f"FY{fy}{name}"


def interim(year: int | None, c: Ctx) -> str | None:
    """Interim results (中期業績): the first half of the company's fiscal year, the one ending in ``year``
    when given, else the latest begun by the article date (FY2026H1 of a March year in November 2025)."""
    return months_ending(6, (c.fye + 5) % 12 + 1, year, c)


def month_cn(m: re.Match[str], c: Ctx) -> str | None:
    """A month (今年9月, 2025年9月): a quarter only when 季度 follows it (the quarter ending then), the
    month itself when a month's own figure follows it (10月营收), else no period."""
    if not m["qtr"] and m["own"] is None:
        return ""
    year: int | None = None
    if m["y"]:
        year = year_of(m["y"])
    elif m["rel"]:
        if c.published is None:
            return None
        year = c.published.year + {"今": 0, "本": 0, "去": -1, "明": 1}[m["rel"][0]]
    if not m["qtr"]:
        return month_of(year, int(m["mo"]), c)
    return quarter_ending(year, int(m["mo"]), c)


def quarter_any(m: re.Match[str], c: Ctx) -> str | None:
    y = year_of(m["y"]) if m["y"] else None
    if not y and m["rel"]:
        if c.published is None:
            return None
        y = c.published.year + {"今": 0, "本": 0, "去": -1, "明": 1}[m["rel"][0]]
    return quarter(y, num(m["q"] or m["q2"] or "1"), c)
