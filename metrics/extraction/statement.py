"""The period, kind and currency of a figure once its metric and company are known.

Period: the period stated in the figure's clause (or, in English, right after it: "$70 billion in
2025"), else earlier in its sentence; else, for the flow metrics (revenue, profit, growth, margins,
capex, units), the period last stated in its paragraph, else the article's main period (the first
reported quarter, half or nine months it names that has begun by the article date). 当季/期内/"the
quarter" name that carried period. Stocks (valuation, market cap, cash ...) are ``ASOF``; share moves
and unit prices have none.

Kind: investment and deal amounts are commitments; buybacks, funding rounds and valuations announced
or negotiated are commitments, a stated goal is guidance; otherwise a third party's forecast is an
estimate, the company's own forecast or a period still ahead is guidance, else actual.

Currency: a named currency; a bare sign (元, $, ¥) is the currency the article declared for what
follows ("(人民币,下同)"), else the company's home currency when the sign can stand for it (元 for
CNY, TWD, HKD; $ for USD, HKD, TWD ...), else the sign's default; an amount without any currency takes
the last currency named before it, else the company's home currency in Chinese text.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from metrics.extraction.context import Context, in_parentheses
from metrics.extraction.fiscal import period_end
from metrics.extraction.lexicon import lexicon
from metrics.extraction.periods import PeriodSpan

if TYPE_CHECKING:
    from metrics.extraction.classify import Reading
    from metrics.extraction.entities import Company
    from metrics.extraction.numbers import Quantity

__all__ = ["CARRIED", "capex_or_commitment", "currency_of", "kind_of", "period_of"]

ASOF_METRICS = frozenset(
    ("valuation", "market_cap", "customers", "shares_outstanding", "leverage", "dividend_yield", "cash")
)
NO_PERIOD = frozenset(("share_price_change", "unit_price"))
CARRIED = frozenset(
    (
        "revenue",
        "revenue_growth_yoy",
        "net_income",
        "net_income_growth_yoy",
        "net_loss",
        "operating_loss",
        "gross_margin",
        "net_margin",
        "operating_margin",
        "ebitda",
        "ebitda_change",
        "capex",
        "units",
    )
)
_TRAILING = re.compile(
    # the tolerance of a forecast may stand between ('$65 billion, plus or minus 2%, for the quarter')
    # and so may what was bought ('spent $2 billion on data centers in the quarter')
    r"(?:,\s*plus or minus[^,]{1,30})?(?:\s+on\s+[^,.;]{1,60}?)?,?\s*"
    r"(?:in|for|during|over|of|through|within)\s+(?:the\s+)?",
    re.IGNORECASE,
)
_EN_RELATIVE = re.compile(r"(?:last|this|next) (?:fiscal )?(?:year|quarter)", re.IGNORECASE)
_CARRY_BACK = 3000  # characters of its paragraph a figure looks back for a period
_GOAL = frozenset(
    ("目标", "goal", "target", "targets", "targeting", "aims", "aiming", "seeks", "寻求", "力争")
)
_LEX = lexicon()
_THIS_QUARTER = frozenset(_LEX.periods["this_quarter"])
_HAN = re.compile(r"[\u4e00-\u9fff]")


_CMP = frozenset(("cmp",))
_FORECAST = frozenset(("guidance", "estimate"))  # the roles of a forecast's words
_CMP_BASE = frozenset(("cmp", "base"))
_OWNED = re.compile(r"\s*(?:的|'s|’s)")


def _compared(ctx: Context, p: PeriodSpan) -> bool:
    """A period named as the term of a comparison (去年同期, 去年则为, 较上季, a year earlier; 高于2024年的
    …, 较2024年第二季度的…, 'above 2024's …': a comparing word right before the period, whose figure
    follows it)."""
    near = ctx.cues_in(max(0, p.start - 40), p.end + 4, _CMP_BASE)
    if any(
        (c.role == "base" or c.name in ("prior_year", "prior_quarter"))
        # next to the period, or holding it ('from the same quarter last year')
        and (c.start >= p.start - 2 or c.end >= p.end)
        for c in near
    ):
        return True
    return _OWNED.match(ctx.text, p.end) is not None and any(
        c.name == "link" and not ctx.text[c.end : p.start].strip()
        for c in ctx.cues_in(max(0, p.start - 16), p.start, _CMP)
    )


def _carried(ctx: Context, s_lo: int, company: Company) -> str | None:
    """The period last stated in the paragraph before ``s_lo`` (not as the term of a comparison),
    else the article's main period (found once per sentence and fiscal year end)."""
    key = ("carried", s_lo, company.fiscal_year_end)
    if key not in ctx.memo:
        ctx.memo[key] = _carried_from(ctx, s_lo, company.fiscal_year_end)
    found = ctx.memo[key]
    assert found is None or isinstance(found, str)
    return found


def _carried_from(ctx: Context, s_lo: int, fye: int) -> str | None:
    l_lo, _ = ctx.line(s_lo)  # the paragraph's sentences, latest first
    return _last_stated(ctx, s_lo, fye, floor=l_lo, reach=_CARRY_BACK) or ctx.main_period(fye)


QUARTER_PERIOD = re.compile(r"Q[1-4]$")  # a quarter's period label (2025Q3, FY2026Q1)
_QUARTER_WORDS = ("当季", "单季", "同季", "该季度", "quarter")


def _last_quarter(ctx: Context, s_lo: int, fye: int) -> str | None:
    """The quarter last stated before ``s_lo`` in the article (not as the term of a comparison)."""
    return _last_stated(ctx, s_lo, fye, floor=ctx.body0, reach=2 * _CARRY_BACK, quarters=True)


def _last_stated(
    ctx: Context, s_lo: int, fye: int, *, floor: int, reach: int, quarters: bool = False
) -> str | None:
    """The period (a quarter when ``quarters``) last stated, not as the term of a comparison, in the
    sentences before ``s_lo`` that start after ``floor`` and within ``reach`` characters (each
    sentence's answer found once)."""
    pos = s_lo
    while pos > floor and s_lo - pos < reach:
        a, b = ctx.sentence(pos - 1)
        a = max(a, floor)
        key = ("stated_quarter" if quarters else "stated", a, fye)
        if key not in ctx.memo:
            stated = [
                p
                for p in ctx.periods(a, b, fye)
                if p.period and not p.carry and not _compared(ctx, p)
                and (not quarters or QUARTER_PERIOD.search(p.period))
            ]
            ctx.memo[key] = stated[-1].period if stated else None
        last = ctx.memo[key]
        if last is not None:
            assert isinstance(last, str)
            return last
        pos = a
    return None


def _quarter_ahead(ctx: Context, s_lo: int, s_hi: int, company: Company) -> str | None:
    """A forecast stating no period of its own ('It expects $N for the quarter'): the quarter last
    named before it in the article when that quarter is still ahead at the article date
    ('forecast second-quarter revenue … . It expects $N'), else None."""
    if ctx.published is None or not ctx.cues_in(
        _statement_start(ctx, s_lo), s_hi, _FORECAST
    ):
        return None
    ahead = _last_quarter(ctx, s_lo, company.fiscal_year_end)
    end = period_end(ahead, company.fiscal_year_end) if ahead else None
    return ahead if end is not None and end > ctx.published else None


def period_of(
    ctx: Context, q: Quantity, *, s_lo: int, c_lo: int, metric: str, company: Company
) -> str | None:
    """The period of a figure (see the module docstring)."""
    if metric in NO_PERIOD:
        return None
    s_hi = ctx.sentence(q.start)[1]
    found = ctx.periods(s_lo, s_hi, company.fiscal_year_end)
    growth = metric.endswith("_growth_yoy")  # a growth's term of comparison (较去年同期) is not its period
    spans = [
        p
        for p in found
        if p.end <= q.start + 1 and ((p.start >= c_lo and not growth) or not _compared(ctx, p))
    ]
    # a date in an aside ('第二财季(截至12月底)营收') does not hide the period before it
    spans = [p for p in spans if p.period != "" or not in_parentheses(ctx.text, p.start, s_lo)]
    in_clause = [p for p in spans if p.start >= c_lo]
    if not in_clause:
        trailing = next((p for p in found if p.start >= q.end and (p.period or p.carry)), None)
        if trailing is not None and (
            _TRAILING.fullmatch(ctx.text, q.end, trailing.start)
            or (not ctx.text[q.end : trailing.start].strip() and _EN_RELATIVE.match(ctx.text, trailing.start))
        ):
            spans = in_clause = [trailing]
    if metric in ASOF_METRICS:
        if metric not in ("valuation", "market_cap", "cash") and in_clause and in_clause[-1].period:
            return in_clause[-1].period
        if (
            metric == "cash"
            and in_clause
            and in_clause[-1].period
            and ctx.cues_in(s_lo, q.start, frozenset(("guidance",)))
        ):
            return in_clause[-1].period
        return "ASOF"
    last: PeriodSpan | None = spans[-1] if spans else None
    if last is not None:
        if last.carry:  # 当季, the quarter: the period stated before it, else the one carried
            stated = [p for p in spans if p.period and not p.carry]
            period = stated[-1].period if stated else _carried(ctx, s_lo, company)
            word = ctx.text[last.start : last.end].lower()
            ahead = None if stated else _quarter_ahead(ctx, s_lo, s_hi, company)
            if ahead is not None:
                return ahead
            if not QUARTER_PERIOD.search(period or "") and word.endswith(_QUARTER_WORDS):
                # 'the quarter' after a year ('For fiscal 2025, … . It returned $2.9 billion in the
                # quarter'): the quarter last stated in the article
                return _last_quarter(ctx, s_lo, company.fiscal_year_end) or period
            return period
        if last.period and ctx.text[last.start : last.end].lower() in _THIS_QUARTER:
            return _this_quarter(ctx, last.period, s_lo, s_hi, company)
        return last.period or None
    if metric in CARRIED:
        ahead = _quarter_ahead(ctx, s_lo, s_hi, company) if any(p.carry for p in found) else None
        if ahead is not None:
            return ahead
        carried = _carried(ctx, s_lo, company)
        if carried is not None and ctx.published is not None and ".." not in carried:
            # a forecast's period does not carry into a sentence that forecasts nothing ('For the
            # fourth quarter, it forecast … . The margin narrowed to 34.6%'): the article's period
            end = period_end(carried, company.fiscal_year_end)
            if end is not None and end > ctx.published and not ctx.cues_in(
                _statement_start(ctx, s_lo), s_hi, _FORECAST
            ):
                return ctx.main_period(company.fiscal_year_end) or carried
        return carried
    return None


_JOINED_MAX = 6


def _statement_start(ctx: Context, s_lo: int) -> int:
    """The start of the statement a sentence continues after a semicolon ('预计第四季度交付量…；营收为…'):
    the first of the sentences joined by semicolons, in its line."""
    l_lo = ctx.line(s_lo)[0]
    for _ in range(_JOINED_MAX):  # a few sentences back at most (linear time on hostile text)
        k = s_lo - 1
        while k > l_lo and ctx.text[k].isspace():
            k -= 1
        if k < l_lo or s_lo - k > 8 or ctx.text[k] not in "；;":
            break
        s_lo = max(l_lo, ctx.sentence(k)[0])
    return s_lo


def _this_quarter(ctx: Context, current: str, s_lo: int, s_hi: int, company: Company) -> str:
    """本季度 in a report of a quarter just ended ('第三季度财报…本季度总营收为…'): that quarter, unless
    the sentence forecasts (then the quarter under way)."""
    if ctx.published is None or ctx.cues_in(s_lo, s_hi, _FORECAST):
        return current
    # the quarter carried to the sentence, or the article's main one (a 本季度 before may carry the
    # quarter under way)
    for carried in (_carried(ctx, s_lo, company), ctx.main_period(company.fiscal_year_end)):
        if carried is None or carried == current or "Q" not in carried or ".." in carried:
            continue
        end = period_end(carried, company.fiscal_year_end)
        if end is not None and end < ctx.published:
            return carried
    return current


def kind_of(ctx: Context, metric: str, q: Quantity, *, lo: int, period: str | None, company: Company) -> str:
    """The kind of a figure whose company was named at ``lo`` (see the module docstring)."""
    if metric in ("investment_commitment", "deal_value"):
        return "commitment"
    s_hi = ctx.sentence(q.start)[1]
    cues = ctx.cues_in(lo, q.start, frozenset(("guidance", "estimate", "actual", "commit")))
    roles = {c.role for c in cues}
    if metric in ("buyback", "funding_raised", "valuation"):
        around = ctx.cues_in(lo, s_hi, frozenset(("guidance", "commit")))
        if q.unit == "pct" or any(c.name in _GOAL for c in around):
            return "guidance"
        return "commitment" if around else "actual"
    if metric != "share_price_change" and (
        "estimate" in roles
        # '法人預期，技嘉今年營收可望…', 'Analysts expect Sony's …': the sentence opens with the forecaster
        or any(
            not ctx.text[ctx.sentence(q.start)[0] : c.start].strip(" -*•")
            for c in ctx.cues_in(ctx.sentence(q.start)[0], lo, frozenset(("estimate",)))
        )
    ):
        return "estimate"
    if metric == "share_price_change":
        return "actual"
    if "guidance" in roles and not _past_named(ctx, q, lo, company):
        return "guidance"
    if period and ctx.published is not None and period not in ("ASOF",) and ".." not in period:
        end = period_end(period, company.fiscal_year_end)
        if end is not None and end > ctx.published:
            return "guidance"
    if metric in ("units", "power_capacity") and ctx.cues_in(
        lo, min(s_hi, q.end + 14), frozenset(("commit",))
    ):
        return "commitment"
    return "actual"


_POSSESSIVE_GAP = re.compile(r"\s*(?:的|'s|’s)?\s*(?:约|近|about|roughly|some)?\s*", re.IGNORECASE)


def _past_named(ctx: Context, q: Quantity, lo: int, company: Company) -> bool:
    """A figure right after a past period that names it ('将与去年的73亿美元持平', 'flat with last
    year's $7 billion'): that period's actual, whatever the forecast around it."""
    if ctx.published is None:
        return False
    spans = [p for p in ctx.periods(lo, q.start, company.fiscal_year_end) if p.end <= q.start]
    if not spans or not spans[-1].period or not _POSSESSIVE_GAP.fullmatch(ctx.text, spans[-1].end, q.start):
        return False
    end = period_end(spans[-1].period, company.fiscal_year_end)
    return end is not None and end < ctx.published


def _bare_home(sign: str, home: str) -> str:
    for b in _LEX.bare:
        if sign in b.suffix or sign in b.prefix:
            return home if home in b.homes else b.default
    return home


_NAMED = re.compile(
    "|".join(sorted((re.escape(w) for c in _LEX.currencies for w in c.suffix), key=len, reverse=True))
    + r"|元|\$"
)


def currency_of(ctx: Context, q: Quantity, company: Company) -> str | None:
    """The currency of a money figure (see the module docstring); None when it cannot be told."""
    if q.bare is not None:
        return ctx.declared_currency(q.start) or _bare_home(q.bare, company.currency)
    if q.unit is not None:
        return q.unit
    declared = ctx.declared_currency(q.start)
    if declared:
        return declared
    seg = ctx.text[max(0, q.start - 200) : q.start]
    named = [m.group() for m in _NAMED.finditer(seg)]
    if named:
        word = named[-1]
        for c in _LEX.currencies:
            if word in c.suffix:
                return c.code
        return _bare_home(word, company.currency)
    if _HAN.search(ctx.text, max(0, q.start - 20), q.end + 5):
        return _bare_home("元", company.currency)
    return None


_WEAK_INVEST = frozenset(
    (
        "投资",
        "投入",
        "斥资",
        "注资",
        "总投资",
        "投资额",
        "增资",
        "invest",
        "investment",
        "investments",
        "invested",
        "investing",
        "to spend",
        "will spend",
    )
)
_METRIC_ROLE = frozenset(("metric",))
_OBJECT_ROLES = frozenset(("metric", "other"))
_NOT_SPENDING = ("acquisitions", "stakes", "equity investments")  # plurals the cue words do not match
_RECEIVED = re.compile(
    "|".join(r"\b" + re.escape(w) + r"\b" if w.isascii() else re.escape(w) for w in _LEX.received_verbs)
)
_SPEND_VERBS = frozenset(_LEX.spend_verbs)
_SPEND_OBJECTS = _LEX.spend_objects
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


def capex_or_commitment(
    ctx: Context, q: Quantity, reading: Reading, period: str | None, c_hi: int
) -> str | None:
    """Capex or an investment commitment: a generic investing word (投入, invest) with one fiscal
    period and no project named is the period's capex, else a commitment; money spent on the
    company's infrastructure is capex, spent on anything else nothing (None)."""
    cue = reading.cue
    if cue is None or reading.metric == "capex":
        return reading.metric
    word = ctx.text[cue.start : cue.end].lower()
    if word in _SPEND_VERBS:
        s_lo = ctx.sentence(cue.start)[0]
        around = ctx.text[max(s_lo, cue.start - 30) : c_hi].lower()
        return "capex" if any(w in around for w in _SPEND_OBJECTS) else None
    if word not in _WEAK_INVEST:
        return "investment_commitment"
    c_lo = ctx.clause(q.start, q.end)[0]
    if word in ("投资", "investment") and _RECEIVED.search(ctx.text, c_lo, cue.start):
        return "funding_raised"  # '获得…约37亿港元的战略投资': an investment received
    s_lo = ctx.sentence(q.start)[0]
    w_lo = max(s_lo, cue.start - 16)
    if any(
        c.role == "other" or c.name == "deal_value" for c in ctx.cues_in(w_lo, c_hi, _OBJECT_ROLES)
    ) or any(w in ctx.low[w_lo:c_hi] for w in _NOT_SPENDING):
        return None  # invested in R&D, acquisitions or stakes: neither capex nor a commitment of its own
    if ctx.mentions_in(cue.end, c_hi):
        return "investment_commitment"  # 'invested $10 billion in OpenAI': in a company, never capex
    after = ctx.text[q.end : c_hi].lower()
    single = period is not None and ".." not in period and period != "ASOF"
    if single and not any(w in after for w in _PROJECT_WORDS):
        return "capex"
    if single and word == "invested":
        return "capex"  # 'invested $24 billion in the quarter, mostly in data centers': money spent
    if single and any(c.name == "capex" for c in ctx.cues_in(*ctx.sentence(q.start), _METRIC_ROLE)):
        return "capex"  # '第三季度投资130亿元于数据中心等资本开支': the sentence calls it capex
    return "investment_commitment"
