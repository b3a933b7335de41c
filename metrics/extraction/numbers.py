"""The quantity grammar: figures in normalized news text (simplified Chinese, half-width, English).

A small scanner with composable parsers, applied at each candidate start::

    quantity  := [qualifier] [currency-prefix] amount [range-sep [qualifier] [currency-prefix] amount]
                 [post-qualifier]
    amount    := number [多|余] [magnitude] [unit] [per-unit]
    number    := arabic (1,234.5 | 43 5 with a lost decimal point) | chinese (三千五百 | 两)
    magnitude := 万 亿 万亿 兆 千万 ... | thousand million billion trillion bn m k
    unit      := currency (美元, 元, US$, ...) | % | 倍 | x | counter (颗 片 家 股 ...) | GW | MW

Shared magnitude and unit in ranges (``4-8万颗``, ``910亿至930亿美元``), ``过亿``/``上千亿``
(more than 1e8 / 1e11 with no digits), vague amounts (``数百亿``: flagged ``vague``).
Not figures: model names (H200, 910B, GPT-4o), years and dates, durations, specs (1536 TOPS, 3nm).
A lost decimal point (``43 5亿美元``) is repaired only when the caller says the document shows
that defect (``has_lost_decimals``); the quantity is then flagged ``repaired``.
All offsets index the text given, which is the same length as the original document text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = ["Quantity", "find_quantities", "has_lost_decimals", "parse_chinese_numeral"]


@dataclass(frozen=True, slots=True)
class Quantity:
    """One figure: value in base units (a range's midpoint), its unit and where it stands."""

    value: float
    low: float | None
    high: float | None
    unit: str | None  # ISO currency | pct | pp | x | count | GW | MW | None (bare amount)
    qualifier: str | None  # gt | lt | approx | None
    start: int  # span including qualifier and currency prefix
    end: int
    flags: frozenset[str] = field(default_factory=frozenset)  # repaired vague bare per_unit up_to each
    counter: str | None = None  # 颗, 片, 股 ... for counts; the per-unit counter of a unit price
    num_start: int = -1  # where the digits begin

    @property
    def is_money(self) -> bool:
        """True for a currency amount (an ISO code as unit)."""
        return self.unit is not None and len(self.unit) == 3 and self.unit.isupper()


# --------------------------------------------------------------------------- lexicons of the grammar

_DIGITS = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_SMALL = {"十": 10, "百": 100, "千": 1000}
_CN_MAG = {"十": 1e1, "百": 1e2, "千": 1e3, "万": 1e4, "亿": 1e8, "兆": 1e12}
_CN_NUM_CHARS = set(_DIGITS) | set(_SMALL) | {"万", "亿"}

_EN_MAG = {
    "trillion": 1e12,
    "billion": 1e9,
    "million": 1e6,
    "thousand": 1e3,
    "tn": 1e12,
    "trn": 1e12,
    "bn": 1e9,
    "bln": 1e9,
    "mn": 1e6,
    "mln": 1e6,
    "m": 1e6,
    "k": 1e3,
    "b": 1e9,
}
_EN_MAG_NEEDS_MONEY = {"m", "b", "k"}  # '5m', '3b' only after a currency prefix

_CUR_SUFFIX: dict[str, str] = {
    "美元": "USD",
    "美金": "USD",
    "元人民币": "CNY",
    "人民币": "CNY",
    "元": "CNY",
    "港元": "HKD",
    "港币": "HKD",
    "英镑": "GBP",
    "欧元": "EUR",
    "日元": "JPY",
    "日圆": "JPY",
    "韩元": "KRW",
    "韩圆": "KRW",
    "新台币": "TWD",
    "台币": "TWD",
    "澳元": "AUD",
    "加元": "CAD",
    "瑞郎": "CHF",
    "瑞士法郎": "CHF",
    "新加坡元": "SGD",
    "卢布": "RUB",
    "印度卢比": "INR",
    "卢比": "INR",
}
_CUR_WORDS: dict[str, str] = {  # English words after a number
    "dollars": "USD",
    "dollar": "USD",
    "euros": "EUR",
    "euro": "EUR",
    "pounds": "GBP",
    "yuan": "CNY",
    "renminbi": "CNY",
    "yen": "JPY",
    "won": "KRW",
}
_ISO = ("USD", "CNY", "RMB", "HKD", "EUR", "GBP", "JPY", "KRW", "TWD", "NTD", "AUD", "CAD", "CHF", "SGD")
_CUR_PREFIX: dict[str, str] = {
    "US$": "USD",
    "HK$": "HKD",
    "NT$": "TWD",
    "S$": "SGD",
    "A$": "AUD",
    "C$": "CAD",
    "$": "USD",
    "€": "EUR",
    "£": "GBP",
    "¥": "CNY",
    "￥": "CNY",
    "人民币": "CNY",
    "港币": "HKD",
    **{code: ("CNY" if code == "RMB" else "TWD" if code == "NTD" else code) for code in _ISO},
}
_NOT_CURRENCY_AFTER_YUAN = set("宝素旦年月件器老首气帅")

_COUNTERS = set("颗片块家股套台辆名人个户张座枚架部件款间条艘只份笔项所支栋")
_COUNTER_BLOCK = {  # counter followed by these is not a count of things
    "个": ("月", "季", "百分点", "小时", "工作日", "星期", "交易日", "点"),
    "股": ("东", "价", "权", "票", "份", "息", "市"),
    "人": ("民币",),
    "台": ("币",),
    "块": ("钱",),
    "家": ("庭",),
    "部": ("分", "门"),
    "件": ("事",),
    "名": ("义",),
    "间": ("隔",),
    "所": ("有", "以"),
}
_POWER: tuple[tuple[str, str, float], ...] = (  # (text, unit, factor into unit)
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
_PCT = (
    ("个百分点", "pp"),
    ("百分点", "pp"),
    ("percentage points", "pp"),
    ("%", "pct"),
    ("percent", "pct"),
    ("per cent", "pct"),
    ("pct", "pct"),
)
# units that make a number a date, a duration, a size or a spec: never a financial figure
_NON_FIGURE = tuple(
    sorted(
        (
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
        ),
        key=len,
        reverse=True,
    )
)

_PRE_QUAL: tuple[tuple[str, str | None], ...] = tuple(
    sorted(
        (
            ("超过", "gt"),
            ("超出", "gt"),
            ("超", "gt"),
            ("逾", "gt"),
            ("过", "gt"),
            ("多于", "gt"),
            ("高于", "gt"),
            ("大于", "gt"),
            ("至少", "gt"),
            ("起码", "gt"),
            ("不低于", "gt"),
            ("不少于", "gt"),
            ("约", "approx"),
            ("大约", "approx"),
            ("约为", "approx"),
            ("大概", "approx"),
            ("近", "approx"),
            ("接近", "approx"),
            ("将近", "approx"),
            ("差不多", "approx"),
            ("约合", "approx"),
            ("大致", "approx"),
            ("不到", "lt"),
            ("不足", "lt"),
            ("少于", "lt"),
            ("低于", "lt"),
            ("小于", "lt"),
            ("未满", "lt"),
            ("不超过", "lt"),
            ("高达", None),
            ("多达", None),
            ("最多", None),
            # words ending in a qualifier character that are no qualifier
            ("不过", None),
            ("经过", None),
            ("通过", None),
            ("签约", None),
            ("契约", None),
            ("条约", None),
            ("预约", None),
            ("最近", None),
            ("附近", None),
            ("节约", None),
            ("制约", None),
            ("more than ", "gt"),
            ("over ", "gt"),
            ("above ", "gt"),
            ("in excess of ", "gt"),
            ("at least ", "gt"),
            ("exceeding ", "gt"),
            ("about ", "approx"),
            ("around ", "approx"),
            ("approximately ", "approx"),
            ("roughly ", "approx"),
            ("nearly ", "approx"),
            ("almost ", "approx"),
            ("close to ", "approx"),
            ("some ", "approx"),
            ("an estimated ", "approx"),
            ("less than ", "lt"),
            ("under ", "lt"),
            ("below ", "lt"),
            ("fewer than ", "lt"),
            ("up to ", None),
            ("as much as ", None),
            ("as many as ", None),
        ),
        key=lambda kv: len(kv[0]),
        reverse=True,
    )
)
_UP_TO = {"高达", "多达", "最多", "up to ", "as much as ", "as many as "}
_POST_QUAL = (
    ("左右", "approx"),
    ("上下", "approx"),
    ("以上", "gt"),
    ("以下", "lt"),
    ("以内", "lt"),
    ("多", "gt"),
    ("余", "gt"),
    (" or more", "gt"),
    (" plus", "gt"),
)
_RANGE_SEP = ("至", "到", "~", "-", "–", "—", "－", "〜", " to ", " and ")

_ARABIC = re.compile(r"\d{1,3}(?:,\d{3})+(?![\d])(?:\.\d+)?|\d+(?:\.\d+)?")
_START = re.compile(
    r"[0-9]|US\$|HK\$|NT\$|[SAC]\$|[$€£¥￥]|(?:USD|RMB|EUR|GBP|HKD|CNY|JPY|人民币|港币) ?(?=\d)"
    r"|[一二两三四五六七八九十百千](?=[零〇一二两三四五六七八九十百千万亿]*[万亿])"
    r"|[一二两三四五六七八九十](?=倍)|(?<=[数几上过破])[十百千万亿]"
)
# a candidate start: one of the characters a figure can begin with (the lookahead rejects every other
# position at once), then the start grammar proper
_SCAN = re.compile(r"(?=[0-9$€£¥￥UHNSACREGKJ人港一二两三四五六七八九十百千万亿])(?:" + _START.pattern + ")")
_LOST_FIG = re.compile(r"(?=\d)(?<![\d.,])\d{1,3} \d{1,2}(?![\d.,])\s?(?:[万亿倍%股]|美元|英镑|欧元|元)")
_LOST_VER = re.compile(r"[A-Za-z]{2,} \d{1,2} \d{1,2}(?![\d.%]|,\d)")


def has_lost_decimals(text: str) -> bool:
    """True when the text shows the lost-decimal-point defect (``5 5倍``).

    Evidence: a digit-space-digit in a non-figure context such as a version (``DOCSIS 4 0``), or
    at least two figure-like occurrences. Chinese text never writes spaces inside a number.
    """
    if _LOST_VER.search(text):
        return bool(_LOST_FIG.search(text))
    return len(_LOST_FIG.findall(text)) >= 2


def parse_chinese_numeral(s: str) -> int | None:
    """Value of a Chinese numeral (``三千五百万`` -> 35000000, ``两`` -> 2); None if malformed."""
    total = section = num = 0
    seen = False
    for ch in s:
        if ch in _DIGITS:
            num = _DIGITS[ch]
            seen = True
        elif ch in _SMALL:
            section += (num or 1) * _SMALL[ch]
            num = 0
            seen = True
        elif ch == "万":
            section = (section + num) * 10_000
            num = 0
        elif ch == "亿":
            total = (total + section + num) * 100_000_000
            section = num = 0
        else:
            return None
    return total + section + num if seen or total or section else None


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


class _Scanner:
    """Composable parsers over one text; each returns (result, end) or None."""

    def __init__(self, text: str, repair: bool) -> None:
        self.t = text
        self.n = len(text)
        self.repair = repair

    # -- small helpers
    def _startswith_any(self, i: int, rx: re.Pattern[str]) -> str | None:
        """The longest word of the alternation ``rx`` (see ``_alternation``) that starts at i."""
        m = rx.match(self.t, i)
        return m.group() if m else None

    def _skip_spaces(self, i: int) -> int:
        while i < self.n and self.t[i] == " ":
            i += 1
        return i

    def _latin_word_end(self, i: int) -> int:
        while i < self.n and self.t[i].isascii() and self.t[i].isalpha():
            i += 1
        return i

    # -- number
    def number(self, i: int) -> tuple[float, int, set[str]] | None:
        """An Arabic or Chinese numeral at i (no magnitude)."""
        t = self.t
        if i < self.n and t[i].isdigit():
            m = _ARABIC.match(t, i)
            if m is None:
                return None
            raw = m.group()
            end = m.end()
            flags: set[str] = set()
            # lost decimal point: '43 5亿' -> 43.5 (only the integer part may precede the space)
            if "." not in raw and "," not in raw and t.startswith(" ", end):
                m2 = _DECIMALS.match(t, end + 1)
                if m2 and self._unit_or_mag_follows(m2.end()):
                    if not self.repair:
                        flags.add("ambiguous")
                        return float(raw), m2.end(), flags
                    flags.add("repaired")
                    return float(f"{raw}.{m2.group()}"), m2.end(), flags
            return float(raw.replace(",", "")), end, flags
        j = i
        while j < self.n and t[j] in _CN_NUM_CHARS:
            j += 1
        if j == i:
            return None
        # split trailing magnitude chars so that '三千亿' parses as 3000 x 1e8
        core_end = j
        if not any(ch in "万亿" for ch in t[i:j].rstrip("万亿")):
            while core_end > i and t[core_end - 1] in "万亿":
                core_end -= 1
        core = t[i:core_end]
        if not core:
            return None
        v = parse_chinese_numeral(core)
        if v is None:
            return None
        return float(v), core_end, {"chinese"}

    def _unit_or_mag_follows(self, i: int) -> bool:
        i = self._skip_spaces(i)
        if i >= self.n:
            return False
        ch = self.t[i]
        return (
            ch in "万亿倍%"
            or self._startswith_any(i, _RX_CUR_SUFFIX) is not None
            or ch in _COUNTERS
            or self.t.startswith(("billion", "million", "trillion"), i)
        )

    # -- magnitude
    def magnitude(self, i: int, money_prefix: bool) -> tuple[float, int] | None:
        """Chinese (万, 亿, 万亿, 兆, 千万...) or English (billion, bn, m) magnitude at i."""
        t = self.t
        j = self._skip_spaces(i)
        mag = 1.0
        k = j
        while k < self.n and t[k] in _CN_MAG:
            if self._startswith_any(k, _RX_NOT_MAGNITUDE):
                break
            mag *= _CN_MAG[t[k]]
            k += 1
        if k > j:
            return mag, k
        w_end = self._latin_word_end(j)
        if w_end > j and (w_end >= self.n or not t[w_end].isdigit()):
            word = t[j:w_end]
            low = word.lower()
            if low in _EN_MAG and (low not in _EN_MAG_NEEDS_MONEY or (money_prefix and j == i)):
                if low in ("m", "b", "k") and word not in ("m", "b", "k", "M", "B", "K"):
                    return None
                return _EN_MAG[low], w_end
        return None

    # -- unit
    def unit(self, i: int, mag: float | None) -> tuple[str, int, str | None] | None:
        """Currency, percent, multiple, counter or power unit at i: (unit, end, counter)."""
        t = self.t
        j = self._skip_spaces(i)
        if j >= self.n:
            return None
        if t[j] in _POWER_FIRST:
            for word, u, _f in _POWER:
                if t.startswith(word, j):
                    return u, j + len(word), None
        pct = self._startswith_any(j, _RX_PCT)
        if pct is not None and (pct == "%" or j == i or pct[0].isascii()):
            return _PCT_UNIT[pct], j + len(pct), None
        cur = self._startswith_any(j, _RX_CUR_SUFFIX)
        if cur is not None:
            end = j + len(cur)
            if cur == "元" and end < self.n and t[end] in _NOT_CURRENCY_AFTER_YUAN:
                return None
            return _CUR_SUFFIX[cur], end, None
        if t.startswith("倍", j):
            return "x", j + 1, None
        if j == i and t[j] in "xX×" and (j + 1 >= self.n or not t[j + 1].isalnum()):
            return "x", j + 1, None
        ch = t[j]
        if ch in _COUNTERS and j == i:
            block = _COUNTER_BLOCK.get(ch, ())
            if not any(t.startswith(b, j + 1) for b in block):
                return "count", j + 1, ch
        w_end = self._latin_word_end(j)
        if w_end > j:
            word = t[j:w_end]
            if word in _ISO:
                return _CUR_PREFIX[word], w_end, None
            if word.lower() in _CUR_WORDS:
                return _CUR_WORDS[word.lower()], w_end, None
        if j == i + 1 and t[i] == " " and not (mag is None and _YEAR_BEFORE.search(t, max(0, i - 5), i)):
            # English things counted ('24.3 billion shares', '500,000 MI300 accelerators'): a count;
            # the noun stays outside the figure (the extractor reads it as a cue)
            m = _EN_COUNT.match(t, i)
            if m is not None:
                noun = m.group("w").lower()
                return "count", i, _EN_COUNTERS.get(noun, noun)
        return None

    def per_unit(self, i: int) -> tuple[str, int] | None:
        """'/颗', '每颗', ' per chip', ' a share' after a price."""
        t = self.t
        m = _PER_UNIT.match(t, i)
        if m is None:
            return None
        return (m.group("c") or m.group("w") or "unit"), m.end()

    # -- amount
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
            if j < self.n and t[j] in "多余":
                post_qual = "gt"
                j += 1
        # a number glued to Latin letters is a model or spec name (910B, 3nm, 4o)
        if mag is None and j < self.n and t[j].isascii() and t[j].isalpha():
            u = self.unit(j, None)
            if u is None or (u[0] not in ("x", "GW", "MW", "pct") and u[0] not in _CUR_PREFIX.values()):
                return None
        if "chinese" in flags:
            # a Chinese numeral without a unit is a word (一个, 三年, 百亿富翁), not a figure
            u0 = self.unit(j, None)
            if u0 is None or (u0[0] == "count" and mag is None):
                return None
        unit_: str | None = prefix_cur
        counter: str | None = None
        unit_end = j
        u = self.unit(j, mag[0] if mag else None)
        if u is not None and (prefix_cur is None or u[0] == prefix_cur):
            unit_, j, counter = u[0], u[1], u[2]
            for word, pu, f in _POWER:
                if pu == unit_ and t.startswith(word, self._skip_spaces(unit_end)):
                    value *= f
                    break
            unit_end = j
        elif u is None and prefix_cur is None and self._startswith_any(self._skip_spaces(j), _RX_NON_FIGURE):
            return None
        if unit_ is not None and len(unit_) == 3 and unit_.isupper():
            per = self.per_unit(j)
            if per is not None:
                counter = per[0]
                flags.add("per_unit")
                j = per[1]
                unit_end = j
        if post_qual is None and j < self.n and t[j] in _POST_QUAL_FIRST:
            for word, q in _POST_QUAL:
                if t.startswith(word, j):
                    if word in "多余" and unit_ is None and mag is None:
                        break
                    post_qual = q
                    j += len(word)
                    break
        return _Amount(value, unit_, i, j, mag[0] if mag else None, unit_end, flags, counter, post_qual)

    def prefix_currency(self, i: int) -> tuple[str, int] | None:
        t = self.t
        if i >= self.n or t[i] not in _CUR_PREFIX_FIRST:
            return None
        for word in _SORTED_CUR_PREFIX:
            if t.startswith(word, i):
                j = i + len(word)
                if word.isascii() and word.isalpha():
                    if i > 0 and t[i - 1].isascii() and t[i - 1].isalpha():
                        return None
                    if j < self.n and t[j] == " ":
                        j += 1
                if j < self.n and t[j].isdigit():
                    return _CUR_PREFIX[word], j
                return None
        return None

    def pre_qualifier(self, i: int) -> tuple[str | None, int, bool]:
        """A qualifier ending right before i (spaces between allowed): (qualifier, start, up_to)."""
        k = i
        while k > 0 and self.t[k - 1] == " ":
            k -= 1
        if k == 0 or self.t[k - 1] not in _PRE_QUAL_LAST:
            return None, i, False
        m = _PRE_QUAL_RX.search(self.t, max(0, i - 24), i)
        if m is not None:
            word = m.group("w")
            key = word if word in _PRE_QUAL_MAP else word + " "
            return _PRE_QUAL_MAP[key], m.start("w"), key in _UP_TO
        return None, i, False

    # -- quantity
    def quantity(self, i: int) -> tuple[Quantity | None, int]:
        """Parse the quantity starting at candidate position i; returns (quantity or None, resume)."""
        t = self.t
        # model names: digits glued to preceding Latin letters or 'GPT-' (H200, S5000, A100, GPT-4)
        if i > 0 and t[i].isdigit():
            p = t[i - 1]
            if (p.isascii() and (p.isalpha() or p in "_/.")) or (p == "-" and i > 1 and t[i - 2].isalpha()):
                k = i
                while k < self.n and ((t[k].isalnum() and t[k].isascii()) or t[k] in ".-"):
                    k += 1
                return None, max(k, i + 1)
            if p.isdigit() or (p in ".," and i > 1 and t[i - 2].isdigit()):
                return None, i + 1
        if t[i].isdigit():
            # fast path: a number followed by nothing that could make it a figure (dates, years, notes)
            m = _ARABIC.match(t, i)
            e = m.end() if m else i + 1
            k = e + 1 if e < self.n and t[e] == " " else e
            if k >= self.n or (t[k] not in _FOLLOW and not (k > e and t[k].isdigit())):
                return None, e
        vague = False
        up_qual: str | None = None
        start = i
        if i > 0 and t[i - 1] in "数几" and not t[i].isdigit():
            vague = True
            start = i - 1
        elif i > 0 and t[i - 1] in "上过破" and t[i] in "十百千万亿":
            up_qual = "gt"
            start = i - 1
        pc = self.prefix_currency(i)
        prefix_cur = None
        num_at = i
        if pc is not None:
            prefix_cur, num_at = pc
        elif not (t[i].isdigit() or t[i] in _CN_NUM_CHARS):
            return None, i + 1
        if vague and t[i] in "万亿":
            mag = self.magnitude(i, False)
            if mag is None:
                return None, i + 1
            u = self.unit(mag[1], mag[0])
            j = u[1] if u else mag[1]
            return Quantity(
                mag[0], None, None, u[0] if u else None, None, start, j, frozenset({"vague"}), None, i
            ), j
        if up_qual == "gt":
            # 过亿 / 上千亿: a magnitude with no digits
            mag = self.magnitude(i, False)
            if mag is None:
                return None, i + 1
            value, j = mag[0], mag[1]
            u = self.unit(j, value)
            unit_ = u[0] if u else None
            counter = u[2] if u else None
            if u is not None:
                j = u[1]
            if value < 1e4:
                return None, j
            return Quantity(
                value,
                None,
                None,
                unit_,
                "gt",
                start,
                j,
                frozenset({"bare"} if unit_ is None else set()),
                counter,
                i,
            ), j
        a = self.amount(num_at, prefix_cur)
        if a is None:
            return None, num_at + 1
        if "ambiguous" in a.flags:
            return None, a.end
        flags = set(a.flags)
        if vague:
            flags.add("vague")
        qual, qstart, up_to = self.pre_qualifier(start)
        if up_to:
            flags.add("up_to")
        if qual is not None or up_to:
            start = qstart
        low = high = None
        end = a.end
        value = a.value
        unit_ = a.unit
        counter = a.counter
        # range: amount sep amount, sharing magnitude and unit
        r = self._range(a, prefix_cur)
        if r is not None:
            b, end = r
            lo, hi = a.value, b.value
            if a.mag is None and b.mag is not None:
                lo *= b.mag
            unit_ = unit_ or b.unit
            counter = counter or b.counter
            if lo < hi:
                low, high, value = lo, hi, (lo + hi) / 2
                flags |= b.flags
                if b.post_qual and qual is None:
                    qual = b.post_qual
            else:
                end = a.end
        elif a.post_qual and qual is None:
            qual = a.post_qual
        if unit_ is None and a.mag is None and not flags & {"vague"}:
            # a bare number without magnitude or unit is not a figure (years, list items, ages)
            return None, end
        if unit_ is None:
            flags.add("bare")
        if unit_ is None and a.mag is not None and a.mag < 1e4:
            return None, end
        return Quantity(
            value, low, high, unit_, qual, start, end, frozenset(flags), counter, a.num_start
        ), end

    def _range(self, a: _Amount, prefix_cur: str | None) -> tuple[_Amount, int] | None:
        t = self.t
        if a.post_qual is not None:
            return None
        j = a.unit_end
        k = self._skip_spaces(j) if t.startswith(" ", j) and not t.startswith((" to ", " and "), j) else j
        sep = self._startswith_any(k, _RX_RANGE_SEP)
        if sep is None:
            return None
        if sep in (" and ",) and "between" not in t[max(0, a.num_start - 40) : a.num_start]:
            return None
        k = self._skip_spaces(k + len(sep))
        pc = self.prefix_currency(k)
        cur2 = None
        if pc is not None:
            cur2, k = pc
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
        if a.mag is not None and b.mag is None and b.unit is None:
            return None
        if b.unit is None and a.unit is None and b.mag is None:
            return None
        return b, b.end


def _alternation(words: tuple[str, ...]) -> re.Pattern[str]:
    """One pattern matching any of ``words``, the longest first."""
    return re.compile("|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)))


_EN_COUNTERS = {"shares": "股", "share": "股"}
_YEAR_BEFORE = re.compile(r"(?<![\d,.])(?:19|20)\d\d\Z")
_EN_COUNT = re.compile(
    r" (?:[A-Za-z][\w-]*\d[\w-]* )?(?P<w>customers|clients|shares|chips|gpus|tpus|accelerators|wafers|"
    r"servers|units)(?![\w-])",
    re.IGNORECASE,
)
_DECIMALS = re.compile(r"\d{1,2}(?![\d.,])")
# characters that may follow a number that is a figure: magnitudes, units, range separators, qualifiers
_FOLLOW = frozenset(
    "十百千万亿兆多余%倍×至到~-–—－〜左上以/每吉"
    + "".join(_COUNTERS)
    + "".join(w[0] for w in _CUR_SUFFIX)
    + "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
)
_PRE_QUAL_MAP: dict[str, str | None] = dict(_PRE_QUAL)
_PRE_QUAL_LAST = frozenset(w.rstrip()[-1] for w, _ in _PRE_QUAL)
_PCT_UNIT = dict(_PCT)
_PRE_QUAL_RX = re.compile(
    "(?P<w>"
    + "|".join(
        (r"(?<![A-Za-z])" if w[0].isascii() else "") + re.escape(w.rstrip())
        for w, _ in sorted(_PRE_QUAL, key=lambda kv: len(kv[0]), reverse=True)
    )
    + r") *\Z"
)
_SORTED_CUR_PREFIX = tuple(sorted(_CUR_PREFIX, key=len, reverse=True))
_CUR_PREFIX_FIRST = frozenset(w[0] for w in _CUR_PREFIX)
_POWER_FIRST = frozenset(w[0] for w, _u, _f in _POWER)
_POST_QUAL_FIRST = frozenset(w[0] for w, _q in _POST_QUAL)
_RX_CUR_SUFFIX = _alternation(tuple(_CUR_SUFFIX))
_RX_PCT = _alternation(tuple(_PCT_UNIT))
_RX_NON_FIGURE = _alternation(_NON_FIGURE)
_RX_RANGE_SEP = _alternation(_RANGE_SEP)
_RX_NOT_MAGNITUDE = _alternation(("千兆瓦", "兆瓦", "千瓦", "兆赫", "兆字节", "兆位", "兆比特", "十分"))
_PER_UNIT = re.compile(
    r"(?:/|每)(?P<c>[颗片块台套个张股件])|\s?(?:per|a|/)\s?(?P<w>chip|unit|share|GPU|card)\b"
)


def find_quantities(text: str, *, repair_decimals: bool = False) -> list[Quantity]:
    """Every figure of ``text`` (already normalized), left to right, non-overlapping."""
    sc = _Scanner(text, repair_decimals)
    out: list[Quantity] = []
    pos = 0
    n = len(text)
    while pos < n:
        m = _SCAN.search(text, pos)
        if m is None:
            break
        q, resume = sc.quantity(m.start())
        if q is not None:
            out.append(q)
        pos = max(resume, m.start() + 1)
    return _floor_stretch(text, out)


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
                out[-1] = Quantity(
                    (prev.value + q.value) / 2, prev.value, q.value, q.unit, None, fl.start(), q.end,
                    frozenset(flags), q.counter or prev.counter, prev.num_start,
                )
                continue
        out.append(q)
    return out
