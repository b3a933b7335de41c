"""Period expressions in normalized text, resolved against the article date and the fiscal year.

Names follow gold/SCHEMA.md: ``FY2025`` (a year; a fiscal year as the company names it),
``2025Q3``, ``2025H1``, ``2025-9M`` (前三季度), ``FY2026Q3``, ``FY2026H1``, ``2025..2032`` (a
multi-year horizon), ``ASOF`` (point-in-time stocks, set by the extractor). A quarter or half is a
calendar one unless the text labels it fiscally. Relative expressions (上季度, 下一财年, 今年,
未来8年, last quarter, next fiscal year) need the publication date; without it they resolve to None.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from metrics.extraction.numbers import parse_chinese_numeral

__all__ = ["PeriodSpan", "current_fiscal_year", "find_periods", "last_quarter"]

_ORD = {"first": 1, "second": 2, "third": 3, "fourth": 4, "1st": 1, "2nd": 2, "3rd": 3, "4th": 4}


@dataclass(frozen=True, slots=True)
class PeriodSpan:
    """A period expression at [start, end) of the text and its resolved name (None: unknowable)."""

    start: int
    end: int
    period: str | None


@dataclass(frozen=True, slots=True)
class _Ctx:
    published: date | None
    fye: int


def current_fiscal_year(on: date, fiscal_year_end: int) -> int:
    """The fiscal year (named by its end year) that contains ``on``."""
    if fiscal_year_end == 12:
        return on.year
    return on.year + (1 if on.month > fiscal_year_end else 0)


def last_quarter(on: date) -> tuple[int, int]:
    """The last calendar quarter completed before ``on``: (year, quarter)."""
    q = (on.month - 1) // 3 + 1
    return (on.year - 1, 4) if q == 1 else (on.year, q - 1)


def _num(s: str) -> int:
    """A count or ordinal: arabic digits, a Chinese numeral (一, 两, 十二) or first..4th; else 0."""
    if s.isdigit():
        return int(s)
    return parse_chinese_numeral(s) or _ORD.get(s.lower(), 0)


def _year(s: str) -> int:
    y = int(s)
    return 2000 + y if y < 100 else y


def _stated_year(m: re.Match[str], c: _Ctx) -> int | None:
    """The year the match names (group ``y``), else the article's year (None without a date)."""
    if m["y"]:
        return _year(m["y"])
    return None if c.published is None else c.published.year


_Resolver = Callable[[re.Match[str], _Ctx], str | None]


def _fyq(m: re.Match[str], c: _Ctx) -> str | None:
    return f"FY{_year(m['y'])}Q{_num(m['q'])}"


def _half_no(h: str) -> int:
    return 1 if h in ("上", "first", "1") else 2


def _fyh(m: re.Match[str], c: _Ctx) -> str | None:
    return f"FY{_year(m['y'])}H{_half_no(m['h'])}"


def _fy(m: re.Match[str], c: _Ctx) -> str | None:
    return f"FY{_year(m['y'])}"


def _rel_fy(m: re.Match[str], c: _Ctx) -> str | None:
    if c.published is None:
        return None
    w = m.group().lower()
    shift = 1 if ("下" in w or "next" in w) else -1 if ("上" in w or "last" in w or "previous" in w) else 0
    return f"FY{current_fiscal_year(c.published, c.fye) + shift}"


def _ytd9(m: re.Match[str], c: _Ctx) -> str | None:
    y = _stated_year(m, c)
    return None if y is None else f"{y}-9M"


def _half(m: re.Match[str], c: _Ctx) -> str | None:
    y = _stated_year(m, c)
    return None if y is None else f"{y}H{_half_no(m['h'])}"


def _calendar_quarter(y: int | None, q: int, c: _Ctx) -> str | None:
    """Quarter ``q`` of year ``y``; without a year, the latest quarter ``q`` begun by the article date."""
    if not y:
        if c.published is None:
            return None
        y = c.published.year
        if (q - 1) * 3 + 1 > c.published.month:
            y -= 1
    return f"{y}Q{q}"


def _quarter(m: re.Match[str], c: _Ctx) -> str | None:
    return _calendar_quarter(_year(m["y"]) if m["y"] else None, _num(m["q"]), c)


def _rel_quarter(m: re.Match[str], c: _Ctx) -> str | None:
    if c.published is None:
        return None
    w = m.group().lower()
    y, q = c.published.year, (c.published.month - 1) // 3 + 1
    if "上" in w or "last" in w or "previous" in w:
        y, q = last_quarter(c.published)
    elif "下" in w or "next" in w:
        y, q = (y + 1, 1) if q == 4 else (y, q + 1)
    return f"{y}Q{q}"


def _year_range(m: re.Match[str], c: _Ctx) -> str | None:
    a, b = int(m["a"]), int(m["b"])
    return f"{a}..{b}" if a < b else None


def _years_ahead(n: int, c: _Ctx) -> str | None:
    """The ``n`` years from the article's year on (2 to 30 of them)."""
    if c.published is None or not 1 < n <= 30:
        return None
    return f"{c.published.year}..{c.published.year + n - 1}"


def _next_years(m: re.Match[str], c: _Ctx) -> str | None:
    return _years_ahead(_num(m["n"]), c)


def _rel_year(m: re.Match[str], c: _Ctx) -> str | None:
    if c.published is None:
        return None
    w = m.group().lower()
    shift = 1 if ("明" in w or "next" in w) else -1 if ("去" in w or "last" in w) else 0
    return f"FY{c.published.year + shift}"


def _plain_year(m: re.Match[str], c: _Ctx) -> str | None:
    return f"FY{int(m['y'])}"


def _fiscal_quarter_now(m: re.Match[str], c: _Ctx) -> str | None:
    """'fiscal Q3 2026' is FY2026Q3; without a year, the latest fiscal third quarter begun by the
    article date."""
    if m["y"]:
        return f"FY{_year(m['y'])}Q{_num(m['q'] or m['q2'])}"
    if c.published is None:
        return None
    q = _num(m["q"] or m["q2"])
    fy = current_fiscal_year(c.published, c.fye)
    if (c.published.month - c.fye - 1) % 12 < (q - 1) * 3:  # months into the fiscal year
        fy -= 1
    return f"FY{fy}Q{q}"


_MONTH_NAMES = {
    "january": 1,
    "february": 2,
    "march": 3,
    "april": 4,
    "may": 5,
    "june": 6,
    "july": 7,
    "august": 8,
    "september": 9,
    "october": 10,
    "november": 11,
    "december": 12,
}


def _quarter_ending(year: int | None, month: int, c: _Ctx) -> str | None:
    """The quarter that ends with ``month``: a calendar one when the month closes a calendar quarter,
    else the company's fiscal quarter ending then; the year, when not given, that of the latest such
    quarter begun by the article date."""
    if not 1 <= month <= 12:
        return None
    if year is None:
        if c.published is None:
            return None
        # the latest such quarter begun by the article date (it starts two months before it ends)
        now = c.published.year * 12 + c.published.month - 1
        year = c.published.year + 1
        while year * 12 + month - 3 > now:
            year -= 1
    if month % 3 == 0:
        return f"{year}Q{month // 3}"
    if (month - c.fye) % 3 != 0:
        return None
    fy = current_fiscal_year(date(year, month, 1), c.fye)
    return f"FY{fy}Q{(month - c.fye - 1) % 12 // 3 + 1}"


def _month_quarter_en(m: re.Match[str], c: _Ctx) -> str | None:
    return _quarter_ending(int(m["y"]) if m["y"] else None, _MONTH_NAMES[m["mon"].lower()], c)


_REL_SHIFT = {"今": 0, "本": 0, "去": -1, "明": 1}


def _month_cn(m: re.Match[str], c: _Ctx) -> str | None:
    """A month (今年9月, 2025年9月, 9月份): a quarter only when 季度 follows it (the quarter ending
    that month); otherwise the text states no period ("": known to be unstated, not unknowable)."""
    if not m["qtr"]:
        return ""
    year: int | None = None
    if m["y"]:
        year = _year(m["y"])
    elif m["rel"]:
        if c.published is None:
            return None
        year = c.published.year + _REL_SHIFT[m["rel"][0]]
    return _quarter_ending(year, int(m["mo"]), c)


def _full_year(m: re.Match[str], c: _Ctx) -> str | None:
    """'full-year' (and 'full-year 2025'): the fiscal year named, else the current fiscal year, or
    the one just ended when the article is in the first quarter of a new fiscal year."""
    if m["y"]:
        return f"FY{m['y']}"
    if c.published is None:
        return None
    fy = current_fiscal_year(c.published, c.fye)
    if (c.published.month - c.fye - 1) % 12 < 3:
        fy -= 1
    return f"FY{fy}"


_EN_NUM = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10}


def _quarter_any(m: re.Match[str], c: _Ctx) -> str | None:
    y = _year(m["y"]) if m["y"] else None
    if not y and m["rel"]:
        if c.published is None:
            return None
        y = c.published.year + _REL_SHIFT[m["rel"][0]]
    return _calendar_quarter(y, _num(m["q"] or m["q2"]), c)


def _since_any(m: re.Match[str], c: _Ctx) -> str | None:
    a = m["a"] or m["a2"]
    return None if c.published is None else f"{int(a)}..{c.published.year}"


def _next_any(m: re.Match[str], c: _Ctx) -> str | None:
    n = m["n"] or m["n2"]
    return _years_ahead(_EN_NUM.get(n.lower(), 0) or _num(n), c)


_Q = r"(?:第)?(?P<q>[一二三四1-4])(?:季度|财季|季)"
_Y = r"(?P<y>(?:19|20)\d{2})"
# (pattern, resolver, needles): a rule runs only on text holding one of its needles (lower
# case), so that the two dozen patterns cost nothing on the many sentences that name no period
_RULES: tuple[tuple[re.Pattern[str], _Resolver, frozenset[str]], ...] = tuple(
    (re.compile(p, re.IGNORECASE), f, frozenset(needles))
    for p, f, needles in (
        (r"FY\s?'?(?P<y>\d{2}|\d{4})\s*Q(?P<q>[1-4])", _fyq, ("fy",)),
        (
            (
                r"(?:Q(?P<q>[1-4])|(?P<q2>first|second|third|fourth) quarter)\s*(?:of\s+)?"
                r"fiscal\s*(?:year\s*)?(?P<y>\d{4})"
            ),
            lambda m, c: f"FY{m['y']}Q{m['q'] or _num(m['q2'])}",
            ("fiscal",),
        ),
        (r"fiscal\s*(?:year\s*)?(?P<y>\d{4})\s*(?:Q(?P<q>[1-4]))", _fyq, ("fiscal",)),
        (r"Q(?P<q>[1-4])\s*(?:of\s+)?FY\s?'?(?P<y>\d{4}|\d{2})(?![\d])", _fyq, ("fy",)),
        (
            (
                r"fiscal\s+(?:Q(?P<q>[1-4])|(?P<q2>first|second|third|fourth)[- ]quarter)(?![\d])"
                r"(?:,?\s*(?:of\s+)?(?:year\s*)?'?(?P<y>(?:19|20)\d{2}|\d{2})(?![\d]))?"
            ),
            _fiscal_quarter_now,
            ("fiscal",),
        ),
        (_Y + r"\s*财年\s*" + _Q, _fyq, ("财年",)),
        (r"fiscal (?P<h>first|second) half(?: of)?\s*(?P<y>\d{4})", _fyh, ("fiscal",)),
        (_Y + r"\s*财年\s*(?P<h>[上下])半年", _fyh, ("财年",)),
        (r"FY\s?'?(?P<y>\d{4}|\d{2})(?![\d])", _fy, ("fy",)),
        (r"fiscal\s*(?:year\s*)?(?P<y>\d{4})", _fy, ("fiscal",)),
        (_Y + r"\s*(?:财年|财政年度|会计年度)", _fy, ("财年", "财政年度", "会计年度")),
        (
            r"(?:下一|下个|下|上一|上个|上|本|当前|今)财年|(?:next|last|previous|this|current) fiscal year",
            _rel_fy,
            ("财年", "fiscal year"),
        ),
        (
            r"(?:" + _Y + r"\s*年?\s*)?(?:前三季度|前三季|前3季度|1-9月|1至9月|first nine months)",
            _ytd9,
            ("前三季", "前3季度", "1-9月", "1至9月", "first nine months"),
        ),
        (r"(?:" + _Y + r"\s*年?\s*)?(?P<h>[上下])半年", _half, ("半年",)),
        (
            _Y + r"\s*(?P<h>[12])H|H(?P<h2>[12])\s*(?P<y2>(?:19|20)\d{2})",
            lambda m, c: f"{m['y'] or m['y2']}H{m['h'] or m['h2']}",
            ("h",),
        ),
        (
            r"(?:" + _Y + r"\s*年?\s*|(?P<rel>今年|本年|去年|明年)\s*)?"
            r"(?:" + _Q + r"|Q(?P<q2>[1-4])(?![\d]))",
            _quarter_any,
            ("季", "q"),
        ),
        (
            r"(?P<q>first|second|third|fourth)[- ]quarter(?: of)?\s*(?P<y>\d{4})?",
            _quarter,
            ("quarter",),
        ),
        (
            (
                r"(?:the\s+)?(?P<mon>march|june|september|december|january|february|april|may|july|"
                r"august|october|november)(?:-ended)?[- ]quarter(?:\s+of\s+(?P<y>\d{4}))?"
            ),
            _month_quarter_en,
            ("quarter",),
        ),
        (r"full[- ]year(?:\s+(?P<y>(?:19|20)\d{2}))?", _full_year, ("full",)),
        (r"Q(?P<q>[1-4])\s*'?(?P<y>\d{4}|\d{2})(?![\d])", _quarter, ("q",)),
        (
            r"(?:上一|上个|上|本|下一|下个|下)季度|(?:last|previous|this|next) quarter",
            _rel_quarter,
            ("季度", "quarter"),
        ),
        (
            r"(?P<a>(?:19|20)\d{2})\s*年?\s*[-–~至到]\s*(?P<b>(?:19|20)\d{2})\s*年?",
            _year_range,
            ("19", "20"),
        ),
        (
            r"(?:自|从)(?P<a>(?:19|20)\d{2})\s*年(?:以来|至今|开始)|since (?P<a2>(?:19|20)\d{2})",
            _since_any,
            ("自", "从", "since"),
        ),
        (
            (
                r"(?:未来|今后|接下来|之后)\s*(?P<n>\d{1,2}|[两二三四五六七八九十])\s*年|"
                r"(?:over|in) the (?:next|coming) "
                r"(?P<n2>\d{1,2}|two|three|four|five|six|seven|eight|nine|ten) years"
            ),
            _next_any,
            ("未来", "今后", "接下来", "之后", "years"),
        ),
        (r"(?<![\d])(?P<n>[两二三四五六七八九十]|\d)\s*年(?=\s*[0-9])", _next_years, ("年",)),
        (
            (
                r"(?:(?P<rel>今年|本年|去年|明年)|(?<![\d.])(?P<y>(?:19|20)\d{2})\s*年)?\s*"
                r"(?<![\d.\-~])(?<!\d至)(?<!\d到)(?P<mo>1[0-2]|[1-9])\s*月(?:份)?(?![\d\s]*[日号])"
                r"(?P<qtr>(?:底|末)?(?:止|结束)?(?:的)?(?:那个|这个)?(?:财季|季度))?"
            ),
            _month_cn,
            ("月",),
        ),
        (
            r"今年|本年度|明年|去年|this year|next year|last year|年底|年末|year-end|end of the year",
            _rel_year,
            ("年", "year"),
        ),
        (r"(?<![\d.,])" + _Y + r"(?![\d,%]|\.\d)\s*年?(?:度|底|末|初|内)?", _plain_year, ("19", "20")),
    )
)
_NEEDLES = tuple(sorted({n for *_, needles in _RULES for n in needles}))
# letters that IGNORECASE matches to ASCII letters but str.lower() does not turn into them
_ODD_CASE = ("\u0131", "\u017f", "\u212a")


def find_periods(
    text: str, start: int = 0, end: int | None = None, *, published: date | None, fiscal_year_end: int = 12
) -> list[PeriodSpan]:
    """Period expressions of ``text[start:end]``, left to right, longest first where they overlap."""
    end = len(text) if end is None else end
    ctx = _Ctx(published, fiscal_year_end)
    found: list[PeriodSpan] = []
    seg = text[start:end]
    low = seg.lower()
    odd = not seg.isascii() and any(c in seg for c in _ODD_CASE)
    present = frozenset(n for n in _NEEDLES if n in low)
    for rx, resolve, needles in _RULES:
        if not odd and present.isdisjoint(needles):
            continue
        for m in rx.finditer(text, start, end):
            if m.end() == m.start():
                continue
            found.append(PeriodSpan(m.start(), m.end(), resolve(m, ctx)))
    found.sort(key=lambda p: (p.start, -(p.end - p.start)))
    out: list[PeriodSpan] = []
    last_end = -1
    for p in found:
        if p.start >= last_end:
            out.append(p)
            last_end = p.end
    return out
