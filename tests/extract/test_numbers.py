"""The quantity grammar (metrics/extraction/numbers.py) on sentences written for these tests."""

from __future__ import annotations

import pytest

from metrics.extraction.normalize import normalize
from metrics.extraction.numbers import (
    _FOLLOW,
    _SCAN,
    Quantity,
    find_quantities,
    has_lost_decimals,
    parse_chinese_numeral,
)


def one(text: str, *, repair: bool = False) -> Quantity:
    qs = find_quantities(normalize(text), repair_decimals=repair)
    assert len(qs) == 1, [(q.value, text[q.start : q.end]) for q in qs]
    return qs[0]


@pytest.mark.parametrize(
    ("text", "value", "unit"),
    [
        ("营收为245亿元", 245e8, "CNY"),
        ("融资3.5亿美元", 3.5e8, "USD"),
        ("订单总额1.2万亿美元", 1.2e12, "USD"),
        ("规模3.2兆元", 3.2e12, "CNY"),
        ("净利润1,234.5万元", 1234.5e4, "CNY"),
        ("股价报88港元", 88, "HKD"),
        ("投资20亿英镑", 20e8, "GBP"),
        ("买下80亿欧元资产", 80e8, "EUR"),
        ("成本3000亿日元", 3000e8, "JPY"),
        ("投入15万亿韩元", 15e12, "KRW"),
        ("营收900亿新台币", 900e8, "TWD"),
        ("收购价两千亿元", 2000e8, "CNY"),
        ("revenue of $125 billion", 125e9, "USD"),
        ("a US$1.5 trillion plan", 1.5e12, "USD"),
        ("a HK$30 billion deal", 30e9, "HKD"),
        ("an €800m contract", 800e6, "EUR"),
        ("£2bn of debt", 2e9, "GBP"),
        ("sales of 91 billion dollars", 91e9, "USD"),
        ("USD 5 billion facility", 5e9, "USD"),
        ("毛利率为73.5%", 73.5, "pct"),
        ("估值倍数达12倍", 12, "x"),
        ("杠杆提高到三倍", 3, "x"),
        ("出货2万台服务器", 2e4, "count"),
        ("发行3亿股", 3e8, "count"),
        ("服务1.2万家企业", 1.2e4, "count"),
        ("园区用电300兆瓦", 300, "MW"),
        ("合计2吉瓦", 2, "GW"),
        ("a 1.2 GW campus", 1.2, "GW"),
        ("装机5000千瓦", 5, "MW"),
    ],
)
def test_amounts_and_units(text: str, value: float, unit: str) -> None:
    """An amount is read in base units with its currency, percent, multiple, count or power unit."""
    q = one(text)
    assert q.value == pytest.approx(value)
    assert q.unit == unit


@pytest.mark.parametrize(
    ("text", "low", "high", "unit"),
    [
        ("预计出货3-5万颗", 3e4, 5e4, "count"),
        ("调拨 2-6 万颗 芯片", 2e4, 6e4, "count"),
        ("资本开支为650亿至680亿美元", 650e8, 680e8, "USD"),
        ("收益率为7%-8%", 7, 8, "pct"),
        ("目标为2000到4000套", 2000, 4000, "count"),
        ("区间在1.1~1.3倍", 1.1, 1.3, "x"),
        ("capex of $70 billion to $72 billion", 70e9, 72e9, "USD"),
        ("每股12-14美元", 12, 14, "USD"),
        ("需求为10至20吉瓦", 10, 20, "GW"),
    ],
)
def test_ranges_share_magnitude_and_unit(text: str, low: float, high: float, unit: str) -> None:
    """A range carries the magnitude and unit of its upper bound to the lower one; value is the midpoint."""
    q = one(text)
    assert (q.low, q.high, q.unit) == (pytest.approx(low), pytest.approx(high), unit)
    assert q.value == pytest.approx((low + high) / 2)


@pytest.mark.parametrize(
    ("text", "qualifier"),
    [
        ("营收超80亿元", "gt"),
        ("营收逾80亿元", "gt"),
        ("营收超过80亿元", "gt"),
        ("成本不超过30美元", "lt"),  # the longest qualifier ending there (不超过, not 超过)
        ("投资不超过 30亿美元", "lt"),
        ("股价涨超4%", "gt"),
        ("成本不到30美元", "lt"),
        ("成本不足30美元", "lt"),
        ("估值约90亿美元", "approx"),
        ("估值近90亿美元", "approx"),
        ("增长率在9.5%左右", "approx"),
        ("利润差不多12亿元", "approx"),
        ("部署5万多台", "gt"),
        ("more than $4 billion", "gt"),
        ("about $4 billion", "approx"),
        ("less than $4 billion", "lt"),
        ("at least $4 billion", "gt"),
        ("高达40亿美元", None),
        ("签约5亿美元", None),
    ],
)
def test_qualifiers_before_and_after(text: str, qualifier: str | None) -> None:
    """Qualifiers before (超, 逾, 约, 不到, more than) and after (左右, 多) set gt/lt/approx."""
    assert one(text).qualifier == qualifier


def test_up_to_is_a_maximum_and_gaoda_only_emphasis() -> None:
    """'up to' and 'as much as' state a maximum (lt); 高达 only stresses the figure (flagged, no
    qualifier)."""
    assert one("up to 2 million chips").qualifier == "lt"
    assert one("fell as much as 9%").qualifier == "lt"
    q = one("投资高达200亿元")
    assert q.qualifier is None
    assert "up_to" in q.flags


@pytest.mark.parametrize(
    "text",
    [
        "新款H100与A800芯片",
        "发布GPT-4o和RK3399",
        "升腾920C产品",
        "标普500指数",
        "2026年第二季度",
        "在2016-2020年期间",
        "未来3-6年",
        "会上讲了7~15年的规划",
        "主频2.2–3.0GHz",
        "算力800 TOPS,显存96 GB",
        "采用5nm工艺",
        "功耗仅8W",
        "于3月18日发布",
        "2025-12-01 09:30",
        "DOCSIS 3 1标准",
        "X200元宝上线",
        "四层建筑,约3.2万多平方米",
        "三年来一直",
        "[12][13]",
    ],
)
def test_non_figures_are_ignored(text: str) -> None:
    """Model names, index names, years, dates, durations, specs and versions are not figures."""
    assert find_quantities(normalize(text)) == []


def test_chinese_numerals() -> None:
    """Chinese numerals parse with their section units (万, 亿) and 两."""
    assert parse_chinese_numeral("三千五百万") == 35_000_000
    assert parse_chinese_numeral("两") == 2
    assert parse_chinese_numeral("一亿二千万") == 120_000_000
    assert parse_chinese_numeral("十二") == 12
    assert parse_chinese_numeral("abc") is None


def test_more_than_a_magnitude_with_no_digits() -> None:
    """过亿 is more than 1e8 and 上千亿 more than 1e11, with no digits at all."""
    q = one("月流水过亿")
    assert (q.value, q.qualifier) == (1e8, "gt")
    q = one("估值上千亿")
    assert (q.value, q.qualifier) == (1e11, "gt")


def test_vague_amounts_are_flagged() -> None:
    """数百亿/数万亿 are vague: flagged, never a precise figure."""
    assert "vague" in one("投入数百亿美元").flags
    assert "vague" in one("数万亿美元的投资").flags


def test_per_unit_price() -> None:
    """A price per unit (美元/颗, per chip) is flagged per_unit with its counter."""
    q = one("报价3.1万美元/颗")
    assert (q.value, q.unit, q.counter) == (31000, "USD", "颗")
    assert "per_unit" in q.flags
    assert "per_unit" in one("$25,000 per chip").flags


def test_bare_amount_with_magnitude() -> None:
    """An amount with a magnitude but no currency is kept as bare (the extractor may imply a currency)."""
    q = one("估值2200亿")
    assert (q.value, q.unit) == (2200e8, None)
    assert "bare" in q.flags


def test_lost_decimal_repaired_only_with_evidence() -> None:
    """'6 5倍' becomes 6.5 (flagged repaired) when the document shows the defect, else nothing."""
    doc = normalize("杠杆率为6 5倍,融资27 5亿美元,部署DOCSIS 3 1")
    assert has_lost_decimals(doc)
    qs = find_quantities(doc, repair_decimals=True)
    assert [(q.value, q.unit) for q in qs] == [(6.5, "x"), (27.5e8, "USD")]
    assert all("repaired" in q.flags for q in qs)
    assert find_quantities(doc, repair_decimals=False) == []


def test_lost_decimal_in_a_range_and_a_list() -> None:
    """'3-6 5亿美元' is 3e8-6.5e8; '2 25亿美元、2 5亿美元' are two repaired figures."""
    qs = find_quantities(normalize("处置目标为3-6 5亿美元"), repair_decimals=True)
    assert [(q.low, q.high) for q in qs] == [(3e8, 6.5e8)]
    qs = find_quantities(normalize("先后降至2 25亿美元、2 5亿美元"), repair_decimals=True)
    assert [q.value for q in qs] == [2.25e8, 2.5e8]


def test_lost_decimal_after_a_chinese_comma() -> None:
    """A Chinese comma (an ASCII comma once normalized) before '43 5亿' is no thousands mark: the
    figure counts as evidence of the defect and is repaired; '1,43 5亿' is not such a figure."""
    doc = normalize("两家工厂的投资分别为，43 5亿元，7 2亿元")
    assert has_lost_decimals(doc)
    qs = find_quantities(doc, repair_decimals=True)
    assert [(q.value, q.unit) for q in qs] == [(43.5e8, "CNY"), (7.2e8, "CNY")]
    assert all("repaired" in q.flags for q in qs)
    # without the defect, '市盈率分别为5倍，6 5倍' ends in an ambiguous figure: neither 5 x nor 65 x
    qs = find_quantities(normalize("市盈率分别为5倍，6 5倍"), repair_decimals=False)
    assert [(q.value, q.unit) for q in qs] == [(5.0, "x")]
    assert not has_lost_decimals(normalize("数量1,43 5亿股，2,12 3亿股"))


def test_candidate_scan_skips_digits_inside_a_number() -> None:
    """The scan's candidates: a number's first digit only, its run taken whole (no character of a run can
    make a number a figure, so a possessive run loses nothing); figures after a separator are found."""
    assert not (set("0123456789,.") & _FOLLOW)
    scan = _SCAN[False]
    text = normalize("2025年营收1234亿元,增长12%")
    assert [m.start() for m in scan.finditer(text)] == [text.index("1234"), text.index("12%")]
    assert [(q.value, q.unit) for q in find_quantities(text)] == [(1234e8, "CNY"), (12.0, "pct")]


def test_no_evidence_without_spaced_digits() -> None:
    """A clean document shows no lost-decimal defect."""
    assert not has_lost_decimals(normalize("营收为31.5亿元,净利润4.2亿元,版本3.1"))


def test_traditional_text_and_offsets() -> None:
    """Traditional text is normalized first; offsets point at the original characters."""
    text = "該公司營收達12.5億元"
    q = one(text)
    assert text[q.start : q.end] == "12.5億元"
    assert q.value == 12.5e8


@pytest.mark.parametrize(
    ("text", "value", "unit"),
    [
        ("全年營收3兆1,250億元", 3.125e12, "CNY"),
        ("净利润2亿3500万元", 2.35e8, "CNY"),
        ("订单金额1兆20亿新台币", 1.002e12, "TWD"),
    ],
)
def test_compound_chinese_magnitudes(text: str, value: float, unit: str) -> None:
    """Digits with a smaller magnitude right after a magnitude add to one figure (3兆1,250億)."""
    q = one(text)
    assert (q.value, q.unit) == (pytest.approx(value), unit)


def test_compound_needs_a_smaller_magnitude_right_after() -> None:
    """A comma, a larger or equal magnitude, or a part not smaller than the magnitude keeps figures apart."""
    assert [q.value for q in find_quantities(normalize("投资1亿,2000万用于研发"))] == [1e8, 2e7]
    assert [q.value for q in find_quantities(normalize("分别为3万2万人"))] == [3e4, 2e4]
    assert [q.value for q in find_quantities(normalize("规模5亿20000万元"))] == [5e8, 2e8]
