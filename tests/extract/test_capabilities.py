"""The extractor's capabilities, each on our own sentences in simplified and traditional Chinese and in
English: changes with sign and base, comparisons, periods that carry, currencies, attribution and
precision guards. The article date is 2025-11-20 unless a test says otherwise."""

from __future__ import annotations

from datetime import date

import pytest

from metrics.extraction.entities import Registry
from tests.extract.sentences import facts
from tests.extract.sentences import triples as got

# --------------------------------------------------------------------------- changes: sign and base


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "宁德时代前三季度营业收入2830亿元,同比下降9%,净利润490亿元,同比增长36%。",
            {
                ("CATL", "revenue", 2.83e11),
                ("CATL", "revenue_growth_yoy", -9.0),
                ("CATL", "net_income", 4.9e10),
                ("CATL", "net_income_growth_yoy", 36.0),
            },
        ),
        (
            "台達電第三季營收1,200億元，年增25%，稅後純益150億元，年減3%。",
            {
                ("Delta Electronics", "revenue", 1.2e11),
                ("Delta Electronics", "revenue_growth_yoy", 25.0),
                ("Delta Electronics", "net_income", 1.5e10),
                ("Delta Electronics", "net_income_growth_yoy", -3.0),
            },
        ),
        (
            "騰訊第三季收入1,930億元，按年升15%，股東應佔溢利630億元，按年跌4%。",
            {
                ("Tencent", "revenue", 1.93e11),
                ("Tencent", "revenue_growth_yoy", 15.0),
                ("Tencent", "net_income", 6.3e10),
                ("Tencent", "net_income_growth_yoy", -4.0),
            },
        ),
        (
            "Microsoft said revenue rose 18% to $77.7 billion, while net income slipped 3% to $27.7 billion.",
            {
                ("Microsoft", "revenue_growth_yoy", 18.0),
                ("Microsoft", "revenue", 7.77e10),
                ("Microsoft", "net_income_growth_yoy", -3.0),
                ("Microsoft", "net_income", 2.77e10),
            },
        ),
        (
            "Intel's revenue fell 6% year over year to $13.3 billion.",
            {("Intel", "revenue_growth_yoy", -6.0), ("Intel", "revenue", 1.33e10)},
        ),
        ("Meta posted a 22% increase in revenue.", {("Meta", "revenue_growth_yoy", 22.0)}),
        (
            "金山云二季度收入23亿元(同比+24%),微博广告收入为34亿元,同比-6%。",
            {
                ("Kingsoft Cloud", "revenue", 2.3e9),
                ("Kingsoft Cloud", "revenue_growth_yoy", 24.0),
                ("Weibo", "revenue", 3.4e9),
                ("Weibo", "revenue_growth_yoy", -6.0),
            },
        ),
        ("廣達上半年淨利大增三成。", {("Quanta Computer", "net_income_growth_yoy", 30.0)}),
    ],
)
def test_changes_carry_their_sign(
    registry: Registry, text: str, expected: set[tuple[str, str, float]]
) -> None:
    """A fall is negative (下降/年減/按年跌/fell/slipped/同比-6%), a rise positive; 两成/三成 are tenths."""
    assert got(text, registry) == expected


def test_growth_as_a_multiple(registry: Registry) -> None:
    """增长1.5倍 and 'tripled' are growth in unit x."""
    (f,) = facts("比亚迪海外收入同比增长1.5倍。", registry)
    assert (f.metric, f.value, f.unit) == ("revenue_growth_yoy", 1.5, "x")
    (g,) = facts("Palantir's US commercial revenue tripled.", registry)
    assert (g.metric, g.value, g.unit) == ("revenue_growth_yoy", 3.0, "x")


def test_percentage_points_are_not_growth(registry: Registry) -> None:
    """A margin up N percentage points gives only the new margin, no growth."""
    assert got("小米第三季度毛利率同比提升3个百分点至23%。", registry) == {("Xiaomi", "gross_margin", 23.0)}
    assert got("Nvidia's gross margin was up 3 percentage points to 75%.", registry) == {
        ("NVIDIA", "gross_margin", 75.0)
    }


@pytest.mark.parametrize(
    "text",
    [
        "蔚来营收环比增长15%。",
        "鴻海第三季營收季增8%。",
        "AMD revenue grew 9% sequentially.",
        "理想汽车三季度营收较2025年第二季度下降5%。",
    ],
)
def test_quarter_on_quarter_is_never_year_on_year(registry: Registry, text: str) -> None:
    """环比, 季增, sequentially, or a change against the quarter before: not stored as growth."""
    assert [f for f in facts(text, registry) if f.metric.endswith("_growth_yoy")] == []


def test_a_fall_to_a_rise_is_one_range(registry: Registry) -> None:
    """'较去年同期下降2%到成长6%' is one growth range from -2 to 6."""
    (f,) = [
        f
        for f in facts("聯發科預期第四季營收較去年同期下降2%到成長6%。", registry)
        if f.metric == "revenue_growth_yoy"
    ]
    assert (f.low, f.high, f.value, f.kind) == (-2.0, 6.0, 2.0, "guidance")


def test_changes_of_other_things_are_not_stored(registry: Registry) -> None:
    """Growth of gross profit, deliveries, users or a rate is not revenue or profit growth."""
    text = "比亚迪三季度毛利为200亿元,同比下降10%;小鹏汽车10月交付新车4.2万辆,同比增长76%。"
    assert {f.metric for f in facts(text, registry)} <= {"units"}


# --------------------------------------------------------------------------- comparisons


def test_consensus_is_an_estimate(registry: Registry) -> None:
    """'高于市场预期的X', 'above analysts' expectations of $X': the figure before's metric, kind estimate."""
    fs = facts("小米第三季度营收1130亿元,高于市场预期的1100亿元。", registry)
    assert {(f.value, f.kind, f.period) for f in fs} == {
        (1.13e11, "actual", "2025Q3"),
        (1.1e11, "estimate", "2025Q3"),
    }
    fs = facts(
        "Nvidia guided fourth-quarter revenue of $65 billion, above analysts' expectations of $62 billion.",
        registry,
    )
    assert {(f.metric, f.value, f.kind) for f in fs} == {
        ("revenue", 6.5e10, "guidance"),
        ("revenue", 6.2e10, "estimate"),
    }


def test_year_ago_figure_is_actual_of_the_year_before(registry: Registry) -> None:
    """'up from $X a year earlier', '去年同期为盈利X': actual, the same period a year earlier."""
    fs = facts(
        "Alphabet's third-quarter net income rose to $35 billion, up from $26 billion a year earlier.",
        registry,
    )
    assert {(f.value, f.period) for f in fs} == {(3.5e10, "2025Q3"), (2.6e10, "2024Q3")}
    fs = facts("理想汽车三季度净亏损5亿元,去年同期为盈利8亿元。", registry)
    assert {(f.metric, f.value, f.period, f.kind) for f in fs} == {
        ("net_loss", 5e8, "2025Q3", "actual"),
        ("net_income", 8e8, "2024Q3", "actual"),
    }


def test_prior_guidance_and_prior_quarter(registry: Registry) -> None:
    """Own earlier forecast -> guidance of the same period; 较上季 -> actual of the quarter before."""
    fs = facts(
        "Spotify reported an operating margin of 11% in the third quarter, under its forecast of 12%.",
        registry,
    )
    assert {(f.value, f.kind, f.period) for f in fs} == {
        (11.0, "actual", "2025Q3"),
        (12.0, "guidance", "2025Q3"),
    }
    fs = facts("美团第三季度经营利润率为负2.5%,较上季负1.8%扩大。", registry)
    assert {(f.value, f.period) for f in fs} == {(-2.5, "2025Q3"), (-1.8, "2025Q2")}


def test_a_comparison_goes_on_across_a_list(registry: Registry) -> None:
    """'相较于2024年同期的X和2025年第二季度的Y': both compared, each with its own period."""
    fs = facts("蔚来第三季度毛利率为13.5%,相较于2024年同期的10.2%和2025年第二季度的11.8%有所提升。", registry)
    assert {(f.value, f.period) for f in fs} == {(13.5, "2025Q3"), (10.2, "2024Q3"), (11.8, "2025Q2")}


def test_that_compares_to_reaches_the_sentence_before(registry: Registry) -> None:
    """A sentence opening with 'That compares to' compares with the figure before it."""
    fs = facts(
        "Netflix reported third-quarter revenue of $12 billion. That compares to $9.9 billion in the "
        "same quarter last year.",
        registry,
    )
    assert {(f.value, f.period) for f in fs} == {(1.2e10, "2025Q3"), (9.9e9, "2024Q3")}


# --------------------------------------------------------------------------- periods that carry


def test_period_carries_through_the_paragraph_and_article(registry: Registry) -> None:
    """A period stated once governs the sentences after it; 期内/当季 name it; an unrelated paragraph
    falls back to the article's reported quarter."""
    text = (
        "京东集团公布截至9月底止第三季业绩,收入3000亿元,按年升12%。期内净利润55亿元。\n"
        "其中,商品收入2300亿元,服务收入700亿元。"
    )
    assert {f.period for f in facts(text, registry)} == {"2025Q3"}


def test_fiscal_quarters_of_a_non_december_year(registry: Registry) -> None:
    """An article that names quarters fiscally (财年, fiscal, a quarter by its end date) names every bare
    quarter of a non-December company fiscally: 本季 in October is Apple's FY2026Q1."""
    text = "苹果2025财年第四季营收1000亿美元。苹果预计本季营收将增长10%。"
    fs = facts(text, registry, date(2025, 10, 31))
    assert {(f.metric, f.period, f.kind) for f in fs} == {
        ("revenue", "FY2025Q4", "actual"),
        ("revenue_growth_yoy", "FY2026Q1", "guidance"),
    }
    (f,) = facts("For the quarter ending May 31, Oracle's revenue rose 12%.", registry, date(2025, 6, 20))
    assert f.period == "FY2025Q4"


def test_growth_takes_the_current_period_not_its_comparison(registry: Registry) -> None:
    """较去年同期/較上年同期 is the base of a growth, not its period: the growth is the quarter's."""
    text = "華碩第三季稅後淨利120億元,較去年同期成長15%。"
    assert {(f.metric, f.period) for f in facts(text, registry)} == {
        ("net_income", "2025Q3"),
        ("net_income_growth_yoy", "2025Q3"),
    }
    text = "长城汽车上季度营业收入610亿元,较上年同期增长8%。"
    assert {(f.metric, f.period) for f in facts(text, registry)} == {
        ("revenue", "2025Q3"),
        ("revenue_growth_yoy", "2025Q3"),
    }


def test_fiscal_and_hyphenated_halves(registry: Registry) -> None:
    """上半财年 of a March-year company is its fiscal first half (past by November: actual); 'first-half'
    with a hyphen is a first half."""
    text = "任天堂上半财年营收1.2万亿日元,同比增长90%。"
    assert {(f.metric, f.period, f.kind) for f in facts(text, registry)} == {
        ("revenue", "FY2026H1", "actual"),
        ("revenue_growth_yoy", "FY2026H1", "actual"),
    }
    (f,) = facts("Tesla's first-half revenue was $41 billion.", registry)
    assert f.period == "2025H1"


def test_an_amount_is_never_read_as_a_year(registry: Registry) -> None:
    """1980亿元 or 2000万美元 holds digits like a year but names no period."""
    text = "长城汽车第三季度营业收入1980亿元,环比增长4%,同比减少3%。"
    assert {(f.metric, f.value, f.period) for f in facts(text, registry)} == {
        ("revenue", 1.98e11, "2025Q3"),
        ("revenue_growth_yoy", -3.0, "2025Q3"),
    }


def test_english_periods(registry: Registry) -> None:
    """Q2 FY25, the three months to September, full-year, first nine months."""
    (f,) = facts("Microsoft's Q2 FY25 revenue was $69.6 billion.", registry)
    assert f.period == "FY2025Q2"
    fs = facts("In the three months to September, Amazon's revenue rose 13% to $180 billion.", registry)
    assert {f.period for f in fs} == {"2025Q3"}
    (f,) = facts("Netflix expects full-year revenue of $45 billion.", registry, date(2025, 10, 21))
    assert (f.period, f.kind) == ("FY2025", "guidance")
    (f,) = facts("Tesla's revenue for the first nine months was $70 billion.", registry)
    assert f.period == "2025-9M"


# --------------------------------------------------------------------------- currencies


@pytest.mark.parametrize(
    ("text", "unit"),
    [
        ("台積電第三季營收9,900億元。", "TWD"),
        ("台積電第三季營收新台幣9,900億元。", "TWD"),
        ("TSMC posted third-quarter revenue of $990 billion.", "TWD"),
        ("丰田汽车上季度营收12万亿日元。", "JPY"),
        ("Sony's revenue was ¥3.2 trillion in the quarter.", "JPY"),
        ("Samsung Electronics posted revenue of 79 trillion won in the third quarter.", "KRW"),
        ("汇丰控股第三季度收入170亿美元。", "USD"),
        ("腾讯第三季度收入1930亿元。", "CNY"),
        ("騰訊第三季收入1930億港元。", "HKD"),
        ("Mistral raised €1.7 billion from investors.", "EUR"),
    ],
)
def test_currency_from_text_or_home_market(registry: Registry, text: str, unit: str) -> None:
    """A named currency is kept; a bare 元 or $ is the company's home currency where it can stand for it."""
    fs = facts(text, registry)
    assert fs and {f.unit for f in fs} == {unit}


def test_declared_currency_holds_for_what_follows(registry: Registry) -> None:
    """'(人民币,下同)' makes the bare 元 after it CNY even for a company that reports in another currency."""
    fs = facts("联想第二季收入50亿元(人民币,下同),净利润3亿元。", registry)
    assert {f.unit for f in fs} == {"CNY"}


# --------------------------------------------------------------------------- attribution and guards


def test_segment_figures_go_to_the_parent(registry: Registry) -> None:
    """A segment's revenue is the parent's; a segment's loss is an operating loss."""
    assert got("阿里云收入同比增长26%。", registry) == {("Alibaba", "revenue_growth_yoy", 26.0)}
    assert got("美团新业务亏损20亿元。", registry) == {("Meituan", "operating_loss", 2e9)}


@pytest.mark.parametrize(
    "text",
    [
        "软银持有OpenAI约11%的股权。",
        "微软、谷歌和亚马逊今年资本开支合计超过3000亿美元。",
        "特斯拉第三季度每股收益0.5美元,自由现金流40亿美元,研发开支15亿美元。",
        "京东第三季度经营利润为50亿元。",
        "OpenAI每天消耗约100万美元。",
        "Alphabet spent $12 billion on R&D in the quarter.",
        "Nvidia earned $1.30 per share.",
    ],
)
def test_precision_guards(registry: Registry, text: str) -> None:
    """A stake, an aggregate of several companies, EPS, cash flow, R&D, operating profit and per-day
    amounts are stored under no metric."""
    assert facts(text, registry) == []


def test_a_unit_carries_only_across_an_enumeration(registry: Registry) -> None:
    """A count's unit carries to '从30万颗提高到40万、50万' but not across 可满足/相当于."""
    fs = facts("英伟达对华配额从30万颗提高到40万、50万。", registry)
    assert {(f.value, f.unit) for f in fs} == {(3e5, "count"), (4e5, "count"), (5e5, "count")}
    fs = facts("OpenAI计划部署2吉瓦的算力,可满足150万用户的需求。", registry)
    assert {(f.value, f.unit) for f in fs} == {(2.0, "GW")}


def test_a_heading_names_no_topic(registry: Registry) -> None:
    """After a heading the figures are the article's company's again, not those of a company named before."""
    text = (
        "AMD第三季度营收92亿美元。甲骨文还宣布将部署5万颗AMD芯片。\n数据中心与游戏业务\n"
        "数据中心业务收入43亿美元。"
    )
    fs = [f for f in facts(text, registry) if f.metric == "revenue"]
    assert {f.entity for f in fs} == {"AMD"}


def test_ambiguous_names_in_a_financial_context(registry: Registry) -> None:
    """An alias that is also a word (苹果, 广达) counts when figures follow it or the text calls it a
    company."""
    assert got("苹果第四季营收1000亿美元。", registry) == {("Apple", "revenue", 1e11)}
    assert facts("这个苹果很甜,一斤10元。", registry) == []


# --------------------------------------------------------------------------- English first-class


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Tesla reported revenue of $25.2 billion, up 12% from a year earlier.",
            {("Tesla", "revenue", 2.52e10), ("Tesla", "revenue_growth_yoy", 12.0)},
        ),
        ("Meta set capex guidance of $70-72 billion for 2025.", {("Meta", "capex_guidance", 7.1e10)}),
        ("Nvidia's gross margin was 72.4%.", {("NVIDIA", "gross_margin", 72.4)}),
        ("Nvidia's market value topped $5 trillion.", {("NVIDIA", "market_cap", 5e12)}),
        (
            "Alphabet raised its full-year capex forecast by $5 billion to $70 billion.",
            {("Alphabet", "capex_guidance", 7e10)},
        ),
        (
            "Nvidia shares fell 3% on Tuesday, while Apple rose 1.5%.",
            {("NVIDIA", "share_price_change", -3.0), ("Apple", "share_price_change", 1.5)},
        ),
        ("Netflix shares were 5% lower in after-hours trading.", {("Netflix", "share_price_change", -5.0)}),
        (
            "Intel shares slid 4% after the chipmaker reported a 20% drop in net income.",
            {("Intel", "share_price_change", -4.0), ("Intel", "net_income_growth_yoy", -20.0)},
        ),
        (
            "Cohere is in negotiations over a $600m funding round that would value it at $7bn.",
            {("Cohere", "funding_raised", 6e8), ("Cohere", "valuation", 7e9)},
        ),
    ],
)
def test_english_forms(registry: Registry, text: str, expected: set[tuple[str, str, float]]) -> None:
    """English news forms: 'revenue of $X, up N% from a year earlier', a capex range, margins, market
    value, 'by $X to $Y' (a change, then the level), share moves (a change naming its own noun after it,
    'a 20% drop in net income', is not one), a funding round and its valuation."""
    assert got(text, registry) == expected


def test_funding_in_negotiation_is_a_commitment(registry: Registry) -> None:
    """A round under negotiation and its valuation are commitments; a stated goal is guidance."""
    fs = facts(
        "Cohere is in negotiations over a $600m funding round that would value it at $7bn. It had set "
        "a funding goal of $1bn.",
        registry,
    )
    assert {(f.metric, f.kind) for f in fs} == {
        ("funding_raised", "commitment"),
        ("valuation", "commitment"),
        ("funding_raised", "guidance"),
    }
