"""Figures set against an earlier figure of their sentence: "营收820亿元,高于市场预期的800亿元",
"up from $640 million a year earlier", "去年则为3.2%", "较上季负8.5%", "That compares to $7.1 billion
in the same quarter last year" (the earlier sentence's figure, when a sentence opens with "that"/"这").

A figure with no noun of its own in its clause takes the metric of the last figure of the same kind of
unit before it when a comparison marker (``[[comparison]]`` in ``lexicon/kinds.toml``) stands between
them or right after it. The marker says what the figure is: the market's forecast (estimate, same
period), the company's own earlier forecast (guidance, same period), the same period a year earlier
(actual, the period a year before: "2023年同期" names the year), the quarter before (actual). A
marker with no kind of its own (高于, vs, compared with) makes an actual of the period it names
("较2024年第二季度的150亿元"), an estimate when the sentence (or the heading just before it) speaks
of estimates, else nothing. A list goes on with the same comparison ("2023年同期的12.5%和2024年
第四季度的13.1%"). A figure with a noun of its own keeps its metric; a marker before it in its clause
still gives its kind and period ("净亏损5亿元,去年同期为盈利8亿元").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from metrics.extraction.context import Context
from metrics.extraction.fiscal import previous_quarter, shift_year, with_year
from metrics.extraction.numbers import Quantity
from metrics.extraction.periods import PeriodSpan

if TYPE_CHECKING:
    from metrics.extraction.entities import Mention

__all__ = ["Anchor", "Comparison", "compare"]

_ORDER = ("estimate", "guidance", "prior_year", "prior_quarter", "link")
_YEAR_BEFORE = re.compile(r"((?:19|20)\d{2})\s*年?\s*\Z")
_OPENER = re.compile(r"\s*(?:that|this|which|这|此|这一数字|该数字)", re.IGNORECASE)
_CHAIN = re.compile(r"\s*(?:[,，、]|和|及|以及|与|,?\s*and)\s*(?:的|'s|in|of)?\s*", re.IGNORECASE)
_NOUNS = frozenset(("metric", "other", "scope"))


@dataclass(frozen=True, slots=True)
class Anchor:
    """An earlier figure of the sentence and what was stored for it."""

    q: Quantity
    unit_class: str | None
    metric: str
    period: str | None
    entity: Mention
    role: str | None = None  # the comparison it made, if any


@dataclass(frozen=True, slots=True)
class Comparison:
    metric: str
    kind: str
    period: str | None
    anchor: Anchor
    role: str


def _same_unit(a: str | None, b: str | None) -> bool:
    return a == b or {a, b} <= {"money", "bare"}


def compare(
    ctx: Context,
    q: Quantity,
    *,
    uc: str | None,
    s_lo: int,
    s_hi: int,
    anchors: list[Anchor],
    previous: list[Anchor],
    own: str | None = None,
) -> Comparison | None:
    """The comparison ``q`` makes with an earlier figure (see the module docstring), or None. With
    ``own`` (the metric ``q`` names itself) only a marker before ``q`` in its clause counts."""
    c_lo, _c_hi = ctx.clause(q.start, q.end)
    text = ctx.text
    if own is None and ctx.cues_in(c_lo, q.start, _NOUNS):
        return None
    same = [a for a in anchors if _same_unit(a.unit_class, uc)]
    if not same and own is None and _OPENER.match(text, s_lo):
        same = [a for a in previous if _same_unit(a.unit_class, uc)]
    if not same:
        return None
    anchor = same[-1]
    if own is not None and ctx.mentions_in(anchor.q.end, q.start):
        return None  # another company's figure: no comparison with the one before
    metric = own or anchor.metric
    fye = anchor.entity.company.fiscal_year_end
    explicit = [p for p in ctx.periods(max(anchor.q.end, c_lo), q.start, fye) if p.period]
    if anchor.role is not None and own is None and anchor.q.end <= q.start:
        rest = text[anchor.q.end : q.start]
        for p in reversed(explicit):
            rest = rest[: p.start - anchor.q.end] + rest[p.end - anchor.q.end :]
        if _CHAIN.fullmatch(rest):  # '…的12.5%和2024年第四季度的13.1%': the list goes on
            kind = anchor.role if anchor.role in ("estimate", "guidance") else "actual"
            return Comparison(metric, kind, _explicit(anchor, explicit) or anchor.period, anchor, anchor.role)
    lo = max(c_lo, anchor.q.end) if own is not None else (anchor.q.end if anchor.q.end <= q.start else s_lo)
    nxt = [x for x in ctx.quantities_in(q.end, s_hi) if x.start >= q.end]
    hi = q.start if own is not None else (nxt[0].start if nxt else s_hi)
    roles = ctx.cues_in(lo, q.start, frozenset(("cmp",))) + ctx.cues_in(
        q.end, max(hi, q.end), frozenset(("cmp",))
    )
    if own is not None:  # 'a loss of $360 million a year earlier': the year before, right after it
        roles += [
            c
            for c in ctx.cues_in(q.end, min(s_hi, q.end + 24), frozenset(("cmp",)))
            if c.name == "prior_year" and not text[q.end : c.start].strip()
        ]
    names = {c.name for c in roles}
    role = next((r for r in _ORDER if r in names), None)
    if role is None:
        return None
    period = anchor.period
    if role == "link":
        named = _explicit(anchor, explicit)
        if named is not None:
            return Comparison(metric, "actual", named, anchor, "link")
        if own is not None or not _speaks_of_estimates(ctx, s_lo, s_hi):
            return None
        role = "estimate"
    if role == "prior_year":
        marker = next(c for c in roles if c.name == "prior_year")
        y = _YEAR_BEFORE.search(text, max(0, marker.start - 8), marker.start)
        period = with_year(anchor.period, int(y.group(1))) if y else shift_year(anchor.period, -1)
    elif role == "prior_quarter":
        period = previous_quarter(anchor.period)
    kind = {"estimate": "estimate", "guidance": "guidance"}.get(role, "actual")
    return Comparison(metric, kind, period, anchor, role)


def _explicit(anchor: Anchor, explicit: list[PeriodSpan]) -> str | None:
    """A period named between the two figures other than the anchor's own."""
    for p in reversed(explicit):
        if p.period != anchor.period and not p.carry:
            return str(p.period)
    return None


def _speaks_of_estimates(ctx: Context, s_lo: int, s_hi: int) -> bool:
    """Whether the sentence, or the last non-blank line before it, names an estimate (LSEG 预估)."""
    lo = s_lo
    l_lo = ctx.line(s_lo)[0]
    k = l_lo - 1
    while k > 0:
        p_lo, _p_hi = ctx.line(k)
        if ctx.text[p_lo:k].strip():
            lo = p_lo
            break
        k = p_lo - 1
    return any(
        c.role == "estimate" or c.name == "estimate"
        for c in ctx.cues_in(lo, s_hi, frozenset(("estimate", "cmp")))
    )
