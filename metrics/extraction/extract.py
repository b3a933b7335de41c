"""Company figures of one article: quantities + metrics + companies + kinds + periods -> facts.

For each quantity of the article body (``numbers.py``) the extractor reads the metric it states
(``classify.py``); a figure with no metric of its own may still take one: the new level after a change
("rose 5% to $9 billion"), a comparison with an earlier figure (``compare.py``), a clause continuing
its sentence's metric ("…先后下调至1.75亿美元"), the last figure of an enumeration that names it
("$20 billion, $45 billion and $80 billion in revenue"), a count continuing a count ("从40万颗提高到
50万"). Then the company (``attribution.py``) and the period, kind and currency (``statement.py``).
A figure repeated with the same value in one article is one fact.

Offsets: the text is normalized once per document (same length as the original), so every quantity's
offsets are offsets into ``article.doc.text``; ``quote`` is the original text there.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, replace
from datetime import date
from functools import lru_cache
from typing import TYPE_CHECKING

from metrics.extraction.attribution import resolve_companies, sentence_topic
from metrics.extraction.classify import GROWTH_BASE, REJECT, Reading, classify, is_delta, money_cue, unit_class
from metrics.extraction.compare import Anchor, compare
from metrics.extraction.context import Context, in_parentheses
from metrics.extraction.cues import MONEY_METRICS, Cue, cue_index
from metrics.extraction.documents import is_caption
from metrics.extraction.lexicon import lexicon
from metrics.extraction.normalize import normalize
from metrics.extraction.numbers import Quantity, find_quantities, has_lost_decimals
from metrics.extraction.periods import labels_fiscal_quarters
from metrics.extraction.statement import currency_of, kind_of, period_of

if TYPE_CHECKING:
    from metrics.extraction.documents import Article
    from metrics.extraction.entities import Mention, Registry

__all__ = ["Fact", "extract_article", "extract_text"]


@dataclass(frozen=True, slots=True)
class Fact:
    """One company figure stated in a document (fields as in gold/SCHEMA.md)."""

    entity: str
    ticker: str | None
    metric: str
    value: float
    low: float | None
    high: float | None
    qualifier: str | None
    unit: str | None
    period: str | None
    kind: str
    quote: str
    span_start: int
    span_end: int
    repaired: bool = False


@lru_cache(maxsize=1)
def _doc_view(text: str) -> tuple[str, bool]:
    """Normalized text and lost-decimal evidence of a document, cached for its articles (keyed on the
    text itself: a key on ``id(text)`` could hand a later document of the same length this one's view)."""
    norm = normalize(text)
    return norm, has_lost_decimals(norm)


def extract_article(article: Article, registry: Registry) -> list[Fact]:
    """The company figures of one article; spans index ``article.doc.text``."""
    text = article.doc.text
    norm, repair = _doc_view(text)
    start = article.start
    seg = norm[start : article.end]
    head = article.headline.strip() if article.headline else ""
    main: Mention | None = None
    if article.body >= 0:
        body0 = article.body - start
    else:
        body0 = 0
        k = text[start : article.end].find(head[: max(4, min(len(head), 12))]) if head else -1
        if 0 <= k <= 8:
            # the headline opens the article: skip it, its companies are found with the body's
            nl = text.find("\n", start + k, article.end)
            body0 = nl + 1 - start if nl >= 0 else 0
    if head:
        head_ms = [m for m in registry.find(normalize(head)) if not m.ambiguous]
        main = head_ms[0] if head_ms else None
    reference = article.published or article.reference
    fiscal = labels_fiscal_quarters(normalize(head) + "\n" + seg)
    facts = _extract(seg, body0, registry=registry, published=reference, repair=repair, main=main, fiscal=fiscal)
    return [_in_text(f, text, start) for f in facts]


def extract_text(text: str, registry: Registry, *, published: date | None = None) -> list[Fact]:
    """The company figures of a plain text (one article, no headline); spans index ``text``."""
    norm = normalize(text)
    facts = _extract(norm, 0, registry=registry, published=published, repair=has_lost_decimals(norm),
                     fiscal=labels_fiscal_quarters(norm))
    return [_in_text(f, text, 0) for f in facts]


def _in_text(f: Fact, text: str, offset: int) -> Fact:
    s, e = f.span_start + offset, f.span_end + offset
    return replace(f, quote=text[s:e], span_start=s, span_end=e)


_MULTIPLES = lexicon().multiples
_MULTIPLE_RX = re.compile("|".join(re.escape(w) for w in sorted(_MULTIPLES, key=len, reverse=True)), re.IGNORECASE)


_COMPANY_TAIL = re.compile(r"\s*(?:公司|集团|股价|股份|\(|（|inc\b|corp\b|shares)", re.IGNORECASE)


def _mentions(found: list[Mention], cues: list[Cue], text: str) -> list[Mention]:
    """The company mentions to use: the unambiguous ones, and an ambiguous name (苹果, 广达 are also
    words) when the text names that company unambiguously too, or speaks of figures right after it
    (苹果第四季营收…), or calls it a company (广达公司)."""
    sure = {m.company.name for m in found if not m.ambiguous}
    starts = [c.start for c in cues]
    out = []
    for m in found:
        if m.ambiguous and m.company.name not in sure and not _COMPANY_TAIL.match(text, m.end):
            i = bisect.bisect_left(starts, m.end)
            near = cues[i:i + 8]
            if not any(c.start - m.end <= 12 and c.role in ("metric", "change") for c in near):
                continue
        out.append(m)
    return out


def _quantities(text: str, repair: bool) -> list[Quantity]:
    """The figures of the text, with growth said as a word (翻倍, tripled) as multiples."""
    qs = find_quantities(text, repair_decimals=repair)
    words = [Quantity(_MULTIPLES[m.group().lower()], None, None, "x", None, m.start(), m.end(),
                      frozenset({"word"}), None, m.start()) for m in _MULTIPLE_RX.finditer(text)]
    return sorted(qs + words, key=lambda q: q.start) if words else qs


def _extract(text: str, body0: int, *, registry: Registry, published: date | None, repair: bool,
             main: Mention | None = None, fiscal: bool = False) -> list[Fact]:
    cues = cue_index().find(text)
    mentions = _mentions(registry.find(text), cues, text)
    if main is None and body0 > 0:
        main = next((m for m in mentions if m.end <= body0), None)
    quantities = [q for q in _quantities(text, repair) if q.start >= body0]
    ctx = Context(text, body0, cues, mentions, quantities, published, main, fiscal)
    facts: list[Fact] = []
    heads: list[bool] = []  # whether each fact was said in a heading
    seen: dict[tuple[object, ...], list[int]] = {}
    topic: Mention | None = None
    last_sent = (-1, -1)
    anchors: list[Anchor] = []
    previous: list[Anchor] = []
    prev: tuple[Quantity, str | None] | None = None
    for q in quantities:
        s_lo, s_hi = ctx.sentence(q.start)
        if (s_lo, s_hi) != last_sent:
            pos = last_sent[0] if last_sent[0] >= 0 else body0
            while pos < s_lo:
                a, b = ctx.sentence(pos)
                topic = sentence_topic(ctx, max(a, pos), min(b, s_lo), topic)
                pos = max(b, pos + 1)
            last_sent = (s_lo, s_hi)
            previous, anchors = anchors or previous, []
        got, q_used = _facts_for(ctx, q, s_lo, s_hi, topic, anchors, previous, prev)
        heading = ctx.is_heading(s_lo, s_hi)
        for fact, anchor in got:
            if anchors and facts and _merge_range(ctx, anchors[-1], anchor, facts):
                continue
            anchors.append(anchor)
            _add(facts, heads, seen, fact, heading)
        prev = (q_used, got[0][0].metric if got else None)
    return facts


_TO_LEVEL = re.compile(
    r"\s*(?:year-over-year|year-on-year|yoy|y/y|同比)?\s*[,，]?\s*(?:至|到|to|录得|达到|达|为|reaching|at)\s*", re.IGNORECASE)
_FROM_TO = re.compile(r"\s*(?:in\s+\w+(?:\s+\d{4})?\s*)?(?:to|至|到)\s*", re.IGNORECASE)
_FROM = re.compile(r"(?:\bfrom|从|由)\s*\Z", re.IGNORECASE)
_LIST_SEP = re.compile(r"\s*(?:[,，、]\s*)?(?:and|和|及|以及|与)?\s*(?:eventually|finally|then|再)?\s*", re.IGNORECASE)
_LIST_BREAK = re.compile(r"[。！？!?;；\n\d]")
_CONTINUES = re.compile(r"(?:至|到|为|达|减少|增加|降|升|和|及|或|\bto|\bat|\bof|\bfrom)\s*$")
_LEADING_PERIOD = re.compile(
    r"^(?:(?:19|20)\d{2}\s*年?(?:度|底|末|初)?|今年|去年|明年|[上下]半年|第?[一二三四1-4]季度|Q[1-4])\s*"
)
_BASE_OF = {v: k for k, v in GROWTH_BASE.items()}


def _add(facts: list[Fact], heads: list[bool], seen: dict[tuple[object, ...], list[int]], fact: Fact,
         heading: bool) -> None:
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


def _merge_range(ctx: Context, last: Anchor, anchor: Anchor, facts: list[Fact]) -> bool:
    """'下降2%到成长6%' (a fall to a rise): one range from -2 to 6, stored over the first."""
    f0 = facts[-1]
    if last.metric != anchor.metric or last.unit_class != "pct" or anchor.unit_class != "pct" or f0.value >= 0:
        return False
    gap_end = anchor.q.start
    changes = ctx.cues_in(last.q.end, gap_end, frozenset(("change",)))
    if not changes or not _DOWN_TO_UP.match(ctx.text[last.q.end : changes[0].start]):
        return False
    hi = anchor.q.value
    facts[-1] = replace(f0, value=(f0.value + hi) / 2, low=f0.value, high=hi,
                        quote=ctx.text[f0.span_start : anchor.q.end], span_end=anchor.q.end)
    return True


def _continues(prefix: str) -> bool:
    """A clause that only continues the sentence's metric ('先后下调至', '2015年', '、')."""
    p = _LEADING_PERIOD.sub("", prefix.strip(" 、,")).strip()
    return not p or (len(p) <= 14 and bool(_CONTINUES.search(p)))


def _fallback(ctx: Context, q: Quantity, s_lo: int, c_lo: int, c_hi: int, anchors: list[Anchor],
              prev: tuple[Quantity, str | None] | None) -> Reading | None:
    """A metric for a figure that names none: the level after a change, a continued clause, the end
    of an enumeration, a count continuing a count."""
    uc = unit_class(q)
    text = ctx.text
    if uc in ("money", "bare"):
        if is_delta(ctx, q, c_lo):
            return None
        if anchors and anchors[-1].metric in _BASE_OF and _TO_LEVEL.fullmatch(text, anchors[-1].q.end, q.start):
            return Reading(_BASE_OF[anchors[-1].metric])
        if anchors and anchors[-1].unit_class == uc and _FROM.search(text, max(0, anchors[-1].q.start - 6),
                                                                      anchors[-1].q.start) and _FROM_TO.fullmatch(
                text, anchors[-1].q.end, q.start):
            return Reading(anchors[-1].metric)  # 'from $2bn in March to $5bn': both of one metric
        if _continues(text[c_lo : q.start]) and not ctx.cues_in(c_lo, q.start, frozenset(("metric", "other"))):
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
            if cue is not None and cue.role == "metric" and cue.start >= last.end and cue.name in MONEY_METRICS:
                return Reading(cue.name)
    return None


def _carries_unit(ctx: Context, q: Quantity, s_lo: int, prev: tuple[Quantity, str | None] | None) -> bool:
    """Whether the bare amount q continues an enumeration that the previous figure, a count or power,
    opened ('从40万颗提高到50万、60万'): it is then a figure of the same unit and metric."""
    if prev is None or not prev[1] or "bare" not in q.flags or q.unit is not None:
        return False
    pq = prev[0]
    return (pq.unit in ("count", "GW", "MW") and pq.start >= s_lo and q.start - pq.end <= 12
            and _LIST_BREAK.search(ctx.text, pq.end, q.start) is None)


def _facts_for(ctx: Context, q: Quantity, s_lo: int, s_hi: int, topic: Mention | None, anchors: list[Anchor],
               previous: list[Anchor], prev: tuple[Quantity, str | None] | None,
               ) -> tuple[list[tuple[Fact, Anchor]], Quantity]:
    if "vague" in q.flags or is_caption(ctx.text[s_lo:s_hi]):
        return [], q
    c_lo, c_hi = ctx.clause(q.start, q.end)
    reading: Reading | None = None
    if unit_class(q) != "pct" and in_parentheses(ctx.text, q.start, s_lo):
        return [], q  # an aside (约新台币300亿元): only a change in parentheses counts (同比+12%)
    if prev is not None and prev[1] and _carries_unit(ctx, q, s_lo, prev):
        q = replace(q, unit=prev[0].unit, counter=prev[0].counter, flags=q.flags - {"bare"})
        reading = Reading(prev[1])
    else:
        reading = classify(ctx, q, s_lo, c_lo, c_hi)
    if reading is REJECT or (reading is None and unit_class(q) in ("money", "bare") and is_delta(ctx, q, c_lo)):
        return [], q
    cmp = None
    if reading is None:
        cmp = compare(ctx, q, unit_class(q), s_lo, s_hi, anchors, previous)
        if cmp is not None:
            reading = Reading(cmp.metric)
    elif reading.metric not in ("share_price_change",):
        cmp = compare(ctx, q, unit_class(q), s_lo, s_hi, anchors, previous, own=reading.metric)
    if reading is None:
        reading = _fallback(ctx, q, s_lo, c_lo, c_hi, anchors, prev)
    if reading is None:
        return [], q
    metric = reading.metric
    if cmp is not None and cmp.metric == reading.metric and reading.cue is None:
        companies = [cmp.anchor.entity]
    else:
        companies = resolve_companies(ctx, q.start, s_lo, c_lo, topic, brand=metric == "unit_price")
    value, low, high = q.value, q.low, q.high
    if reading.negate:
        value, low, high = -value, (-high if high is not None else None), (-low if low is not None else None)
    out = []
    for m in companies:
        company = m.company  # type: ignore[attr-defined]
        unit = reading.unit or q.unit
        if metric in MONEY_METRICS:
            unit = currency_of(ctx, q, company)
            if unit is None:
                continue
        elif unit is None:
            continue
        if cmp is not None:
            period, kind = cmp.period, cmp.kind
        else:
            period = period_of(ctx, q, s_lo, c_lo, metric, company)
        metric_f = metric
        if metric in ("capex", "investment_commitment"):
            metric_f = _capex_or_commitment(ctx, q, reading, period, c_hi)
        if cmp is None:
            m_end = m.end if m.end <= q.start else s_lo  # type: ignore[attr-defined]
            kind = kind_of(ctx, metric_f, q, max(s_lo, m_end), period, company)
        if metric_f == "capex" and kind == "guidance":
            metric_f = "capex_guidance"
        if metric_f == "capex_guidance":
            kind = "guidance"
        lo_, hi_ = q.start, q.end
        cue = reading.cue
        if cue is not None and cue.role in ("metric", "change"):
            if cue.end <= q.start and q.start - cue.end <= 6:
                lo_ = cue.start
            elif cue.start >= q.end and cue.start - q.end <= 3:
                hi_ = cue.end
        fact = Fact(company.name, company.ticker, metric_f, value, low, high, q.qualifier, unit, period, kind,
                    ctx.text[lo_:hi_], lo_, hi_, "repaired" in q.flags)
        out.append((fact, Anchor(q, unit_class(q), metric_f, period, m, cmp.role if cmp else None)))
    return out, q


_WEAK_INVEST = frozenset(("投资", "投入", "斥资", "注资", "总投资", "投资额", "增资", "invest", "investment", "investing",
                          "to spend", "will spend"))
_PROJECT_WORDS = ("建设", "项目", "园区", "数据中心", "工厂", "基础设施", "用于", "建造", "data center", "project", "build")


def _capex_or_commitment(ctx: Context, q: Quantity, reading: Reading, period: str | None, c_hi: int) -> str:
    cue = reading.cue
    if cue is None or reading.metric == "capex":
        return reading.metric
    if ctx.text[cue.start : cue.end].lower() not in _WEAK_INVEST:
        return "investment_commitment"
    after = ctx.text[q.end : c_hi].lower()
    single = period is not None and ".." not in period and period != "ASOF"
    if single and not any(w in after for w in _PROJECT_WORDS):
        return "capex"
    return "investment_commitment"
