"""Company figures of one article: quantities + companies + metric cues + kinds + periods -> facts.

For each quantity of the article body (numbers.py) the extractor decides, from the words around it
(cues.py), which metric it states; drops it when nothing names a metric or when the figure is not
about one company (market sizes, a country's investment, index moves, shortfalls); finds the
company (the nearest subject-like mention in the clause, else the sentence's subject, else the
company last named, which "公司", "该公司", "其", "the company" refer to); the kind (actual,
guidance, estimate, commitment) from the verbs before it; the sign of a share move from its verb;
and the period (periods.py) against the article date and the company's fiscal year.

Offsets: the text is normalized once per document (same length as the original), so every
quantity's offsets are offsets into ``article.doc.text``; ``quote`` is the original text there.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field, replace
from datetime import date
from functools import lru_cache
from typing import TYPE_CHECKING

from metrics.extraction.cues import DOWN_VERBS, MONEY_METRICS, Cue, CueIndex
from metrics.extraction.normalize import normalize
from metrics.extraction.numbers import Quantity, find_quantities, has_lost_decimals
from metrics.extraction.periods import PeriodSpan, current_fiscal_year, find_periods

if TYPE_CHECKING:
    from metrics.extraction.documents import Article
    from metrics.extraction.entities import Company, Mention, Registry

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


_CUES = CueIndex()
_SENT = re.compile(r"[。！？!?；;\n]|\.(?=\s)|\[\d+\](?:\[\d+\])*|\s[-*•●]\s")
_CLAUSE = re.compile(r"[,，、:：()（）“”\"《》]| (?:(?=[^\x00-\x7f])|(?<=[^\x00-\x7f%] ))")
_OBJECT_MARK = (
    "向",
    "为",
    "给",
    "对",
    "与",
    "和",
    "跟",
    "同",
    "把",
    "替",
    "帮",
    "对标",
    "及",
    "比",
    "从",
    "由",
    "收购",
    "投资",
    "分拆",
    "against",
    "with",
    "to",
    "for",
    "from",
)
# the money cues that name a figure outright; the generic ones (投资, 协议, 价格) yield to them
_STRONG = MONEY_METRICS - {"capex_guidance", "investment_commitment", "deal_value", "unit_price"}
_WEAK_INVEST = frozenset(
    (
        "投资",
        "投入",
        "斥资",
        "注资",
        "总投资",
        "投资额",
        "invest",
        "investment",
        "investing",
        "to spend",
        "will spend",
    )
)
_PROJECT_WORDS = (
    "建设",
    "项目",
    "园区",
    "数据中心",
    "工厂",
    "基础设施",
    "用于",
    "建造",
    "data center",
    "project",
    "build",
)
_PERIOD_METRICS_ASOF = frozenset(
    ("valuation", "market_cap", "customers", "shares_outstanding", "leverage", "dividend_yield", "cash")
)
_COUNT_NOUNS_AFTER = 12
_AFTER_WINDOW = 8


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
    raw = text[start : article.end]
    head = article.headline.strip() if article.headline else ""
    body0 = 0
    main: Mention | None = None
    if head:
        k = raw.find(head[: max(4, min(len(head), 12))])
        if 0 <= k <= 8:
            # the headline opens the article: skip it, its companies are found with the body's
            nl = raw.find("\n", k)
            body0 = nl + 1 if nl >= 0 else 0
        else:
            head_ms = [m for m in registry.find(normalize(head)) if not m.ambiguous]
            main = head_ms[0] if head_ms else None
    facts = _extract(seg, body0, registry=registry, published=article.published, repair=repair, main=main)
    return [_in_text(f, text, start) for f in facts]


def extract_text(text: str, registry: Registry, *, published: date | None = None) -> list[Fact]:
    """The company figures of a plain text (one article, no headline); spans index ``text``."""
    norm = normalize(text)
    facts = _extract(norm, 0, registry=registry, published=published, repair=has_lost_decimals(norm))
    return [_in_text(f, text, 0) for f in facts]


def _in_text(f: Fact, text: str, offset: int) -> Fact:
    """``f`` (spans into a normalized segment starting at ``offset`` of ``text``) with its spans
    moved into ``text`` and its quote taken from the original there."""
    s, e = f.span_start + offset, f.span_end + offset
    return replace(f, quote=text[s:e], span_start=s, span_end=e)


# --------------------------------------------------------------------------- the work


@dataclass(slots=True)
class _Ctx:
    text: str
    sent_bounds: list[int]
    clause_bounds: list[int]
    cues: list[Cue]
    cue_starts: list[int]
    mentions: list[Mention]
    mention_starts: list[int]
    published: date | None
    main: Mention | None = None
    period_cache: dict[tuple[int, int], list[PeriodSpan]] = field(default_factory=dict)

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

    def cues_in(self, lo: int, hi: int) -> list[Cue]:
        return self.cues_starting(lo, hi, hi)

    def cues_starting(self, lo: int, start_hi: int, hi: int) -> list[Cue]:
        """The cues that start in [lo, start_hi) and end by hi (a long English word after a figure)."""
        i = bisect.bisect_left(self.cue_starts, lo)
        out = []
        while i < len(self.cues) and self.cues[i].start < start_hi:
            if self.cues[i].end <= hi:
                out.append(self.cues[i])
            i += 1
        return out

    def mentions_in(self, lo: int, hi: int) -> list[Mention]:
        i = bisect.bisect_left(self.mention_starts, lo)
        out = []
        while i < len(self.mentions) and self.mentions[i].start < hi:
            out.append(self.mentions[i])
            i += 1
        return out


def _bounds(rx: re.Pattern[str], text: str) -> list[int]:
    # the matches are non-empty and non-overlapping: their ends already ascend, without repeats
    return [m.end() for m in rx.finditer(text)]


def _is_object(text: str, m: Mention) -> bool:
    """A company after a preposition (向/为/与 X, 'with X') is an object, not the subject."""
    before = text[max(0, m.start - 4) : m.start].rstrip().lower()
    if before.endswith(_OBJECT_MARK):
        return True
    # '与英国云平台企业X': a preposition opening the noun phrase that ends in the name
    phrase = _PHRASE_START.split(text[max(0, m.start - 12) : m.start])[-1]
    return bool(_PREP_IN_PHRASE.search(phrase))


_PHRASE_START = re.compile(r"[,，、:：;；。!?！？()（）“”\"\s]")
_PREP_IN_PHRASE = re.compile(r"(?<![成作认因称以行])为(?!止)|[向与跟同把替帮给对]")


def _is_possessive(text: str, m: Mention) -> bool:
    return text.startswith("的", m.end) and not text.startswith(
        ("的营", "的收", "的净", "的资本", "的股"), m.end
    )


def _valid_subject(text: str, m: Mention) -> bool:
    return not _is_object(text, m) and not _is_possessive(text, m) and not _is_modifier(text, m)


def _subject(ctx: _Ctx, lo: int, hi: int) -> Mention | None:
    """The subject of text[lo:hi]: the mention opening the nearest clause that opens with one (walking
    back), else the first subject-like mention."""
    ms = ctx.mentions_in(lo, hi)
    if not ms:
        return None
    text = ctx.text
    for m in reversed(ms):
        c_lo = ctx.clause(m.start, m.end)[0]
        head = text[max(lo, c_lo) : m.start].strip(" -*•●>[]0123456789如例据")
        if not head and _valid_subject(text, m) and not ctx.mentions_in(max(lo, c_lo), m.start):
            return m
    cands = [m for m in ms if _valid_subject(text, m)]
    if not cands:
        # '甲的芯片…': a possessor is still what the sentence is about
        cands = [m for m in ms if not _is_object(text, m) and not _is_modifier(text, m)]
    return cands[0] if cands else None


def _is_modifier(text: str, m: Mention) -> bool:
    """A brand before its product (英伟达GB300芯片, 英伟达GPU): not the subject."""
    nxt = text[m.end : m.end + 4].lstrip(" ")
    if not nxt:
        return False
    if not text[m.start].isascii() and nxt[0].isascii() and nxt[0].isalpha():
        return True
    return nxt.lower().startswith(_PRODUCT_NOUNS)


_PRODUCT_NOUNS = ("芯片", "晶片", "gpu", "tpu", "显卡", "加速卡", "服务器", "晶圆")
_PRONOUN = re.compile(
    r"(?:(?P<dem>该|本|这家|此)(?:公司|集团)|(?<![^\s,，。;；:：*\-\]])公司|其(?![中他它余实次后])|"
    r"(?P<en>the company|the group|its))",
    re.IGNORECASE,
)


def _pronoun_referent(ctx: _Ctx, lo: int, hi: int, topic: Mention | None) -> tuple[bool, Mention | None]:
    """(whether text[lo:hi] has a pronoun, the company it refers to).

    "该公司", "其", "its" name the company last named; a bare "公司"/"the company" names the article's
    main company (the one its headline names), else the company last named.
    """
    last = None
    for m in _PRONOUN.finditer(ctx.text, lo, hi):
        last = m
    if last is None:
        return False, None
    if last.group("dem") or last.group().startswith("其"):
        return True, topic
    s_lo = ctx.sentence(last.start())[0]
    subj = _subject(ctx, s_lo, last.start())
    return True, subj or ctx.main or topic


def _extract(
    text: str,
    body0: int,
    *,
    registry: Registry,
    published: date | None,
    repair: bool,
    main: Mention | None = None,
) -> list[Fact]:
    mentions = [m for m in registry.find(text) if not m.ambiguous]
    if main is None and body0 > 0:
        # the article's main company: the first one its headline names
        main = next((m for m in mentions if m.end <= body0), None)
    cues = _CUES.find(text)
    sent_bounds = _bounds(_SENT, text)
    ctx = _Ctx(
        text,
        sent_bounds,
        sorted(set(sent_bounds) | set(_bounds(_CLAUSE, text))),
        cues,
        [c.start for c in cues],
        mentions,
        [m.start for m in mentions],
        published,
        main,
    )
    quantities = [q for q in find_quantities(text, repair_decimals=repair) if q.start >= body0]
    facts: list[Fact] = []
    seen: dict[tuple[str, str, float, float | None, float | None, str | None], int] = {}
    topic: Mention | None = None
    last_sent = (-1, -1)
    prev: Quantity | None = None
    prev_metric: str | None = None
    for q in quantities:
        s_lo, s_hi = ctx.sentence(q.start)
        if (s_lo, s_hi) != last_sent:
            # the topic: the subject of the sentences read so far
            for b_lo, b_hi in _sentences_between(ctx, last_sent[0] if last_sent[0] >= 0 else body0, s_lo):
                topic = _sentence_topic(ctx, b_lo, b_hi, topic)
            last_sent = (s_lo, s_hi)
        carried: str | None = None
        qq = q
        if prev is not None and _carries_unit(text, prev, q, s_lo):
            # '从40万颗提高到50万、60万': the first amount's counter holds for the bare ones after it
            qq = replace(q, unit=prev.unit, counter=prev.counter, flags=q.flags - {"bare"})
            carried = prev_metric
        q_facts = _facts_for(ctx, qq, s_lo, topic=topic, carried=carried)
        prev, prev_metric = qq, (q_facts[0].metric if q_facts else None)
        for fact in q_facts:
            key = (fact.entity, fact.metric, round(fact.value, 6), fact.low, fact.high, fact.qualifier)
            k = seen.get(key)
            if k is None:
                seen[key] = len(facts)
                facts.append(fact)
            elif facts[k].period is None and fact.period is not None:
                # the same figure said again with its period: one fact, with the period
                facts[k] = replace(facts[k], period=fact.period)
            elif fact.period not in (None, facts[k].period):
                facts.append(fact)
    return facts


_LIST_BREAK = re.compile(r"[。！？!?;；\n\d]")


def _carries_unit(text: str, prev: Quantity, q: Quantity, s_lo: int) -> bool:
    """Whether the bare amount q continues an enumeration that prev, a count or power, opened."""
    if q.unit is not None or "bare" not in q.flags or prev.unit not in ("count", "GW", "MW"):
        return False
    if prev.start < s_lo or q.start - prev.end > 12:
        return False
    return _LIST_BREAK.search(text, prev.end, q.start) is None


_OPENING_PRONOUN = re.compile(
    r"[\s\-*•●>\[\]0-9]*(?P<dem>该|本|这家)?(?:公司|集团)|[\s\-*•●]*the company", re.IGNORECASE
)


def _sentence_topic(ctx: _Ctx, lo: int, hi: int, topic: Mention | None) -> Mention | None:
    """The company a sentence is about, for the sentences after it: its subject, or the company its
    opening pronoun refers to; else the topic so far."""
    m = _OPENING_PRONOUN.match(ctx.text, lo, hi)
    if m is not None:
        return topic if m.group("dem") else (ctx.main or topic)
    subj = _subject(ctx, lo, hi)
    return subj if subj is not None else topic


def _sentences_between(ctx: _Ctx, lo: int, hi: int) -> list[tuple[int, int]]:
    out = []
    pos = lo
    while pos < hi:
        a, b = ctx.sentence(pos)
        out.append((max(a, lo), min(b, hi)))
        pos = max(b, pos + 1)
    return out


def _unit_class(q: Quantity) -> str | None:
    if q.is_money:
        return "money"
    if q.unit in ("pct", "x", "count"):
        return q.unit
    if q.unit in ("GW", "MW"):
        return "power"
    if q.unit is None and "bare" in q.flags:
        return "bare"
    return None


def _pick(cues: list[Cue], pos: int, *, before: bool) -> Cue | None:
    best: Cue | None = None
    for c in cues:
        if best is None:
            best = c
            continue
        d_best = pos - best.end if before else best.start - pos
        d_c = pos - c.end if before else c.start - pos
        if d_c < d_best or (d_c == d_best and (c.end - c.start) > (best.end - best.start)):
            best = c
    return best


def _metric_cues(cues: list[Cue], allowed: frozenset[str]) -> list[Cue]:
    return [c for c in cues if c.role == "metric" and c.name in allowed]


_MONEY_ALLOWED = MONEY_METRICS
_PCT_ALLOWED = frozenset(("dividend_yield", "gross_margin", "net_margin", "operating_margin", "buyback"))
_GROWTH_BASE = {
    "revenue": "revenue_growth_yoy",
    "net_income": "net_income_growth_yoy",
    "ebitda": "ebitda_change",
}
_MOVE_VERB = re.compile(
    r"(?:股价|股票|shares|stock)?\s*(?:大|收|直线|盘中|一度)?(?:涨|跌|上涨|下跌|飙升|暴跌|重挫|拉升|下滑)"
    r"(?:了)?$|(?:rose|fell|jumped|dropped|gained|slid|declined|lost|plunged|sank|tumbled|"
    r"climbed|surged|soared|slumped)\s*(?:by\s*)?$"
)
_DOWN = ("跌", "下滑", "挫", *DOWN_VERBS)


def _classify(ctx: _Ctx, q: Quantity, s_lo: int, c_lo: int, c_hi: int) -> tuple[str, Cue | None] | None:
    """The metric a quantity states, and the cue that says so; None when out of scope."""
    uc = _unit_class(q)
    text = ctx.text
    before_clause = ctx.cues_in(c_lo, q.start)
    after = ctx.cues_starting(q.end, q.end + _AFTER_WINDOW, c_hi)
    blocks = [c for c in before_clause if c.role == "block"] + [
        c for c in after if c.role == "block" and c.start - q.end <= 3
    ]
    if uc == "pct":
        head = text[max(c_lo, q.start - 8) : q.start]
        mv = _MOVE_VERB.search(head)
        if mv:
            price_cue = [
                c for c in ctx.cues_in(s_lo, q.start) if c.role == "metric" and c.name == "share_price"
            ]
            near_mention = any(
                0 <= mv.start() + max(c_lo, q.start - 8) - m.end <= 1
                for m in ctx.mentions_in(max(s_lo, q.start - 40), q.start)
            )
            if (price_cue and q.start - price_cue[-1].end <= 12) or near_mention:
                if any(b.name in ("指数", "道指", "纳指", "index") for b in blocks):
                    return None
                return "share_price_change", None
        growth = [c for c in before_clause if c.role == "growth" and q.start - c.end <= 6]
        if growth:
            base = _pick(
                _metric_cues(ctx.cues_in(s_lo, growth[-1].start), frozenset(_GROWTH_BASE)),
                growth[-1].start,
                before=True,
            )
            if base is not None:
                return _GROWTH_BASE[base.name], growth[-1]
            return None
        own = _pick(
            _metric_cues(before_clause + ctx.cues_in(q.end, min(c_hi, q.end + 3)), _PCT_ALLOWED),
            q.start,
            before=True,
        )
        if own is not None:
            return own.name, own
        return None
    if uc == "x":
        lev = _metric_cues(ctx.cues_in(s_lo, q.start), frozenset(("leverage",)))
        return ("leverage", lev[-1]) if lev and q.start - lev[-1].end <= 20 else None
    if uc == "power":
        if blocks or (q.unit == "MW" and q.value < 1):
            return None
        return "power_capacity", None
    if uc == "count":
        if blocks and q.counter not in ("股",):
            return None
        cust = [c for c in after if c.role == "metric" and c.name == "customers" and c.start - q.end <= 4]
        if cust:
            return "customers", cust[0]
        if q.counter == "股":
            so = _metric_cues(ctx.cues_in(s_lo, q.start), frozenset(("shares_outstanding",))) or [
                c
                for c in after
                if c.role == "metric" and c.name == "shares_outstanding" and c.start - q.end <= 3
            ]
            return ("shares_outstanding", so[-1]) if so else None
        if q.counter in _UNIT_COUNTERS:
            nouns = [
                c
                for c in ctx.cues_starting(q.end, q.end + _COUNT_NOUNS_AFTER, c_hi)
                if c.role == "metric" and c.name == "units"
            ]
            before_units = [
                c for c in before_clause if c.role == "metric" and c.name == "units" and q.start - c.end <= 6
            ]
            supply = [
                c for c in ctx.cues_in(s_lo, min(c_hi, q.end + _COUNT_NOUNS_AFTER)) if c.role == "supply"
            ]
            if (nouns or before_units) and supply:
                return "units", (nouns or before_units)[0]
        return None
    if uc in ("money", "bare"):
        if "per_unit" in q.flags and q.counter not in ("股", "share"):
            return "unit_price", None
        own_cues = _metric_cues(before_clause, _MONEY_ALLOWED)
        aft = [
            c
            for c in _metric_cues(after, _MONEY_ALLOWED)
            if c.start - q.end <= 3 or text[q.end : c.start].strip() in _AFTER_GLUE
        ]
        cands = own_cues + aft
        long_aft = [
            c
            for c in _metric_cues(ctx.cues_in(q.end, min(c_hi, q.end + 12)), _MONEY_ALLOWED)
            if ctx.text[c.start : c.end] in _PROJECT_CUES
        ]
        if not cands and long_aft:
            cands = aft = long_aft[:1]
        if not cands and _continues(text[c_lo : q.start]):
            # '…从2亿美元,先后下调至1.75亿美元': the clause continues the sentence's metric
            sent_cues = _metric_cues(ctx.cues_in(s_lo, c_lo), _MONEY_ALLOWED)
            cands = sent_cues[-1:]
        if not cands:
            return None
        strong = [c for c in cands if c.name in _STRONG]
        pool = strong or cands
        near_aft = [c for c in pool if c in aft]
        pre = [c for c in pool if c.end <= q.start]
        chosen: Cue | None
        if strong:
            chosen = near_aft[0] if near_aft else _pick(pre, q.start, before=True)
        else:
            chosen = _pick(pre, q.start, before=True) if pre else (near_aft[0] if near_aft else None)
        if chosen is None:
            return None
        if any(
            (b.end > chosen.end or (b.end == chosen.end and b.start < chosen.start)) and b.end <= q.start
            for b in blocks
        ) or any(b.start >= q.end for b in blocks):
            return None
        if chosen.name == "unit_price" and (
            text[max(0, chosen.start - 1) : chosen.start] == "股"
            or not any(c.role == "metric" and c.name == "units" for c in ctx.cues_in(s_lo, q.start))
        ):
            return None
        return chosen.name, chosen
    return None


_AFTER_GLUE = frozenset(("的", "的新", "新", "的年", "share", "stock"))
_UNIT_COUNTERS = frozenset(("颗", "片", "块", "套", "台", "个", "张", "chips", "gpus", "tpus", "accelerators",
                            "wafers", "servers", "units"))
_PROJECT_CUES = frozenset(("建设", "投资", "投资计划", "建设计划"))
_CONTINUES = re.compile(r"(?:至|到|为|达|减少|增加|降|升|和|及|或|\bto|\bat|\bof)\s*$")
_LEADING_PERIOD = re.compile(
    r"^(?:(?:19|20)\d{2}\s*年?(?:度|底|末|初)?|今年|去年|明年|[上下]半年|第?[一二三四1-4]季度|Q[1-4])\s*"
)


def _continues(prefix: str) -> bool:
    """A clause that only continues the sentence's metric ('先后下调至', '2015年', '、')."""
    p = _LEADING_PERIOD.sub("", prefix.strip(" 、,")).strip()
    return not p or (len(p) <= 14 and bool(_CONTINUES.search(p)))


def _implied_currency(ctx: _Ctx, q: Quantity) -> str | None:
    seg = ctx.text[max(0, q.start - 200) : q.start]
    for code, words in (("USD", ("美元",)), ("CNY", ("元", "人民币"))):
        if any(w in seg for w in words):
            last = max(seg.rfind(w) for w in words)
            other = "CNY" if code == "USD" else "USD"
            other_last = max(seg.rfind(w) for w in (("元", "人民币") if other == "CNY" else ("美元",)))
            if last >= other_last:
                return code
    if re.search(r"[\u4e00-\u9fff]", ctx.text[max(0, q.start - 20) : q.end + 5]):
        return "CNY"
    return None


def _resolve_entities(ctx: _Ctx, q: Quantity, s_lo: int, c_lo: int, topic: Mention | None) -> list[Mention]:
    text = ctx.text
    in_clause = [
        m for m in ctx.mentions_in(c_lo, q.start) if not _is_object(text, m) and not _is_modifier(text, m)
    ]
    if in_clause:
        m = in_clause[-1]
        # '甲、乙各…': the figure holds for each company of the enumeration
        if "各" in text[m.end : q.start]:
            group = [m]
            for prev in reversed(ctx.mentions_in(s_lo, m.start)):
                if text[prev.end : group[0].start].strip() in ("、", "和", "及", "与", ",", "以及"):
                    group.insert(0, prev)
                else:
                    break
            return group
        if _is_possessive(text, m) and len(in_clause) > 1:
            return [in_clause[-2]]
        return [m]
    found, ref = _pronoun_referent(ctx, c_lo, q.start, topic)
    if found:
        return [ref] if ref is not None else []
    subj = _subject(ctx, s_lo, q.start)
    if subj is not None:
        return [subj]
    found, ref = _pronoun_referent(ctx, s_lo, q.start, topic)
    if found:
        return [ref] if ref is not None else []
    fallback = topic or ctx.main
    return [fallback] if fallback is not None else []


def _kind(ctx: _Ctx, metric: str, q: Quantity, lo: int, period: str | None, company: Company) -> str:  # noqa: PLR0917
    cues = ctx.cues_in(lo, q.start)
    roles = {c.role for c in cues}
    if metric in ("investment_commitment", "deal_value"):
        return "commitment"
    if "estimate" in roles and metric not in ("share_price_change",):
        return "estimate"
    if "guidance" in roles or _future(period, ctx.published, company):
        return "guidance"
    if metric == "units" and "commit" in {c.role for c in ctx.cues_in(lo, q.end + _COUNT_NOUNS_AFTER)}:
        return "commitment"
    return "actual"


def _future(period: str | None, published: date | None, company: Company) -> bool:
    if not period or published is None or not period.startswith("FY") or len(period) != 6:
        return False
    return int(period[2:]) > current_fiscal_year(published, company.fiscal_year_end)


def _period(ctx: _Ctx, q: Quantity, s_lo: int, c_lo: int, metric: str, company: Company) -> str | None:  # noqa: PLR0917
    key = (s_lo, company.fiscal_year_end)
    found = ctx.period_cache.get(key)
    if found is None:
        s_hi = ctx.sentence(q.start)[1]
        found = ctx.period_cache[key] = find_periods(
            ctx.text, s_lo, s_hi, published=ctx.published, fiscal_year_end=company.fiscal_year_end
        )
    # period "" is a stated month without a quarter (今年9月): the figure's period is not stated
    spans = [p for p in found if p.period is not None and p.end <= q.start + 1]
    in_clause = [p for p in spans if p.start >= c_lo]
    if not in_clause:
        # English states the period after the figure: '$70 billion in 2025', '35% for fiscal Q1'
        trailing = next((p for p in found if p.period is not None and p.start >= q.end), None)
        if trailing is not None and (
            _TRAILING_PERIOD.fullmatch(ctx.text, q.end, trailing.start)
            or (
                ctx.text[q.end : trailing.start].strip() == ""
                and _EN_RELATIVE.match(ctx.text, trailing.start) is not None
            )
        ):
            spans = in_clause = [trailing]
    if metric in _PERIOD_METRICS_ASOF and metric != "cash":
        if in_clause and in_clause[-1].period and metric not in ("valuation", "market_cap"):
            return in_clause[-1].period
        return "ASOF"
    if not spans or not spans[-1].period:
        return "ASOF" if metric == "cash" else None
    return spans[-1].period


_TRAILING_PERIOD = re.compile(r",?\s*(?:in|for|during|over|of|through)\s+(?:the\s+)?", re.IGNORECASE)
_EN_RELATIVE = re.compile(r"(?:last|this|next) (?:fiscal )?(?:year|quarter)", re.IGNORECASE)


def _facts_for(
    ctx: _Ctx, q: Quantity, s_lo: int, *, topic: Mention | None, carried: str | None = None
) -> list[Fact]:
    if "vague" in q.flags or _in_parentheses(ctx.text, q.start, s_lo):
        return []
    c_lo, c_hi = ctx.clause(q.start, q.end)
    got = _classify(ctx, q, s_lo, c_lo, c_hi)
    if got is None and carried is not None:
        got = (carried, None)
    if got is None:
        return []
    metric, cue = got
    unit = q.unit
    if unit is None:
        if metric not in MONEY_METRICS:
            return []
        unit = _implied_currency(ctx, q)
        if unit is None:
            return []
    companies = _resolve_entities(ctx, q, s_lo, c_lo, topic)
    if not companies:
        return []
    value, low, high = q.value, q.low, q.high
    if metric == "share_price_change":
        head = ctx.text[max(c_lo, q.start - 8) : q.start]
        if any(w in head for w in _DOWN):
            value, low, high = (
                -value,
                (-high if high is not None else None),
                (-low if low is not None else None),
            )
    out = []
    for m in companies:
        company = m.company
        period = _period(ctx, q, s_lo, c_lo, metric, company)
        if metric in ("capex", "investment_commitment") and cue is not None:
            metric_f = _capex_or_commitment(ctx, q, cue, period, c_hi)
        else:
            metric_f = metric
        kind = _kind(ctx, metric_f, q, max(s_lo, m.end if m.end <= q.start else s_lo), period, company)
        if metric_f == "capex" and kind == "guidance":
            metric_f = "capex_guidance"
        if metric_f == "capex_guidance":
            kind = "guidance"
        span_lo, span_hi = q.start, q.end
        if cue is not None and cue.role == "metric":
            if cue.end <= q.start and q.start - cue.end <= 6:
                span_lo = cue.start
            elif cue.start >= q.end and cue.start - q.end <= 3:
                span_hi = cue.end
        out.append(
            Fact(
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
                ctx.text[span_lo:span_hi],
                span_lo,
                span_hi,
                "repaired" in q.flags,
            )
        )
    return out


def _in_parentheses(text: str, pos: int, lo: int) -> bool:
    """An aside in parentheses (a detail of the sentence, not its statement)."""
    op = max(text.rfind("(", lo, pos), text.rfind("（", lo, pos))
    if op < 0:
        return False
    return max(text.rfind(")", op, pos), text.rfind("）", op, pos)) < 0


def _capex_or_commitment(ctx: _Ctx, q: Quantity, cue: Cue, period: str | None, c_hi: int) -> str:
    if cue.name == "capex":
        return "capex"
    if ctx.text[cue.start : cue.end].lower() not in _WEAK_INVEST:
        return "investment_commitment"
    after = ctx.text[q.end : c_hi].lower()
    single = period is not None and ".." not in period and period != "ASOF"
    if single and not any(w in after for w in _PROJECT_WORDS):
        return "capex"
    return "investment_commitment"
