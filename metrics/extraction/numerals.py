"""Numerals and magnitudes of the quantity grammar: Arabic (1,234.5; ``43 5`` with a lost decimal
point), Chinese (三千五百, 两, 1.4万亿) and English magnitudes (billion, bn, m after a currency).

``NumberReader`` holds the text and reads one numeral or magnitude at a position; the unit and
quantity layers (``units.py``, ``numbers.py``) build on it. Runs are bounded: a numeral longer than
``MAX_DIGITS`` digits or ``MAX_CN`` Chinese numeral characters is no figure (and can never overflow).
"""

from __future__ import annotations

import re

from metrics.extraction.firstchar import skipping

__all__ = ["MAX_CN", "MAX_DIGITS", "NumberReader", "has_lost_decimals", "parse_chinese_numeral"]

MAX_DIGITS = 24  # digits of one Arabic numeral (with separators): larger is no figure
MAX_CN = 16  # characters of one Chinese numeral

DIGITS = {
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
SMALL = {"十": 10, "百": 100, "千": 1000}
CN_MAG = {"十": 1e1, "百": 1e2, "千": 1e3, "万": 1e4, "亿": 1e8, "兆": 1e12}
CN_NUM_CHARS = frozenset(DIGITS) | frozenset(SMALL) | {"万", "亿"}
EN_MAG = {
    "trillion": 1e12,
    "billion": 1e9,
    "million": 1e6,
    "thousand": 1e3,
    "crore": 1e7,  # Indian: 1 crore = 100 lakh = 10 million
    "crores": 1e7,
    "lakh": 1e5,
    "lakhs": 1e5,
    "cr": 1e7,  # 'Rs 5,000 cr' (after a currency only)
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
_BEFORE_CRORE = frozenset(("lakh", "lakhs", "thousand"))
_HYPHEN_MAG = ("crore", "lakh", "Crore", "Lakh")
EN_MAG_NEEDS_MONEY = frozenset(("m", "b", "k", "cr"))  # '5m', '3b' only right after a currency prefix
NOT_MAGNITUDE = re.compile("千兆瓦|兆瓦|千瓦|兆赫|兆字节|兆位|兆比特|十分")
_NOT_MAGNITUDE_FIRST = frozenset(w[0] for w in NOT_MAGNITUDE.pattern.split("|"))  # where it can match

# Western grouping (1,200,000), Indian grouping (12,00,000: lakhs and crores), plain digits (tried in
# that order: a Western group never matches the start of an Indian one)
ARABIC = re.compile(
    r"\d{1,3}(?:,\d{3})+(?![\d])(?:\.\d+)?|\d{1,2}(?:,\d{2})+,\d{3}(?![\d,])(?:\.\d+)?|\d+(?:\.\d+)?"
)
DECIMALS = re.compile(r"\d{1,2}(?![\d.,])")
# the lost-decimal defect: '43 5亿' (a figure) and 'DOCSIS 4 0' (a version); the letters are matched
# from the start of their run only (a lookbehind and a possessive run keep the search linear); a comma
# before the figure blocks it only as a thousands mark (normalized Chinese text has ASCII commas: ',43 5亿')
_LOST_FIG = re.compile(
    r"(?=\d)(?<![\d.])(?<!\d,)\d{1,3} \d{1,2}(?![\d.,])\s?(?:[万亿倍%股]|美元|英镑|欧元|元)"
)
# the same figures found by a scan that skips in C to the next digit (a pattern opening with a lookahead is
# tried at every position): a match consumes that digit and holds the figure in ``all``
_LOST_FIG_SCAN = re.compile(r"\d(?<=(?=(?P<all>" + _LOST_FIG.pattern + r")).)")
_DIGIT_SPACE_DIGIT = re.compile(r"\d \d")
_LOST_VER = re.compile(r"(?<![A-Za-z])[A-Za-z]{2,}+ \d{1,2} \d{1,2}(?![\d.%]|,\d)")
_LOST_VER_SCAN = skipping(_LOST_VER) or _LOST_VER  # hits where _LOST_VER matches (``firstchar``)


def has_lost_decimals(text: str) -> bool:
    """True when the text shows the lost-decimal-point defect (``5 5倍``).

    Evidence: a digit-space-digit in a non-figure context such as a version (``DOCSIS 4 0``), or at
    least two figure-like occurrences. Chinese text never writes spaces inside a number.
    """
    if _DIGIT_SPACE_DIGIT.search(text) is None:
        return False  # both kinds of evidence hold a digit, a space and a digit
    if _LOST_VER_SCAN.search(text):
        return _LOST_FIG_SCAN.search(text) is not None
    found = 0
    last = 0
    for m in _LOST_FIG_SCAN.finditer(text):
        if m.start() >= last:  # not inside the figure before it (as ``findall`` counts)
            found += 1
            if found == 2:
                return True
            last = m.end("all")
    return False


def parse_chinese_numeral(s: str) -> int | None:
    """Value of a Chinese numeral (``三千五百万`` -> 35000000, ``两`` -> 2); None if malformed."""
    if len(s) > MAX_CN:
        return None
    total = section = num = 0
    seen = False
    for ch in s:
        if ch in DIGITS:
            num = DIGITS[ch]
            seen = True
        elif ch in SMALL:
            section += (num or 1) * SMALL[ch]
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


class NumberReader:
    """Reads numerals and magnitudes in one text; each method returns (result, end) or None."""

    def __init__(self, text: str, repair: bool) -> None:
        self.t = text
        self.n = len(text)
        self.repair = repair

    def skip_spaces(self, i: int) -> int:
        while i < self.n and self.t[i] == " ":
            i += 1
        return i

    def latin_word_end(self, i: int) -> int:
        j = i
        while j < self.n and j - i < 40 and self.t[j].isascii() and self.t[j].isalpha():
            j += 1
        return j

    def unit_or_mag_follows(self, i: int) -> bool:
        """Whether a magnitude or unit follows at i (evidence that '43 5' lost its decimal point)."""
        raise NotImplementedError

    def number(self, i: int) -> tuple[float, int, set[str]] | None:
        """An Arabic or Chinese numeral at i (no magnitude): (value, end, flags)."""
        t = self.t
        if i < self.n and t[i].isdigit():
            m = ARABIC.match(t, i)
            if m is None or m.end() - i > MAX_DIGITS:
                return None
            raw = m.group()
            end = m.end()
            flags: set[str] = set()
            # lost decimal point: '43 5亿' -> 43.5 (only the integer part may precede the space)
            if "." not in raw and "," not in raw and t.startswith(" ", end):
                m2 = DECIMALS.match(t, end + 1)
                if m2 and self.unit_or_mag_follows(m2.end()):
                    if not self.repair:
                        return float(raw), m2.end(), {"ambiguous"}
                    return float(f"{raw}.{m2.group()}"), m2.end(), {"repaired"}
            return float(raw.replace(",", "")), end, flags
        j = i
        while j < self.n and t[j] in CN_NUM_CHARS and j - i <= MAX_CN:
            j += 1
        if j == i or j - i > MAX_CN:
            return None
        # split trailing magnitude chars so that '三千亿' parses as 3000 x 1e8
        core_end = j
        if not any(ch in "万亿" for ch in t[i:j].rstrip("万亿")):
            while core_end > i and t[core_end - 1] in "万亿":
                core_end -= 1
        core = t[i:core_end]
        v = parse_chinese_numeral(core) if core else None
        if v is None:
            return None
        return float(v), core_end, {"chinese"}

    def magnitude(self, i: int, money_prefix: bool) -> tuple[float, int] | None:
        """Chinese (万, 亿, 万亿, 兆, 千万...) or English (billion, bn, m) magnitude at i."""
        t = self.t
        j = self.skip_spaces(i) if self.t.startswith(" ", i) else i  # most often no space
        mag = 1.0
        k = j
        while k < self.n and t[k] in CN_MAG and k - j < 4:
            if t[k] in _NOT_MAGNITUDE_FIRST and NOT_MAGNITUDE.match(t, k):
                break
            mag *= CN_MAG[t[k]]
            k += 1
        if k > j:
            return mag, k
        if j < self.n and t[j] == "-" and t.startswith(_HYPHEN_MAG, j + 1):
            j += 1  # 'a Rs 1,200-crore plan', '₹1.2 lakh-crore'
        if j >= self.n or not (t[j].isascii() and t[j].isalpha()):
            return None  # no Latin word: no English magnitude
        w_end = self.latin_word_end(j)
        if w_end >= self.n or not t[w_end].isdigit():
            word = t[j:w_end]
            low = word.lower()
            if low in EN_MAG and (
                low not in EN_MAG_NEEDS_MONEY or (money_prefix and (j == i or low == "cr"))
            ):
                if low in ("m", "b", "k") and word not in ("m", "b", "k", "M", "B", "K"):
                    return None
                k = self.skip_spaces(w_end)
                if k < self.n and t[k] == "-" and k == w_end:
                    k += 1
                c_end = self.latin_word_end(k) if k > w_end else k
                if low in _BEFORE_CRORE and t[k:c_end].lower() in ("crore", "crores"):
                    return EN_MAG[low] * 1e7, c_end  # '5 lakh crore', '20 thousand crore'
                return EN_MAG[low], w_end
        return None
