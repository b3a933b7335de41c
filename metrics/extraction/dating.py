"""Dates written in documents: the first date of a text, the year a text speaks from, and the source
line of a retrieved web page (``URL | date | language``).

``text_date`` finds the first date written (``12月8日``, ``2025年12月8日``, ``December 8, 2025``,
``2025-12-08``), a missing year taken from the caller; ``context_year`` judges the year a text speaks
from by the years it mentions. ``source_line`` reads a line naming where a document was retrieved:
its stated date (None when it says the date is unknown) and a reference date hinted by the rest of
the line (a date in a note, the year and month in the URL path), for resolving relative periods when
no publication date is known. Invalid dates (2025-13-45) are never returned.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

__all__ = [
    "SourceLine",
    "context_year",
    "first_date",
    "make_date",
    "month_day_month",
    "source_line",
    "text_date",
    "vote_year",
    "written_dates",
    "year_mentions",
]


def make_date(y: int, mo: int, d: int) -> dt.date | None:
    """The date, or None when it does not exist (2025-02-30, 2025-13-45)."""
    try:
        return dt.date(y, mo, d)
    except (ValueError, OverflowError):
        return None


_MONTHS = {
    m: i
    for i, names in enumerate(
        [
            (),
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ]
    )
    for m in names
}
_TEXT_DATE = re.compile(
    # every date starts with a digit or the first letter of a month name opening a word: the lookahead
    # lets the scan skip everything else fast (\u017f: the long s that IGNORECASE matches to 's')
    r"(?=[0-9]|(?<![A-Za-z])[JFMASONDjfmasond\u017f])(?:"
    r"(?:(?P<y>(?:19|20)\d{2})\s*年\s*)?(?<![\d.])(?P<m>1[0-2]|0?[1-9])\s*月\s*(?P<d>3[01]|[12]\d|0?[1-9])\s*[日号號]"
    r"|(?<!\d)(?P<iy>(?:19|20)\d{2})-(?P<im>1[0-2]|0[1-9])-(?P<id>3[01]|[12]\d|0[1-9])(?!\d)"
    r"|(?<![A-Za-z])(?P<em>(?i:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]{0,6})\.?\s+"
    r"(?P<ed>3[01]|[12]\d|0?[1-9])(?:st|nd|rd|th)?(?:,?\s+(?P<ey>(?:19|20)\d{2}))?\b"
    r"|\b(?P<ed2>3[01]|[12]\d|0?[1-9])\s+(?P<em2>(?i:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)"
    r"[a-z]{0,6})\.?(?:,?\s+(?P<ey2>(?:19|20)\d{2}))?\b"
    r")"
)
# the same dates found by a scan that skips in C to the next character a date can start with (a pattern
# opening with a lookahead is tried at every position): a match consumes that one character and holds
# the whole date in ``all``; a match starting inside the date before it is not a date of the text
_TEXT_DATE_SCAN = re.compile(r"[0-9JFMASONDjfmasond\u017f](?<=(?=(?P<all>" + _TEXT_DATE.pattern + r")).)")
# a year not preceded by a digit or dot (the lookbehind after the digits keeps a fast literal scan)
_YEAR = re.compile(r"((?:19|20)\d{2})(?<![\d.]\d{4})(?![\d.%])")
_FUTURE_BEFORE = re.compile(
    r"(预计|預計|将|將|计划|計畫|計劃|到|至|若|预期|預期|目标|目標|明年|by|until|through)\s*$", re.IGNORECASE
)
_REPORTED_PERIOD = re.compile(r"^\s*年?\s*(?:前三季|上半年|下半年|全年|第?[一二三四1-4]季|[QH][1-4])")
_EARLY_PERIOD = re.compile(
    r"^\s*年?\s*(?:第?[一1]季|首季|Q1|H1|上半年|初|[1-3]月(?!\d)|[一二三]月|"
    r"first (?:quarter|half))",
    re.IGNORECASE,
)
_FUTURE_AFTER = re.compile(r"^\s*(?:年前(?![三两兩]季)|年?[^，,。；;\d]{0,4}(?:将|將|预计|預計))")


def written_dates(text: str) -> Iterator[tuple[int | None, int, int]]:
    """(year or None when not written, month, day) of each date written in ``text``, in order."""
    last = 0
    for m in _TEXT_DATE_SCAN.finditer(text):
        if m.start() < last:
            continue
        last = m.end("all")
        if m.group("m"):
            yield (int(m.group("y")) if m.group("y") else None), int(m.group("m")), int(m.group("d"))
        elif m.group("iy"):
            yield int(m.group("iy")), int(m.group("im")), int(m.group("id"))
        else:
            name = (m.group("em") or m.group("em2") or "").lower()
            mo = _MONTHS.get(name) or _MONTHS.get(name[:3])
            if mo is None:
                continue
            ey = m.group("ey") or m.group("ey2")
            yield (int(ey) if ey else None), mo, int(m.group("ed") or m.group("ed2"))


def text_date(text: str, *, year: int | None) -> tuple[dt.date | None, bool]:
    """The first date written in ``text`` (year from ``year`` if the text omits it) and whether
    the text gave a month and day (True even when no year is known and None is returned)."""
    return first_date(written_dates(text), year=year)


def first_date(
    dates: Iterable[tuple[int | None, int, int]], *, year: int | None
) -> tuple[dt.date | None, bool]:
    """``text_date`` over dates already found (``written_dates``)."""
    for written, mo, d in dates:
        y = written if written is not None else year
        if y is None:
            return None, True
        found = make_date(y, mo, d)
        if found is not None:
            return found, True
    return None, False


def context_year(text: str, *, month: int | None = None) -> int | None:
    """The year a text most likely speaks from, judged by the years it mentions.

    Each mention votes for its year (twice when it names a reported period: 前三季度, 上半年,
    第三季度), unless a future marker surrounds it (预计, 将, 到, 若, by...), in which case it votes
    half for the year before. When the text is known to be written late in a year (``month`` of
    its month-day date is July or later), a mention of a year's first quarter or first half is a
    plan for the next year: it votes for the year before. The most voted year wins (ties: the later).
    """
    return vote_year(year_mentions(text), month=month)


# a year mention: (year, a future marker surrounds it, it names a year's first quarter or half, the weight
# of its vote otherwise)
YearMention = tuple[int, bool, bool, float]


def year_mentions(text: str) -> list[YearMention]:
    """The year mentions ``context_year`` weighs, read once for the votes of any month."""
    out: list[YearMention] = []
    for m in _YEAR.finditer(text):
        y = int(m.group(1))
        before = text[max(0, m.start() - 6) : m.start()]
        after = text[m.end() : m.end() + 8]
        if _FUTURE_BEFORE.search(before) or _FUTURE_AFTER.match(after):
            out.append((y, True, False, 0.5))
        else:
            early = _EARLY_PERIOD.match(after) is not None
            out.append((y, False, early, 2.0 if _REPORTED_PERIOD.match(after) else 1.0))
    return out


def vote_year(mentions: list[YearMention], *, month: int | None = None) -> int | None:
    """``context_year`` over the mentions of a text (``year_mentions``)."""
    votes: dict[int, float] = {}
    late = month is not None and month >= 7
    for y, future, early, weight in mentions:
        if future:
            votes[y - 1] = votes.get(y - 1, 0.0) + 0.5
        elif late and early:
            votes[y - 1] = votes.get(y - 1, 0.0) + 1.0
        else:
            votes[y] = votes.get(y, 0.0) + weight
    if not votes:
        return None
    return max(votes.items(), key=lambda kv: (kv[1], kv[0]))[0]


def month_day_month(text: str) -> int | None:
    """The month of the first date of ``text`` when it is a month-day without a year, else None."""
    for y, mo, _ in written_dates(text):
        return None if y is not None else mo
    return None


@dataclass(frozen=True, slots=True)
class SourceLine:
    """A line naming where a document comes from: the date it states (None: unknown) and a
    reference date hinted by the rest of the line."""

    published: dt.date | None
    reference: dt.date | None


_URL = re.compile(r"https?://\S+", re.IGNORECASE)
_ISO = re.compile(r"(?<!\d)((?:19|20)\d{2})[-/.](\d{1,2})[-/.](\d{1,2})(?!\d)")
_URL_MONTH = re.compile(r"/((?:19|20)\d{2})[-/]?(0[1-9]|1[0-2])(?:[-/]?(0[1-9]|[12]\d|3[01]))?(?=[/\-_.]|$)")


def source_line(line: str) -> SourceLine | None:
    """The source line ``URL | date [(note)] | language`` (as retrieved pages are saved), else None.

    The date field states the publication date when it opens with an ISO date; "unknown" (or no
    date) leaves it None. The reference date is that date, else the first ISO date of the note, else
    the year and month of the URL path (the 15th of that month)."""
    parts = [p.strip() for p in line.split("|")]
    if len(parts) < 2 or not _URL.match(parts[0]):
        return None
    field = parts[1]
    published = None
    m = _ISO.match(field)
    if m is not None:
        published = make_date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    reference = published
    if reference is None:
        for m2 in _ISO.finditer(line, len(parts[0])):
            reference = make_date(int(m2.group(1)), int(m2.group(2)), int(m2.group(3)))
            if reference is not None:
                break
    if reference is None:
        u = _URL_MONTH.search(parts[0])
        if u is not None:
            reference = make_date(int(u.group(1)), int(u.group(2)), int(u.group(3) or 15))
    return SourceLine(published, reference)
