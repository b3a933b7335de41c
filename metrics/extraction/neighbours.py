"""Figures that take their metric from their neighbours: the new level after a change ("rose 5% to
$9 billion", "增长8%至120亿元"), both ends of "from X to Y", a clause continuing its sentence's metric
("…先后下调至1.8亿美元"), the last figure of an enumeration that names it ("$20 billion, $45 billion and
$80 billion in revenue"), a count continuing a count ("从30万颗提高到40万、50万", never across 相当于,
可满足, for); and the bookkeeping of an article's facts: a repeated figure is one fact, and "下降2%到
成长6%" (a fall to a rise) one range.
"""

from __future__ import annotations

import re
from dataclasses import replace

from metrics.extraction.classify import GROWTH_BASE, Reading, is_delta, money_cue, unit_class
from metrics.extraction.compare import Anchor
from metrics.extraction.context import Context
from metrics.extraction.cues import MONEY_METRICS
from metrics.extraction.facts import Fact
from metrics.extraction.numbers import Quantity

__all__ = ["add_fact", "carries_unit", "fallback_reading", "merge_range"]

_TO_LEVEL = re.compile(
    r"\s*(?:year-over-year|year-on-year|yoy|y/y|同比)?\s*[,，]?\s*(?:至|到|to|录得|达到|达|为|reaching|at)\s*",
    re.IGNORECASE,
)
_FROM_TO = re.compile(r"\s*(?:in\s+\w+(?:\s+\d{4})?\s*)?(?:to|至|到)\s*", re.IGNORECASE)
_FROM = re.compile(r"(?:\bfrom|从|由)\s*\Z", re.IGNORECASE)
_LIST_SEP = re.compile(
    r"\s*(?:[,，、]\s*)?(?:and|和|及|以及|与)?\s*(?:eventually|finally|then|再)?\s*", re.IGNORECASE
)
# between two figures of one enumeration or one from-to: separators and verbs of change only (a unit
# never carries across 相当于, 可满足, for ...)
_ENUMERATION = re.compile(
    r"[\s、,，/和及与或至到“”\"]*(?:[\u4e00-\u9fff]{0,2}?(?:提高|提升|增加|增长|扩大|下调|上调|降低|减少|降|增|升)"
    r"(?:到|至)?|(?:冲刺|保底|最高|上看|and|or|to|from))?[\s、,，/和及与或至到“”\"]*"
)
_CONTINUES = re.compile(r"(?:至|到|为|达|占|减少|增加|降|升|和|及|或|\bto|\bat|\bof|\bfrom)\s*$")
_LEADING_PERIOD = re.compile(
    r"^(?:(?:19|20)\d{2}\s*年?(?:度|底|末|初)?|今年|去年|明年|[上下]半年|第?[一二三四1-4]季度|Q[1-4])\s*"
)
_BASE_OF = {v: k for k, v in GROWTH_BASE.items()}
# a part of the figure before ('…47.4万亿韩元，其中半导体领域约40.9万亿韩元', 'of which $30 billion')
_OF_WHICH = re.compile(r"\s*(?:其中|当中|of which)", re.IGNORECASE)


def add_fact(
    facts: list[Fact], heads: list[bool], seen: dict[tuple[object, ...], list[int]], fact: Fact, heading: bool
) -> None:
    """Add ``fact`` unless it repeats one: the same company, metric, value and kind said again (for the
    same period, or without one: a period stated the second time is kept)."""
    key = (fact.entity, fact.metric, round(fact.value, 6), fact.low, fact.high, fact.qualifier, fact.kind)
    for k in seen.get(key, []):
        old = facts[k]
        if old.period is None and fact.period is not None:
            facts[k] = replace(old, period=fact.period)
            return
        if fact.period in (None, old.period):
            return
    seen.setdefault(key, []).append(len(facts))
    facts.append(fact)
    heads.append(heading)


_DOWN_TO_UP = re.compile(r"\s*(?:到|至|to)\s*$", re.IGNORECASE)


def merge_range(ctx: Context, last: Anchor, anchor: Anchor, facts: list[Fact]) -> bool:
    """'下降2%到成长6%' (a fall to a rise): one range from -2 to 6, stored over the first."""
    f0 = facts[-1]
    if (
        last.metric != anchor.metric
        or last.unit_class != "pct"
        or anchor.unit_class != "pct"
        or f0.value >= 0
    ):
        return False
    gap_end = anchor.q.start
    changes = ctx.cues_in(last.q.end, gap_end, frozenset(("change",)))
    if not changes or not _DOWN_TO_UP.match(ctx.text[last.q.end : changes[0].start]):
        return False
    hi = anchor.q.value
    facts[-1] = replace(
        f0,
        value=(f0.value + hi) / 2,
        low=f0.value,
        high=hi,
        quote=ctx.text[f0.span_start : anchor.q.end],
        span_end=anchor.q.end,
    )
    return True


def _continues(prefix: str) -> bool:
    """A clause that only continues the sentence's metric ('先后下调至', '2015年', '、')."""
    p = _LEADING_PERIOD.sub("", prefix.strip(" 、,")).strip()
    return not p or (len(p) <= 14 and bool(_CONTINUES.search(p)))


def fallback_reading(
    ctx: Context,
    q: Quantity,
    *,
    s_lo: int,
    c_lo: int,
    c_hi: int,
    anchors: list[Anchor],
    prev: tuple[Quantity, str | None] | None,
) -> Reading | None:
    """A metric for a figure that names none: the level after a change, a continued clause, the end
    of an enumeration, a count continuing a count."""
    uc = unit_class(q)
    text = ctx.text
    if uc in ("money", "bare"):
        if is_delta(ctx, q, c_lo):
            return None
        if (
            anchors
            and anchors[-1].metric in _BASE_OF
            and _TO_LEVEL.fullmatch(text, anchors[-1].q.end, q.start)
        ):
            return Reading(_BASE_OF[anchors[-1].metric])
        if (
            anchors
            and anchors[-1].unit_class == uc
            and _FROM.search(text, max(0, anchors[-1].q.start - 6), anchors[-1].q.start)
            and _FROM_TO.fullmatch(text, anchors[-1].q.end, q.start)
        ):
            return Reading(anchors[-1].metric)  # 'from $2bn in March to $5bn': both of one metric
        head = text[c_lo : q.start]
        if (_continues(head) or _OF_WHICH.match(head)) and not ctx.cues_in(
            c_lo, q.start, frozenset(("metric", "other"))
        ):
            cues = [c for c in ctx.cues_in(s_lo, c_lo, frozenset(("metric",))) if c.name in MONEY_METRICS]
            if cues:
                return Reading(cues[-1].name, cues[-1])
        last = q
        for nxt in ctx.quantities_in(q.end, c_hi + 200):
            if unit_class(nxt) != uc or not _LIST_SEP.fullmatch(text, last.end, nxt.start):
                break
            last = nxt
        if last is not q:
            cue = money_cue(ctx, last, (last.start, ctx.clause(last.start, last.end)[1]))
            if (
                cue is not None
                and cue.role == "metric"
                and cue.start >= last.end
                and cue.name in MONEY_METRICS
            ):
                return Reading(cue.name)
    return None


def carries_unit(ctx: Context, q: Quantity, s_lo: int, prev: tuple[Quantity, str | None] | None) -> bool:
    """Whether the bare amount q continues an enumeration that the previous figure, a count or power,
    opened ('从40万颗提高到50万、60万'): it is then a figure of the same unit and metric."""
    if prev is None or not prev[1] or "bare" not in q.flags or q.unit is not None:
        return False
    pq = prev[0]
    end = pq.end
    if pq.counter and pq.counter.isascii():  # '19 million units from 15 million': past the counter
        gap = ctx.text[end : q.start]
        k = gap.lower().find(pq.counter)
        if k >= 0 and not gap[:k].strip():
            end += k + len(pq.counter)
    return (
        pq.unit in ("count", "GW", "MW")
        and pq.start >= s_lo
        and q.start - end <= 12
        and _ENUMERATION.fullmatch(ctx.text, end, q.start) is not None
    )
