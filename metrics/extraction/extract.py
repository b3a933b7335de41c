"""Company figures of one article: quantities + metrics + companies + kinds + periods -> facts.

For each quantity of the article body (``numbers.py``) the extractor reads the metric it states
(``classify.py``); a figure with no metric of its own may still take one: the new level after a change
("rose 5% to $9 billion"), a comparison with an earlier figure (``compare.py``), a clause continuing
its sentence's metric, the last figure of an enumeration that names it, a count continuing a count
(``neighbours.py``). Then the company (``attribution.py``) and the period, kind and currency
(``statement.py``). A figure repeated with the same value in one article is one fact.

Offsets: the text is normalized once per document (same length as the original), so every quantity's
offsets are offsets into ``article.doc.text``; ``quote`` is the original text there.
"""

from __future__ import annotations

import bisect
import math
import re
from dataclasses import fields, replace
from datetime import date
from functools import lru_cache
from operator import attrgetter
from typing import TYPE_CHECKING

from metrics.extraction.articles import is_caption
from metrics.extraction.attribution import resolve_companies, sentence_topic
from metrics.extraction.classify import REJECT, Reading, classify, is_delta, money_cue, unit_class
from metrics.extraction.compare import Anchor, compare
from metrics.extraction.context import Context, in_parentheses
from metrics.extraction.cues import MONEY_METRICS, Cue, _Word, cue_index
from metrics.extraction.facts import Fact, Unattributed
from metrics.extraction.fiscal import current_fiscal_year
from metrics.extraction.lexicon import lexicon
from metrics.extraction.neighbours import add_fact, carries_unit, fallback_reading, merge_range
from metrics.extraction.normalize import ascii_lower, has_odd_case, normalize
from metrics.extraction.numbers import Quantity, find_quantities, has_lost_decimals
from metrics.extraction.periods import labels_fiscal_quarters, needle_index
from metrics.extraction.respective import respective, respective_reading
from metrics.extraction.statement import (
    CARRIED,
    QUARTER_PERIOD,
    capex_or_commitment,
    currency_of,
    kind_of,
    period_of,
)
from metrics.extraction.wordindex import Found

if TYPE_CHECKING:
    from metrics.extraction.documents import Article
    from metrics.extraction.entities import Company, Mention, Registry, _Entry

__all__ = ["Fact", "Unattributed", "extract_article", "extract_text"]


@lru_cache(maxsize=1)
def _doc_view(text: str) -> tuple[str, bool, str]:
    """Normalized text, lost-decimal evidence and the normalized text with ASCII letters lowered of a
    document, cached for its articles (keyed on the text itself: a key on ``id(text)`` could hand a
    later document of the same length this one's view)."""
    norm = normalize(text)
    return norm, has_lost_decimals(norm), ascii_lower(norm)


_DocWords = tuple["Found[_Entry]", "Found[_Word]", "Found[str]"]


@lru_cache(maxsize=1)
def _doc_words(low: str, registry: Registry) -> _DocWords:
    """The company aliases, cue words and period needles of a normalized document lowered (``_doc_view``),
    found in one pass each over the whole document and read article by article (cached for its articles,
    like ``_doc_view``): the automata are walked once per document instead of once per article."""
    return Found(registry.word_index, low), Found(cue_index().word_index, low), Found(needle_index(), low)


def extract_article(
    article: Article, registry: Registry, *, unattributed: list[Unattributed] | None = None
) -> list[Fact]:
    """The company figures of one article; spans index ``article.doc.text``. Figures no known company
    takes are appended to ``unattributed`` when a list is given."""
    text = article.doc.text
    norm, repair, doc_low = _doc_view(text)
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
    head_n = normalize(head)
    if head:
        head_ms = [m for m in registry.find(head_n) if not m.ambiguous]
        main = head_ms[0] if head_ms else None
    reference = article.published or article.reference
    fiscal = labels_fiscal_quarters(seg) or labels_fiscal_quarters(head_n)
    missed: list[Unattributed] = []
    names, cue_words, needles = _doc_words(doc_low, registry)
    end = article.end
    facts = _extract(
        seg,
        body0,
        registry=registry,
        published=reference,
        repair=repair,
        main=main,
        fiscal=fiscal,
        missed=missed,
        words=(names.within(start, end), cue_words.within(start, end), needles.within(start, end)),
        low=doc_low[start:end],
    )
    if unattributed is not None:
        for u in missed:
            s, e = u.span_start + start, u.span_end + start
            ss, se = u.sentence_start + start, u.sentence_end + start
            unattributed.append(
                replace(
                    u,
                    quote=text[s:e],
                    span_start=s,
                    span_end=e,
                    sentence=text[ss:se].strip(),
                    sentence_start=ss,
                    sentence_end=se,
                )
            )
    out = [_in_text(f, text, start) for f in facts]
    hp = start if head and text.startswith(head, start) else -1
    if hp >= 0 and not head.startswith("["):  # '[headline not in retrieved text] topic': no headline
        said = _extract(
            norm[hp : hp + len(head)], 0, registry=registry, published=reference, repair=repair, main=main,
            fiscal=fiscal,
        )
        said = [f for f in said if f.metric not in _HEADLINE_SKIPS and not _restated(f, out)]
        if said:  # the body may state the figure under a noun the headline shortens ('profit slides 29%')
            told = find_quantities(seg[body0:], repair_decimals=repair)
            said = [f for f in said if not any(_same_figure(f, q) for q in told)]
        out += [_in_text(_headline_period(f, out), text, hp) for f in said]
    return out


def _headline_period(f: Fact, body: list[Fact]) -> Fact:
    """A reported figure of a headline that states no period ('AWS growth speeds up to 20%') is about the
    period the body reports: that of the body's first reported figure of the company."""
    if f.period is not None or f.kind != "actual" or f.metric not in CARRIED:
        return f
    reported = (b for b in body if b.entity == f.entity and b.kind == "actual" and b.metric in CARRIED)
    period = next((b.period for b in reported if b.period), None)
    return f if period is None else replace(f, period=period)


def _same_figure(f: Fact, q: Quantity) -> bool:
    if f.unit != q.unit and not (f.unit == "count" and q.unit is None):
        return False
    if _bounded(abs(f.value), f.qualifier, q.value) or _in_range(abs(f.value), q.low, q.high):
        return True
    if f.unit == "pct":
        return abs(abs(f.value) - q.value) <= 1
    return abs(abs(f.value) - q.value) <= 0.1 * max(abs(f.value), abs(q.value))


_FAMILY = {"capex_guidance": "capex"}  # 'capex set to reach $125 billion' (headline) is the body's guidance
# a deal's, an order's or a project's figure in a headline: its parties are too often ambiguous there
# ('甲签下大单, 租赁11.6万块GPU': the lessor is the seller, named only in the body)
_HEADLINE_SKIPS = frozenset(
    ("units", "deal_value", "investment_commitment", "unit_price", "power_capacity", "customers")
)


def _restated(f: Fact, body: list[Fact]) -> bool:
    """Whether the body says a headline's figure again (a headline rounds: 21% for 20.6%, 超3000亿 for
    3,123亿; '营收翻倍' for 101.8%), perhaps of another company (a headline's subject may be the buyer,
    the body's the seller): the body's statement is the fact."""
    family = _FAMILY.get(f.metric, f.metric)
    for b in body:
        if _FAMILY.get(b.metric, b.metric) != family:
            continue
        if b.unit != f.unit:
            if b.entity == f.entity:
                return True
            continue
        if _bounded(f.value, f.qualifier, b.value) or _in_range(f.value, b.low, b.high):
            return True
        if f.unit in ("pct", "x"):
            if abs(b.value - f.value) <= 1:
                return True
        elif abs(b.value - f.value) <= 0.1 * max(abs(b.value), abs(f.value)):
            return True
    return False


def _in_range(head: float, low: float | None, high: float | None) -> bool:
    """Whether a headline's figure is a bound of the body's range or inside it ('最高100亿元回购' for
    '不低于50亿元且不超过100亿元')."""
    return low is not None and high is not None and low <= head <= high


def _plan_period(ctx: Context, period: str | None, s_lo: int, company: Company) -> str | None:
    """A capex plan (预算, budget) whose sentence names no period is not spending of the quarter under
    discussion: it is the plan of the current fiscal year."""
    if period is None or ctx.published is None or not QUARTER_PERIOD.search(period):
        return period
    s_hi = ctx.sentence(s_lo)[1]
    if any(p.period or p.carry for p in ctx.periods(s_lo, s_hi, company.fiscal_year_end)):
        return period
    return f"FY{current_fiscal_year(ctx.published, company.fiscal_year_end)}"



def _bounded(head: float, qualifier: str | None, body: float) -> bool:
    """Whether a headline's lower bound is the body's precise figure said roughly: with 逾/超/'more than'
    a headline rounds down to a round number (獲利年增逾一成 for 13.6%, 'more than $1 billion' for $1.38
    billion, 超3000億 for 3,480億), so the figure lies between the bound and the bound plus a unit of its
    leading digit (10 to 20, 3000 to 4000), with the same sign."""
    if qualifier != "gt" or head == 0 or (head > 0) != (body > 0):
        return False
    h, b = abs(head), abs(body)
    step = 10.0 ** math.floor(math.log10(h))
    return h <= b < h + step


def extract_text(text: str, registry: Registry, *, published: date | None = None) -> list[Fact]:
    """The company figures of a plain text (one article, no headline); spans index ``text``."""
    norm = normalize(text)
    facts = _extract(
        norm,
        0,
        registry=registry,
        published=published,
        repair=has_lost_decimals(norm),
        fiscal=labels_fiscal_quarters(norm),
    )
    return [_in_text(f, text, 0) for f in facts]


# a fact's fields in order, read at once (``dataclasses.replace`` costs about three constructions)
_FACT_FIELDS = tuple(f.name for f in fields(Fact))
assert all(f.init for f in fields(Fact))
_FACT_VALUES = attrgetter(*_FACT_FIELDS)
_QUOTE, _SPAN_START, _SPAN_END = map(_FACT_FIELDS.index, ("quote", "span_start", "span_end"))


def _in_text(f: Fact, text: str, offset: int) -> Fact:
    s, e = f.span_start + offset, f.span_end + offset
    values = list(_FACT_VALUES(f))
    values[_QUOTE], values[_SPAN_START], values[_SPAN_END] = text[s:e], s, e
    return Fact(*values)


_MULTIPLES = lexicon().multiples
_MULTIPLE_ALT = "|".join(re.escape(w) for w in sorted(_MULTIPLES, key=len, reverse=True))
_MULTIPLE_RX = re.compile(_MULTIPLE_ALT)  # on the ASCII-lowered text: a case-sensitive scan is fast
_MULTIPLE_RX_ANYCASE = re.compile(_MULTIPLE_ALT, re.IGNORECASE)


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
            near = cues[i : i + 8]
            if not any(c.start - m.end <= 12 and c.role in ("metric", "change") for c in near):
                continue
        out.append(m)
    return out


# 'more than doubled' (a lower bound of the multiple), 'nearly tripled' (about the multiple)
_MULTIPLE_GT = re.compile(r"(?:(?:more than|over)\s+|超过|逾)\Z")
_MULTIPLE_APPROX = re.compile(r"(?:(?:nearly|almost|roughly|about)\s+|接近|近)\Z")


def _multiple_bound(low: str, at: int) -> str | None:
    """The qualifier of a multiple said as a word at ``at`` ('more than doubled': gt)."""
    if _MULTIPLE_GT.search(low, max(0, at - 12), at):
        return "gt"
    if _MULTIPLE_APPROX.search(low, max(0, at - 12), at):
        return "approx"
    return None


def _multiple_rx(text: str) -> re.Pattern[str]:
    return _MULTIPLE_RX_ANYCASE if has_odd_case(text) else _MULTIPLE_RX


def _quantities(text: str, repair: bool, low: str) -> list[Quantity]:
    """The figures of the text, with growth said as a word (翻倍, tripled) as multiples; ``low`` is
    the text with ASCII letters lowered."""
    qs = find_quantities(text, repair_decimals=repair)
    words = [
        Quantity(
            _MULTIPLES[m.group().lower()],
            None,
            None,
            "x",
            _multiple_bound(low, m.start()),
            m.start(),
            m.end(),
            frozenset({"word"}),
            None,
            m.start(),
        )
        for m in _multiple_rx(text).finditer(low)
    ]
    return sorted(qs + words, key=lambda q: q.start) if words else qs


def _extract(
    text: str,
    body0: int,
    *,
    registry: Registry,
    published: date | None,
    repair: bool,
    main: Mention | None = None,
    fiscal: bool = False,
    missed: list[Unattributed] | None = None,
    words: tuple[list[tuple[int, int, _Entry]], list[tuple[int, int, _Word]], list[tuple[int, int, str]]]
    | None = None,
    low: str | None = None,
) -> list[Fact]:
    """The facts of ``text`` (normalized) from ``body0`` on; ``words``: the company aliases, cue words
    and period needles found in it, when the caller has them (``_doc_words``); ``low``: ``ascii_lower(text)``
    when the caller has it."""
    if low is None:
        low = ascii_lower(text)
    found_names, found_cues, found_needles = words if words is not None else (None, None, None)
    cues = cue_index().find(text, low=low, found=found_cues)
    mentions = _mentions(registry.find(text, folded=low, found=found_names), cues, text)
    if main is None and body0 > 0:
        main = next((m for m in mentions if m.end <= body0), None)
    quantities = [q for q in _quantities(text, repair, low) if q.start >= body0]
    ctx = Context(
        text, body0, cues, mentions, quantities, published, main, fiscal, low=low, found_needles=found_needles
    )
    facts: list[Fact] = []
    heads: list[bool] = []  # whether each fact was said in a heading
    seen: dict[tuple[object, ...], list[int]] = {}
    topic: Mention | None = None
    last_sent = (-1, -1)
    anchors: list[Anchor] = []
    previous: list[Anchor] = []
    prev: tuple[Quantity, str | None] | None = None
    heading = False  # whether the sentence lies in a heading (read once per sentence)
    for q in quantities:
        s_lo, s_hi = ctx.sentence(q.start)
        if (s_lo, s_hi) != last_sent:
            heading = ctx.is_heading(s_lo, s_hi)
            pos = last_sent[0] if last_sent[0] >= 0 else body0
            while pos < s_lo:
                a, b = ctx.sentence(pos)
                topic = sentence_topic(ctx, max(a, pos), min(b, s_lo), topic)
                pos = max(b, pos + 1)
            last_sent = (s_lo, s_hi)
            previous, anchors = anchors or previous, []
        got, q_used = _facts_for(
            ctx,
            q,
            s_lo=s_lo,
            s_hi=s_hi,
            topic=topic,
            anchors=anchors,
            previous=previous,
            prev=prev,
            missed=missed,
        )
        for fact, anchor in got:
            if anchors and facts and merge_range(ctx, anchors[-1], anchor, facts):
                continue
            anchors.append(anchor)
            add_fact(facts, heads, seen, fact, heading)
        prev = (q_used, got[0][0].metric if got else None)
    return facts


_BOUGHT = frozenset(lexicon().buyback_objects)
_NOUN_ROLES = frozenset(("metric", "other", "scope"))


def _bought_back(ctx: Context, q: Quantity, c_lo: int, c_hi: int) -> Reading | None:
    """An amount bought back ('bought back $2.4 billion of stock', '回購了200億美元的股票'): the share noun
    right after it names the shares bought, not their price, when a buyback word opens the phrase (no
    other noun between it and the amount)."""
    noun = money_cue(ctx, q, (c_lo, c_hi))
    if noun is None or noun.name != "share_price" or noun.start < q.end:
        return None
    if ctx.text[noun.start : noun.end].lower() not in _BOUGHT:
        return None
    before = ctx.cues_in(c_lo, q.start, _NOUN_ROLES)
    if not before or before[-1].role != "metric" or before[-1].name != "buyback":
        return None
    return Reading("buyback", before[-1])


def _caption(ctx: Context, s_lo: int, s_hi: int) -> bool:
    key = ("caption", s_lo, 0)
    if key not in ctx.memo:
        ctx.memo[key] = is_caption(ctx.text[s_lo:s_hi])
    return bool(ctx.memo[key])


def _facts_for(
    ctx: Context,
    q: Quantity,
    *,
    s_lo: int,
    s_hi: int,
    topic: Mention | None,
    anchors: list[Anchor],
    previous: list[Anchor],
    prev: tuple[Quantity, str | None] | None,
    missed: list[Unattributed] | None = None,
) -> tuple[list[tuple[Fact, Anchor]], Quantity]:
    if "vague" in q.flags or _caption(ctx, s_lo, s_hi):
        return [], q
    c_lo, c_hi = ctx.clause(q.start, q.end)
    reading: Reading | None = None
    if unit_class(q) != "pct" and in_parentheses(ctx.text, q.start, s_lo):
        return [], q  # an aside (约新台币300亿元): only a change in parentheses counts (同比+12%)
    if prev is not None and prev[1] and carries_unit(ctx, q, s_lo, prev):
        q = q._replace(unit=prev[0].unit, counter=prev[0].counter, flags=q.flags - {"bare"})
        reading = Reading(prev[1])
    else:
        reading = classify(ctx, q, s_lo, c_lo, c_hi)
        if reading is REJECT and unit_class(q) in ("money", "bare"):
            reading = _bought_back(ctx, q, c_lo, c_hi) or REJECT
    resp = respective(ctx, q, s_lo, s_hi)
    if resp is not None:
        reading = respective_reading(ctx, q, resp, reading, s_lo)
    if reading is REJECT or (
        reading is None and unit_class(q) in ("money", "bare") and is_delta(ctx, q, c_lo)
    ):
        return [], q
    cmp = None
    if reading is None:
        cmp = compare(ctx, q, uc=unit_class(q), s_lo=s_lo, s_hi=s_hi, anchors=anchors, previous=previous)
        if cmp is not None:
            reading = Reading(cmp.metric)
    elif reading.metric not in ("share_price_change",):
        cmp = compare(
            ctx,
            q,
            uc=unit_class(q),
            s_lo=s_lo,
            s_hi=s_hi,
            anchors=anchors,
            previous=previous,
            own=reading.metric,
        )
    if reading is None:
        reading = fallback_reading(ctx, q, s_lo=s_lo, c_lo=c_lo, c_hi=c_hi, anchors=anchors, prev=prev)
    if reading is None:
        return [], q
    metric = reading.metric
    if cmp is not None and cmp.metric == reading.metric and reading.cue is None:
        companies = [cmp.anchor.entity]
    else:
        companies = resolve_companies(ctx, q.start, s_lo, c_lo, topic, brand=metric == "unit_price")
    if resp is not None and resp.companies is not None:
        companies = [resp.companies[resp.index]]  # '甲和乙营收分别为X和Y': Y is 乙's
    if not companies and missed is not None:
        missed.append(
            Unattributed(
                metric,
                q.value,
                q.unit,
                ctx.text[q.start : q.end],
                ctx.text[s_lo:s_hi].strip(),
                q.start,
                q.end,
                s_lo,
                s_hi,
            )
        )
    value, low, high = q.value, q.low, q.high
    if reading.negate:
        value, low, high = -value, (-high if high is not None else None), (-low if low is not None else None)
    out = []
    for m in companies:
        company = m.company
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
            period = period_of(ctx, q, s_lo=s_lo, c_lo=c_lo, metric=metric, company=company)
            if resp is not None and resp.periods is not None:
                a, b = resp.periods[resp.index]  # '2024年和2025年营收分别为X和Y': the i-th period
                named = [p.period for p in ctx.periods(a, b, company.fiscal_year_end) if p.period]
                period = named[0] if named else period
        metric_f = metric
        if metric in ("capex", "investment_commitment"):
            probe = period
            stated = ctx.periods(c_lo, c_hi, company.fiscal_year_end)
            if (
                probe is None
                and cmp is None
                and any(p.carry or (p.period and p.period != "ASOF") for p in stated)
                and not any(p.period and ".." in p.period for p in stated)  # 'over 2025-2028': a plan
            ):
                # 'invested $3 billion in data centers in the quarter': the quarter under discussion
                probe = period_of(ctx, q, s_lo=s_lo, c_lo=c_lo, metric="capex", company=company)
            spent = capex_or_commitment(ctx, q, reading, probe, c_hi)
            if spent is None:
                continue  # money spent on something else than infrastructure
            if spent == "capex" and metric != "capex" and period is None and cmp is None:
                # capex is a flow: the period under discussion when none is stated
                period = probe or period_of(ctx, q, s_lo=s_lo, c_lo=c_lo, metric="capex", company=company)
            metric_f = spent
            if spent == "investment_commitment" and period is None and cmp is None:
                # 'invest 800 billion won in AI between 2025 and 2027': the span after the figure
                span = next((p.period for p in stated if p.period and ".." in p.period), None)
                period = span or period
        if cmp is None:
            m_end = m.end if m.end <= q.start else s_lo
            kind = kind_of(ctx, metric_f, q, lo=max(s_lo, m_end), period=period, company=company)
        if metric_f == "capex" and kind == "guidance":
            metric_f = "capex_guidance"
        elif metric_f == "capex_guidance" and cmp is not None and kind == "actual":
            metric_f = "capex"  # '预计约1512亿元,较2024年的1640亿元…': the earlier year's actual
        if metric_f == "capex_guidance":
            kind = "guidance"
            period = _plan_period(ctx, period, s_lo, company)
        lo_, hi_ = q.start, q.end
        cue = reading.cue
        if cue is not None and cue.role == "metric":
            if cue.end <= q.start and q.start - cue.end <= 6:
                lo_ = cue.start
            elif cue.start >= q.end and cue.start - q.end <= 3:
                hi_ = cue.end
        fact = Fact(
            company.name,
            company.ticker,
            metric_f,
            value,
            low,
            high,
            q.qualifier,
            unit,
            period,
            kind,
            ctx.text[lo_:hi_],
            lo_,
            hi_,
            "repaired" in q.flags,
        )
        out.append((fact, Anchor(q, unit_class(q), metric_f, period, m, cmp.role if cmp else None)))
    return out, q
