"""Lexicon and registry entries found with the fifth held-out batch, each on sentences of our own (never
dev, seed or held-out text): 收益 as a Hong Kong report's revenue, 獲利 as profit (monthly profit reports),
growth at constant exchange rates, same-store sales and one-off tax items kept out, plural buyback nouns,
'consolidated net profit', a round said after 的, 'earlier' as the company's prior guidance, and company
aliases (Taiwanese financial holdings, Indian companies and their units). The article date is 2025-11-20
unless a test says otherwise."""

from __future__ import annotations

from datetime import date

import pytest

from metrics.extraction.entities import Registry
from tests.extract.sentences import by_metric, facts

# ------------------------------------------------------------------ 收益: revenue in Hong Kong reports


@pytest.mark.parametrize(
    "text",
    [
        "海底撈公布上半年業績，收益207億元人民幣，按年增長3.5%。",  # zh-Hant, Hong Kong
        "海底捞上半年收益为207亿元人民币，按年增长3.5%。",  # zh-Hans
    ],
)
def test_shouyi_is_revenue_in_a_hong_kong_report(registry: Registry, text: str) -> None:
    got = by_metric(text, registry)
    assert got[("revenue", 2.07e10)].entity == "Haidilao"
    assert got[("revenue_growth_yoy", 3.5)].period == "2025H1"


def test_a_growth_range_of_revenue_stated_as_shouyi(registry: Registry) -> None:
    """'整體收益按年增長245%至250%': revenue growth as a range (not a share move of the company)."""
    got = facts("泡泡瑪特第三季度整體收益按年增長120%至125%。", registry, date(2025, 10, 22))
    assert [(f.metric, f.value, f.low, f.high, f.period) for f in got] == [
        ("revenue_growth_yoy", 122.5, 120.0, 125.0, "2025Q3")
    ]


def test_revenue_and_other_income_is_the_revenue_line(registry: Registry) -> None:
    got = by_metric("港交所上半年收入及其他收益為140億港元，按年增加33%。", registry)
    assert (got[("revenue", 1.4e10)].unit, got[("revenue_growth_yoy", 33.0)].period) == ("HKD", "2025H1")


@pytest.mark.parametrize(
    "text",
    [
        "友邦保險上半年投資收益為50億美元。",  # investment gains
        "中國平安上半年的投资收益率为3.2%，按年上升0.3個百分點。",  # a yield
        "美團第三季每股基本收益為0.52元。",  # EPS
        "美团第三季度每股摊薄收益为0.5元。",
        "招商银行上半年利息净收益为1000亿元。",  # a bank's interest income
        "三星電子第三季營業收益為12兆韓圜。",  # operating profit (Korean reports)
        "宁德时代前三季度公允价值变动收益为20亿元。",
    ],
)
def test_gains_yields_and_eps_said_with_shouyi_are_not_revenue(registry: Registry, text: str) -> None:
    assert [f for f in facts(text, registry) if f.metric.startswith("revenue")] == []


# --------------------------------------------------------------------------- 獲利: profit, monthly reports


def test_a_monthly_profit_report_of_a_financial_holding(registry: Registry) -> None:
    """'11月稅後淨利' is November's own figure; '前11月獲利年增' the growth of the months to date; EPS
    and month-on-month changes are not stored."""
    got = by_metric(
        "玉山金控（2884）今日公布11月自結稅後淨利新台幣25.6億元，月減3.1%；前11月獲利為268.4億元，"
        "年增12.3%，每股盈餘1.66元。",
        registry,
        date(2025, 12, 10),
    )
    assert set(got) == {("net_income", 2.56e9), ("net_income", 2.684e10), ("net_income_growth_yoy", 12.3)}
    assert got[("net_income", 2.56e9)].period == "2025-11"
    assert got[("net_income", 2.684e10)].period == "2025-11M"
    assert got[("net_income_growth_yoy", 12.3)].entity == "E.Sun Financial"


def test_huoli_is_profit_and_profit_taking_is_not(registry: Registry) -> None:
    got = by_metric("國泰金前三季稅後獲利達900億元，年減5%。", registry)
    assert got[("net_income", 9e10)].entity == "Cathay Financial"
    assert got[("net_income_growth_yoy", -5.0)].period == "2025-9M"
    assert facts("分析师指出，台积电近期的获利了结卖压较上周增加三成。", registry) == []
    assert facts("聯發科營業獲利為300億元。", registry) == []  # operating profit


@pytest.mark.parametrize(
    ("text", "entity"),
    [
        ("富邦金控10月稅後淨利80億元。", "Fubon Financial"),
        ("国泰金控10月税后净利60亿元。", "Cathay Financial"),
        ("中信金控10月稅後淨利50億元。", "CTBC Financial"),
    ],
)
def test_financial_holdings_are_named_with_jinkong(registry: Registry, text: str, entity: str) -> None:
    got = facts(text, registry)
    assert [(f.entity, f.metric, f.unit, f.period) for f in got] == [(entity, "net_income", "TWD", "2025-10")]


# --------------------------------------------------------------------------- constant currency


@pytest.mark.parametrize(
    "text",
    [
        "塔塔咨询服务公司第二财季营收为6000亿卢比，同比增长3%，按固定汇率计算同比增长1.5%。",
        "塔塔諮詢服務第二財季營收6,000億盧比，年增3%，以固定匯率計算則增長1.5%。",
    ],
)
def test_growth_at_constant_exchange_rates_is_revenue_growth(registry: Registry, text: str) -> None:
    got = by_metric(text, registry, date(2025, 10, 20))
    assert got[("revenue_growth_yoy", 1.5)].entity == "Tata Consultancy Services"
    assert got[("revenue_growth_yoy", 3.0)].period == "FY2026Q2"


def test_constant_currency_growth_in_english(registry: Registry) -> None:
    got = by_metric("Infosys said revenue grew 4% in constant currency in the quarter.", registry)
    assert got[("revenue_growth_yoy", 4.0)].entity == "Infosys"


# --------------------------------------------------------------------------- same-store sales, tax items


@pytest.mark.parametrize(
    "text",
    [
        "周大福內地同店銷售按年下跌5%。",
        "周大福内地同店销售同比下降5%。",
        "Starbucks said global comparable store sales rose 1% in the quarter.",
        "Walmart's U.S. comparable sales grew 4.5%.",
    ],
)
def test_same_store_sales_are_not_revenue(registry: Registry, text: str) -> None:
    assert facts(text, registry) == []


def test_a_one_time_tax_charge_is_no_profit_or_loss(registry: Registry) -> None:
    got = by_metric(
        "Intel swung to a net loss of $1 billion from a profit of $2 billion a year earlier, because of a "
        "one-time $3 billion tax charge.",
        registry,
    )
    assert set(got) == {("net_loss", 1e9), ("net_income", 2e9)}


# --------------------------------------------------------------------------- buybacks, consolidated profit


@pytest.mark.parametrize(
    "text",
    [
        "Cisco returned $3 billion to shareholders, including $2 billion of share repurchases.",
        "Cisco completed $2 billion in stock repurchases in the quarter.",
    ],
)
def test_plural_buyback_nouns(registry: Registry, text: str) -> None:
    assert [(f.metric, f.value) for f in facts(text, registry)] == [("buyback", 2e9)]


def test_consolidated_net_profit(registry: Registry) -> None:
    got = by_metric("Honda on Friday reported a 9.7% rise in consolidated net profit.", registry)
    assert got[("net_income_growth_yoy", 9.7)].entity == "Honda"
    got = by_metric("Honda reported a 20% fall in consolidated net profit to 300 billion yen.", registry)
    assert got[("net_income", 3e11)].unit == "JPY"


# --------------------------------------------------------------------------- rounds, prior guidance


@pytest.mark.parametrize(
    "text",
    ["阶跃星辰近日完成一笔约5亿美元的新一轮融资。", "階躍星辰宣布完成約5億美元的新一輪融資。"],
)
def test_a_round_said_after_de(registry: Registry, text: str) -> None:
    got = facts(text, registry)
    assert [(f.entity, f.metric, f.value, f.qualifier) for f in got] == [
        ("StepFun", "funding_raised", 5e8, "approx")
    ]


def test_earlier_this_year_is_no_guidance(registry: Registry) -> None:
    """'earlier' alone marks prior guidance; 'earlier this year', 'a month earlier' do not."""
    got = by_metric(
        "Groq raised $750 million at a valuation of $6.9 billion, up from $2.8 billion earlier this year.",
        registry,
    )
    assert got[("valuation", 2.8e9)].kind == "actual"
    got = by_metric(
        "Wiwynn said October revenue rose to NT$90 billion from NT$80 billion a month earlier.", registry
    )
    assert got[("revenue", 8e10)].kind == "actual"


def test_earlier_marks_the_companys_prior_guidance(registry: Registry) -> None:
    got = facts(
        "Infosys now expects fiscal 2026 revenue growth of 3-4% in constant currency, "
        "compared with 2-3% earlier.",
        registry,
    )
    assert sorted((f.metric, f.low, f.high, f.kind, f.period) for f in got) == [
        ("revenue_growth_yoy", 2.0, 3.0, "guidance", "FY2026"),
        ("revenue_growth_yoy", 3.0, 4.0, "guidance", "FY2026"),
    ]


# --------------------------------------------------------------------------- Indian companies and their units


@pytest.mark.parametrize(
    ("text", "entity"),
    [
        ("HDFC银行第二财季净利润为1800亿卢比。", "HDFC Bank"),
        ("HDFC銀行第二財季淨利為1,800億盧比。", "HDFC Bank"),
        ("Reliance Jio posted revenue of $4 billion in the quarter.", "Reliance Industries"),
        ("Reliance Retail posted revenue of $10 billion in the quarter.", "Reliance Industries"),
        ("RIL said revenue rose 10% in the quarter.", "Reliance Industries"),
    ],
)
def test_indian_companies_and_units(registry: Registry, text: str, entity: str) -> None:
    got = facts(text, registry, date(2025, 10, 20))
    assert got and {f.entity for f in got} == {entity}


def test_reliance_alone_is_a_company_only_when_figures_follow(registry: Registry) -> None:
    assert facts("Reliance on cloud providers grew 10% last year, the survey said.", registry) == []
