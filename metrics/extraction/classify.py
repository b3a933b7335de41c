"""Which metric a quantity states, read from the cues around it (``cues.py``).

By the quantity's unit:

- a percentage after a word of change (同比增长, 年减, 按年跌, rose, "a 12% increase") is a change of
  the metric named before that word: growth of revenue or net income (with the sign of the change:
  下降3% is -3), a share move when the noun is a share (股价, shares) or a company named right before
  the verb (小米集团涨超4%); quarter-on-quarter changes (环比, 季增, sequentially) and changes of
  anything else are not stored; "提升至22%" is the new level of a margin, not a change. Otherwise a
  percentage is the margin or yield named next to it;
- an amount of money is the metric named before it in its clause or right after it (5,000万美元的经营
  亏损, "$2.1 billion in revenue"); a specific cue wins over a generic one (投资, 协议); an amount right
  after a verb of change is a change, not stored ("增加15亿元"), and one after "rose 5% to" is the new
  level of the metric that grew; a loss named for a business segment is an operating loss;
- counts are units (products shipped, ordered, delivered), customers, shares bought back or
  outstanding; GW/MW are power capacity; a multiple (倍) is leverage or growth.

Anything named by an ``other`` cue (gross profit, EPS, cash flow, R&D ...) or out of ``scope``
(market sizes, indices) is not stored. Comparisons and the enumeration look-ahead are left to the
caller (``compare.py``, ``extract.py``).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

from metrics.extraction.change import (
    base_of,
    change_after,
    change_before,
    direction,
    is_delta,
    listed_change,
    verb_before_noun,
)
from metrics.extraction.context import Context, in_parentheses
from metrics.extraction.cues import MONEY_METRICS, Cue
from metrics.extraction.lexicon import lexicon
from metrics.extraction.numbers import Quantity

__all__ = ["GROWTH_BASE", "REJECT", "Reading", "classify", "is_delta", "money_cue", "unit_class"]

GROWTH_BASE = {
    "revenue": "revenue_growth_yoy",
    "net_income": "net_income_growth_yoy",
    "ebitda": "ebitda_change",
}
PCT_METRICS = frozenset(("dividend_yield", "gross_margin", "net_margin", "operating_margin", "buyback"))
_NOUNS = frozenset(("metric", "other", "scope"))
_CHANGE = frozenset(("change", "base"))
_BASE = frozenset(("base",))
_LEX = lexicon()
_WEAK = _LEX.weak_metrics
_AFTER_GLUE = re.compile(
    r"(?:的新|的|新|\s|(?-i:[A-Z])\+?)*$|\s+(?:annual|annualized|annualised|quarterly)\s+$"
    r"|\s*(?:in|of|on|worth of|worth of (?:its|their)|of (?:its|their)|for)"
    r"(?:\s+(?:annual|quarterly|total|its|their|the|new|adjusted|cloud|ad|net|gross|additional|own))*\s+$",
    re.IGNORECASE,
)
# the growth of the noun right before it ('营收增长指引', 'revenue growth forecast')
_GROWTH_NOUN = re.compile(r"\s*(?:同比|年|全年)?\s*(?:增长|成长|增速|增幅|growth)", re.IGNORECASE)
# a noun followed by its own figure ('revenue of $5 billion')
_OWN_FIGURE = re.compile(r"\s*(?:of|was|were|totall?ed|reached|at|:|为|达)\s*", re.IGNORECASE)
_SEGMENT_GAP = 10
_OPEN_PAREN = re.compile(r"\s*[(（]")
_SUPPLY_GAP = re.compile(r"\s*(?:了|的|新车|共)?\s*")
_IN_NOUN = re.compile(
    r"\s+(?:in|of)\s+(?:(?:its|their|the|quarterly|annual|total|net|adjusted)\s+)*", re.IGNORECASE
)
_INCREASE_TO = re.compile(r"[\s\w-]{0,40}?(?:\bto|至|到)\s*")
_MONEYISH = MONEY_METRICS | {"share_price"}
_BARE_LOSS = frozenset(("亏损", "loss", "损失", "大蚀", "转蚀"))
_PRODUCT_AFTER = re.compile(r"\s*(?:的|for the|for its)\s*[A-Za-z\u4e00-\u9fff]")
_PRICE_WORDS = frozenset(("售价", "单价", "定价", "priced at", "管道价", "渠道价"))
_PHRASE = re.compile(r"的?[\w ]{0,10}")
_CUMULATIVE = re.compile(
    "|".join(re.escape(w) for w in sorted(_LEX.cumulative, key=len, reverse=True)), re.IGNORECASE
)


@dataclass(frozen=True, slots=True)
class Reading:
    """What a quantity states: the metric, the cue that names it (for the quote), whether the value
    is negated (a fall), a unit in place of the quantity's (x for growth as a multiple)."""

    metric: str
    cue: Cue | None = None
    negate: bool = False
    unit: str | None = None


REJECT = Reading("")  # the quantity is named, and out of scope: nothing else may claim it


def unit_class(q: Quantity) -> str | None:
    """money | pct | x | count | power | bare (an amount without unit) | None (pp, other)."""
    if q.is_money:
        return "money"
    if q.unit in ("pct", "x", "count"):
        return q.unit
    if q.unit in ("GW", "MW"):
        return "power"
    if q.unit is None and "bare" in q.flags:
        return "bare"
    return None


def _nearest_noun(ctx: Context, lo: int, pos: int) -> Cue | None:
    """The noun cue (metric, other, scope) ending last before ``pos`` (after ``lo``); the longest
    of those ending together."""
    best: Cue | None = None
    for c in ctx.cues_in(lo, pos, _NOUNS):
        if best is None or c.end > best.end or (c.end == best.end and c.start < best.start):
            best = c
    return best


def _outside_parentheses(ctx: Context, noun: Cue | None, s_lo: int, pos: int) -> Cue | None:
    """``noun``, or when it stands in a closed aside before ``pos`` ('营收为500亿元(含汇率影响),年增8%'),
    the nearest noun before that aside."""
    text = ctx.text
    while noun is not None and in_parentheses(text, noun.start, s_lo) and not in_parentheses(text, pos, s_lo):
        op = max(text.rfind("(", s_lo, noun.start), text.rfind("（", s_lo, noun.start))
        noun = _nearest_noun(ctx, s_lo, op) if op >= 0 else None
    return noun


def _company_before(ctx: Context, pos: int, lo: int) -> bool:
    """A company named right before a verb (小米集团涨超4%, 腾讯控股全日下跌1.5%)."""
    ms = ctx.mentions_in(lo, pos)
    return bool(ms) and pos - ms[-1].end <= 8 and not ctx.cues_in(ms[-1].end, pos, _NOUNS)


_GROWTH_OF = re.compile(
    r"(?:'s|’s)?\s*(?:revenue\s+|sales\s+)?growth(?:\s+rate)?\s*(?=[:,]|of\b|was\b|is\b|at\b|hit|reach"
    r"|slow|accelerat|sp[eo]+d|pick|rose|rise|jump|climb|fell|eased|cooled|came|stood|ticked|improved|topped)",
    re.IGNORECASE,
)


def _company_growth(ctx: Context, s_lo: int, pos: int) -> bool:
    """'AWS growth sped up to 20%', "Azure's growth of 39%": a company's (or unit's) growth is that of
    its revenue, when no other noun stands before the figure."""
    ms = ctx.mentions_in(s_lo, pos)
    if not ms:
        return False
    m = _GROWTH_OF.match(ctx.text, ms[-1].end)
    return m is not None and not ctx.cues_in(m.end(), pos, _NOUNS)


def _pct(ctx: Context, q: Quantity, s_lo: int, c_lo: int, c_hi: int) -> Reading | None:
    text = ctx.text
    ch = change_before(ctx, q, c_lo)
    if ch is None and text[max(0, q.start - 2) : q.start].strip() in ("(", "（"):
        # 'up 2,100 won (4.35%)': the percentage of the change just stated
        money = [x for x in ctx.quantities_in(max(0, q.start - 40), q.start) if x.end <= q.start]
        if money and _OPEN_PAREN.fullmatch(text, money[-1].end, q.start):
            ch = change_before(ctx, money[-1], max(0, money[-1].start - 30))
    after = None if ch is not None else change_after(ctx, q, c_hi)
    if ch is None and after is None:
        ch = listed_change(ctx, q, s_lo)
    if ch is None and after is None and "signed" in q.flags:
        # '(+9% y/y)', '-3% YoY': a signed percentage with its base right after is a change
        bases = ctx.cues_in(q.end, min(c_hi, q.end + 16), _BASE)
        after = next((c for c in bases if not text[q.end : c.start].strip()), None)
    if ch is None and after is None:
        vn = verb_before_noun(ctx, q, c_lo)
        if vn is not None and vn[1].name in GROWTH_BASE and base_of(ctx, q, c_lo, c_hi) != "qoq":
            return Reading(GROWTH_BASE[vn[1].name], vn[0], direction(ctx, vn[0]) == "down")
    if ch is not None and ch[1]:
        noun = _nearest_noun(ctx, c_lo, ch[0].start)
        if noun is not None and noun.role == "metric" and noun.name in PCT_METRICS:
            return Reading(noun.name, noun)  # 毛利率提升至31%: the new level
        if noun is None and _company_growth(ctx, s_lo, ch[0].start):
            return Reading("revenue_growth_yoy", ch[0])  # 'Azure growth accelerated to 40%': its level
        if (
            noun is not None
            and noun.role == "metric"
            and noun.name in GROWTH_BASE
            and _GROWTH_NOUN.match(text, noun.end, ch[0].end)
            and base_of(ctx, q, c_lo, c_hi) != "qoq"
        ):
            # '营收增长指引上调至15%-20%', 'revenue growth forecast to 8%-10%': the growth's new level
            return Reading(GROWTH_BASE[noun.name], ch[0])
        return REJECT if noun is not None else None
    change = ch[0] if ch is not None else after
    if change is None:
        nouns = ctx.cues_in(c_lo, q.start, _NOUNS)
        tail = [c for c in ctx.cues_in(q.end, min(c_hi, q.end + 4), _NOUNS) if c.name in PCT_METRICS]
        for noun in reversed(nouns):  # past metrics that take no percentage (回购规模…总股本的3%)
            if noun.role != "metric":
                return REJECT
            if noun.name in PCT_METRICS:
                return Reading(noun.name, noun)
        if not nouns and tail:
            return Reading(tail[0].name, tail[0])
        label = _label_before(ctx, s_lo, c_lo)
        if not nouns and label is not None and label.name in PCT_METRICS:
            return Reading(label.name, label)  # 'Gross margin: 47%' (a list of results)
        if not nouns and _company_growth(ctx, s_lo, q.start):
            return Reading("revenue_growth_yoy")  # 'AWS growth slowed to 17%': the growth's level
        return None
    negate = change.role == "change" and direction(ctx, change) == "down"
    if _company_growth(ctx, s_lo, q.start):
        return Reading("revenue_growth_yoy", change, negate)  # 'AWS growth accelerated to 20%'
    anchor = change.start if change.start < q.start else q.start
    # 'a 37% drop in net income' names its own noun after the change, whatever came before it
    own = _noun_after_change(ctx, change, c_hi) if change.start > q.end else None
    noun = own or _base_noun(ctx, s_lo, anchor)
    if (own is None or own.name == "share_price") and _is_share_move(ctx, noun, s_lo, anchor):
        scope = any(c.role == "scope" for c in ctx.cues_in(c_lo, q.start))
        if scope or _cumulative(text, s_lo, c_hi, q.start):
            return REJECT
        return Reading("share_price_change", None, negate)
    if base_of(ctx, q, c_lo, c_hi) == "qoq" or _against_other_quarter(ctx, c_lo, anchor):
        return REJECT
    if noun is None and change.start > q.end:
        noun = _noun_after_change(ctx, change, c_hi)  # 'a 12% increase in revenue'
    if noun is None:
        noun = _noun_of_level_after(ctx, q, c_hi)
    if noun is None or noun.role != "metric" or noun.name not in GROWTH_BASE:
        return REJECT if noun is not None else None
    return Reading(GROWTH_BASE[noun.name], change, negate)


def _label_before(ctx: Context, s_lo: int, c_lo: int) -> Cue | None:
    """The metric noun a colon closes right before the clause at ``c_lo`` ('Operating margin: 16%')."""
    head = ctx.text[s_lo:c_lo].rstrip()
    if not head.endswith((":", "：")):
        return None
    end = s_lo + len(head) - 1
    noun = _nearest_noun(ctx, s_lo, end)
    if noun is None or noun.role != "metric" or ctx.text[noun.end : end].strip():
        return None
    return noun


_WHICH_ASIDE = re.compile(r",\s*which\b[^,]*\Z", re.IGNORECASE)


def _cumulative(text: str, s_lo: int, hi: int, pos: int) -> bool:
    """A move over a longer time named in the sentence ('今年来累涨', 'this year'), unless it stands in
    a closed ', which ...,' aside before the figure ('Shares, which have risen 25% this year, closed
    1% higher')."""
    for m in _CUMULATIVE.finditer(text, s_lo, hi):
        if m.end() <= pos and _WHICH_ASIDE.search(text, s_lo, m.start()) and "," in text[m.end() : pos]:
            continue
        return True
    return False


_SHARE_THROUGH = frozenset(("share_price",))
_IT = re.compile(r"\s*(?:it|它|其股价)\b", re.IGNORECASE)


_PER_SHARE_ASIDE = re.compile(
    r",\s*or\s+[^,]{1,24}?\b(?:per|a)\s+(?:diluted\s+|basic\s+)?(?:share|ads)\s*,\s*\Z", re.IGNORECASE
)


def _base_noun(ctx: Context, s_lo: int, pos: int) -> Cue | None:
    """The noun a change at ``pos`` is about: the nearest noun before it in its sentence (past an
    aside ", or $1.20 per share,"); for a sentence opening with "it", the last noun of the sentence
    before."""
    aside = _PER_SHARE_ASIDE.search(ctx.text, max(s_lo, pos - 60), pos)
    if aside is not None:
        pos = aside.start()
    noun = _outside_parentheses(ctx, _nearest_noun(ctx, s_lo, pos), s_lo, pos)
    if noun is None and _IT.match(ctx.text, s_lo) and s_lo > 0:
        p_lo = ctx.sentence(s_lo - 1)[0]
        noun = _nearest_noun(ctx, p_lo, s_lo)
    return noun


def _is_share_move(ctx: Context, noun: Cue | None, s_lo: int, pos: int) -> bool:
    """A change of a share: a share noun (股价, shares) before the verb with no revenue or profit
    noun after it, or a company named right before the verb (小米集团涨超4%)."""
    if noun is not None and noun.role == "metric" and noun.name == "share_price":
        return True
    shares = [c for c in ctx.cues_in(s_lo, pos, frozenset(("metric",))) if c.name == "share_price"]
    if shares and not any(c.name != "share_price" for c in ctx.cues_in(shares[-1].end, pos, _NOUNS)):
        return True
    if noun is None:
        return _company_before(ctx, pos, s_lo)
    return noun.end <= pos and _company_before(ctx, pos, noun.end) and noun.name not in GROWTH_BASE


_CAL_Q = re.compile(r"\d{4}Q[1-4]")
_VERSUS = re.compile(
    r"(?:较|比|与|相较于?|相比|compared (?:with|to)|from|than|versus|vs\.?)\s*\Z", re.IGNORECASE
)


def _against_other_quarter(ctx: Context, c_lo: int, pos: int) -> bool:
    """'较2025年第一季度的150亿元下降5%': a change against a quarter other than the same
    quarter a year before (a sequential change: not stored as growth)."""
    for p in ctx.periods(c_lo, pos, 12):
        v = _VERSUS.search(ctx.text, max(c_lo, p.start - 16), p.start)
        if (
            p.period
            and _CAL_Q.fullmatch(p.period)
            and v is not None
            and not ctx.mentions_in(v.start() - 8, v.end())
        ):
            current = ctx.main_period(12)
            return current is not None and p.period != f"{int(current[:4]) - 1}{current[4:]}"
    return False


def _noun_after_change(ctx: Context, change: Cue, c_hi: int) -> Cue | None:
    """'a 12% increase in revenue': the noun after the change word and 'in'/'of'."""
    for c in ctx.cues_in(change.end, min(c_hi, change.end + 40), _NOUNS):
        return c if _IN_NOUN.fullmatch(ctx.text, change.end, c.start) else None
    return None


def _noun_of_level_after(ctx: Context, q: Quantity, c_hi: int) -> Cue | None:
    """'a 12% increase to $3.2 billion in revenue': the metric of the level that follows."""
    nxt = ctx.quantities_in(q.end, c_hi)
    if not nxt or not _INCREASE_TO.fullmatch(ctx.text, q.end, nxt[0].start):
        return None
    return money_cue(ctx, nxt[0], ctx.clause(nxt[0].start, nxt[0].end))


_CLOSED_ASIDE = re.compile(r"[)）]\s*")
_COMMA_ASIDE = re.compile(
    r"\s*(?:including|excluding|not including|net of|before|after)\b[^,，]*[,，]\s*$", re.IGNORECASE
)


def money_cue(ctx: Context, q: Quantity, clause: tuple[int, int]) -> Cue | None:
    """The cue naming an amount: a noun right after it (with glue: 的, in, of its), else the nearest
    noun before it in its clause, a specific one before a generic one (投资, 协议)."""
    text = ctx.text
    c_lo, c_hi = clause
    for c in ctx.cues_in(q.end, min(len(text), q.end + 40), _NOUNS):
        if c.role == "metric" and c.name not in _MONEYISH:
            continue
        if _AFTER_GLUE.fullmatch(text, q.end, c.start) and c.start - q.end <= 30:
            nxt = ctx.quantities_in(c.end, c.end + 16)
            if not (nxt and _OWN_FIGURE.fullmatch(text, c.end, nxt[0].start)):
                return c
            # '$1 billion on revenue of $5 billion': the noun names the figure after it
        break
    before = [c for c in ctx.cues_in(c_lo, q.start, _NOUNS) if c.role != "metric" or c.name in _MONEYISH]
    if before and not in_parentheses(text, q.start, c_lo):
        # a noun in a closed aside before the amount names nothing ('营收(不含汇率影响)为500亿元')
        before = [c for c in before if not in_parentheses(text, c.start, c_lo)]
    if not before:
        # 'capital expenditures, including finance leases, were $35 billion': past a comma aside
        lo0 = ctx.clause(c_lo - 2, c_lo - 1)[0] if c_lo >= 2 else c_lo
        if lo0 < c_lo and _COMMA_ASIDE.match(text, lo0, c_lo) and lo0 >= 2:
            lo1 = ctx.clause(lo0 - 2, lo0 - 1)[0]
            if not ctx.quantities_in(lo1, c_lo):
                before = [
                    c for c in ctx.cues_in(lo1, lo0, _NOUNS) if c.role != "metric" or c.name in _MONEYISH
                ]
    if not before:
        # 'revenue (excluding currency effects) was $5 billion': the clause goes on past the aside
        close = _CLOSED_ASIDE.search(text, max(0, c_lo - 3), c_lo + 1)
        if close is not None:
            op = max(text.rfind("(", 0, close.start()), text.rfind("（", 0, close.start()))
            lo = ctx.clause(op - 1, op)[0] if op > 0 else c_lo
            # only a noun no figure took yet (not '247亿元(约35亿美元),低于预期的248亿元')
            if op > 0 and ctx.sentence(op)[0] == ctx.sentence(q.start)[0] and not ctx.quantities_in(lo, c_lo):
                before = [
                    c for c in ctx.cues_in(lo, op, _NOUNS) if c.role != "metric" or c.name in _MONEYISH
                ]
    if not before:
        # a generic noun closing the phrase the amount opens (500亿元的数据中心投资计划, 的合作协议)
        for c in ctx.cues_in(q.end, min(c_hi, q.end + 14), _NOUNS):
            if c.role == "metric" and c.name in _WEAK and _PHRASE.fullmatch(text, q.end, c.start):
                return c
        return None
    nearest = before[-1]
    strong = [c for c in before if not (c.role == "metric" and c.name in _WEAK)]
    if nearest.role == "metric" and nearest.name in _WEAK and strong:
        return strong[-1]
    return max((c for c in before if c.end == max(b.end for b in before)), key=lambda c: c.end - c.start)


def _money(ctx: Context, q: Quantity, s_lo: int, c_lo: int, c_hi: int) -> Reading | None:
    text = ctx.text
    if "per_unit" in q.flags and q.counter not in ("股", "share"):
        return Reading("unit_price")
    cue = money_cue(ctx, q, (c_lo, c_hi))
    if cue is None:
        return None
    if cue.role != "metric" or cue.name not in MONEY_METRICS:
        return REJECT
    if is_delta(ctx, q, max(c_lo, cue.end)):
        return REJECT  # '净利润增加15亿元': the change, not the new level
    metric = cue.name
    if metric == "buyback" and "per_unit" in q.flags:
        return REJECT  # '回购价格不超过80元/股': the price per share of a buyback, not its amount
    if metric == "net_loss" and text[cue.start : cue.end] in _BARE_LOSS:
        seg = ctx.cues_in(max(s_lo, cue.start - _SEGMENT_GAP), cue.start, frozenset(("segment",)))
        if seg:
            metric = "operating_loss"  # a segment's loss: its operating loss
    if metric == "unit_price" and (
        text[max(0, cue.start - 1) : cue.start] == "股"
        or not (
            any(c.name == "units" for c in ctx.cues_in(s_lo, q.start, frozenset(("metric",))))
            or (text[cue.start : cue.end].lower() in _PRICE_WORDS and _PRODUCT_AFTER.match(text, q.end))
        )
    ):
        return REJECT  # a price is a unit price of a product: chips counted, or '售价1,299美元的新款手机'
    return Reading(metric, cue)


_UNIT_NOUNS_AFTER = 24
_UNIT_WORDS = frozenset(w for m in _LEX.metrics if m.name == "units" for w in m.words if w.isascii())
_CUSTOMER_GAP = re.compile(r"\s*(?:达到|达|为|:)?\s*")
_CUSTOMER_COUNTERS = frozenset(("家", "个", "名", "户", "位", "customers", "clients"))


def _count(ctx: Context, q: Quantity, s_lo: int, c_lo: int, c_hi: int) -> Reading | None:
    text = ctx.text
    if ctx.cues_in(c_lo, q.start, frozenset(("scope",))):
        return None
    after = ctx.cues_in(q.end, min(c_hi, q.end + _UNIT_NOUNS_AFTER), frozenset(("metric",)))
    before = ctx.cues_in(max(c_lo, q.start - 8), q.start, frozenset(("metric", "supply")))
    if q.counter in _CUSTOMER_COUNTERS and (
        any(c.name == "customers" and c.start - q.end <= 4 for c in after)
        or any(c.name == "customers" and q.start - c.end <= 2 for c in before)
    ):
        return Reading("customers", next((c for c in after + before if c.name == "customers"), None))
    if q.counter in ("股", "shares", "share"):
        # shares bought back or outstanding: the nearest of those cues before (or right after) it
        near = [
            c
            for c in ctx.cues_in(s_lo, q.start, frozenset(("metric",)))
            if c.name in ("buyback", "shares_outstanding")
        ]
        near += [c for c in after if c.name in ("buyback", "shares_outstanding") and c.start - q.end <= 3]
        return Reading(near[-1].name, near[-1]) if near else None
    if q.counter not in _LEX.unit_counters:
        return None
    nouns = [c for c in after if c.name == "units"] + [
        c for c in before if c.role == "metric" and c.name == "units"
    ]
    if not nouns and q.counter in _UNIT_WORDS:  # '19 million units': the counter is the noun
        nouns = [Cue(q.start, q.end, "metric", "units")]
    supply = ctx.cues_in(s_lo, min(c_hi, q.end + _UNIT_NOUNS_AFTER), frozenset(("supply",)))
    close = [c for c in before if c.role == "supply" and _SUPPLY_GAP.fullmatch(text, c.end, q.start)]
    if (nouns and supply) or close:
        return Reading("units", (nouns or close)[0])
    return None


_LISTED = re.compile(r"\s*(?:、|,|，|和|及|与|以及|and|, and|&)\s*", re.IGNORECASE)
_TOTAL_SRC = r"合计|共计|总计|加起来|combined|together|collectively|in total|between them"
_TOTAL = re.compile(_TOTAL_SRC)  # over the lowered text (``Context.folded``)
_TOTAL_ANYCASE = re.compile(_TOTAL_SRC, re.IGNORECASE)


def _aggregate(ctx: Context, q: Quantity, s_lo: int) -> bool:
    """A total of several companies ('微软、谷歌和亚马逊资本开支合计…', 'combined capex of …')."""
    ms = ctx.mentions_in(s_lo, q.start)
    if len(ms) < 2:
        return False
    rx, text = ctx.folded(_TOTAL, _TOTAL_ANYCASE)
    if not rx.search(text, s_lo, q.start) and not rx.match(text, q.end, q.end + 16):
        return False
    return any(
        a.company is not b.company and _LISTED.fullmatch(ctx.text, a.end, b.start)
        for a, b in itertools.pairwise(ms)
    )


def classify(ctx: Context, q: Quantity, s_lo: int, c_lo: int, c_hi: int) -> Reading | None:
    """The metric ``q`` states, from its own cues; None when they name none or one out of scope."""
    uc = unit_class(q)
    if _aggregate(ctx, q, s_lo):
        return REJECT
    if in_parentheses(ctx.text, q.start, s_lo) and uc != "pct":
        return None  # an aside (约新台币300亿元): only a change in parentheses counts (同比+12%)
    if uc == "pct":
        return _pct(ctx, q, s_lo, c_lo, c_hi)
    if uc == "bare":  # 付费用户1.25亿, 276 million paying users: a count of customers
        near = ctx.cues_in(max(c_lo, q.start - 16), min(c_hi, q.end + 24), frozenset(("metric",)))
        for c in near:
            if c.name == "customers" and (
                _CUSTOMER_GAP.fullmatch(ctx.text, c.end, q.start)
                or _CUSTOMER_GAP.fullmatch(ctx.text, q.end, c.start)
            ):
                return Reading("customers", c, unit="count")
    if uc in ("money", "bare"):
        return _money(ctx, q, s_lo, c_lo, c_hi)
    if uc == "count":
        return _count(ctx, q, s_lo, c_lo, c_hi)
    if uc == "power":
        if ctx.cues_in(c_lo, q.start, frozenset(("scope",))) or (q.unit == "MW" and q.value < 1):
            return None
        return Reading("power_capacity")
    if uc == "x":
        lev = [c for c in ctx.cues_in(s_lo, q.start, frozenset(("metric",))) if c.name == "leverage"]
        if lev and q.start - lev[-1].end <= 20:
            return Reading("leverage", lev[-1])
        ch = change_before(ctx, q, c_lo)
        at = q.start if "word" in q.flags else ch[0].start if ch is not None and not ch[1] else None
        if at is not None:
            noun = _nearest_noun(ctx, c_lo, at)
            if noun is not None and noun.role == "metric" and noun.name in GROWTH_BASE:
                return Reading(GROWTH_BASE[noun.name], ch[0] if ch else None, unit="x")
    return None
