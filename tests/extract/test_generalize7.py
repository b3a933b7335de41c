"""General period and headline fixes found with the fifth held-out batch (issue 7), each on sentences of
our own (never dev, seed or held-out text): a year right after a clause's comma, fiscal halves and
quarters of companies whose year does not end in December (中期業績, 截至9月30日止六個月, 'the second
quarter of its fiscal year', 'the quarter ending in December'), a headline figure qualified 逾/more than
that the body states precisely, and buyback amounts said with 'of stock' (``[buyback_objects]`` in
``lexicon/metrics.toml``). The article date is 2025-11-20
unless a test says otherwise."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from metrics.extraction.documents import read_document, split_articles
from metrics.extraction.entities import Registry
from metrics.extraction.extract import Fact, extract_article
from metrics.extraction.lexicon import Example, lexicon
from metrics.extraction.normalize import normalize
from metrics.extraction.periods import find_periods
from tests.extract.sentences import NOV, by_metric, facts

# ------------------------------------------------------------------ a year right after a clause's comma


@pytest.mark.parametrize(
    "text",
    [
        "鴻海董事長表示，2026年資本支出將增加三成。",  # zh-Hant (the normalized text has an ASCII comma)
        "小米集团称，2026年将在芯片上投入约100亿元。",  # zh-Hans
        "Looking ahead,2026 should be a year of growth.",  # English, no space after the comma
    ],
)
def test_a_year_right_after_a_comma_is_a_year(text: str) -> None:
    assert "FY2026" in [p.period for p in find_periods(normalize(text), published=NOV)]


@pytest.mark.parametrize("text", ["合計1,2025件", "共計12,2030台"])
def test_a_thousands_group_is_no_year(text: str) -> None:
    assert find_periods(normalize(text), published=NOV) == []


@pytest.mark.parametrize(
    "text",
    [
        "台積電第三季營收為9,899億元，公司表示，2026年資本支出預計為450億美元。",
        "台积电第三季度营收为9899亿元，公司表示，2026年资本支出预计为450亿美元。",
    ],
)
def test_a_plan_for_next_year_after_a_comma_gets_that_year(registry: Registry, text: str) -> None:
    got = by_metric(text, registry)
    assert got[("revenue", 9.899e11)].period == "2025Q3"
    plan = got[("capex_guidance", 4.5e10)]
    assert (plan.period, plan.kind) == ("FY2026", "guidance")


@pytest.mark.parametrize(
    "text",
    [
        "Meta plans capital expenditures of about $110 billion in 2026, above 2025's $70 billion.",
        "In 2026, Meta expects capital expenditures of $110 billion.",
    ],
)
def test_a_year_right_before_a_comma_is_a_year(registry: Registry, text: str) -> None:
    assert by_metric(text, registry)[("capex_guidance", 1.1e11)].period == "FY2026"


@pytest.mark.parametrize(
    ("text", "part"),
    [
        ("阿里巴巴计划2026年资本开支约1200亿元，高于2024年的约700亿元，其中约500亿元将用于数据中心。", 5e10),
        ("騰訊計劃2026年資本開支約1,000億元，高於2024年的約770億元，其中約600億元將用於採購伺服器。", 6e10),
    ],
)
def test_a_year_compared_against_does_not_carry_to_the_next_clause(
    registry: Registry, text: str, part: float
) -> None:
    """'高于2024年的约800亿元': 2024 is the term of the comparison; the part after it is still the plan's."""
    got = by_metric(text, registry)
    assert got[("capex_guidance", part)].period == "FY2026"
    assert [f.period for f in got.values() if f.metric == "capex"] == ["FY2024"]


def test_a_growth_against_a_named_quarter_is_the_current_period(registry: Registry) -> None:
    got = by_metric("蔚来第三季度营收为217亿元，较2024年第三季度的187亿元增长16%。", registry)
    assert got[("revenue_growth_yoy", 16.0)].period == "2025Q3"
    assert got[("revenue", 1.87e10)].period == "2024Q3"


@pytest.mark.parametrize(
    "text",
    [
        (
            "MediaTek's third-quarter net profit was NT$25 billion, up 4 percent from the same quarter "
            "last year, while gross margin rose to 48.1 percent."
        ),
        "聯發科第三季淨利為250億元，較去年同期成長4%，毛利率升至48.1%。",
    ],
)
def test_the_year_inside_a_growths_base_does_not_carry(registry: Registry, text: str) -> None:
    got = by_metric(text, registry, date(2025, 11, 6))
    assert got[("gross_margin", 48.1)].period == "2025Q3"


# ---------------------------------- halves, years and quarters of a fiscal year not ending in December


@pytest.mark.parametrize(
    "text",
    [
        "聯想集團公布截至今年9月30日止六個月業績，收入為365億美元，按年增長16%。",  # zh-Hant, Hong Kong
        "联想集团发布截至9月30日止六个月的中期业绩，营收为365亿美元，同比增长16%。",  # zh-Hans
        "聯想集團中期業績：收入365億美元，按年增長16%。",  # interim results, no date
        "Lenovo said revenue for the six months ended September 30 rose 16% to $36.5 billion.",
        "Lenovo's revenue in the first half to September rose 16% to $36.5 billion.",
        "Lenovo reported interim results on Thursday: revenue rose 16% to $36.5 billion.",
    ],
)
def test_the_six_months_to_september_of_a_march_year_are_its_first_fiscal_half(
    registry: Registry, text: str
) -> None:
    got = by_metric(text, registry)
    assert (got[("revenue", 3.65e10)].period, got[("revenue_growth_yoy", 16.0)].period) == (
        "FY2026H1",
        "FY2026H1",
    )


@pytest.mark.parametrize(
    "text",
    [
        "騰訊公布截至6月30日止六個月業績，收入為3,645億元，按年增長15%。",
        "腾讯控股公布2025年中期业绩，收入为3645亿元，同比增长15%。",
    ],
)
def test_the_six_months_to_june_of_a_december_year_are_the_calendar_half(
    registry: Registry, text: str
) -> None:
    assert by_metric(text, registry)[("revenue", 3.645e11)].period == "2025H1"


def test_the_year_ended_on_a_date_is_that_fiscal_year(registry: Registry) -> None:
    got = by_metric("截至2025年3月31日止年度，聯想集團收入為690億美元。", registry)
    assert got[("revenue", 6.9e10)].period == "FY2025"


def test_the_quarter_to_december_said_in_november_is_the_quarter_under_way(registry: Registry) -> None:
    got = by_metric("比亚迪预计截至12月31日的三个月营收为2500亿元。", registry)
    assert (got[("revenue", 2.5e11)].period, got[("revenue", 2.5e11)].kind) == ("2025Q4", "guidance")


@pytest.mark.parametrize(
    "text", ["联想集团的中期目标是营收达到1000亿美元。", "Lenovo's interim CEO said revenue was $20 billion."]
)
def test_medium_term_and_interim_officers_are_no_half(text: str) -> None:
    assert all(
        not (p.period or "").endswith("H1")
        for p in find_periods(normalize(text), published=NOV, fiscal_year_end=3)
    )


@pytest.mark.parametrize(
    "text",
    [
        "索尼公布，截至9月底的本財年上半年營收為6.2兆日圓。",  # zh-Hant
        "索尼公布，本财年上半年营收为6.2万亿日元。",  # zh-Hans
        "Sony said revenue in the first half of its fiscal year was 6.2 trillion yen.",
        "Sony said its fiscal first-half revenue was 6.2 trillion yen.",
    ],
)
def test_a_half_of_this_fiscal_year(registry: Registry, text: str) -> None:
    assert by_metric(text, registry)[("revenue", 6.2e12)].period == "FY2026H1"  # a March year


def test_a_half_of_the_last_fiscal_year(registry: Registry) -> None:
    got = by_metric("索尼上财年下半年营收为6.5万亿日元。", registry)
    assert got[("revenue", 6.5e12)].period == "FY2025H2"


@pytest.mark.parametrize(
    ("text", "published"),
    [
        (
            "Infosys reported a net profit of $850 million for the second quarter of its fiscal year.",
            date(2025, 10, 16),
        ),
        ("Infosys reported a net profit of $850 million for its fiscal second quarter.", date(2025, 10, 16)),
    ],
)
def test_the_second_quarter_of_its_fiscal_year(registry: Registry, text: str, published: date) -> None:
    assert by_metric(text, registry, published)[("net_income", 8.5e8)].period == "FY2026Q2"


def test_a_calendar_quarter_named_with_its_fiscal_one_is_the_fiscal_one(registry: Registry) -> None:
    """'the July-September quarter, the second quarter of its fiscal year': the article names quarters
    fiscally, so its quarters are the company's fiscal ones (a March year: FY2026Q2)."""
    got = by_metric(
        "Infosys posted revenue of $5.1 billion for the July-September quarter, the second quarter of its "
        "fiscal year. In the quarter, net profit rose 13%.",
        registry,
        date(2025, 10, 16),
    )
    assert got[("revenue", 5.1e9)].period == "FY2026Q2"
    assert got[("net_income_growth_yoy", 13.0)].period == "FY2026Q2"


@pytest.mark.parametrize(
    ("text", "metric", "value"),
    [
        (
            (
                "Apple said revenue for its fiscal fourth quarter rose 8% to $102.5 billion. For fiscal "
                "2025, revenue was $416 billion. Apple returned $24 billion to shareholders in the quarter, "
                "including $20 billion of share repurchases."
            ),
            "buyback",
            2e10,
        ),
        (
            "苹果公司第四财季营收为1025亿美元。2025财年全年营收为4160亿美元，当季净利润为275亿美元。",
            "net_income",
            2.75e10,
        ),
        (
            "蘋果第四財季營收為1,025億美元。2025財年營收為4,160億美元，該季度淨利為275億美元。",
            "net_income",
            2.75e10,
        ),
    ],
)
def test_the_quarter_after_a_year_is_the_quarter_last_stated(
    registry: Registry, text: str, metric: str, value: float
) -> None:
    got = by_metric(text, registry, date(2025, 11, 6))
    assert got[(metric, value)].period == "FY2025Q4"  # Apple's year ends in September
    assert got[("revenue", 4.16e11)].period == "FY2025"


@pytest.mark.parametrize(
    "text",
    ["微软本财年第一季度营收为777亿美元，同比增长18%。", "微軟本財年第一季營收為777億美元，年增18%。"],
)
def test_a_quarter_of_this_fiscal_year_in_chinese(registry: Registry, text: str) -> None:
    assert by_metric(text, registry)[("revenue", 7.77e10)].period == "FY2026Q1"  # a June year


@pytest.mark.parametrize(
    ("text", "period"),
    [
        (
            "Qualcomm expects revenue of $12 billion for the quarter ending in December.",
            "FY2026Q1",
        ),  # Sept year
        ("Apple expects revenue of $138 billion in the three months to December.", "FY2026Q1"),
        (
            "Microsoft expects revenue of $80 billion for the quarter ending in December.",
            "FY2026Q2",
        ),  # June year
    ],
)
def test_the_quarter_ending_in_december_is_the_companys_fiscal_quarter(
    registry: Registry, text: str, period: str
) -> None:
    got = [f for f in facts(text, registry) if f.metric == "revenue"]
    assert [(f.period, f.kind) for f in got] == [(period, "guidance")]


# ------------------------------------------------- a headline's 逾/more than said precisely in the body


def article_facts(tmp_path: Path, registry: Registry, text: str) -> list[Fact]:
    path = tmp_path / "a.txt"
    path.write_text(text, encoding="utf-8")
    return [f for a in split_articles(read_document(path)) for f in extract_article(a, registry)]


@pytest.mark.parametrize(
    ("headline", "line", "body", "metric", "value"),
    [
        (
            "聯發科第三季獲利年增逾一成",
            "https://www.example.com.tw/n | 2025-10-31 | zh-Hant",
            "聯發科第三季稅後淨利為新台幣250億元，年增14.2%。",
            "net_income_growth_yoy",
            14.2,
        ),
        (
            "美团第三季度营收同比增长超两成",
            "https://www.example.cn/n | 2025-11-28 | zh-Hans",
            "美团第三季度营收为950亿元，同比增长26.5%。",
            "revenue_growth_yoy",
            26.5,
        ),
        (
            "Anthropic raises more than $10 billion in new funding",
            "https://www.example.com/n | 2025-11-20 | en",
            "Anthropic said it raised $13 billion in a round led by existing investors.",
            "funding_raised",
            1.3e10,
        ),
        (
            "Nvidia data center revenue up over 50%",
            "https://www.example.com/n | 2025-11-20 | en",
            "Nvidia said data center revenue rose 56% from a year earlier to $51.2 billion.",
            "revenue_growth_yoy",
            56.0,
        ),
    ],
)
def test_a_headline_bound_the_body_states_precisely_is_one_fact(
    tmp_path: Path, registry: Registry, headline: str, line: str, body: str, metric: str, value: float
) -> None:
    got = article_facts(tmp_path, registry, "\n".join((headline, line, body, "")))
    assert [f.value for f in got if f.metric == metric] == [value]


def test_a_headline_bound_far_below_the_body_is_another_figure(tmp_path: Path, registry: Registry) -> None:
    """'逾一成' is not a growth of 35%: the headline's figure is kept (a rounding reaches the next unit of
    its leading digit, no further)."""
    got = article_facts(
        tmp_path,
        registry,
        "聯發科第三季營收年增逾一成\nhttps://www.example.com.tw/n | 2025-10-31 | zh-Hant\n"
        "聯發科第三季稅後淨利為新台幣250億元，年增35%。\n",
    )
    assert sorted((f.metric, f.value) for f in got if f.metric.endswith("_growth_yoy")) == [
        ("net_income_growth_yoy", 35.0),
        ("revenue_growth_yoy", 10.0),
    ]


# ------------------------------------------------------------- an amount bought back 'of stock' is a buyback


@pytest.mark.parametrize("example", lexicon().buyback_examples, ids=lambda e: e.text[:24])
def test_buyback_object_examples(registry: Registry, example: Example) -> None:
    got = [f for f in facts(example.text, registry) if f.metric == "buyback"]
    assert [f.value for f in got] == [example.value]


@pytest.mark.parametrize(
    "text",
    [
        "Qualcomm bought back $2.4 billion of stock during the quarter.",
        "Apple repurchased $1 billion of shares in the quarter.",
        "Apple spent $20 billion buying back stock in the quarter.",
        "苹果公司本季度回购了24亿美元的股票。",
        "蘋果本季回購了24億美元股票。",
    ],
)
def test_an_amount_bought_back_is_a_buyback(registry: Registry, text: str) -> None:
    got = [f for f in facts(text, registry) if f.unit == "USD"]
    assert [f.metric for f in got] == ["buyback"]


@pytest.mark.parametrize(
    "text",
    [
        "Rivian sold $1.5 billion of stock to investors in the quarter.",  # a share sale, no buyback
        "小米集团配售了约55亿港元的股票。",
        "Apple's buyback did not stop its stock from falling to $250.",  # the price after a buyback word
    ],
)
def test_shares_sold_or_priced_are_no_buyback(registry: Registry, text: str) -> None:
    assert [f for f in facts(text, registry) if f.metric == "buyback" and f.unit != "pct"] == []


@pytest.mark.parametrize(
    ("headline", "line", "body", "period"),
    [
        (
            "Microsoft cloud revenue up 40%",
            "https://www.example.com/n | 2025-10-30 | en",
            "Microsoft said revenue for its fiscal first quarter was $77.7 billion.",
            "FY2026Q1",
        ),
        (
            "小米集团营收同比增长22%",
            "https://www.example.cn/n | 2025-11-19 | zh-Hans",
            "小米集团第三季度营收为1131亿元。",
            "2025Q3",
        ),
        (
            "小米集團營收年增22%",
            "https://www.example.hk/n | 2025-11-19 | zh-Hant",
            "小米集團第三季收入為1,131億元。",
            "2025Q3",
        ),
    ],
)
def test_a_headline_figure_with_no_period_is_about_the_period_the_body_reports(
    tmp_path: Path, registry: Registry, headline: str, line: str, body: str, period: str
) -> None:
    got = article_facts(tmp_path, registry, "\n".join((headline, line, body, "")))
    assert [f.period for f in got if f.metric == "revenue_growth_yoy"] == [period]


@pytest.mark.parametrize(
    "text",
    [
        "Alibaba has committed to invest 380 billion yuan over three years.",
        "Tencent plans to invest 150 billion yuan within five years.",
    ],
)
def test_an_amount_over_n_years_is_a_horizon_from_the_article_year(registry: Registry, text: str) -> None:
    got = [f for f in facts(text, registry) if f.metric == "investment_commitment"]
    n = 3 if "three" in text else 5
    assert [f.period for f in got] == [f"2025..{2025 + n - 1}"]


def test_years_ago_is_no_horizon() -> None:
    assert find_periods("Revenue is up 20% over two years ago.", published=NOV) == []


@pytest.mark.parametrize(
    "text",
    [
        "南亞科今日公布11月自結合併營收為新台幣80億元，年增120%。",
        "南亚科11月自结合并营收为新台币80亿元，同比增长120%。",
    ],
)
def test_a_months_self_reported_consolidated_revenue_is_that_month(registry: Registry, text: str) -> None:
    got = by_metric(text, registry, date(2025, 12, 10))
    assert (got[("revenue", 8e9)].period, got[("revenue_growth_yoy", 120.0)].period) == ("2025-11", "2025-11")


@pytest.mark.parametrize(
    "text",
    [
        "小鹏汽车第三季度营收为204亿元。\n\n小鹏预计，第四季度交付量将在12.5万至13.2万辆之间；营收为215亿元至230亿元。",
        "小鵬汽車第三季營收為204億元。\n\n小鵬預計，第四季交付量將介於12.5萬至13.2萬輛；營收為215億元至230億元。",
        (
            "XPeng's third-quarter revenue was 20.4 billion yuan.\n\nXPeng expects fourth-quarter "
            "deliveries of 125,000 to 132,000 vehicles; revenue of 21.5 billion to 23 billion yuan."
        ),
    ],
)
def test_a_forecast_goes_on_after_a_semicolon(registry: Registry, text: str) -> None:
    got = [f for f in facts(text, registry) if f.metric == "revenue" and f.value > 2.1e10]
    assert [(f.period, f.kind) for f in got] == [("2025Q4", "guidance")]
