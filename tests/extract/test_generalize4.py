"""Rules found with the fourth held-out batch, each on sentences of our own (never dev or seed text):
a month's own figure, headline figures, spending on data centers as capex, 本季度 after a reported
quarter, and the lexicon entries added with them. The article date is 2025-11-20 unless a test says
otherwise."""

from __future__ import annotations

import pytest

from metrics.extraction.entities import Registry
from metrics.extraction.extract import Fact
from metrics.extraction.lexicon import Example, lexicon
from metrics.extraction.periods import find_periods
from tests.extract.sentences import NOV, by_metric, facts

# --------------------------------------------------------------------------- a month's own figure


@pytest.mark.parametrize(
    ("text", "period"),
    [
        ("10月营收", "2025-10"),
        ("10月合并营收", "2025-10"),
        ("今年9月的销售额", "2025-09"),
        ("12月营收", "2024-12"),  # December not yet begun in November: last year's
        ("2024年12月营业收入", "2024-12"),
        ("October revenue", "2025-10"),
        ("September 2025 sales", "2025-09"),
        ("9月28日营收", None),  # a date, not a month's figure
        ("10月出货", ""),  # a month with no figure of its own named: no period
    ],
)
def test_a_months_own_figure_is_that_month(text: str, period: str | None) -> None:
    found = [p for p in find_periods(text, published=NOV) if p.period != "" or period == ""]
    if period is None:
        assert all(not p.period for p in found)
    else:
        assert found and found[0].period == period


def test_monthly_sales_report(registry: Registry) -> None:
    """Monthly sales of a Taiwanese firm: the month, the months to date, falls as negative growth."""
    got = by_metric(
        "聯電（2303）今日公布10月合併營收新台幣205.3億元，月減2.1%，年減4.8%；累計前10月營收1,950億元，年增3.2%。",
        registry,
    )
    assert got[("revenue", 2.053e10)].period == "2025-10"
    assert got[("revenue_growth_yoy", -4.8)].period == "2025-10"
    assert got[("revenue", 1.95e11)].period == "2025-10M"
    assert got[("revenue_growth_yoy", 3.2)].period == "2025-10M"
    assert ("revenue_growth_yoy", -2.1) not in got  # month-on-month is not year-on-year


def test_a_sentence_opening_with_two_nouns_joined_by_and(registry: Registry) -> None:
    """'伺服器與顯示卡廠技嘉…': 與 joins two nouns describing the subject, it is no preposition."""
    got = facts("筆電與伺服器廠緯創（3231）同日公布10月營收1,560億元，年增30.5%。", registry)
    assert {f.entity for f in got} == {"Wistron"}
    got = facts("華碩10月營收500億元。另外，與伺服器廠緯創合作的公司營收則達20億元。", registry)
    assert "Wistron" not in {f.entity for f in got}


# --------------------------------------------------------------------------- headline figures


def _article_facts(tmp_path: object, registry: Registry, text: str) -> list[Fact]:
    from pathlib import Path

    from metrics.extraction.documents import read_document, split_articles
    from metrics.extraction.extract import extract_article

    assert isinstance(tmp_path, Path)
    path = tmp_path / "a.txt"
    path.write_text(text, encoding="utf-8")
    return [f for a in split_articles(read_document(path)) for f in extract_article(a, registry)]


def test_a_figure_said_only_in_the_headline_is_read(tmp_path: object, registry: Registry) -> None:
    got = _article_facts(
        tmp_path,
        registry,
        "Netflix shares jump; streaming revenue up 17%\n"
        "https://www.example.com/n | 2025-10-22 | en\n"
        "Netflix Inc said on Tuesday its quarterly revenue was $11.5 billion.\n",
    )
    assert {(f.metric, f.value) for f in got} == {("revenue_growth_yoy", 17.0), ("revenue", 1.15e10)}
    growth = next(f for f in got if f.metric == "revenue_growth_yoy")
    assert growth.quote == "17%" and growth.entity == "Netflix"


def test_a_headline_figure_the_body_restates_is_one_fact(tmp_path: object, registry: Registry) -> None:
    """Headlines round (增21% for 20.6%) and say growth in words (翻倍 for 101.8%): the body's figure
    is the fact; a capex plan in the headline is the body's capex guidance."""
    got = _article_facts(
        tmp_path,
        registry,
        "網易第三季收入增21% 遊戲收入翻倍\n"
        "https://www.example.hk/n | 2025-11-20 | zh-Hant\n"
        "網易第三季收入為300億元人民幣，按年增長20.6%；遊戲收入按年增長101.8%。\n",
    )
    assert sorted(f.value for f in got if f.metric == "revenue_growth_yoy") == [20.6, 101.8]
    got = _article_facts(
        tmp_path,
        registry,
        "Meta lifts capex plan to $72 billion\n"
        "https://www.example.com/m | 2025-10-30 | en\n"
        "Meta Platforms said it expects capital expenditures of $72 billion in 2025.\n",
    )
    assert [(f.metric, f.value) for f in got] == [("capex_guidance", 7.2e10)]


def test_a_deal_in_a_headline_is_left_to_the_body(tmp_path: object, registry: Registry) -> None:
    """The parties of an order are ambiguous in a headline (the buyer named, the seller not)."""
    got = _article_facts(
        tmp_path,
        registry,
        "微軟簽下歐洲雲端大單 租賃5萬顆GPU\n"
        "https://www.example.tw/n | 2025-10-15 | zh-Hant\n"
        "這項合約由一家英國雲端業者承接。\n",
    )
    assert got == []


# --------------------------------------------------------------------------- 本季度 after a reported quarter


def test_this_quarter_in_a_report_of_the_quarter_just_ended(registry: Registry) -> None:
    """'第三季度财报…本季度营收…' in November: the third quarter (actual), every sentence of it."""
    got = by_metric(
        "蔚来今日发布2025年第三季度财报。本季度总营收为217.9亿元，同比增长16.7%；本季度毛利率为13.9%。",
        registry,
    )
    for key in (("revenue", 2.179e10), ("revenue_growth_yoy", 16.7), ("gross_margin", 13.9)):
        assert (got[key].period, got[key].kind) == ("2025Q3", "actual"), key


def test_this_quarter_in_a_forecast_is_the_quarter_under_way(registry: Registry) -> None:
    got = by_metric("蔚来今日发布2025年第三季度财报。公司预计本季度营收将达到330亿元。", registry)
    assert (got[("revenue", 3.3e10)].period, got[("revenue", 3.3e10)].kind) == ("2025Q4", "guidance")


# --------------------------------------------------------------------------- spent on infrastructure


@pytest.mark.parametrize("example", lexicon().spend_examples, ids=lambda e: e.text[:24])
def test_spending_on_infrastructure_is_capex(registry: Registry, example: Example) -> None:
    """The examples of [capex_spending] in lexicon/metrics.toml: capex, actual, with the value."""
    got = [f for f in facts(example.text, registry) if f.metric == "capex"]
    assert [(f.value, f.kind) for f in got] == [(example.value, "actual")], example.text


def test_spending_period_and_spending_on_other_things(registry: Registry) -> None:
    text = "Microsoft spent $35 billion on servers and data centres in the quarter ended September."
    got = by_metric(text, registry)
    assert got[("capex", 3.5e10)].period == "FY2026Q1"
    assert facts("Alphabet spent $2 billion on marketing last quarter.", registry) == []
    assert facts("拼多多上季度在营销上花费了300亿元。", registry) == []


def test_an_earlier_years_capex_set_against_guidance_is_actual(registry: Registry) -> None:
    got = by_metric("中国联通预计全年资本开支约550亿元，较2024年的613亿元下降约10%。", registry)
    plan, before = got[("capex_guidance", 5.5e10)], got[("capex", 6.13e10)]
    assert (plan.period, plan.kind) == ("FY2025", "guidance")
    assert (before.period, before.kind) == ("FY2024", "actual")


def test_qi_names_the_subject_before_it_in_its_sentence(registry: Registry) -> None:
    """'…月之暗面估值…。另一家公司智谱AI已启动上市辅导，其最近一轮融资的投后估值约为400亿元': 其 is 智谱AI."""
    got = facts(
        "月之暗面投后估值超过30亿美元。另一家大模型公司智谱AI已启动上市辅导，其最近一轮融资的投后估值约为400亿元。",
        registry,
    )
    assert {(f.entity, f.metric, f.value) for f in got} == {
        ("Moonshot AI", "valuation", 3e9),
        ("Zhipu AI", "valuation", 4e10),
    }


# --------------------------------------------------------------------------- results as lists, earlier ranges


def test_a_list_of_results_with_labels(tmp_path: object, registry: Registry) -> None:
    text = (
        "Snowflake beats estimates\n"
        "https://www.example.com/s | 2025-11-20 | en\n"
        "Snowflake reported its results. Highlights:\n"
        "- Product revenue: $1.16 billion, up 29% year over year\n"
        "- Adjusted operating margin: 11%, up 2 percentage points\n"
        "- Gross margin: 67.5%\n"
        "- Revenue backlog: $7.9 billion\n"
    )
    got = {(f.metric, f.value) for f in _article_facts(tmp_path, registry, text)}
    assert got == {
        ("revenue", 1.16e9),
        ("revenue_growth_yoy", 29.0),
        ("operating_margin", 11.0),
        ("gross_margin", 67.5),
    }


def test_an_earlier_range_after_down_from(registry: Registry) -> None:
    """', down from X to Y' is the earlier range; 'rose from X to Y' stays two figures."""
    got = facts(
        "Rivian now expects 2025 deliveries of 41,500 to 43,500 vehicles and capital expenditures of "
        "$1.8 billion to $1.9 billion, down from $2.0 billion to $2.2 billion.",
        registry,
    )
    capex = sorted((f.low, f.high) for f in got if f.metric == "capex_guidance")
    assert capex == [(1.8e9, 1.9e9), (2e9, 2.2e9)]
    got = facts("Nvidia's revenue rose from $30 billion to $35 billion.", registry)
    assert sorted(f.value for f in got) == [3e10, 3.5e10]


# --------------------------------------------------------------------------- kinds and valuations


@pytest.mark.parametrize(
    "text",
    [
        "技嘉今年全年營收法人預估可達3,000億元。",
        "法人預期，技嘉今年全年營收可望突破3,200億元。",
        "華碩明年營收，券商預估將成長12%。",
        "Analysts expect Sony to post annual revenue of 12 trillion yen.",
    ],
)
def test_analysts_forecasts_are_estimates(registry: Registry, text: str) -> None:
    got = facts(text, registry)
    assert got and all(f.kind == "estimate" for f in got), got


def test_a_round_that_values_a_company_and_the_valuation_before(registry: Registry) -> None:
    got = facts(
        "Anysphere has raised $2.3 billion in a round that values the coding start-up at $29.3 billion, "
        "up from $9.9 billion in June.",
        registry,
    )
    assert {(f.metric, f.value) for f in got} == {
        ("funding_raised", 2.3e9),
        ("valuation", 2.93e10),
        ("valuation", 9.9e9),
    }


# ------------------------------------------------------------------- fiscal years named by their months


@pytest.mark.parametrize(
    ("text", "fye", "period"),
    [
        ("for the fiscal year ending in March 2026", 3, "FY2026"),
        ("the year ended March 31, 2025", 3, "FY2025"),
        ("the April-September half", 3, "FY2026H1"),
        ("the October-March half", 3, "FY2025H2"),
        ("the July-September period", 12, "2025Q3"),
        ("the January-June half", 12, "2025H1"),
    ],
)
def test_years_and_halves_named_by_their_months(text: str, fye: int, period: str) -> None:
    found = [p for p in find_periods(text, published=NOV, fiscal_year_end=fye) if p.period]
    assert [p.period for p in found] == [period]


def test_a_japanese_half_year_report(registry: Registry) -> None:
    got = by_metric(
        "Sony's net profit for the April-September half rose 12% to 570 billion yen. "
        "It now expects net sales of 12 trillion yen for the fiscal year ending in March 2026.",
        registry,
    )
    assert got[("net_income", 5.7e11)].period == "FY2026H1"
    assert got[("net_income_growth_yoy", 12.0)].period == "FY2026H1"
    assert (got[("revenue", 1.2e13)].period, got[("revenue", 1.2e13)].kind) == ("FY2026", "guidance")


def test_a_target_raised_to_a_count_from_another(registry: Registry) -> None:
    """'to 19 million units from 15 million': the earlier target is a count too; a market's count is
    no company's."""
    got = facts("Nintendo raised its Switch 2 sales target to 19 million units from 15 million.", registry)
    assert sorted((f.metric, f.value) for f in got) == [("units", 1.5e7), ("units", 1.9e7)]
    assert facts("優必選表示，2024年中國市場服務機器人銷量達到120萬台。", registry) == []


def test_a_year_ago_figure_right_after_its_own_noun(registry: Registry) -> None:
    """'a loss of $360 million a year earlier' is the year before; '去年同期…' after a comma is not."""
    got = by_metric(
        "Rivian's net loss was $1.1 billion in the third quarter, compared with a loss of $1.2 billion "
        "a year earlier.",
        registry,
    )
    assert got[("net_loss", 1.1e9)].period == "2025Q3"
    assert got[("net_loss", 1.2e9)].period == "2024Q3"
    got = by_metric("美团第三季度核心本地商业录得经营亏损达120亿元，去年同期经营溢利为100亿元。", registry)
    assert got[("operating_loss", 1.2e10)].period == "2025Q3"


def test_an_annual_revenue_run_rate(registry: Registry) -> None:
    got = by_metric("Anthropic said it had passed a $7 billion annual revenue run-rate in October.", registry)
    assert got[("revenue", 7e9)].entity == "Anthropic"


def test_a_headline_figure_the_body_states_under_another_noun(tmp_path: object, registry: Registry) -> None:
    """'profit slides 20%' in the headline, 'operating profit fell 19.8%' in the body: not net income."""
    got = _article_facts(
        tmp_path,
        registry,
        "Kia profit slides 20% as tariffs bite\n"
        "https://www.example.com/k | 2025-10-24 | en\n"
        "Kia Corp said its third-quarter operating profit fell 19.8% to 2.2 trillion won.\n",
    )
    assert got == []


@pytest.mark.parametrize("example", lexicon().received_examples, ids=lambda e: e.text[:24])
def test_an_investment_received_is_funding(registry: Registry, example: Example) -> None:
    """The examples of [investment_received] in lexicon/metrics.toml; the investor's side stays a
    commitment."""
    got = [(f.metric, f.value) for f in facts(example.text, registry)]
    assert got == [("funding_raised", example.value)], example.text


def test_the_investors_side_stays_a_commitment(registry: Registry) -> None:
    got = facts("Volkswagen will make an investment of $1 billion in Rivian.", registry)
    assert [(f.entity, f.metric) for f in got] == [("Volkswagen", "investment_commitment")]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("AWS growth speeds up to 20%", 20.0),
        ("Amazon said AWS growth of 20% was its fastest since 2022.", 20.0),
        ("Alphabet's growth slowed to 14%.", 14.0),
    ],
)
def test_a_companys_growth_is_its_revenue_growth(registry: Registry, text: str, value: float) -> None:
    assert [(f.metric, f.value) for f in facts(text, registry)] == [("revenue_growth_yoy", value)]


def test_growth_as_a_modifier_is_no_figure(registry: Registry) -> None:
    assert facts("Tesla's growth plans include 20% more factories.", registry) == []


def test_a_forecast_period_does_not_carry_to_a_reported_one(tmp_path: object, registry: Registry) -> None:
    got = _article_facts(
        tmp_path,
        registry,
        "Netflix results\n"
        "https://www.example.com/n | 2025-10-22 | en\n"
        "Netflix said third-quarter revenue rose 17% to $11.5 billion. For the fourth quarter, Netflix "
        "forecast revenue of $12 billion. Its operating margin narrowed to 28%.\n",
    )
    margin = next(f for f in got if f.metric == "operating_margin")
    assert (margin.period, margin.kind) == ("2025Q3", "actual")
    forecast = next(f for f in got if f.value == 1.2e10)
    assert (forecast.period, forecast.kind) == ("2025Q4", "guidance")


@pytest.mark.parametrize(
    "text",
    [
        "LG化学表示，今年全年设施投资预计为3.5万亿韩元，其中电池材料领域约2.1万亿韩元。",
        "Meta expects capital expenditures of $72 billion this year, of which about $50 billion for servers.",
    ],
)
def test_a_part_after_of_which_takes_the_figures_metric(registry: Registry, text: str) -> None:
    got = facts(text, registry)
    assert len(got) == 2 and {f.metric for f in got} == {"capex_guidance"}, got


def test_spending_takes_the_period_under_discussion(tmp_path: object, registry: Registry) -> None:
    got = _article_facts(
        tmp_path,
        registry,
        "Nebius results\n"
        "https://www.example.com/n | 2025-11-12 | en\n"
        "Nebius reported third-quarter results on Tuesday.\n\n"
        "Nebius said it spent $955 million on data centers and GPUs in the quarter.\n",
    )
    assert [(f.metric, f.period, f.kind) for f in got] == [("capex", "2025Q3", "actual")]
