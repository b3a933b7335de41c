"""Period expressions in normalized text, resolved against the article date and the fiscal year.

Names follow gold/SCHEMA.md (see ``fiscal.py``). A quarter or half is a calendar one unless the
article labels quarters fiscally (``fiscal`` = True: it names a fiscal quarter, 2026财年第一季, fiscal
Q1, or a quarter by its end date, 截至3月底的季度, the quarter ending May 31); then, for a company
whose fiscal year does not end in December, a quarter is that company's fiscal quarter (FY2026Q1).
Relative expressions (上季度, 本财年, 今年, 未来8年, last quarter) need the article date; without it
they resolve to None. Dates (2025-10-20, 9月28日, October 20, 2025) and months without 季度 are found
as spans with period "" (the text states no period there). 当季, 单季, 期内, "the quarter" are found
with ``carry`` = True: the period under discussion, which the extractor supplies. The words come from
``lexicon/periods.toml``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from metrics.extraction.firstchar import finditer, skipping
from metrics.extraction.fiscal import current_fiscal_year, fiscal_quarter_of, last_quarter
from metrics.extraction.lexicon import lexicon
from metrics.extraction.periodnames import (
    MONTHS,
    ORD,
    Ctx,
    fiscal_quarter_now,
    full_year,
    interim,
    month_cn,
    month_of,
    months_ending,
    months_span,
    num,
    quarter,
    quarter_any,
    quarter_ending,
    rel_fy,
    rel_year,
    relative_quarter,
    stated_year,
    year_of,
    years_ahead,
)
from metrics.extraction.wordindex import WordIndex

__all__ = [
    "PeriodSpan",
    "current_fiscal_year",
    "find_periods",
    "labels_fiscal_quarters",
    "last_quarter",
    "needle_index",
    "period_needles",
]


@dataclass(frozen=True, slots=True)
class PeriodSpan:
    """A period expression at [start, end) and its resolved name (None: unknowable; "": a date or a
    month, no period); ``carry``: it names the period under discussion (当季, the quarter)."""

    start: int
    end: int
    period: str | None
    carry: bool = False


def _alt(*keys: str) -> str:
    words = sorted({w for k in keys for w in _P[k]}, key=len, reverse=True)
    return "(?:" + "|".join(re.escape(w).replace(r"\ ", r"[\s-]") for w in words) + ")"


# a month by its name, or abbreviated with a full stop (Sept. 30, the quarter ended Nov. 27)
_MON_ABBR = {"jan.": 1, "feb.": 2, "mar.": 3, "apr.": 4, "aug.": 8, "sept.": 9, "sep.": 9, "oct.": 10,
             "nov.": 11, "dec.": 12}
_MON = "(?P<mon>" + "|".join(MONTHS) + "|" + "|".join(re.escape(a) for a in _MON_ABBR) + ")"


def _month(name: str) -> int:
    low = name.lower()
    return MONTHS.get(low) or _MON_ABBR[low]



_SPACES = re.compile(r"[\s-]+")
_P = lexicon().periods


def _fiscal_quarter_cn(m: re.Match[str], c: Ctx) -> str | None:
    """第四财季 (no year): the latest such fiscal quarter begun, of the company's fiscal year."""
    if c.published is None:
        return None
    q = num(m["q"])
    fy, now_q = fiscal_quarter_of(c.published, c.fye)
    return f"FY{fy if q <= now_q else fy - 1}Q{q}"


def _fiscal_half(m: re.Match[str], c: Ctx) -> str | None:
    """本財年上半年, 'the first half of its fiscal year': a half of the company's fiscal year under way
    (or of the one before or after it); with no word of relation, the latest such half begun (a
    calendar half for a December year)."""
    if c.published is None:
        return None
    h = 1 if (m["h"] or m["h2"] or m["h3"]).lower() in ("上", "first") else 2
    fy, q = fiscal_quarter_of(c.published, c.fye)
    rel = (m["rel"] or m["rel2"] or "").strip().lower()
    if rel:
        fy += _REL_SHIFT[rel]
    elif h == 2 and q <= 2:
        fy -= 1  # the second half of this fiscal year has not begun: the last one
    return f"{fy}H{h}" if c.fye == 12 else f"FY{fy}H{h}"


_REL_SHIFT = {"本": 0, "当前": 0, "这一": 0, "this": 0, "current": 0, "上一": -1, "上个": -1, "上": -1,
              "last": -1, "previous": -1, "下一": 1, "下个": 1, "下": 1, "next": 1}


def _relative_fiscal_quarter(m: re.Match[str], c: Ctx) -> str | None:
    """本财季, last fiscal quarter: the company's fiscal quarter under way at the article's date, or the
    one before or after it."""
    if c.published is None:
        return None
    fy, q = fiscal_quarter_of(c.published, c.fye)
    q += _REL_SHIFT[(m["rel"] or m["rel2"]).lower()]
    fy, q = (fy - 1, 4) if q == 0 else (fy + 1, 1) if q == 5 else (fy, q)
    return f"FY{fy}Q{q}"


def _months_to_date(m: re.Match[str], c: Ctx) -> str | None:
    """前10个月, 1-10月, the first ten months: the year's first months (2025-10M); three are its first
    quarter, six its first half."""
    n = 11 if (m["n3"] or "").lower() == "eleven" else num(m["n"] or m["n2"] or m["n3"])
    y = stated_year(m, c)
    if y is None or not 2 <= n <= 11:
        return None
    return {3: f"{y}Q1", 6: f"{y}H1"}.get(n, f"{y}-{n}M")


def _half(m: re.Match[str], c: Ctx) -> str | None:
    """A half (上半年, first-half): calendar, or fiscal when the word says so (上半财年) for a company
    whose year does not end in December (the fiscal year stated, else the current one)."""
    word = _SPACES.sub(" ", m["h"].lower())
    h = 1 if word in _P["first_half"] else 2
    if "财" in word and c.fye != 12:
        if m["y"]:
            return f"FY{year_of(m['y'])}H{h}"
        return None if c.published is None else f"FY{current_fiscal_year(c.published, c.fye)}H{h}"
    y = stated_year(m, c)
    return None if y is None else f"{y}H{h}"


_N_MONTHS = {"three": 3, "six": 6, "nine": 9, "twelve": 12, "三": 3, "六": 6, "九": 9, "十二": 12}


def _months_ended(m: re.Match[str], c: Ctx) -> str | None:
    """截至今年9月30日止六個月, 截至2025年3月31日止年度, the six months ended September 30, the first half
    to September: the months that end with the month named (``months_ending``)."""
    if m["yr"]:
        n = 12
    elif m["h"]:
        n = 6
    else:
        word = m["n"].lower()
        n = int(word) if word.isdigit() else _N_MONTHS[word]
    year = int(m["y"]) if m["y"] else None
    if year is None and m["rel"]:
        if c.published is None:
            return None
        year = c.published.year + {"今": 0, "本": 0, "去": -1}[m["rel"][0]]
    month = int(m["mo"]) if m["mo"] else _month(m["mon"])
    return months_ending(n, month, year, c)


_Q = r"(?:第)?(?P<q>[一二三四1-4])\s*" + _alt("quarter_nouns")
_Y = r"(?P<y>(?:19|20)\d{2})"
_FY = _alt("fiscal")
_Resolver = Callable[[re.Match[str], Ctx], str | None]
_DATE = "date"
_CARRY = "carry"
# (pattern, resolver or marker, needles): a rule runs only on text holding one of its needles, so the
# patterns cost nothing on the many sentences that name no period
_SPECS: tuple[tuple[str, _Resolver | str, tuple[str, ...]], ...] = (
    (
        r"(?<!\d)(?:19|20)\d{2}[-/.](?:1[0-2]|0?[1-9])[-/.](?:3[01]|[12]\d|0?[1-9])(?!\d)",
        _DATE,
        tuple(d + sep for d in "0123456789" for sep in "-/."),  # a year's last digit, a separator
    ),
    (
        r"(?:(?:19|20)\d{2}\s*年\s*)?(?<!\d)(?:1[0-2]|[1-9])\s*月\s*(?:3[01]|[12]\d|[1-9])\s*[日号]",
        _DATE,
        ("日", "号"),
    ),
    (
        r"\b" + _MON + r"\.?\s+\d{1,2}(?:st|nd|rd|th)?(?:,?\s+(?:19|20)\d{2})?\b",
        _DATE,
        (*MONTHS, *_MON_ABBR),
    ),
    (r"\bin\s+" + _MON + r"(?:\s+(?:19|20)\d{2})?\b", _DATE, tuple(MONTHS)),
    (
        # the fiscal year named by the month it ends in: 'the fiscal year ending in March 2026' (FY2026)
        r"(?:fiscal\s+)?year\s+(?:ending|ended|to|through)\s+(?:in\s+)?" + _MON
        + r"(?:\s+\d{1,2})?,?\s+(?P<y>(?:19|20)\d{2})",
        lambda m, c: f"FY{m['y']}",
        ("year ending", "year ended", "year to", "year through"),
    ),
    (
        r"(?:the\s+)?" + _MON + r"\s*(?:-|–|to|through)\s*" + _MON.replace("?P<mon>", "?P<mon2>")
        + r"\s+(?:half|period|quarter|six months|three months)",
        lambda m, c: months_span(_month(m["mon"]), _month(m["mon2"]), c),
        tuple(MONTHS),
    ),
    (
        r"\b" + _MON + r"(?:\s+(?P<y>(?:19|20)\d{2}))?\s+"
        r"(?=(?:net\s+)?(?:sales|revenue|revenues|deliveries)\b)",
        lambda m, c: month_of(int(m["y"]) if m["y"] else None, _month(m["mon"]), c),
        tuple(MONTHS),
    ),
    (
        # the months ended on a date, Hong Kong style: 截至今年9月30日止六個月, 截至2025年3月31日止年度
        (
            r"截[至止]\s*(?:(?P<rel>今年|本年|去年)|(?P<y>(?:19|20)\d{2})\s*年)?\s*(?P<mo>1[0-2]|[1-9])\s*月"
            r"(?:\s*(?:3[01]|[12]\d|[1-9])\s*[日号])?\s*(?:底|末)?\s*止?\s*(?:的|之)?\s*"
            r"(?:(?P<n>十二|三|六|九|12|3|6|9)\s*个月|(?P<yr>年度|财年))(?P<mon>)?(?P<h>)?"
        ),
        _months_ended,
        ("截至", "截止"),
    ),
    (
        # 'the six months ended September 30', 'the first half to September', 'half-year ended Sept. 30'
        r"(?:(?P<n>six|nine|twelve|6|9|12)[- ]months?|(?P<h>(?:first|second)[- ]half|half[- ]year))"
        r"(?:\s+(?:period|of\s+(?:the|its|their)\s+(?:fiscal\s+)?year))?\s+(?:ending|ended|to|through)"
        r"(?:\s+on)?\s+(?:in\s+)?" + _MON + r"(?:\s+\d{1,2}(?:st|nd|rd|th)?)?(?:,?\s+(?P<y>(?:19|20)\d{2}))?"
        r"(?P<rel>)?(?P<mo>)?(?P<yr>)?",
        _months_ended,
        ("months", "half"),
    ),
    (
        # interim results (中期業績, interim results): the first half of the company's fiscal year
        r"(?:" + _Y + r"\s*年?\s*(?:度\s*)?)?" + _alt("interim") + r"\s*(?=" + _alt("interim_nouns") + ")",
        lambda m, c: interim(int(m["y"]) if m["y"] else None, c),
        _P["interim"],
    ),
    (r"FY\s?'?(?P<y>\d{2}|\d{4})\s*Q(?P<q>[1-4])", lambda m, c: f"FY{year_of(m['y'])}Q{m['q']}", ("fy",)),
    (
        (
            r"(?:Q(?P<q>[1-4])|(?P<q2>first|second|third|fourth)[- ]quarter)\s*(?:of\s+)?"
            r"fiscal\s*(?:year\s*)?(?P<y>\d{4})"
        ),
        lambda m, c: f"FY{m['y']}Q{m['q'] or num(m['q2'])}",
        ("fiscal",),
    ),
    (
        r"fiscal\s*(?:year\s*)?(?P<y>\d{4})\s*(?:Q(?P<q>[1-4]))",
        lambda m, c: f"FY{m['y']}Q{m['q']}",
        ("fiscal",),
    ),
    (
        r"Q(?P<q>[1-4])\s*(?:of\s+)?FY\s?'?(?P<y>\d{4}|\d{2})(?![\d])",
        lambda m, c: f"FY{year_of(m['y'])}Q{m['q']}",
        ("fy",),
    ),
    (
        (
            r"fiscal\s+(?:Q(?P<q>[1-4])|(?P<q2>first|second|third|fourth)[- ]quarter)(?![\d])"
            r"(?:,?\s*(?:of\s+)?(?:year\s*)?'?(?P<y>(?:19|20)\d{2}|\d{2})(?![\d]))?"
        ),
        fiscal_quarter_now,
        ("fiscal",),
    ),
    (
        # 'the second quarter of its fiscal year', 'Q2 of the fiscal year' (no year: the latest begun)
        (
            r"(?:Q(?P<q>[1-4])|(?P<q2>first|second|third|fourth)[- ]quarter)\s+of\s+(?:the|its|their)\s+"
            r"(?:current\s+)?fiscal(?:\s+year)?(?![\s-]*(?:19|20)\d{2})(?P<y>)?"
        ),
        fiscal_quarter_now,
        ("fiscal",),
    ),
    (_Y + r"\s*" + _FY + r"\s*" + _Q, lambda m, c: f"FY{m['y']}Q{num(m['q'])}", _P["fiscal"]),
    (
        # 本财年第二季度, 财年第二季 (no year: the latest such fiscal quarter begun)
        r"(?:本|今|当前)?" + _FY + r"(?:的)?\s*第?(?P<q>[一二三四1-4])\s*(?:季度|季)(?P<y>)?(?P<q2>)?",
        fiscal_quarter_now,
        _P["fiscal"],
    ),
    (
        r"(?:本财年|今财年|当前财年)?\s*第?(?P<q>[一二三四1-4])\s*财季",
        _fiscal_quarter_cn,
        ("财季",),
    ),
    (
        (
            r"(?P<rel>本|当前|这一|上一|上个|上|下一|下个|下)财季"
            r"|(?P<rel2>this|current|last|previous|next)\s+fiscal\s+quarter"
        ),
        _relative_fiscal_quarter,
        ("财季", "fiscal quarter"),
    ),
    (
        r"fiscal (?P<h>first|second) half(?: of)?\s*(?P<y>\d{4})",
        lambda m, c: f"FY{m['y']}H{ORD[m['h']]}",
        ("fiscal",),
    ),
    (
        # a half of the fiscal year under way (or the one before or after): 本財年上半年, 上一财年下半年,
        # 'the first half of its fiscal year', 'its fiscal second half'
        r"(?:(?P<rel>本|今|当前|这一|上一|上个|上|下一|下个|下)?"
        + _FY
        + r"(?:的)?\s*(?P<h>[上下])半(?:年|期)"
        r"|(?P<h2>first|second)[- ]half\s+of\s+(?:the|its|their)\s+(?P<rel2>current\s+|last\s+|next\s+)?"
        r"fiscal(?:\s+year)?(?![\s-]*(?:19|20)\d{2})"
        r"|fiscal\s+(?P<h3>first|second)[- ]half(?![\s-]*(?:of\s+)?(?:19|20)\d{2}))",
        _fiscal_half,
        _P["fiscal"] + ("fiscal",),
    ),
    (
        _Y + r"\s*" + _FY + r"\s*(?P<h>[上下])半年",
        lambda m, c: f"FY{m['y']}H{1 if m['h'] == '上' else 2}",
        _P["fiscal"],
    ),
    (r"FY\s?'?(?P<y>\d{4}|\d{2})(?![\d])", lambda m, c: f"FY{year_of(m['y'])}", ("fy",)),
    (r"fiscal\s*(?:year\s*)?(?P<y>\d{4})", lambda m, c: f"FY{m['y']}", ("fiscal",)),
    (_Y + r"\s*" + _FY, lambda m, c: f"FY{m['y']}", _P["fiscal"]),
    (_alt("next_fiscal_year"), rel_fy(1), _P["next_fiscal_year"]),
    (_alt("last_fiscal_year"), rel_fy(-1), _P["last_fiscal_year"]),
    (_alt("this_fiscal_year"), rel_fy(0), _P["this_fiscal_year"]),
    (
        r"(?:" + _Y + r"\s*年?\s*)?" + _alt("nine_months"),
        lambda m, c: None if (y := stated_year(m, c)) is None else f"{y}-9M",
        _P["nine_months"],
    ),
    (
        r"(?:" + _Y + r"\s*年?\s*)?(?:前(?P<n>1[01]|[2-9]|十一|十|[二两三四五六七八九])个?月(?!\d)"
        r"|(?<!\d)1\s*[-至~]\s*(?P<n2>1[01]|[2-8])\s*月"
        r"|first\s+(?P<n3>1[01]|[2-8]|two|three|four|five|six|seven|eight|ten|eleven)\s+months)",
        _months_to_date,
        ("月", "months"),
    ),
    (
        r"(?:" + _Y + r"\s*年?\s*)?(?P<h>" + _alt("first_half") + "|" + _alt("second_half") + ")",
        _half,
        (*_P["first_half"], *_P["second_half"]),
    ),
    (
        _Y + r"\s*(?P<h>[12])H|H(?P<h2>[12])\s*(?P<y2>(?:19|20)\d{2})",
        lambda m, c: f"{m['y'] or m['y2']}H{m['h'] or m['h2']}",
        ("1h", "2h", "h1", "h2"),
    ),
    (
        r"(?:quarter|three months)\s+(?:ending|ended|to|through)(?:\s+on|\s+in)?\s*(?:the\s+end\s+of\s+)?"
        + _MON
        + r"(?:\s+\d{1,2}(?:st|nd|rd|th)?)?(?:,?\s+(?P<y>(?:19|20)\d{2}))?",
        lambda m, c: quarter_ending(int(m["y"]) if m["y"] else None, _month(m["mon"]), c),
        ("quarter", "months"),
    ),
    (
        r"(?:"
        + _Y
        + r"\s*年?\s*|(?P<rel>今年|本年|去年|明年)\s*)?(?:"
        + _Q
        + r"|Q(?P<q2>[1-4])(?![\d])|"
        + _alt("first_quarter")
        + ")",
        quarter_any,
        ("季", "q"),
    ),
    (
        r"(?P<q>first|second|third|fourth)[- ]quarter(?: of)?\s*(?P<y>\d{4})?",
        lambda m, c: quarter(int(m["y"]) if m["y"] else None, num(m["q"]), c),
        ("quarter",),
    ),
    (
        r"(?:the\s+)?" + _MON + r"(?:-ended)?[- ]quarter(?:\s+of\s+(?P<y>\d{4}))?",
        lambda m, c: quarter_ending(int(m["y"]) if m["y"] else None, _month(m["mon"]), c),
        ("quarter",),
    ),
    (r"(?:" + _alt("full_year") + r")(?:\s+(?P<y>(?:19|20)\d{2}))?", full_year, _P["full_year"]),
    (
        r"Q(?P<q>[1-4])\s*'?(?P<y>\d{4}|\d{2})(?![\d])",
        lambda m, c: quarter(year_of(m["y"]), int(m["q"]), c),
        ("q",),
    ),
    (_alt("last_quarter"), lambda m, c: relative_quarter(-1, c), _P["last_quarter"]),
    (_alt("next_quarter"), lambda m, c: relative_quarter(1, c), _P["next_quarter"]),
    (_alt("this_quarter"), lambda m, c: relative_quarter(0, c), _P["this_quarter"]),
    (
        (
            r"当季|单季|同季|期内|该季度|(?:during|in|for) the (?:quarter|period)\b"
            r"(?!\s+(?:ended|ending|to|through))"
        ),
        _CARRY,
        ("当季", "单季", "同季", "期内", "该季度", "the quarter", "the period"),
    ),
    (
        r"(?P<a>(?:19|20)\d{2})\s*年?\s*[-–~至到]\s*(?P<b>(?:19|20)\d{2})\s*年?",
        lambda m, c: f"{m['a']}..{m['b']}" if int(m["a"]) < int(m["b"]) else None,
        ("19", "20"),
    ),
    (
        # 'between 2025 and 2027', 'from 2025 to 2027', '2025 through 2027': a multi-year span
        (
            r"(?:between\s+(?P<a>(?:19|20)\d{2})\s+and|(?:from\s+)?(?P<a2>(?:19|20)\d{2})\s+(?:through|thru)"
            r"|from\s+(?P<a3>(?:19|20)\d{2})\s+to)\s+(?P<b>(?:19|20)\d{2})\b"
        ),
        lambda m, c: (
            f"{a}..{m['b']}" if int(a := m["a"] or m["a2"] or m["a3"]) < int(m["b"]) else None
        ),
        ("between", "through", "thru", "from"),
    ),
    (
        r"(?:自|从)(?P<a>(?:19|20)\d{2})\s*年(?:以来|至今|开始)|since (?P<a2>(?:19|20)\d{2})",
        lambda m, c: None if c.published is None else f"{int(m['a'] or m['a2'])}..{c.published.year}",
        ("自", "从", "since"),
    ),
    (
        _alt("ahead")
        + r"\s*(?P<n>\d{1,2}|[两二三四五六七八九十])\s*年|(?:over|in|within) the (?:next|coming) "
        r"(?P<n2>\d{1,2}|two|three|four|five|six|seven|eight|nine|ten) years",
        lambda m, c: years_ahead(num(m["n"] or m["n2"]), c),
        (*_P["ahead"], "years"),
    ),
    (
        # 'invest $50 billion over three years', 'within five years' (the span opens after the
        # preposition, which links it to the figure before it)
        (
            r"(?:(?<=\bover )|(?<=\bwithin ))(?:the\s+)?(?:next\s+|coming\s+)?"
            r"(?P<n>\d{1,2}|two|three|four|five|six|seven|eight|nine|ten)\s+years\b"
            r"(?!\s+(?:ago|earlier|before))"
        ),
        lambda m, c: years_ahead(num(m["n"]), c),
        ("years",),
    ),
    (
        r"(?<![\d])(?P<n>[两二三四五六七八九十]|\d)\s*年(?=\s*[0-9])",
        lambda m, c: years_ahead(num(m["n"]), c),
        ("年",),
    ),
    (
        (
            r"(?:(?P<rel>今年|本年|去年|明年)|(?<![\d.])(?P<y>(?:19|20)\d{2})\s*年)?\s*"
            r"(?<![\d.\-~])(?<!\d至)(?<!\d到)(?P<mo>1[0-2]|[1-9])\s*月(?:份)?(?![\d\s]*[日号])"
            r"(?P<qtr>(?:底|末)?(?:止|结束)?(?:的)?(?:那个|这个)?(?:财季|季度))?"
            r"(?P<own>(?=\s*(?:的|份)?\s*" + _alt("month_nouns") + r"))?"
        ),
        month_cn,
        ("月",),
    ),
    (_alt("year_end"), rel_year(0), _P["year_end"]),
    (_alt("next_year"), rel_year(1), _P["next_year"]),
    (_alt("last_year"), rel_year(-1), _P["last_year"]),
    (_alt("this_year"), rel_year(0), _P["this_year"]),
    (
        # not an amount that happens to read like a year (1950亿元, 2000万美元, 2000 million), nor a
        # thousands group (1,2025 and 2025,000 are no years), but a year right after or before a clause's
        # comma (…表示,2026年…, 'in 2026, the company')
        r"(?<![\d.])(?<!\d,)"
        + _Y
        + r"(?![\d%]|,\d|\.\d|\s*(?:[万亿兆倍元]|美元|港元|日元|欧元|英镑|billion|million|trillion))"
        r"\s*年?(?:度|底|末|初|内)?",
        lambda m, c: f"FY{int(m['y'])}",
        ("19", "20"),
    ),
)
_RULES = tuple(
    (
        re.compile(p, re.IGNORECASE),
        f,
        # a lexicon phrase matches with a space or a hyphen (first half, first-half)
        frozenset(v for n in needles for v in {n.lower(), n.lower().replace(" ", "-")}),
    )
    for p, f, needles in _SPECS
)
# each rule's scan that skips in C to the characters its matches begin with (``firstchar``), or None
_SCANS = tuple(skipping(rx) for rx, *_ in _RULES)
_NEEDLES = tuple(sorted({n for *_, needles in _RULES for n in needles}))
_NEEDLE_INDEX = WordIndex({n: n for n in _NEEDLES})
# the rules each needle lets run (indices into _RULES)
_RULES_OF: dict[str, frozenset[int]] = {
    n: frozenset(i for i, (*_, needles) in enumerate(_RULES) if n in needles) for n in _NEEDLES
}
_ALL_RULES = tuple(range(len(_RULES)))
# letters that IGNORECASE matches to ASCII letters but str.lower() does not turn into them
_ODD_CASE = ("\u0131", "\u017f", "\u212a")
# a quarter named fiscally: (words one of which the text must hold, pattern)
_FISCAL_LABELS = (
    (tuple(_P["fiscal"]), re.compile(_FY + r"\s*第?\s*[一二三四1-4]\s*(?:季|财季)")),
    (
        ("fiscal",),
        re.compile(
            r"fiscal\s+(?:q[1-4]|first|second|third|fourth)|fiscal\s+(?:year\s+)?\d{4}\s+q[1-4]"
            r"|(?:q[1-4]|(?:first|second|third|fourth)[- ]quarter)\s+of\s+(?:(?:the|its|their)\s+)?"
            r"(?:current\s+)?fiscal",
            re.IGNORECASE,
        ),
    ),
    (("fy",), re.compile(r"q[1-4]\s*(?:of\s+)?(?:fiscal|fy)|fy\s?'?\d{2,4}\s*q[1-4]", re.IGNORECASE)),
    (
        ("ending", "ended", "months to", "months through"),
        re.compile(
            r"(?:quarter|three months)\s+(?:ending|ended|to|through)\s+(?:in\s+)?" + _MON, re.IGNORECASE
        ),
    ),
    (
        ("截至",),
        re.compile(r"截至[^,，。;；]{0,8}月[^,，。;；]{0,6}(?:的|止)[^,，。;；]{0,3}(?:季|三个月|3个月)"),
    ),
    # 财年第二季度 with no year before it (with one, the first pattern above)
    (tuple(_P["fiscal"]), re.compile(r"(?:本|今|当前)" + _FY + r"(?:的)?\s*第?[一二三四1-4]\s*(?:季度|季)")),
    # a fiscal year named by its number (2025财年, 'for fiscal 2025', 'fiscal year 2026', FY2025): the
    # article counts in fiscal periods, so its bare quarters (第四季, fourth-quarter) are fiscal ones too
    # (a relative one, 下一财年 or 'next fiscal year', is not enough)
    (tuple(_P["fiscal"]), re.compile(r"(?:19|20)\d{2}\s*年?\s*(?:度\s*)?" + _FY)),
    (
        ("fiscal", "fy"),
        re.compile(
            r"\bfiscal\s+(?:year\s+)?(?:19|20)\d{2}\b|(?<![-/_.\w])fy\s?'?(?:19|20)?\d{2}(?![-/_.\w])",
            re.IGNORECASE,
        ),
    ),
)


def _present(low: str) -> frozenset[str]:
    """The needles that occur in ``low`` (all of them, overlapping ones too: one automaton pass)."""
    return frozenset(n for _s, _e, n in _NEEDLE_INDEX.find(low))


def needle_index() -> WordIndex[str]:
    """The index of the needles (for ``Found``: one pass over a whole document)."""
    return _NEEDLE_INDEX


def period_needles(low: str) -> list[tuple[int, int, str]]:
    """Every needle occurrence ``(start, end, needle)`` in a whole lowered text, sorted by start: the
    needles of one sentence are then those inside it (``find_periods(..., present=...)``), found
    without a pass over each sentence."""
    return sorted(_NEEDLE_INDEX.find(low))


def labels_fiscal_quarters(text: str) -> bool:
    """Whether ``text`` names a quarter fiscally (2026财年第一季, fiscal Q1, the quarter ending May
    31, 截至3月底的季度): its bare quarters are then the company's fiscal quarters."""
    low = text.lower()
    return any(any(w in low for w in words) and rx.search(text) is not None for words, rx in _FISCAL_LABELS)


def find_periods(
    text: str,
    start: int = 0,
    end: int | None = None,
    *,
    published: date | None,
    fiscal_year_end: int = 12,
    fiscal: bool = False,
    present: frozenset[str] | None = None,
) -> list[PeriodSpan]:
    """Period expressions of ``text[start:end]``, left to right, longest first where they overlap;
    ``present``: the needles inside ``text[start:end]`` lowered, when the caller knows them."""
    end = len(text) if end is None else end
    seg = text[start:end]
    odd = not seg.isascii() and any(c in seg for c in _ODD_CASE)
    if odd:
        run: tuple[int, ...] | list[int] = _ALL_RULES
    else:
        if present is None:
            present = _present(seg.lower())
        if not present:
            return []
        run = sorted(frozenset().union(*(_RULES_OF[n] for n in present)))
    ctx = Ctx(published, fiscal_year_end, fiscal)
    found: list[PeriodSpan] = []
    dates: set[int] = set()
    for i in run:
        rx, resolve, _needles = _RULES[i]
        for m in finditer(rx, _SCANS[i], text, start, end):
            if m.end() == m.start():
                continue
            if resolve == _DATE:
                dates.add(m.start())
                found.append(PeriodSpan(m.start(), m.end(), ""))
            elif resolve == _CARRY:
                found.append(PeriodSpan(m.start(), m.end(), None, carry=True))
            else:
                assert not isinstance(resolve, str)
                found.append(PeriodSpan(m.start(), m.end(), resolve(m, ctx)))
    found.sort(key=lambda p: (p.start, -(p.end - p.start)))
    out: list[PeriodSpan] = []
    last_end = -1
    for p in found:
        if p.start >= last_end:
            out.append(p)
            last_end = p.end
    # a date only keeps the years and months inside it from being read as periods
    return [p for p in out if not (p.period == "" and p.start in dates)]
