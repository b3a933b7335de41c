"""Units and qualifiers of the quantity grammar, from the lexicon (``lexicon/units.toml``).

``UnitReader`` adds to ``NumberReader`` the unit after a number (currency, %, 成 = tenths, 厘 after a
yield, 倍 or x, a counter, GW/MW, an English counted noun), the per-unit tail of a price (/颗, per
chip), a currency before a number (US$, 新台币, €) and the qualifier before it (超过, about).

Currencies: a named one gives its ISO code; a bare sign (元, $, ¥) gives its default code and the
sign itself as ``bare`` so that the extractor can put the company's home currency in its place.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from metrics.extraction.lexicon import lexicon
from metrics.extraction.numerals import NumberReader

__all__ = ["NON_FIGURE", "UnitRead", "UnitReader", "alternation"]


def alternation(words: tuple[str, ...] | list[str]) -> re.Pattern[str]:
    """One pattern matching any of ``words``, the longest first."""
    return re.compile("|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)))


class UnitRead(NamedTuple):
    """A unit read after a number: ISO code | pct | pp | x | count | GW | MW, where it ends, the
    counter (颗, 股, shares) of a count, the bare currency sign it came from, a factor for the value."""

    unit: str
    end: int
    counter: str | None = None
    bare: str | None = None
    factor: float = 1.0


_LEX = lexicon()
CUR_SUFFIX: dict[str, tuple[str, str | None]] = {}  # word -> (code, bare sign)
CUR_PREFIX: dict[str, tuple[str, str | None]] = {}
CUR_WORDS: dict[str, str] = {}
for _c in _LEX.currencies:
    CUR_SUFFIX.update(dict.fromkeys(_c.suffix, (_c.code, None)))
    CUR_PREFIX.update(dict.fromkeys(_c.prefix, (_c.code, None)))
    CUR_WORDS.update(dict.fromkeys(_c.words, _c.code))
for _b in _LEX.bare:
    CUR_SUFFIX.update({w: (_b.default, w) for w in _b.suffix})
    CUR_PREFIX.update({w: (_b.default, w) for w in _b.prefix})
ISO_CODES = frozenset(c.code for c in _LEX.currencies) | {"RMB", "NTD"}
COUNTERS = frozenset(_LEX.counters)
POWER: tuple[tuple[str, str, float], ...] = (  # (text, unit, factor into unit)
    ("千兆瓦", "GW", 1.0),
    ("吉瓦", "GW", 1.0),
    ("gigawatts", "GW", 1.0),
    ("gigawatt", "GW", 1.0),
    ("GW", "GW", 1.0),
    ("兆瓦", "MW", 1.0),
    ("megawatts", "MW", 1.0),
    ("megawatt", "MW", 1.0),
    ("MW", "MW", 1.0),
    ("千瓦", "MW", 1e-3),
    ("kW", "MW", 1e-3),
)
PCT = {
    "个百分点": "pp",
    "百分点": "pp",
    "percentage points": "pp",
    "percentage point": "pp",
    "%": "pct",
    "percent": "pct",
    "per cent": "pct",
    "pct": "pct",
}
# units that make a number a date, a duration, a size or a spec: never a financial figure
NON_FIGURE = (
    "年",
    "月",
    "日",
    "号",
    "季度",
    "季",
    "天",
    "周",
    "星期",
    "小时",
    "分钟",
    "秒",
    "岁",
    "世纪",
    "财年",
    "英里",
    "公里",
    "千米",
    "米",
    "平方",
    "英亩",
    "亩",
    "公顷",
    "吨",
    "千克",
    "公斤",
    "克",
    "升",
    "纳米",
    "英寸",
    "吋",
    "寸",
    "代",
    "层",
    "核",
    "页",
    "位",
    "次",
    "帧",
    "度",
    "兆赫",
    "兆字节",
    "兆位",
    "兆比特",
    "倍速",
    "人次",
    "字",
    "nm",
    "GHz",
    "MHz",
    "TOPS",
    "TFLOPS",
    "FLOPS",
    "GB",
    "TB",
    "MB",
    "W",
    "years",
    "year",
    "months",
    "month",
    "days",
    "weeks",
    "hours",
    "miles",
    "acres",
    "square",
    "cents",
    "cent",
)
# 两成 = 20%: 成 after a small number, unless it begins a word (成为, 成本, 成长 ...)
_TENTHS_BLOCK = frozenset("为本功长交立员果绩品熟都就型形分份家效年")
_PER_UNIT = re.compile(
    r"(?:/|每)(?P<c>[颗片块台套个张股件辆])|\s?(?:per|a|/)\s?(?P<w>chip|unit|share|GPU|card|vehicle)\b"
)
_PER_UNIT_FIRST = frozenset("/每pa")  # or whitespace (the optional space before per, a, /)
_EN_COUNT = re.compile(
    r" (?:(?:[A-Z][\w-]*|[A-Za-z][\w-]*\d[\w-]*) ){0,4}(?P<w>"
    + "|".join(re.escape(w) for w in _LEX.english_counters)
    + r")(?![\w-])",
    re.IGNORECASE,
)
_EN_COUNTERS = {"shares": "股", "share": "股"}
_YEAR_BEFORE = re.compile(r"(?<![\d.])(?<!\d,)(?:19|20)\d\d\Z")  # a comma blocks only as a thousands mark
_RX_CUR_SUFFIX = alternation(tuple(CUR_SUFFIX))
_RX_CUR_PREFIX = alternation(tuple(CUR_PREFIX))
_RX_PCT = alternation(tuple(PCT))
_RX_NON_FIGURE = alternation(NON_FIGURE)
# first characters: a pattern or a word list is tried only where the text can start one of its words
_POWER_FIRST = frozenset(w[0] for w, _u, _f in POWER)
_PCT_FIRST = frozenset(w[0] for w in PCT)
_CUR_SUFFIX_FIRST = frozenset(w[0] for w in CUR_SUFFIX)
_NON_FIGURE_FIRST = frozenset(w[0] for w in NON_FIGURE)
_EN_MAG_WORDS = ("billion", "million", "trillion")
_EN_MAG_FIRST = frozenset(w[0] for w in _EN_MAG_WORDS)
_CUR_PREFIX_FIRST = frozenset(w[0] for w in CUR_PREFIX)
_BEFORE = dict(_LEX.before)
_BEFORE_LAST = frozenset(w.rstrip()[-1] for w in _BEFORE)
_BEFORE_LENGTHS = tuple(sorted({len(w) for w in _BEFORE}, reverse=True))
_BEFORE_MAX = _BEFORE_LENGTHS[0]
# the lengths of the qualifiers ending in each character, longest first (a word ending at k ends in t[k-1])
_BEFORE_LENGTHS_BY_LAST = {
    last: tuple(sorted({len(w) for w in _BEFORE if w[-1] == last}, reverse=True)) for last in _BEFORE_LAST
}
AFTER_QUAL = tuple(sorted(_LEX.after.items(), key=lambda kv: len(kv[0]), reverse=True))
AFTER_QUAL_FIRST = frozenset(w[0] for w, _q in AFTER_QUAL)
_NOT_AFTER_YUAN = frozenset(_LEX.not_after_yuan)


class UnitReader(NumberReader):
    """Units, per-unit tails, currency prefixes and qualifiers (see the module docstring)."""

    def unit_or_mag_follows(self, i: int) -> bool:
        i = self.skip_spaces(i) if self.t.startswith(" ", i) else i  # most often no space
        if i >= self.n:
            return False
        ch = self.t[i]
        return (
            ch in "万亿倍%"
            or (ch in _CUR_SUFFIX_FIRST and _RX_CUR_SUFFIX.match(self.t, i) is not None)
            or ch in COUNTERS
            or (ch in _EN_MAG_FIRST and self.t.startswith(_EN_MAG_WORDS, i))
        )

    def non_figure_follows(self, i: int) -> bool:
        i = self.skip_spaces(i) if self.t.startswith(" ", i) else i  # most often no space
        return i < self.n and self.t[i] in _NON_FIGURE_FIRST and _RX_NON_FIGURE.match(self.t, i) is not None

    def unit(self, i: int, mag: float | None, value: float) -> UnitRead | None:
        """The unit at i (spaces allowed before most units)."""
        t = self.t
        j = self.skip_spaces(i) if self.t.startswith(" ", i) else i  # most often no space
        if j >= self.n:
            return None
        ch = t[j]
        if ch in _POWER_FIRST:
            for word, u, f in POWER:
                if t.startswith(word, j):
                    return UnitRead(u, j + len(word), factor=f)
        if ch in _PCT_FIRST:
            pct = _RX_PCT.match(t, j)
            if pct is not None and (pct.group() == "%" or j == i or pct.group()[0].isascii()):
                return UnitRead(PCT[pct.group()], pct.end())
        if ch in _CUR_SUFFIX_FIRST:
            cur = _RX_CUR_SUFFIX.match(t, j)
            if cur is not None:
                end = cur.end()
                code, bare = CUR_SUFFIX[cur.group()]
                if bare == "元" and end < self.n and t[end] in _NOT_AFTER_YUAN:
                    return None
                return UnitRead(code, end, bare=bare)
        if ch == "倍":
            return UnitRead("x", j + 1)
        if j == i and ch in "xX×" and (j + 1 >= self.n or not t[j + 1].isalnum()):
            return UnitRead("x", j + 1)
        if (
            j == i
            and ch == "成"
            and mag is None
            and 0 < value <= 10
            and (j + 1 >= self.n or t[j + 1] not in _TENTHS_BLOCK)
        ):
            return UnitRead("pct", j + 1, factor=10.0)
        if j == i and ch == "厘" and mag is None and value < 100 and "率" in t[max(0, i - 12) : i]:
            return UnitRead("pct", j + 1)  # 股息率6.1厘: Hong Kong writes a yield in 厘
        if (
            ch in COUNTERS
            and j == i
            and not any(t.startswith(b, j + 1) for b in _LEX.counter_blocked.get(ch, ()))
        ):
            return UnitRead("count", j + 1, ch)
        if ch.isascii() and ch.isalpha():  # a Latin word: a currency code or name
            w_end = self.latin_word_end(j)
            word = t[j:w_end]
            if word in ISO_CODES:
                return UnitRead(CUR_PREFIX.get(word, (word, None))[0], w_end)
            if word.lower() in CUR_WORDS:
                return UnitRead(CUR_WORDS[word.lower()], w_end)
        if j == i + 1 and t[i] == " " and not (mag is None and _YEAR_BEFORE.search(t, max(0, i - 5), i)):
            # English things counted ('24.3 billion shares', '50,000 MI450 chips'): a count; the noun
            # stays outside the figure (the extractor reads it as a cue)
            m = _EN_COUNT.match(t, i)
            if m is not None:
                noun = m.group("w").lower()
                return UnitRead("count", i, _EN_COUNTERS.get(noun, noun))
        return None

    def per_unit(self, i: int) -> tuple[str, int] | None:
        """'/颗', '每颗', ' per chip', ' a share' after a price."""
        if i >= self.n or not (self.t[i] in _PER_UNIT_FIRST or self.t[i].isspace()):
            return None
        m = _PER_UNIT.match(self.t, i)
        if m is None:
            return None
        return (m.group("c") or m.group("w") or "unit"), m.end()

    def prefix_currency(self, i: int) -> tuple[str, str | None, int] | None:
        """A currency before a number at i: (code, bare sign, where the number starts)."""
        t = self.t
        if i >= self.n or t[i] not in _CUR_PREFIX_FIRST:
            return None
        m = _RX_CUR_PREFIX.match(t, i)
        if m is None:
            return None
        word = m.group()
        j = m.end()
        if word.isascii() and word.rstrip(".").isalpha():
            if i > 0 and t[i - 1].isascii() and t[i - 1].isalpha():
                return None
            if j < self.n and t[j] == " ":
                j += 1
        elif word == "₹" and j < self.n and t[j] == " ":
            j += 1  # '₹ 800 crore' (Indian style sets the sign apart)
        if j < self.n and t[j].isdigit():
            code, bare = CUR_PREFIX[word]
            return code, bare, j
        return None

    def pre_qualifier(self, i: int) -> tuple[str | None, int, bool]:
        """A qualifier ending right before i (spaces between allowed): (qualifier, start, emphasis)."""
        k = i
        while k > 0 and self.t[k - 1] == " ":
            k -= 1
        if k == 0 or self.t[k - 1].lower() not in _BEFORE_LAST:
            return None, i, False
        low = self.t[max(0, k - _BEFORE_MAX) : k].lower()
        for n in _BEFORE_LENGTHS_BY_LAST.get(low[-1], ()):  # the longest qualifier ending at k
            if n > len(low):
                continue
            word = low[-n:]
            q = _BEFORE.get(word, "-")
            if q == "-" or (
                word[0].isascii()
                and word[0].isalpha()
                and k - n > 0
                and self.t[k - n - 1].isascii()
                and self.t[k - n - 1].isalpha()
            ):
                continue
            if q is None:
                return None, i, False
            if q == "emphasis":
                return None, k - n, True
            return q, k - n, False
        return None, i, False
