"""Figures paired with a list by 分别 / "respectively": "甲和乙营收分别为X和Y", "甲、乙营收分别年增X%、Y%",
"revenue at A and B rose 5% and 8%, respectively": the i-th figure of the run belongs to the i-th
company listed, or states the i-th metric when the list is of metric nouns ("营收和净利润分别为X和Y").

A run is the figures of one unit class joined by list separators only, right after 分别 (Chinese) or
ending right before "respectively" (English); the list is the last run of two or more companies (or
metric nouns) joined by list separators before the marker or the run. Nothing is paired unless the
run and the list have the same length. A run of growth rates after a list of figures of metrics that
grow ("营收A亿元、净利润B亿元，同比分别增长X%和Y%", "revenue of $A and net income of $B, up X% and Y%,
respectively") pairs the i-th rate with the i-th figure's metric noun.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from metrics.extraction.change import base_of, change_after, change_before, direction
from metrics.extraction.classify import GROWTH_BASE, PCT_METRICS, REJECT, Reading, classify, unit_class
from metrics.extraction.cues import MONEY_METRICS

if TYPE_CHECKING:
    from metrics.extraction.context import Context
    from metrics.extraction.cues import Cue
    from metrics.extraction.entities import Mention
    from metrics.extraction.numbers import Quantity

__all__ = ["Respective", "respective", "respective_reading"]

_MARKER = re.compile(r"分别|respectively")  # over the lowered, normalized text
_SEPARATOR = r"\s*(?:[、,，/{amp}]|和|及|与|以及|\band\b|,\s*and\b)\s*"
_LISTED = re.compile(_SEPARATOR.format(amp="&"))  # between two items of a list
# between two figures of a run: a separator, with the verb or 为 said again at most
_RUN_SEP = re.compile(_SEPARATOR.format(amp="") + r"(?:为|达|是)?\s*")
# between 分别 and the run's first figure: a verb of the figure, or between the run and
# 'respectively': a comma and a few words ('year-on-year', 'in the quarter')
_MARKS = ("respective-marks", 0, 0)
_AFTER_MARKER = 12
_CHANGE = frozenset(("change",))
_BEFORE_MARKER = 40
_METRIC = frozenset(("metric",))
_NOUN_TO_FIGURE = 6  # '净利润为B亿元', '稅後純益達B億元'
_FIGURES_TO_MARKER = 40
# between the last figure of a list and the growth rates paired with it: a comma and a few words
# ('，同比', ', up', ' for the quarter, rising'), over the lowered text
_GAP_TO_MARKER = re.compile(
    r"(?:\s+(?:for|in)\s+the\s+(?:[a-z-]+\s+){0,2}(?:quarter|period|year|half|months))?\s*[,，;；]?\s*"
    r"(?:同比|按年|年比|year[- ]on[- ]year|up|down|rising|rose|growing|grew|increasing)?"
    r"\s*(?:by\s+)?[,，]?\s*"
)


@dataclass(frozen=True, slots=True)
class Respective:
    """``q`` is the ``index``-th figure of a run paired with ``companies`` or ``nouns``."""

    index: int
    first: Quantity
    companies: list[Mention] | None
    nouns: list[Cue] | None
    periods: list[tuple[int, int]] | None = None  # the spans of the periods listed


def _joined(ctx: Context, a: int, b: int) -> bool:
    """Whether text[a:b] joins two figures of a run: a separator, maybe with the next figure's own
    verb of change ('年增17%、下滑2%', 'up 5% and down 2%')."""
    sep = _RUN_SEP.match(ctx.text, a, b)
    if sep is None:
        return False
    if sep.end() == b:
        return True
    verbs = ctx.cues_in(sep.end(), b, _CHANGE)
    return len(verbs) == 1 and verbs[0].start == sep.end() and not ctx.text[verbs[0].end : b].strip()


def _runs(ctx: Context, qs: list[Quantity]) -> list[list[Quantity]]:
    runs: list[list[Quantity]] = []
    for q in qs:
        if runs and _joined(ctx, runs[-1][-1].end, q.start):
            runs[-1].append(q)
        else:
            runs.append([q])
    return runs


def _listed(ctx: Context, spans: list[tuple[int, int]], distinct: list[str]) -> list[int]:
    """The indexes of the last run of spans joined by list separators (two or more, all distinct)."""
    best: list[int] = []
    run: list[int] = []
    for i, (start, _end) in enumerate(spans):
        if run and _LISTED.fullmatch(ctx.text, spans[run[-1]][1], start):
            run.append(i)
        else:
            run = [i]
        if len(run) >= 2:
            best = list(run)
    if best and len({distinct[i] for i in best}) == len(best):
        return best
    return []


def _run(ctx: Context, m: re.Match[str], qs: list[Quantity]) -> tuple[list[Quantity], int]:
    """The run of figures a marker pairs, and where the list before it must end."""
    if m.group() == "分别":
        after = [q for q in qs if q.start >= m.end()]
        if after and after[0].start - m.end() <= _AFTER_MARKER:
            return _runs(ctx, after)[0], m.start()
        return [], m.start()
    before = [q for q in qs if q.end <= m.start()]
    if not before or m.start() - before[-1].end > _BEFORE_MARKER:
        return [], m.start()
    run = _runs(ctx, before)[-1]
    if ctx.quantities_in(run[-1].end, m.start()) or "." in ctx.text[run[-1].end : m.start()]:
        return [], m.start()  # another figure, or another sentence, between them
    return run, run[0].start


def _companies(ctx: Context, ms: list[Mention], n: int) -> list[Mention] | None:
    picked = _listed(ctx, [(x.start, x.end) for x in ms], [x.company.name for x in ms])
    return [ms[i] for i in picked] if len(picked) == n else None


def _figure_nouns(ctx: Context, s_lo: int, edge: int, run: list[Quantity]) -> list[Cue] | None:
    """The metric nouns of a list of figures right before the marker, one figure each, when each grows
    by its own rate ('营收A亿元、净利润B亿元，同比分别增长X%和Y%': X is revenue's growth, Y net
    income's): the i-th figure's noun pairs with the i-th change of the run."""
    n = len(run)
    figs = [q for q in ctx.quantities_in(s_lo, edge) if q.start < run[0].start][-n:]
    if len(figs) != n or edge - figs[-1].end > _FIGURES_TO_MARKER:
        return None
    text = ctx.text
    if ctx.cues_in(figs[-1].end, edge, _METRIC) or not _GAP_TO_MARKER.fullmatch(ctx.low, figs[-1].end, edge):
        return None
    nouns: list[Cue] = []
    for i, q in enumerate(figs):
        lo = figs[i - 1].end if i else ctx.clause(q.start, q.end)[0]
        cues = ctx.cues_in(lo, q.start, _METRIC)
        if len(cues) != 1 or q.start - cues[0].end > _NOUN_TO_FIGURE or cues[0].name not in GROWTH_BASE:
            return None
        if i and not _LISTED.fullmatch(text, lo, cues[0].start):
            return None  # the items are joined by a list separator ('A亿元、净利润B亿元')
        nouns.append(cues[0])
    return nouns if len({c.name for c in nouns}) == n else None


def _pairing(ctx: Context, s_lo: int, s_hi: int, uc: str | None) -> dict[int, Respective]:
    qs = [q for q in ctx.quantities_in(s_lo, s_hi) if unit_class(q) == uc]
    out: dict[int, Respective] = {}
    for m in _MARKER.finditer(ctx.low, s_lo, s_hi):
        run, edge = _run(ctx, m, qs)
        if len(run) < 2:
            continue
        companies = _companies(ctx, ctx.mentions_in(s_lo, edge), len(run))
        if companies is None and m.group() != "分别":
            # 'rose 5% and 8% at Infosys and TCS, respectively': the list between the run and the marker
            companies = _companies(ctx, ctx.mentions_in(run[-1].end, m.start()), len(run))
        nouns = None
        periods = None
        if companies is None:
            cues = ctx.cues_in(s_lo, edge, frozenset(("metric",)))
            got = _listed(ctx, [(c.start, c.end) for c in cues], [c.name for c in cues])
            nouns = [cues[i] for i in got] if len(got) == len(run) else None
        if companies is None and nouns is None and uc == "pct":
            nouns = _figure_nouns(ctx, s_lo, edge, run)
        if companies is None and nouns is None:
            # '2024年和2025年营收分别为X和Y', 'in 2023 and 2024 … respectively': the i-th period
            spans = [(p.start, p.end) for p in ctx.periods(s_lo, edge, 12) if p.period and not p.carry]
            got = _listed(ctx, spans, [ctx.text[a:b] for a, b in spans])
            periods = [spans[i] for i in got] if len(got) == len(run) else None
            if periods is None:
                continue
        for i, q in enumerate(run):  # each marker pairs its own run ('营收分别为…，净利润分别为…')
            out.setdefault(q.start, Respective(i, run[0], companies, nouns, periods))
    return out


def _find_all(low: str) -> list[int]:
    """Where the markers start in ``low`` (``str.find`` runs in C, faster than a regex scan here)."""
    out: list[int] = []
    for word in ("分别", "respectively"):
        i = low.find(word)
        while i >= 0:
            out.append(i)
            i = low.find(word, i + 1)
    return sorted(out)


def respective(ctx: Context, q: Quantity, s_lo: int, s_hi: int) -> Respective | None:
    """How ``q`` is paired with a list by 分别 / respectively, if it is."""
    marks = ctx.memo.get(_MARKS)
    if marks is None:  # the article's markers, found once
        marks = ctx.memo[_MARKS] = _find_all(ctx.low)
    assert isinstance(marks, list)
    if not marks:
        return None
    i = bisect.bisect_left(marks, s_lo)
    if i == len(marks) or marks[i] >= s_hi:
        return None
    uc = unit_class(q)
    key = ("respective:" + str(uc), s_lo, s_hi)
    found = ctx.memo.get(key)
    if found is None:
        found = ctx.memo[key] = _pairing(ctx, s_lo, s_hi, uc)
    assert isinstance(found, dict)
    return found.get(q.start)


def _change_of(ctx: Context, q: Quantity) -> Cue | None:
    c_lo, c_hi = ctx.clause(q.start, q.end)
    ch = change_before(ctx, q, max(0, c_lo - 12))
    if ch is not None:
        return None if ch[1] else ch[0]
    return change_after(ctx, q, c_hi)


def respective_reading(
    ctx: Context, q: Quantity, resp: Respective, reading: Reading | None, s_lo: int
) -> Reading | None:
    """The reading of a figure paired by 分别 / respectively: a later figure of the run reads as the
    first ('同比增长10%和12%'); with a list of metric nouns, the i-th noun's metric (its growth when
    the run states changes: '营收和净利润分别增长10%和下降5%')."""
    uc = unit_class(q)
    if resp.nouns is not None:
        noun = resp.nouns[resp.index]
        if uc == "pct":
            change = _change_of(ctx, q) or _change_of(ctx, resp.first)
            if change is not None:
                c_lo, c_hi = ctx.clause(q.start, q.end)
                if base_of(ctx, q, c_lo, c_hi) == "qoq" or noun.name not in GROWTH_BASE:
                    return REJECT
                negate = change.role == "change" and direction(ctx, change) == "down"
                return Reading(GROWTH_BASE[noun.name], change, negate)
            return Reading(noun.name, noun) if noun.name in PCT_METRICS else reading
        if uc in ("money", "bare") and noun.name in MONEY_METRICS:
            return Reading(noun.name, noun)
        return reading
    if reading is not None or resp.index == 0:
        return reading
    c_lo, c_hi = ctx.clause(resp.first.start, resp.first.end)
    first = classify(ctx, resp.first, s_lo, c_lo, c_hi)
    return None if first is REJECT else first
