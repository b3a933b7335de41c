"""The cue lexicon: phrases (normalized, simplified Chinese and lower-case English) that name a metric,
a kind, a direction, or take a figure out of scope.

General vocabulary of company reporting; nothing here is taken from a particular document. The
extractor finds all cues of an article in one Aho-Corasick pass (``CueIndex``).
"""

from __future__ import annotations

from operator import itemgetter
from typing import NamedTuple

import ahocorasick

__all__ = ["DOWN_VERBS", "MONEY_METRICS", "Cue", "CueIndex"]

# the metrics whose figure is an amount of money (a bare amount may take its currency from context)
MONEY_METRICS = frozenset(
    (
        "revenue",
        "net_income",
        "net_loss",
        "operating_loss",
        "ebitda",
        "capex",
        "capex_guidance",
        "investment_commitment",
        "deal_value",
        "valuation",
        "market_cap",
        "funding_raised",
        "buyback",
        "cash",
        "corporate_costs",
        "unit_price",
    )
)

# role of a cue: "metric" names what a figure is; "growth" turns the preceding metric into its
# growth rate; "up"/"down" a share-price move; "block" takes the figure out of scope
_METRIC_CUES: dict[str, tuple[str, ...]] = {
    "revenue": (
        "营收",
        "营业收入",
        "营业总收入",
        "总收入",
        "收入",
        "营业额",
        "销售额",
        "销售收入",
        "流水",
        "年收入",
        "revenue",
        "revenues",
        "sales",
        "turnover",
    ),
    "net_income": ("净利润", "净利", "归母净利润", "纯利", "净收益", "net income", "net profit", "profit"),
    "net_loss": ("净亏损", "净亏", "亏损", "net loss"),
    "operating_loss": ("经营亏损", "营业亏损", "经营性亏损", "运营亏损", "operating loss"),
    "ebitda": ("ebitda", "息税折旧摊销前利润"),
    "capex": (
        "资本支出",
        "资本开支",
        "资本性支出",
        "capex",
        "capital expenditure",
        "capital expenditures",
        "capital spending",
    ),
    "investment_commitment": (
        "投资",
        "投入",
        "斥资",
        "注资",
        "总投资",
        "投资额",
        "在建项目",
        "系统升级",
        "建设",
        "投资计划",
        "建设计划",
        "invest",
        "investment",
        "investing",
        "to spend",
        "will spend",
    ),
    "deal_value": (
        "协议",
        "合同",
        "合约",
        "大单",
        "交易",
        "收购",
        "并购",
        "deal",
        "contract",
        "agreement",
        "acquisition",
        "acquire",
    ),
    "valuation": ("估值", "投后估值", "投前估值", "valuation", "valued at"),
    "market_cap": ("市值", "market cap", "market capitalization", "market value"),
    "funding_raised": (
        "融资",
        "筹集",
        "筹资",
        "募资",
        "募集",
        "新资金",
        "轮融资",
        "raised",
        "raises",
        "funding round",
        "funding",
        "financing",
    ),
    "buyback": ("回购", "buyback", "buybacks", "buy back", "repurchase", "repurchases"),
    "cash": ("现金", "现金余额", "现金储备", "cash", "cash balance"),
    "corporate_costs": (
        "企业支出",
        "公司开支",
        "企业成本",
        "公司成本",
        "公司层面支出",
        "corporate costs",
        "corporate expenses",
    ),
    "unit_price": ("单价", "价格", "售价", "报价", "管道价", "渠道价", "定价", "price", "priced at"),
    "dividend_yield": ("股息收益率", "股息率", "dividend yield"),
    "gross_margin": ("毛利率", "gross margin"),
    "net_margin": ("净利率", "净利润率", "net margin"),
    "operating_margin": ("营业利润率", "经营利润率", "营业利益率", "operating margin"),
    "leverage": ("杠杆率", "杠杆", "leverage", "net leverage"),
    "customers": ("客户", "customers", "clients"),
    "shares_outstanding": ("流通股", "总股本", "股数", "shares outstanding", "outstanding shares"),
    "units": (
        "芯片",
        "晶片",
        "gpu",
        "gpus",
        "tpu",
        "tpus",
        "晶圆",
        "加速卡",
        "模组",
        "服务器",
        "显卡",
        "产能",
        "库存",
        "订单",
        "配额",
        "chips",
        "wafers",
        "accelerators",
        "servers",
        "units",
    ),
    "power_capacity": ("功率", "容量", "电力", "用电", "负载", "供电", "capacity", "power"),
    "share_price": ("股价", "股票", "shares", "stock"),
}
_GROWTH = (
    "同比增长",
    "同比增加",
    "同比上升",
    "同比提升",
    "同比",
    "增长",
    "增幅",
    "增速",
    "year over year",
    "year-on-year",
    "rose",
    "grew",
    "increased",
    "up",
)
_MOVE_UP = (
    "涨",
    "上涨",
    "大涨",
    "涨超",
    "涨逾",
    "收涨",
    "拉升",
    "飙升",
    "走高",
    "rose",
    "jumped",
    "gained",
    "climbed",
    "surged",
    "rallied",
    "soared",
)
# English verbs of a falling price (the extractor also signs a share-price move with them)
DOWN_VERBS = ("fell", "dropped", "slid", "declined", "lost", "plunged", "sank", "tumbled", "slumped")
_MOVE_DOWN = (
    "跌",
    "下跌",
    "大跌",
    "跌超",
    "跌逾",
    "收跌",
    "暴跌",
    "重挫",
    "走低",
    "下滑",
    *DOWN_VERBS,
)
_BLOCK = (
    "市场规模",
    "产业规模",
    "行业规模",
    "投资规模",
    "缺口",
    "外国直接投资",
    "直接投资",
    "指数",
    "道指",
    "纳指",
    "家庭",
    "基金经理",
    "分成",
    "定金",
    "市场份额",
    "占比",
    "比重",
    "market size",
    "shortfall",
    "index",
    "foreign direct investment",
)
GUIDANCE = (
    "预计",
    "预期",
    "将",
    "计划",
    "目标",
    "指引",
    "有望",
    "拟",
    "上调至",
    "下调至",
    "上调",
    "下调",
    "展望",
    "guidance",
    "expects",
    "expected",
    "forecast",
    "outlook",
    "plans",
    "will",
    "would",
    "target",
    "aims",
    "expect",
    "expecting",
    "forecasts",
    "forecasted",
    "guided",
    "guides",
    "projects",
    "projected",
    "anticipates",
    "sees",
    "intends",
    "plan",
    "planned",
    "raised its",
    "cut its",
    "lowered its",
    "boosted its",
)
ESTIMATE = ("分析师", "预测", "估计", "测算", "analyst", "analysts", "estimate", "estimates")
ACTUAL = ("实现", "录得", "报告", "完成", "达到", "reported", "posted")
COMMITMENT = (
    "订单",
    "合同",
    "协议",
    "追加",
    "租赁",
    "部署",
    "承诺",
    "签署",
    "签订",
    "order",
    "orders",
    "contract",
    "agreement",
    "deploy",
)
# verbs and nouns that make a count of chips or wafers a company's units (shipped, ordered, deployed)
SUPPLY = (
    "部署",
    "采购",
    "出货",
    "交付",
    "租赁",
    "追加",
    "使用",
    "发货",
    "提供",
    "配额",
    "订购",
    "售出",
    "供应",
    "生产",
    "释放",
    "取消",
    "订单",
    "产能",
    "库存",
    "下单",
    "shipped",
    "ship",
    "shipping",
    "sold",
    "sell",
    "sells",
    "delivered",
    "deliver",
    "purchased",
    "bought",
    "ships",
    "ordered",
    "order",
    "orders",
    "deploy",
    "deploys",
    "deployed",
    "purchase",
    "buy",
    "buys",
    "supply",
    "lease",
    "leases",
)
PRONOUNS = ("该公司", "公司", "该集团", "集团", "其", "the company", "the group", "its")


class Cue(NamedTuple):
    """One cue occurrence: [start, end) in the text, its role and metric (for role 'metric').

    A named tuple (immutable, and cheap to build: an article holds thousands of cues)."""

    start: int
    end: int
    role: str  # metric | growth | up | down | block | guidance | estimate | actual | commit | pronoun
    name: str  # the metric, or the phrase itself for other roles


_START = itemgetter(0)
_END = itemgetter(1)


def _entries() -> dict[str, list[tuple[str, str]]]:
    out: dict[str, list[tuple[str, str]]] = {}

    def add(word: str, role: str, name: str) -> None:
        out.setdefault(word.lower(), []).append((role, name))

    for metric, words in _METRIC_CUES.items():
        for w in words:
            add(w, "metric", metric)
    for role, words in (
        ("growth", _GROWTH),
        ("up", _MOVE_UP),
        ("down", _MOVE_DOWN),
        ("block", _BLOCK),
        ("guidance", GUIDANCE),
        ("estimate", ESTIMATE),
        ("actual", ACTUAL),
        ("commit", COMMITMENT),
        ("pronoun", PRONOUNS),
        ("supply", SUPPLY),
    ):
        for w in words:
            add(w, role, w)
    return out


class CueIndex:
    """All cue phrases in one Aho-Corasick automaton; ``find`` returns every occurrence."""

    def __init__(self) -> None:
        self._auto = ahocorasick.Automaton()
        for word, roles in _entries().items():
            latin = word[0].isascii() and word[0].isalpha()
            self._auto.add_word(word, (len(word), latin, tuple(roles)))
        self._auto.make_automaton()

    def find(self, text: str) -> list[Cue]:
        """Every cue occurrence in ``text`` (lower-cased for matching), sorted by start.

        Latin cues match only on word boundaries; overlapping cues are all kept (the longest
        ones of one role win at the extractor).
        """
        low = text.lower()
        n = len(low)
        out: list[Cue] = []
        new = tuple.__new__  # a named tuple built without its Python-level __new__ (hot loop)
        for end_idx, (length, latin, roles) in self._auto.iter(low):
            start = end_idx - length + 1
            end = end_idx + 1
            if latin:
                if start > 0 and low[start - 1].isascii() and low[start - 1].isalnum():
                    continue
                if end < n and low[end].isascii() and low[end].isalnum():
                    continue
            for role, name in roles:
                out.append(new(Cue, (start, end, role, name)))
        # by start, the longest first (two stable passes: end descending, then start)
        out.sort(key=_END, reverse=True)
        out.sort(key=_START)
        return out
