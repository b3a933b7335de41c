"""The hard cases of shared/extraction-cases.md (T01-T57), each with our own sentence using the same
pattern and figures. Grammar cases check the quantities; extraction cases check the facts."""

from __future__ import annotations

from datetime import date

import pytest

from metrics.extraction.entities import Registry
from metrics.extraction.extract import extract_text
from metrics.extraction.normalize import normalize
from metrics.extraction.numbers import find_quantities, has_lost_decimals

# (case, sentence, [(value, low, high, unit, qualifier)]) -- low/high None when not a range
Q = tuple[float, float | None, float | None, str | None, str | None]
GRAMMAR: list[tuple[str, str, list[Q]]] = [
    ("T08", "该实验室打算未来8年拿出约1.4万亿美元", [(1.4e12, None, None, "USD", "approx")]),
    ("T09", "这家零售商2025年预计共投入1250亿美元", [(1250e8, None, None, "USD", None)]),
    ("T09b", "全年支出1,250亿美元", [(1250e8, None, None, "USD", None)]),
    ("T10", "今年开支被上调至910亿至930亿美元", [(920e8, 910e8, 930e8, "USD", None)]),
    ("T11", "开支预计为700亿至720亿美元", [(710e8, 700e8, 720e8, "USD", None)]),
    ("T12", "派息回报约为12%-13%", [(12.5, 12, 13, "pct", "approx")]),
    ("T13", "折合每股8-9美元,现价11美元", [(8.5, 8, 9, "USD", None), (11, None, None, "USD", None)]),
    ("T14", "通用智能可能在5–10年内出现", []),
    ("T15", "未来10~20年的制造重心", []),
    ("T16", "时钟频率为1.5–2.0GHz", []),
    ("T17", "调拨 4-8 万颗 H200 芯片给客户", [(6e4, 4e4, 8e4, "count", None)]),
    ("T18", "动用4-8万颗存货", [(6e4, 4e4, 8e4, "count", None)]),
    ("T19", "折合约4万至8万颗H200", [(6e4, 4e4, 8e4, "count", "approx")]),
    ("T20", "首批发运5000至10000套模组", [(7500, 5000, 10000, "count", None)]),
    ("T21", "上限从40万颗提高到50万", [(4e5, None, None, "count", None), (5e5, None, None, None, None)]),
    ("T22", "售价保持2.8万美元/颗", [(2.8e4, None, None, "USD", None)]),
    ("T23", "报价降到1.35万美元,只有H200的一半", [(1.35e4, None, None, "USD", None)]),
    ("T24", "每张卡运费多出不到20美元", [(20, None, None, "USD", "lt")]),
    ("T25", "MTT S5000降价20%", [(20, None, None, "pct", None)]),
    ("T26", "放出3万片昇腾910B存货", [(3e4, None, None, "count", None)]),
    ("T27", "关于H200元宝的回答", []),
    ("T28", "INT8性能1536 TOPS,配141 GB HBM3e显存", []),
    ("T29", "该产业产值已超过3.2兆元", [(3.2e12, None, None, "CNY", "gt")]),
    ("T30", "这个园区需要48兆瓦电力", [(48, None, None, "MW", None)]),
    ("T31", "缺口或达13至44吉瓦", [(28.5, 13, 44, "GW", None)]),
    ("T32", "超3000亿美元!全球占比54%", [(3000e8, None, None, "USD", "gt"), (54, None, None, "pct", None)]),
    ("T35", "利润差不多57亿", [(57e8, None, None, None, "approx")]),
    ("T36", "估值达1750亿", [(1750e8, None, None, None, None)]),
    ("T37", "玩家超500万,单月流水过亿", [(500e4, None, None, None, "gt"), (1e8, None, None, None, "gt")]),
    ("T38", "月产能将增至14,000片", [(1.4e4, None, None, "count", None)]),
    ("T39", "复合增速维持在13.5%左右", [(13.5, None, None, "pct", "approx")]),
    (
        "T40",
        "甲出了6万,乙拿出1.4万,丙丁各出1.3万",
        [(6e4, None, None, None, None), (1.4e4, None, None, None, None), (1.3e4, None, None, None, None)],
    ),
    ("T41", "一夜之间烧掉200亿", [(200e8, None, None, None, None)]),
    (
        "T45",
        "当天标普500指数下跌0.16%,道指回落0.18%",
        [(0.16, None, None, "pct", None), (0.18, None, None, "pct", None)],
    ),
    ("T54", "较2015-2019年间高出31%", [(31, None, None, "pct", None)]),
    ("T55", "三年3800亿元的算力计划", [(3800e8, None, None, "CNY", None)]),
    ("T56", "注资5亿英镑", [(5e8, None, None, "GBP", None)]),
]


@pytest.mark.parametrize(("case", "text", "expected"), GRAMMAR, ids=[c for c, _, _ in GRAMMAR])
def test_grammar_cases(case: str, text: str, expected: list[Q]) -> None:
    """Each hard case's figures are read with value, range, unit and qualifier; non-figures are not."""
    qs = find_quantities(normalize(text))
    got = [(q.value, q.low, q.high, q.unit, q.qualifier) for q in qs]
    assert len(got) == len(expected), got
    for g, e in zip(got, expected, strict=True):
        assert g[0] == pytest.approx(e[0])
        assert (g[1] is None) == (e[1] is None) and (g[1] is None or g[1] == pytest.approx(e[1]))
        assert (g[2] is None) == (e[2] is None) and (g[2] is None or g[2] == pytest.approx(e[2]))
        assert g[3:] == e[3:]


LOST: list[tuple[str, str, list[tuple[float, float | None, float | None, str]]]] = [
    ("T01", "净杠杆率为5 5倍", [(5.5, None, None, "x")]),
    ("T02", "杠杆率由6倍降到4 5倍", [(6, None, None, "x"), (4.5, None, None, "x")]),
    ("T03", "拿到43 5亿美元贷款承诺", [(43.5e8, None, None, "USD")]),
    ("T04", "出售目标为5-7 5亿美元", [(6.25e8, 5e8, 7.5e8, "USD")]),
    ("T05", "指引两次下调到1 75亿美元、1 5亿美元", [(1.75e8, None, None, "USD"), (1.5e8, None, None, "USD")]),
    (
        "T06",
        "股本从9亿股降到3 35亿股(约少65%)",
        [(9e8, None, None, "count"), (3.35e8, None, None, "count"), (65, None, None, "pct")],
    ),
]


@pytest.mark.parametrize(("case", "text", "expected"), LOST, ids=[c for c, _, _ in LOST])
def test_lost_decimal_cases(
    case: str, text: str, expected: list[tuple[float, float | None, float | None, str]]
) -> None:
    """T01-T06: in a document showing the defect (T07: 'DOCSIS 4 0'), spaced decimals are repaired."""
    doc = normalize(text + "。网络将升级到DOCSIS 4 0。")
    assert has_lost_decimals(doc)
    qs = find_quantities(doc, repair_decimals=True)
    assert [
        (pytest.approx(q.value), q.low and pytest.approx(q.low), q.high and pytest.approx(q.high), q.unit)
        for q in qs
    ] == expected
    assert all("repaired" in q.flags for q in qs if " " in doc[q.num_start : q.end])


def test_t07_version_is_no_figure() -> None:
    """T07: 'DOCSIS 4 0' has no unit: no figure, but it is evidence of the defect."""
    doc = normalize("网络升级到DOCSIS 4 0标准,杠杆率为3 5倍")
    assert has_lost_decimals(doc)
    assert [q.value for q in find_quantities(doc, repair_decimals=True)] == [3.5]


def test_t50_t51_vague_amounts_are_no_facts(registry: Registry) -> None:
    """T50-T51: 数百亿/数万亿 are vague: flagged by the grammar, never facts."""
    assert all(
        "vague" in q.flags for q in find_quantities(normalize("近几年已投入数百亿美元,数万亿美元投向AI"))
    )
    assert extract_text("微软称近几个季度已投入数百亿美元。", registry, published=date(2025, 11, 1)) == []


NOV = date(2025, 11, 16)
# (case, sentence, {(entity, metric, value)}, extra field checks on the facts)
FACTS: list[tuple[str, str, set[tuple[str, str, float]], dict[str, object]]] = [
    (
        "T33",
        "瑞芯微三季报显示,前三季度营收31.45亿元,同比增长45.46%;净利润为7.80亿元,同比增长121.65%。",
        {
            ("Rockchip", "revenue", 31.45e8),
            ("Rockchip", "revenue_growth_yoy", 45.46),
            ("Rockchip", "net_income", 7.80e8),
            ("Rockchip", "net_income_growth_yoy", 121.65),
        },
        {},
    ),
    (
        "T34",
        "全志科技的芯片卖得不错。该公司2025年前三季实现营收21.61亿元。",
        {("Allwinner", "revenue", 21.61e8)},
        {"period": "2025-9M"},
    ),
    (
        "T35",
        "据报道,米哈游2020年营收为101.28亿元,其中净利润差不多57亿。",
        {("miHoYo", "revenue", 101.28e8), ("miHoYo", "net_income", 57e8)},
        {"unit": "CNY"},
    ),
    ("T36", "米哈游如今估值1750亿。", {("miHoYo", "valuation", 1750e8)}, {"period": "ASOF"}),
    ("T37", "米哈游新作首个月的流水过亿。", {("miHoYo", "revenue", 1e8)}, {"qualifier": "gt"}),
    (
        "T42",
        "财报公布后,Meta股价盘中大跌逾11%。",
        {("Meta", "share_price_change", -11)},
        {"qualifier": "gt"},
    ),
    ("T43", "外卖平台DoorDash的股价一度跌超11%。", {("DoorDash", "share_price_change", -11)}, {}),
    (
        "T44",
        "盘后阿里巴巴涨超2%,小鹏汽车涨超6%,百度集团涨逾3%。",
        {
            ("XPeng", "share_price_change", 6),
            ("Baidu", "share_price_change", 3),
            ("Alibaba", "share_price_change", 2),
        },
        {},
    ),
    (
        "T46",
        "上季度微软投入349亿美元;下一财年,微软将投入1000亿美元。",
        {("Microsoft", "capex", 349e8), ("Microsoft", "capex_guidance", 1000e8)},
        {},
    ),
    (
        "T47",
        "据披露,OpenAI 2025上半年的净亏损为135亿美元。",
        {("OpenAI", "net_loss", 135e8)},
        {"period": "2025H1"},
    ),
    (
        "T48",
        "OpenAI预计到2028年经营亏损将达740亿美元。",
        {("OpenAI", "operating_loss", 740e8)},
        {"period": "FY2028", "kind": "guidance"},
    ),
    (
        "T49",
        "Anthropic服务着超30万家企业客户,大客户数一年内增长近7倍。",
        {("Anthropic", "customers", 3e5)},
        {"qualifier": "gt"},
    ),
    (
        "T52",
        "Blue Owl Capital计划向数据中心投资超过500亿美元,其中为Meta在路易斯安那投资300亿美元。",
        {
            ("Blue Owl Capital", "investment_commitment", 500e8),
            ("Blue Owl Capital", "investment_commitment", 300e8),
        },
        {},
    ),
    (
        "T53",
        "SK海力士投入约36亿美元建设M15X工厂。",
        {("SK hynix", "investment_commitment", 36e8)},
        {"qualifier": "approx"},
    ),
    (
        "T55",
        "阿里巴巴宣布三年3800亿元的AI基础设施建设计划。",
        {("Alibaba", "investment_commitment", 3800e8)},
        {"period": "2025..2027"},
    ),
    (
        "T56",
        "英伟达上月宣布向Nscale注资5亿英镑。",
        {("NVIDIA", "investment_commitment", 5e8)},
        {"unit": "GBP"},
    ),
    (
        "T57",
        "Anthropic将投入500亿美元建设数据中心。这笔500亿美元的投入由Anthropic主导。",
        {("Anthropic", "investment_commitment", 500e8)},
        {},
    ),
    ("T17", "英伟达急调4-8万颗H200芯片交付中国客户。", {("NVIDIA", "units", 6e4)}, {}),
    ("T22", "英伟达对渠道出货的芯片价格维持2.8万美元/颗。", {("NVIDIA", "unit_price", 2.8e4)}, {}),
    (
        "T26",
        "华为拿出3万片昇腾910B芯片库存投放市场,每片报价下调到1.35万美元。",
        {("Huawei", "units", 3e4), ("Huawei", "unit_price", 1.35e4)},
        {},
    ),
    ("T30", "Digital Realty这栋楼需用电48兆瓦。", {("Digital Realty", "power_capacity", 48)}, {"unit": "MW"}),
    ("T31", "摩根士丹利估计,美国的供电缺口或在13至44吉瓦之间。", set(), {}),
    ("T32", "规模超3000亿美元,全球占比54%", set(), {}),
    ("T41", "一个晚上就亏掉200亿", set(), {}),
    ("T45", "当天标普500指数下跌0.16%,道指回落0.18%", set(), {}),
    ("T54", "外国直接投资较2015-2019年均值高出31%。", set(), {}),
]


@pytest.mark.parametrize(("case", "text", "expected", "fields"), FACTS, ids=[c for c, _, _, _ in FACTS])
def test_extraction_cases(
    case: str, text: str, expected: set[tuple[str, str, float]], fields: dict[str, object], registry: Registry
) -> None:
    """Each hard case gives exactly the company facts it states (none for out-of-scope figures)."""
    fs = extract_text(text, registry, published=NOV)
    assert {(f.entity, f.metric, round(f.value, 4)) for f in fs} == {
        (e, m, round(v, 4)) for e, m, v in expected
    }
    for name, value in fields.items():
        assert all(getattr(f, name) == value for f in fs), (name, [getattr(f, name) for f in fs])
    for f in fs:
        assert text[f.span_start : f.span_end] == f.quote


def test_t40_each_in_an_enumeration(registry: Registry) -> None:
    """T40: '各' gives the figure to each company of the list before it."""
    fs = extract_text("长电科技、通富微电各获得1.5万颗芯片的封测订单。", registry, published=NOV)
    assert {(f.entity, f.value) for f in fs} == {("JCET", 1.5e4), ("Tongfu Microelectronics", 1.5e4)}


def test_t46_fiscal_periods(registry: Registry) -> None:
    """T46: last quarter is 2025Q3 and Microsoft's next fiscal year is FY2027 in November 2025."""
    fs = extract_text("上季度微软投入349亿美元;下一财年,微软将投入1000亿美元。", registry, published=NOV)
    assert {(f.metric, f.period, f.kind) for f in fs} == {
        ("capex", "2025Q3", "actual"),
        ("capex_guidance", "FY2027", "guidance"),
    }
