"""What the extractor knows about one article: its normalized text split into paragraphs, sentences
and clauses, its cues, company mentions and quantities, headings, currency declarations, and the
period of each sentence (found lazily, per fiscal year end).

A sentence ends at 。！？!?；; a line break, or an English full stop (not one of an abbreviation such as
``v.s.``, ``U.S.``, ``Inc.``); a clause also at commas, colons, parentheses and quotes, and at a space
between a figure or a Chinese word and the next Chinese word (``小鹏涨6% 百度跌3%``). A heading is a
line of its own without final punctuation (``Segment results``, ``新业务亏损扩大``): its figures count;
it names no topic for the sentences after it unless it names one company and nothing else (``■ 联发科``,
``**Infosys**``: the heading of a list of that company's figures, ``attribution.heading_company``).
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING

from metrics.extraction.cues import Cue
from metrics.extraction.fiscal import period_end
from metrics.extraction.lexicon import lexicon
from metrics.extraction.normalize import ascii_lower, has_odd_case
from metrics.extraction.periods import PeriodSpan, find_periods, period_needles

if TYPE_CHECKING:
    from metrics.extraction.entities import Mention
    from metrics.extraction.numbers import Quantity

__all__ = ["Context", "bounds", "in_parentheses"]

# Each scanning pattern opens with the class of characters its match can start with, so that the regex
# engine skips every other character in C; what follows checks that character (by a lookbehind that
# includes it). A full stop ends a sentence unless it closes an abbreviation (v.s., U.S., Inc.).
_ABBREV = (
    r"(?<!\bv\.s\.)(?<!\bvs\.)(?<!\bU\.S\.)(?<!\bInc\.)(?<!\bCorp\.)(?<!\bCo\.)(?<!\bLtd\.)(?<!\bNo\.)"
    r"(?<!\bMr\.)(?<!\bMs\.)(?<!\bDr\.)(?<!\be\.g\.)(?<!\bi\.e\.)(?<!\bSt\.)"
    # a month abbreviated in a date (the quarter ended Sept. 30, on Nov. 5)
    r"(?<!\bJan\.)(?<!\bFeb\.)(?<!\bMar\.)(?<!\bApr\.)(?<!\bAug\.)(?<!\bSep\.)(?<!\bSept\.)(?<!\bOct\.)"
    r"(?<!\bNov\.)(?<!\bDec\.)"
)
_SENT = re.compile(
    r"[。！？!?；;\n.\[\s](?:(?<=[。！？!?；;\n])|(?<=\.)"
    + _ABBREV
    + r"(?=\s)|(?<=\[)\d+\](?:\[\d+\])*|(?<=\s)[-*•●]\s)"
)
_CJK = "\u3000-\u9fff"
_NEWLINE = re.compile(r"\n")


# a clause ends at a punctuation mark, or at a space between a figure or a Chinese word and the next
# Chinese word
_CLAUSE_FAST = re.compile(
    r"[,，、:：()（）\[\]“”\"《》— ](?:(?<! )|(?<=[%" + _CJK + r"] )(?=[" + _CJK + "]))"
)
_HEADING_END = re.compile(r"[。！？!?；;.:：,，…”\"」』)）]\s*$")
_DECLARED = {w: c.code for c in lexicon().currencies for w in (*c.suffix, *c.prefix) if not w.isascii()}
_DECLARE = re.compile(
    r"[(（]\s*(?:单位[:：]\s*)?(?P<cur>"
    + "|".join(sorted(map(re.escape, _DECLARED), key=len, reverse=True))
    + r")\s*[,，.．、;；]?\s*(?:下同)?\s*[)）]"
)
_LEX_DECLARE = lexicon().declare
_QUARTERLY = re.compile(r"^(?:FY)?\d{4}(?:Q[1-4]|H[12]|-(?:[1-9]|1[01])M)$")


def bounds(rx: re.Pattern[str], text: str) -> list[int]:
    """The ends of the matches of ``rx`` (non-empty, non-overlapping: ascending, without repeats)."""
    return list(map(re.Match.end, rx.finditer(text)))


def _outside(cues: list[Cue], mentions: list[Mention]) -> list[Cue]:
    """The cues not inside a mention (both sorted by start; mentions do not overlap): each cue is
    checked against the last mention starting by its start, found by one merged walk."""
    out = []
    k = -1
    n = len(mentions)
    for c in cues:
        while k + 1 < n and mentions[k + 1].start <= c.start:
            k += 1
        if k >= 0 and c.end <= mentions[k].end:
            continue
        out.append(c)
    return out


MAX_SENTENCE = 400  # a longer run without a sentence end is cut (at a clause end where one is near)


def _split_long(sents: list[int], clauses: list[int], n: int) -> list[int]:
    """Sentence ends, with a run longer than ``MAX_SENTENCE`` characters cut into pieces: every look
    back the extractor makes within a sentence then costs a bounded time."""
    out: list[int] = []
    prev = 0
    for end in [*sents, n]:
        while end - prev > MAX_SENTENCE:
            i = bisect.bisect_right(clauses, prev + MAX_SENTENCE) - 1
            cut = clauses[i] if i >= 0 and clauses[i] > prev + MAX_SENTENCE // 2 else prev + MAX_SENTENCE
            out.append(cut)
            prev = cut
        if end < n:
            out.append(end)
        prev = end
    return out


def in_parentheses(text: str, pos: int, lo: int) -> bool:
    """Whether ``pos`` is inside parentheses opened after ``lo`` (an aside of the sentence)."""
    op = max(text.rfind("(", lo, pos), text.rfind("（", lo, pos))
    if op < 0:
        return False
    return max(text.rfind(")", op, pos), text.rfind("）", op, pos)) < 0


@dataclass(slots=True)
class Context:
    """One article's normalized text and what was found in it (see the module docstring)."""

    text: str
    body0: int
    cues: list[Cue]
    mentions: list[Mention]
    quantities: list[Quantity]
    published: date | None  # the reference date of relative periods
    main: Mention | None
    fiscal: bool  # the article names quarters fiscally
    sent_bounds: list[int] = field(default_factory=list)
    clause_bounds: list[int] = field(default_factory=list)
    line_bounds: list[int] = field(default_factory=list)
    headings: set[int] = field(default_factory=set)  # starts of heading lines
    declared: list[tuple[int, str]] = field(default_factory=list)  # (position, ISO code)
    cue_starts: list[int] = field(default_factory=list)
    mention_starts: list[int] = field(default_factory=list)
    q_starts: list[int] = field(default_factory=list)
    main_periods: dict[int, str | None] = field(default_factory=dict)  # by fiscal year end
    subjects: dict[tuple[int, int], Mention | None] = field(default_factory=dict)  # attribution's cache
    memo: dict[tuple[str, int, int], object] = field(default_factory=dict)  # other per-sentence answers
    # the cues of a set of roles (in the order of ``cues``) and their starts, built on first use
    _by_role: dict[frozenset[str], tuple[list[Cue], list[int]]] = field(default_factory=dict)
    _periods: dict[tuple[int, int], list[PeriodSpan]] = field(default_factory=dict)  # (sentence, fye)
    _heading_starts: list[int] = field(default_factory=list)  # the headings, sorted
    _needles: list[tuple[int, int, str]] = field(default_factory=list)  # period needles (found lazily)
    _needle_starts: list[int] | None = None
    low: str = ""  # the text with ASCII letters lowered (computed when not given)
    found_needles: list[tuple[int, int, str]] | None = None  # the period needles, when the caller has them
    odd_case: bool = False  # the text holds letters that IGNORECASE folds to ASCII (``has_odd_case``)

    def __post_init__(self) -> None:
        t = self.text
        if len(self.low) != len(t):
            self.low = ascii_lower(t)
        self.odd_case = has_odd_case(t)
        if self.mentions:  # a cue inside a company's name (理想汽车, 平安银行) is part of the name
            self.cues = _outside(self.cues, self.mentions)
        clauses = bounds(_CLAUSE_FAST, t)
        self.sent_bounds = _split_long(bounds(_SENT, t), clauses, len(t))
        # two ascending runs: sorting them merges (timsort), and the dict drops the repeats in order
        self.clause_bounds = list(dict.fromkeys(sorted(self.sent_bounds + clauses)))
        self.line_bounds = bounds(_NEWLINE, t)
        self.cue_starts = [c.start for c in self.cues]
        self.mention_starts = [m.start for m in self.mentions]
        self.q_starts = [q.start for q in self.quantities]
        pos = 0
        for end in [*self.line_bounds, len(t)]:
            line = t[pos:end].strip()
            if line and len(line) <= 80 and not _HEADING_END.search(line) and not line[-1].isdigit():
                self.headings.add(pos + (len(t[pos:end]) - len(t[pos:end].lstrip())))
            pos = end
        self._heading_starts = sorted(self.headings)
        for m in _DECLARE.finditer(t):
            if any(d in m.group() for d in _LEX_DECLARE):
                self.declared.append((m.start(), _DECLARED[m.group("cur")]))

    # -- segments
    def sentence(self, pos: int) -> tuple[int, int]:
        i = bisect.bisect_right(self.sent_bounds, pos)
        lo = self.sent_bounds[i - 1] if i > 0 else 0
        hi = self.sent_bounds[i] if i < len(self.sent_bounds) else len(self.text)
        return lo, hi

    def clause(self, pos: int, end: int) -> tuple[int, int]:
        i = bisect.bisect_right(self.clause_bounds, pos)
        lo = self.clause_bounds[i - 1] if i > 0 else 0
        j = bisect.bisect_left(self.clause_bounds, end)
        hi = self.clause_bounds[j] if j < len(self.clause_bounds) else len(self.text)
        return lo, hi

    def line(self, pos: int) -> tuple[int, int]:
        i = bisect.bisect_right(self.line_bounds, pos)
        lo = self.line_bounds[i - 1] if i > 0 else 0
        hi = self.line_bounds[i] if i < len(self.line_bounds) else len(self.text)
        return lo, hi

    def is_heading(self, lo: int, hi: int) -> bool:
        """Whether text[lo:hi] lies in a heading line."""
        l_lo, _ = self.line(lo)
        hs = self._heading_starts
        i = bisect.bisect_right(hs, lo) - 1  # the last heading starting by lo
        return i >= 0 and l_lo <= hs[i] and self.line(hi - 1)[0] == l_lo

    # -- lookups
    def folded(self, rx: re.Pattern[str], rx_anycase: re.Pattern[str]) -> tuple[re.Pattern[str], str]:
        """The pattern and text to search for lower-case words in any case: ``rx`` (case-sensitive, fast)
        over the lowered text, or ``rx_anycase`` (the same with IGNORECASE) over the text where it has
        letters that only IGNORECASE folds (offsets are the same in both texts)."""
        return (rx_anycase, self.text) if self.odd_case else (rx, self.low)

    def cues_in(self, lo: int, hi: int, roles: frozenset[str] | None = None) -> list[Cue]:
        """The cues that start in [lo, hi) and end by hi, of ``roles`` (all roles when None), in order."""
        if roles is None:
            cues, starts = self.cues, self.cue_starts
        else:
            got = self._by_role.get(roles)
            if got is None:  # the cues of these roles, selected once per article
                sel = [c for c in self.cues if c.role in roles]
                got = self._by_role[roles] = (sel, [c.start for c in sel])
            cues, starts = got
        i = bisect.bisect_left(starts, lo)
        j = bisect.bisect_left(starts, hi, i)
        return [c for c in cues[i:j] if c.end <= hi]

    def mentions_in(self, lo: int, hi: int) -> list[Mention]:
        """The mentions that start in [lo, hi), in order."""
        i = bisect.bisect_left(self.mention_starts, lo)
        return self.mentions[i : bisect.bisect_left(self.mention_starts, hi, i)]

    def quantities_in(self, lo: int, hi: int) -> list[Quantity]:
        """The quantities that start in [lo, hi), in order."""
        i = bisect.bisect_left(self.q_starts, lo)
        return self.quantities[i : bisect.bisect_left(self.q_starts, hi, i)]

    def declared_currency(self, pos: int) -> str | None:
        """The currency the article declared for what follows ("(人民币,下同)"), as of ``pos``."""
        found = None
        for p, code in self.declared:
            if p < pos:
                found = code
        return found

    def periods(self, lo: int, hi: int, fye: int) -> list[PeriodSpan]:
        """The period expressions inside text[lo:hi] for a company whose fiscal year ends in ``fye``
        (found once per sentence and fiscal year end)."""
        out: list[PeriodSpan] = []
        pos = lo
        while pos < hi:
            a, b = self.sentence(pos)
            found = self._periods.get((a, fye))
            if found is None:
                found = self._periods[(a, fye)] = find_periods(
                    self.text,
                    a,
                    b,
                    published=self.published,
                    fiscal_year_end=fye,
                    fiscal=self.fiscal,
                    present=self._needles_in(a, b),
                )
            out += [p for p in found if p.start >= lo and p.end <= hi]
            pos = max(b, pos + 1)
        return out

    def _needles_in(self, a: int, b: int) -> frozenset[str]:
        """The period needles inside text[a:b] (the whole text is searched once)."""
        if self._needle_starts is None:
            found = self.found_needles
            self._needles = period_needles(self.low) if found is None else sorted(found)
            self._needle_starts = [s for s, _e, _n in self._needles]
        i = bisect.bisect_left(self._needle_starts, a)
        j = bisect.bisect_left(self._needle_starts, b, i)
        return frozenset(n for _s, e, n in self._needles[i:j] if e <= b)

    def main_period(self, fye: int) -> str | None:
        """The article's main period for a company whose fiscal year ends in ``fye``: the first
        quarter, half or nine months its body names that has begun by the article date (else the
        first such year)."""
        if fye in self.main_periods:
            return self.main_periods[fye]
        first_year: str | None = None
        found: str | None = None
        pos = self.body0
        for end in [*(b for b in self.line_bounds if b > self.body0), len(self.text)]:
            for p in self.periods(pos, end, fye):
                if not p.period or p.carry or ".." in p.period or p.period == "ASOF":
                    continue
                pe = period_end(p.period, fye)
                if self.published is not None and pe is not None and pe > self.published:
                    continue
                if _QUARTERLY.match(p.period):
                    found = p.period
                    break
                first_year = first_year or p.period
            if found:
                break
            pos = end
        self.main_periods[fye] = found or first_year
        return self.main_periods[fye]
