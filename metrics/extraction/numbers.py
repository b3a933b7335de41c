"""The quantity grammar: figures in normalized news text (simplified Chinese, half-width, English).

A small scanner with composable parsers, applied at each candidate start::

    quantity  := [qualifier] [sign] [currency-prefix] amount [range-sep [currency-prefix] amount]
                 [post-qualifier]
    amount    := number [多|余] [magnitude] [unit] [per-unit]
    number    := arabic (1,234.5 | 43 5 with a lost decimal point) | chinese (三千五百 | 两)
    magnitude := 万 亿 万亿 兆 千万 ... | thousand million billion trillion bn m k
    unit      := currency (美元, 元, US$, ...) | % | 成 | 倍 | x | counter (颗 片 家 股 ...) | GW | MW

Shared magnitude and unit in ranges (``4-8万颗``, ``910亿至930亿美元``), ``过亿``/``上千亿`` (more
than 1e8 / 1e11 with no digits), vague amounts (``数百亿``: flagged ``vague``), a sign (负1.2%,
同比-5%: the value is negative), growth in tenths (两成 = 20%). Not figures: model names (H200, 910B,
GPT-4o), years and dates, durations, specs (1536 TOPS, 3nm), values that are not finite or beyond
1e18. "by $10 billion to $85 billion" and "from X to Y" are two figures, not a range. A lost decimal
point (``43 5亿美元``) is repaired only when the caller says the document shows that defect
(``has_lost_decimals``); the quantity is then flagged ``repaired``. Offsets index the text given.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NamedTuple

from metrics.extraction.numerals import (
    ARABIC,
    CN_NUM_CHARS,
    DECIMALS,
    MAX_CN,
    MAX_DIGITS,
    has_lost_decimals,
    parse_chinese_numeral,
)
from metrics.extraction.units import AFTER_QUAL, AFTER_QUAL_FIRST, COUNTERS, CUR_SUFFIX, UnitReader

__all__ = ["Quantity", "find_quantities", "has_lost_decimals", "parse_chinese_numeral"]

MAX_VALUE = 1e18  # no company figure is larger (in base units)


class Quantity(NamedTuple):
    """One figure: value in base units (a range's midpoint), its unit and where it stands (a named
    tuple: built several times faster than a frozen dataclass, and read as fast)."""

    value: float
    low: float | None
    high: float | None
    unit: str | None  # ISO currency | pct | pp | x | count | GW | MW | None (bare amount)
    qualifier: str | None  # gt | lt | approx | None
    start: int  # span including qualifier, sign and currency prefix
    end: int
    flags: frozenset[str] = frozenset()  # repaired vague bare per_unit signed ...
    counter: str | None = None  # 颗, 片, 股 ... for counts; the per-unit counter of a unit price
    num_start: int = -1  # where the digits begin
    bare: str | None = None  # the bare currency sign (元, $, ¥) the unit was read from

    @property
    def is_money(self) -> bool:
        """True for a currency amount (an ISO code as unit)."""
        return self.unit is not None and len(self.unit) == 3 and self.unit.isupper()


@dataclass(slots=True)
class _Amount:
    value: float
    unit: str | None
    num_start: int
    end: int
    mag: float | None
    unit_end: int  # end before post-qualifiers
    flags: set[str]
    counter: str | None = None
    post_qual: str | None = None
    bare: str | None = None


# what a match of _SIGN_BEFORE (in the two characters before a figure) ends with
_SIGN_ENDS = ("-", "−", "+", "负", "- ", "− ", "+ ", "负 ")
_SIGN_BEFORE = re.compile(r"(?:(?<![0-9A-Za-z%.)\]])[-−+]|负) ?\Z")
_NOT_RANGE_BEFORE = re.compile(
    r"\b(?:by|from|rose|fell|increased|decreased|grew|jumped|climbed|dropped|declined|up|down|"
    r"raised|cut|lifted|lowered|boosted) *\Z",
    re.IGNORECASE,
)
# 'expects revenue to grow by 3% to 5%': a change still to come has no level, so a range
_FORECAST_BY = re.compile(
    r"\b(?:to|will|would|could|may|might)\s+"
    r"(?:grow|rise|increase|expand|climb|decline|fall|drop|shrink)\s+by *\Z",
    re.IGNORECASE,
)
# '…of $5.05 billion to $5.15 billion, down from $5.15 billion to $5.35 billion': the earlier range
_EARLIER_RANGE = re.compile(r"[,，]\s*(?:down|up)\s+from *\Z", re.IGNORECASE)
_PREVIOUSLY = re.compile(r"\s*,?\s*(?:previously|earlier|before)\b", re.IGNORECASE)
_DIGIT_RUN = re.compile(r"[\d,.]+")
_MODEL = re.compile(r"[A-Za-z0-9.\-]{1,40}")
_LOST_HEAD = re.compile(r"(?<![\d.])(?<!\d,)\d{1,3} \Z")  # a comma blocks only as a thousands mark
_RANGE_SEP = re.compile(r"至|到|~|-|–|—|－|〜| to | and ")
_RANGE_SEP_FIRST = frozenset(w[0] for w in _RANGE_SEP.pattern.split("|"))  # where it can match
_START = re.compile(
    r"[0-9]|US\$|HK\$|NT\$|JP¥|[SAC]\$|[$€£¥₩₹]|(?:USD|RMB|EUR|GBP|HKD|CNY|JPY|KRW|TWD|NTD|INR|Rs\.?|人民币|港币|新台币|台币)"
    r" ?(?=\d)|[一二两三四五六七八九十百千](?=[零〇一二两三四五六七八九十百千万亿]{0,15}[万亿])"
    r"|[一二两三四五六七八九十](?=[倍成])|(?<=[数几上过破])[十百千万亿]"
)
# characters that may follow a number that is a figure: magnitudes, units, range separators, qualifiers
_FOLLOW = frozenset(
    "十百千万亿兆多余%倍×成厘至到~-–—－〜左上以/每吉"
    + "".join(COUNTERS)
    + "".join(w[0] for w in CUR_SUFFIX)
    + "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
)
_FOLLOW_CLASS = "[" + "".join(re.escape(c) for c in sorted(_FOLLOW)) + "]"


def _scan_pattern(repair: bool) -> re.Pattern[str]:
    """A candidate start: one of the characters a figure can begin with (the lookahead rejects every
    other position at once), then the start grammar; a number is a candidate only when something that
    can make it a figure follows it (or, in a document with lost decimal points, another number)."""
    follow = _FOLLOW_CLASS + (r"|\d" if repair else "")
    # a digit right after a digit is no candidate (``quantity`` rejects it at once); without repair no
    # character of the run can follow it, so the run is taken whole (possessive: no backtracking)
    run = r"[\d,.]{0,30}" if repair else r"[\d,.]{0,30}+"
    digit = r"(?<![0-9])[0-9](?=" + run + r" ?(?:" + follow + r"))"
    start = _START.pattern.replace("[0-9]|", digit + "|", 1)
    # the first character (a class: the engine skips every other character in C), then the start
    # grammar checked from that character on
    first = "[0-9$€£¥₩₹UHNJSACREGKTI人港新台一二两三四五六七八九十百千万亿]"
    return re.compile(first + "(?<=(?=" + start + ").)")


_SCAN = {False: _scan_pattern(False), True: _scan_pattern(True)}
_CN_RUN = re.compile("[零〇一二两三四五六七八九十百千万亿]+")


def _tidy_value(v: float) -> float:
    """``v`` to 12 significant digits (157.36 x 1e8 is 15736000000, not 15736000000.000002); a whole
    number below 1e12 already is (and is returned without formatting it)."""
    if v.is_integer() and -1e12 < v < 1e12:
        return v
    return float(f"{v:.12g}")


def _tidy(v: float | None) -> float | None:
    """``_tidy_value`` of ``v``, None kept."""
    return None if v is None else _tidy_value(v)


class _Scanner(UnitReader):
    """The amount, range and quantity layers over ``UnitReader``."""

    def amount(self, i: int, prefix_cur: str | None) -> _Amount | None:
        """number [多|余] [magnitude] [unit] [per-unit] [post-qualifier]."""
        t = self.t
        num = self.number(i)
        if num is None:
            return None
        value, j, flags = num
        if "ambiguous" in flags:
            return _Amount(value, None, i, j, None, j, flags)
        post_qual: str | None = None
        if j < self.n and t[j] in "多余" and j + 1 < self.n and t[j + 1] in "万亿十百千":
            post_qual = "gt"
            j += 1
        mag = self.magnitude(j, prefix_cur is not None)
        if mag is not None:
            value *= mag[0]
            j = mag[1]
            if post_qual is None and t[j - 1] in "兆亿万":
                value, j = self._compound(value, mag[0], j)
            if j < self.n and t[j] in "多余":
                post_qual = "gt"
                j += 1
        u = self.unit(j, mag[0] if mag else None, value)
        # a number glued to Latin letters is a model or spec name (910B, 3nm, 4o)
        if (
            mag is None
            and j < self.n
            and t[j].isascii()
            and t[j].isalpha()
            and (u is None or not (u.unit in ("x", "GW", "MW", "pct") or len(u.unit) == 3))
        ):
            return None
        if "chinese" in flags and (u is None or (u.unit == "count" and mag is None)):
            return None  # a Chinese numeral without a unit is a word (一个, 三年, 百亿富翁)
        unit_: str | None = prefix_cur
        counter: str | None = None
        bare: str | None = None
        unit_end = j
        if u is not None and (prefix_cur is None or u.unit == prefix_cur or u.bare == "元"):
            if prefix_cur is None:
                unit_, counter, bare = u.unit, u.counter, u.bare
            value *= u.factor
            j = unit_end = u.end
        elif u is None and prefix_cur is None and self.non_figure_follows(j):
            return None
        if unit_ is not None and len(unit_) == 3 and unit_.isupper():
            per = self.per_unit(j)
            if per is not None:
                counter = per[0]
                flags.add("per_unit")
                j = unit_end = per[1]
        if post_qual is None and j < self.n and t[j] in AFTER_QUAL_FIRST:
            for word, q in AFTER_QUAL:
                if t.startswith(word, j):
                    if word in "多余" and unit_ is None and mag is None:
                        break
                    post_qual = q
                    j += len(word)
                    break
        return _Amount(value, unit_, i, j, mag[0] if mag else None, unit_end, flags, counter, post_qual, bare)

    def _compound(self, value: float, mag: float, j: int) -> tuple[float, int]:
        """'2兆603亿', '3亿5000万': Arabic digits with a smaller Chinese magnitude right after a
        magnitude add to the figure (each part smaller than the magnitude before it)."""
        t = self.t
        while j < self.n and t[j].isdigit():
            m = ARABIC.match(t, j)
            if m is None:
                break
            nxt = self.magnitude(m.end(), False)
            if nxt is None or t[nxt[1] - 1] not in "兆亿万" or nxt[1] == m.end():
                break
            part = float(m.group().replace(",", "")) * nxt[0]
            if not (nxt[0] < mag and part < mag):
                break
            value += part
            mag = nxt[0]
            j = nxt[1]
        return value, j

    def quantity(self, i: int) -> tuple[Quantity | None, int]:
        """Parse the quantity starting at candidate position i; returns (quantity or None, resume)."""
        t = self.t
        if i > 0 and t[i].isdigit():
            p = t[i - 1]
            # model names: digits glued to Latin letters or 'GPT-' (H200, S5000, A100, GPT-4)
            if (p.isascii() and (p.isalpha() or p in "_/.")) or (
                p == "-" and i > 1 and t[i - 2].isascii() and t[i - 2].isalpha()
            ):
                m = _MODEL.match(t, i)
                return None, max(m.end() if m else i, i + 1)
            if p.isdigit() or (p in ".," and i > 1 and t[i - 2].isdigit()):
                return None, i + 1
            if not self.repair and p == " " and _LOST_HEAD.search(t, max(0, i - 5), i):
                # '6 5倍' in a document without the lost-decimal defect: ambiguous, not a figure
                d = DECIMALS.match(t, i)
                if d is not None and self.unit_or_mag_follows(d.end()):
                    return None, d.end()
        if t[i].isdigit():
            run = _DIGIT_RUN.match(t, i)
            e = run.end() if run else i + 1
            if e - i > MAX_DIGITS:
                return None, e  # a run of digits too long to be a figure: skipped whole
            while e > i + 1 and t[e - 1] in ",.":
                e -= 1
            # fast path: a number followed by nothing that could make it a figure (dates, years, notes)
            k = e + 1 if e < self.n and t[e] == " " else e
            if k >= self.n or (t[k] not in _FOLLOW and not (self.repair and k > e and t[k].isdigit())):
                return None, e
        start = i
        vague = i > 0 and t[i - 1] in "数几" and not t[i].isdigit()
        up_gt = not vague and i > 0 and t[i - 1] in "上过破" and t[i] in "十百千万亿"
        if vague or up_gt:
            start = i - 1
        pc = self.prefix_currency(i)
        prefix_cur: str | None = None
        prefix_bare: str | None = None
        num_at = i
        if pc is not None:
            prefix_cur, prefix_bare, num_at = pc
        elif not (t[i].isdigit() or t[i] in CN_NUM_CHARS):
            return None, i + 1
        elif t[i] in CN_NUM_CHARS:
            run = _CN_RUN.match(t, i)
            if run is not None and run.end() - i > MAX_CN:
                return None, run.end()  # a run of numerals too long to be one: skipped whole
        if vague and t[i] in "万亿":
            return self._magnitude_only(i, start, None, {"vague"})
        if up_gt:
            return self._magnitude_only(i, start, "gt", set())
        a = self.amount(num_at, prefix_cur)
        if a is None:
            return None, num_at + 1
        if "ambiguous" in a.flags:
            return None, a.end
        flags = set(a.flags)
        if vague:
            flags.add("vague")
        negative = False
        sm = None
        before = t[max(0, start - 2) : start]
        if before.endswith(_SIGN_ENDS):
            sm = _SIGN_BEFORE.search(t, max(0, start - 2), start)
        if sm is not None:
            negative = sm.group().strip() in ("-", "−", "负")
            flags.add("signed")
            start = sm.start()
        qual, qstart, emphasis = self.pre_qualifier(start)
        if emphasis:
            flags.add("up_to")
        if qual is not None or emphasis:
            start = qstart
        low = high = None
        end = a.end
        value = a.value
        unit_ = a.unit
        counter = a.counter
        bare = prefix_bare or a.bare
        r = self._range(a, prefix_cur, start)
        if r is not None:
            b, end = r
            lo, hi = a.value, b.value
            if a.mag is None and b.mag is not None:
                lo *= b.mag
            unit_ = unit_ or b.unit
            counter = counter or b.counter
            bare = bare or b.bare
            if negative:
                lo = -lo
            if lo < hi:
                low, high, value, negative = lo, hi, (lo + hi) / 2, False
                flags |= b.flags
                if b.post_qual and qual is None:
                    qual = b.post_qual
            else:
                end = a.end
        elif a.post_qual and qual is None:
            qual = a.post_qual
        if negative:
            value = -value
        if unit_ is None and a.mag is None and "vague" not in flags:
            return None, end  # a bare number without magnitude or unit (years, list items, ages)
        if unit_ is None:
            flags.add("bare")
            if a.mag is not None and a.mag < 1e4:
                return None, end
        # finite and not too large (NaN and infinities fail the comparison)
        if not (
            abs(value) <= MAX_VALUE
            and (low is None or abs(low) <= MAX_VALUE)
            and (high is None or abs(high) <= MAX_VALUE)
        ):
            return None, end
        value = _tidy_value(value)  # 157.36 x 1e8 is 15736000000, not 15736000000.000002
        low, high = _tidy(low), _tidy(high)
        return Quantity(
            value, low, high, unit_, qual, start, end, frozenset(flags), counter, a.num_start, bare
        ), end

    def _magnitude_only(
        self, i: int, start: int, qual: str | None, flags: set[str]
    ) -> tuple[Quantity | None, int]:
        """过亿 / 上千亿 (more than, no digits) and 数百亿 (vague): a magnitude with no digits."""
        mag = self.magnitude(i, False)
        if mag is None:
            return None, i + 1
        value, j = mag
        u = self.unit(j, value, value)
        if u is not None:
            j = u.end
        if qual == "gt" and value < 1e4:
            return None, j
        if u is None:
            flags = flags | {"bare"}
        return Quantity(
            value,
            None,
            None,
            u.unit if u else None,
            qual,
            start,
            j,
            frozenset(flags),
            u.counter if u else None,
            i,
            u.bare if u else None,
        ), j

    def _range(self, a: _Amount, prefix_cur: str | None, start: int) -> tuple[_Amount, int] | None:
        t = self.t
        if a.post_qual is not None:
            return None
        j = a.unit_end
        k = self.skip_spaces(j) if t.startswith(" ", j) and not t.startswith((" to ", " and "), j) else j
        if k >= self.n or t[k] not in _RANGE_SEP_FIRST:
            return None
        sep = _RANGE_SEP.match(t, k)
        if sep is None:
            return None
        word = sep.group()
        if word == " and " and "between" not in t[max(0, a.num_start - 40) : a.num_start]:
            return None
        # 'rose by $5 billion to $70 billion': a change, then the new level (unless the pair is an
        # earlier range: 'to $5.2 billion from $4.9 billion to $5 billion previously')
        change = (
            word == " to "
            and _NOT_RANGE_BEFORE.search(t, max(0, start - 30), start) is not None
            and not _EARLIER_RANGE.search(t, max(0, start - 30), start)
            and not (a.unit == "pct" and _FORECAST_BY.search(t, max(0, start - 30), start))
        )
        if change and not t.startswith("from", max(0, start - 5)):
            return None
        k = self.skip_spaces(k + len(word))
        pc = self.prefix_currency(k)
        cur2 = None
        if pc is not None:
            cur2, _bare, k = pc
            if prefix_cur is not None and cur2 != prefix_cur:
                return None
        if k >= self.n or not t[k].isdigit():
            return None
        b = self.amount(k, cur2 or prefix_cur)
        if b is None or "ambiguous" in b.flags:
            return None
        if a.unit is not None and b.unit is not None and a.unit != b.unit:
            return None
        if a.unit is not None and b.unit is None and b.mag is None:
            return None
        if a.mag is not None and b.mag is not None and a.mag != b.mag and b.unit is None:
            return None
        if (a.mag is not None and b.mag is None and b.unit is None) or (
            b.unit is None and a.unit is None and b.mag is None
        ):
            return None
        if change and not _PREVIOUSLY.match(t, b.end):
            return None
        return b, b.end


def find_quantities(text: str, *, repair_decimals: bool = False) -> list[Quantity]:
    """Every figure of ``text`` (already normalized), left to right, non-overlapping."""
    sc = _Scanner(text, repair_decimals)
    scan = _SCAN[repair_decimals]
    out: list[Quantity] = []
    pos = 0
    n = len(text)
    while pos < n:
        m = scan.search(text, pos)
        if m is None:
            break
        i = m.start()
        q, resume = sc.quantity(i)
        if q is not None:
            out.append(q)
        pos = resume if resume > i else i + 1
    return _bounds(text, _floor_stretch(text, out))


_FLOOR = re.compile(r"(?:保底|至少|最低|底线)\s*\Z")
_STRETCH = re.compile(r"\s*[、,，/]?\s*(?:冲刺|力争|最高|挑战|上看)\s*")


def _floor_stretch(text: str, qs: list[Quantity]) -> list[Quantity]:
    """'保底50万、冲刺60万' (a floor and a stretch target): one range from the floor to the stretch."""
    out: list[Quantity] = []
    for q in qs:
        prev = out[-1] if out else None
        if (
            prev is not None
            and prev.low is None
            and q.low is None
            and prev.unit in (None, q.unit)
            and prev.value < q.value
            and _STRETCH.fullmatch(text, prev.end, q.start)
        ):
            fl = _FLOOR.search(text, max(0, prev.start - 4), prev.start)
            if fl is not None:
                flags = (prev.flags | q.flags) - ({"bare"} if q.unit is not None else set())
                out[-1] = _range_of(prev, q, fl.start(), frozenset(flags))
                continue
        out.append(q)
    return out


def _range_of(low: Quantity, high: Quantity, start: int, flags: frozenset[str]) -> Quantity:
    """One range from ``low`` to ``high`` (its value the middle), starting at ``start``."""
    return Quantity(
        (low.value + high.value) / 2,
        low.value,
        high.value,
        high.unit,
        None,
        start,
        high.end,
        flags,
        high.counter or low.counter,
        low.num_start,
        high.bare or low.bare,
    )


# between a lower and an upper bound of one range: 且, 、, ',' or 'and' ('不低于30亿元(含)且不超过60亿元')
_BOUNDS_JOIN = re.compile(r"\s*(?:\(含\))?\s*(?:[,，、]?\s*(?:且|并且|而且|但|and|but)?)\s*", re.IGNORECASE)


def _bounds(text: str, qs: list[Quantity]) -> list[Quantity]:
    """'不低于30亿元且不超过60亿元', 'at least $2 billion and no more than $4 billion': a lower bound joined
    to an upper one of the same unit is one range, as '30亿元至60亿元' is."""
    out: list[Quantity] = []
    for q in qs:
        prev = out[-1] if out else None
        if (
            prev is not None
            and prev.qualifier == "gt"
            and q.qualifier == "lt"
            and prev.low is None
            and q.low is None
            and prev.unit == q.unit
            and prev.unit is not None
            and ("per_unit" in prev.flags) == ("per_unit" in q.flags)
            and prev.value < q.value
            and _BOUNDS_JOIN.fullmatch(text, prev.end, q.start)
        ):
            out[-1] = _range_of(prev, q, prev.start, prev.flags | q.flags)
            continue
        out.append(q)
    return out
