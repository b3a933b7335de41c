"""Words of change next to a figure (``lexicon/changes.toml``): the verb right before a percentage
(同比增长, rose; only fillers such as 了, 达, "by a" between), or after it in English ("a 12% increase",
"4% lower"), its direction, the base stated (yoy, qoq) and whether a 至/to makes the figure the new
level rather than the change; ``is_delta``: an amount that is a change of another one ("增加15亿元",
"by $5 billion to $70 billion"), not a level.
"""

from __future__ import annotations

import re

from metrics.extraction.context import Context
from metrics.extraction.cues import Cue
from metrics.extraction.numbers import Quantity

__all__ = [
    "base_of", "change_after", "change_before", "direction", "is_comparison", "is_delta", "listed_change",
    "verb_before_noun",
]

_CHANGE = frozenset(("change", "base"))
_FILL = (
    r"(?:\s+|了|幅|达|为|约|近|高达|到了|全日|盘中|盘后|一度|\b(?:by|a|an|whopping|just|only|slightly|"
    r"sharply|some|another|further|as much as|nearly|about|around|roughly|more than|almost|over|"
    r"approximately|up to|as many as|of|target|forecast|outlook|guidance|rate|between|in the range of|"
    r"in a range of)\b|幅度|率|目标|在|指引|预估|预期|预测|上调|下调|调高|调低|上修|下修)"
)
_GAP_CHANGE = re.compile(rf"(?:{_FILL})*", re.IGNORECASE)
_GAP_LEVEL = re.compile(rf"(?:{_FILL})*(?:至|到|\bto\b|\bat\b)(?:{_FILL})*", re.IGNORECASE)
_AFTER_CHANGE = re.compile(
    r"[\s-]*(?:(?:year-over-year|year-on-year|year over year|yoy|y/y|annual|sequential|quarter-over-quarter)"
    r"\s+)?$",
    re.IGNORECASE,
)
_BY = re.compile(r"\bby\s*\Z", re.IGNORECASE)
_BY_TO = re.compile(r"\s+to\s+(?:about\s+|roughly\s+)?(?:US\$|\$|€|£|HK\$|NT\$)?\d", re.IGNORECASE)


def change_before(ctx: Context, q: Quantity, lo: int) -> tuple[Cue, bool] | None:
    """The change word ending right before ``q`` (only fillers between): (cue, whether a 至/to
    between makes q the new level rather than the change)."""
    text = ctx.text
    best: tuple[Cue, bool] | None = None
    for c in ctx.cues_in(max(lo, q.start - 30), q.start, _CHANGE):
        if c.name in ("none", "yoy", "qoq") and is_comparison(ctx, c):
            continue  # 较上季负8.5%: a comparison with the quarter before, not a change
        gap = text[c.end : q.start]
        if _GAP_CHANGE.fullmatch(gap):
            level = False
        elif _GAP_LEVEL.fullmatch(gap):
            level = True
        else:
            continue
        if best is None or c.end > best[0].end or (c.end == best[0].end and c.role == "change"):
            best = (c, level)
    return best


def is_comparison(ctx: Context, base: Cue) -> bool:
    """A base word that is also a comparison marker and no verb of change (较上季, 较去年同期)."""
    same = ctx.cues_in(base.start, base.end)
    return any(c.role == "cmp" for c in same) and not any(
        c.role == "change" and c.name != "none" for c in same
    )


def change_after(ctx: Context, q: Quantity, hi: int) -> Cue | None:
    """An English change word after a percentage ('a 12% increase', '30% growth', '4% lower')."""
    for c in ctx.cues_in(q.end, min(hi, q.end + 30), frozenset(("change",))):
        if c.name != "none" and _AFTER_CHANGE.fullmatch(ctx.text, q.end, c.start) and c.start > q.end:
            return c
    return None


def direction(ctx: Context, change: Cue) -> str:
    names = {
        c.name
        for c in ctx.cues_in(change.start, change.end, frozenset(("change",)))
        if (c.start, c.end) == (change.start, change.end)
    }
    return "down" if "down" in names else "up" if "up" in names else "none"


_ADJACENT = re.compile(r"\s*")


def base_of(ctx: Context, q: Quantity, c_lo: int, c_hi: int) -> str | None:
    """yoy | qoq stated for the change of ``q``: a base word right after it ('5% sequentially and 20%
    year over year'), else the nearest one before it in its clause, else one after it; None when not
    stated."""
    after = ctx.cues_in(q.end, min(c_hi, q.end + 40), frozenset(("base",)))
    if after and _ADJACENT.fullmatch(ctx.text, q.end, after[0].start):
        return after[0].name
    before = ctx.cues_in(c_lo, q.start, frozenset(("base",)))
    if before:
        return before[-1].name
    return after[0].name if after else None


_VERB_NOUN = re.compile(r"\s+(?:its\s+|their\s+|the\s+)?(?:[a-z-]+\s+)?", re.IGNORECASE)


def verb_before_noun(ctx: Context, q: Quantity, c_lo: int) -> tuple[Cue, Cue] | None:
    """'grew revenue 34%', 'boosted its sales by 12%': (the verb of change, the metric noun between it
    and the percentage), for a percentage with no verb right before it."""
    nouns = ctx.cues_in(max(c_lo, q.start - 30), q.start, frozenset(("metric",)))
    if not nouns or not _GAP_CHANGE.fullmatch(ctx.text, nouns[-1].end, q.start):
        return None
    noun = nouns[-1]
    for c in reversed(ctx.cues_in(max(c_lo, noun.start - 24), noun.start, frozenset(("change",)))):
        if c.name in ("up", "down") and _VERB_NOUN.fullmatch(ctx.text, c.end, noun.start):
            return c, noun
    return None


_LIST_AND = re.compile(r"\s*(?:,|，|、|和|及|以及|and|, and)\s*\Z", re.IGNORECASE)


def listed_change(ctx: Context, q: Quantity, s_lo: int) -> tuple[Cue, bool] | None:
    """The change of the percentage listed right before ``q`` when that one states its own base
    ('up 4% from June and 30% from a year earlier', '月增5%、年增30%' is each its own verb): the
    same verb, for a figure that has none of its own."""
    before = [x for x in ctx.quantities_in(max(s_lo, q.start - 60), q.start) if x.end <= q.start]
    if not before or before[-1].unit != "pct":
        return None
    pq = before[-1]
    bases = ctx.cues_in(pq.end, q.start, frozenset(("base",)))
    if not bases or not _ADJACENT.fullmatch(ctx.text, pq.end, bases[0].start):
        return None
    if not _LIST_AND.fullmatch(ctx.text, bases[-1].end, q.start):
        return None
    ch = change_before(ctx, pq, max(s_lo, pq.start - 30))
    return ch if ch is not None and not ch[1] else None


def is_delta(ctx: Context, q: Quantity, lo: int) -> bool:
    """An amount that is a change, not a level: right after a verb of change ('增加15亿元', 'rose $2
    billion'), or 'by $5 billion to $70 billion'."""
    ch = change_before(ctx, q, lo)
    if ch is not None and not ch[1] and ch[0].role == "change" and ch[0].name != "none":
        return True
    return bool(_BY.search(ctx.text, max(0, q.start - 6), q.start)) and bool(_BY_TO.match(ctx.text, q.end))
