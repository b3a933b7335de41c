"""General fixes for the causes held-out batch 6 found (README, "What is still missed"), each with
sentences of our own: fiscal quarters named without 'fiscal', ranges said by two bounds, plans that are
not spending of the quarter, share moves and 'doubled' beside a revenue figure."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from metrics.extraction.documents import read_document, split_articles
from metrics.extraction.entities import Registry
from metrics.extraction.extract import extract_article
from metrics.extraction.normalize import normalize
from metrics.extraction.numbers import find_quantities
from metrics.extraction.periods import labels_fiscal_quarters
from tests.extract.sentences import by_metric, facts

DEC = date(2025, 12, 18)


# 1. a quarter named without 'fiscal' of a company whose year does not end in December


def test_bare_quarter_is_fiscal_when_the_article_names_a_fiscal_year(registry: Registry) -> None:
    """Micron's year ends in August: in an article naming fiscal 2025, 'first-quarter' is FY2026Q1."""
    text = (
        "Micron said first-quarter revenue climbed 41% to $12.3 billion.\n\n"
        "For fiscal 2025, revenue rose 38% to $36.4 billion."
    )
    got = by_metric(text, registry, published=DEC)
    assert got[("revenue", 12.3e9)].period == "FY2026Q1"
    assert got[("revenue_growth_yoy", 41.0)].period == "FY2026Q1"
    assert got[("revenue", 36.4e9)].period == "FY2025"


def test_bare_quarter_is_fiscal_in_chinese_with_a_numbered_fiscal_year(registry: Registry) -> None:
    """美光 (August year end): 第一季 in an article that names 2025財年 / 2025财年 is the fiscal quarter."""
    for text in (
        "美光第一季營收達123億美元。美光2025財年營收為364億美元。",
        "美光第一季营收达123亿美元。美光2025财年营收为364亿美元。",
    ):
        got = by_metric(text, registry, published=DEC)
        assert got[("revenue", 12.3e9)].period == "FY2026Q1", text


def test_quarter_not_yet_ended_is_fiscal(registry: Registry) -> None:
    """Oracle's year ends in May: in mid-December the calendar fourth quarter is under way, so a
    fourth-quarter revenue reported is Oracle's fiscal fourth quarter (March-May 2025)."""
    got = by_metric("Oracle said fourth-quarter revenue rose 14% to $16.1 billion.", registry, published=DEC)
    assert got[("revenue", 16.1e9)].period == "FY2025Q4"


def test_forecast_for_the_quarter_takes_the_quarter_ahead(registry: Registry) -> None:
    """'It expects $N for the quarter' after a quarter still ahead: that quarter, not the one reported."""
    text = (
        "Oracle forecast third-quarter revenue above estimates.\n\n"
        "The company expects revenue of about $17.4 billion for the quarter.\n\n"
        "Second-quarter revenue rose 14% to $16.1 billion.\n\n"
        "For fiscal 2025, revenue grew 8% to $57.4 billion."
    )
    got = by_metric(text, registry, published=DEC)
    assert got[("revenue", 17.4e9)].period == "FY2026Q3"
    assert got[("revenue", 17.4e9)].kind == "guidance"
    assert got[("revenue", 16.1e9)].period == "FY2026Q2"
    assert got[("revenue", 16.1e9)].kind == "actual"


def test_december_year_quarters_stay_calendar(registry: Registry) -> None:
    """A December-year company keeps calendar quarters, 'fiscal 2025' or not; a relative fiscal year
    (下一财年) does not make an article's quarters fiscal."""
    text = "AMD said third-quarter revenue rose 30% to $9.1 billion. For fiscal 2025, it sees growth."
    assert by_metric(text, registry, published=DEC)[("revenue", 9.1e9)].period == "2025Q3"
    fs = facts("上季度美光投入45亿美元;下一财年,美光将投入200亿美元。", registry)
    assert {(f.metric, f.period) for f in fs} == {("capex", "2025Q3"), ("capex_guidance", "FY2027")}


def test_a_fiscal_year_in_a_link_is_not_the_article_naming_one(registry: Registry) -> None:
    """'fy2025' inside a web address says nothing about how the article names its quarters."""
    assert not labels_fiscal_quarters("https://example.org/news/micron-q1-fy2025 July-September quarter")
    assert labels_fiscal_quarters("Micron's FY2025 ended in August; its July-September quarter")


# 2. a range said by its two bounds; a bound that is a price per share


def test_lower_and_upper_bound_are_one_range(registry: Registry) -> None:
    """不低于X且不超过Y / 不低於X且不超過Y / 'at least X and no more than Y': one buyback, low and high."""
    for text, low, high in (
        ("美的集团拟回购公司股份，回购资金总额不低于30亿元且不超过60亿元，回购价格不超过80元/股。", 3e9, 6e9),
        ("美的集團擬回購公司股份，回購資金總額不低於人民幣30億元(含)且不超過人民幣60億元(含)。", 3e9, 6e9),
        ("Micron will buy back at least $2 billion and no more than $4 billion of its shares.", 2e9, 4e9),
    ):
        fs = facts(text, registry)
        got = [(f.metric, f.value, f.low, f.high) for f in fs]
        assert got == [("buyback", (low + high) / 2, low, high)], text


def test_no_more_than_is_an_upper_bound() -> None:
    """'no more than $4 billion' is at most 4 billion (it used to read as 'more than')."""
    qs = find_quantities(normalize("capex of no more than $4 billion"))
    assert [(q.value, q.qualifier) for q in qs] == [(4e9, "lt")]


def test_a_buyback_price_per_share_is_not_a_buyback(registry: Registry) -> None:
    """回购价格不超过80元/股 alone: no buyback of 80 yuan."""
    assert facts("美的集团本次回购价格不超过80元/股。", registry) == []
    assert facts("美的集團本次回購價格不超過80元/股。", registry) == []


def test_headline_bound_of_a_body_range_is_the_body_figure(tmp_path: Path, registry: Registry) -> None:
    """A headline's 'up to 60亿' is the upper bound of the body's range: one fact, the body's range."""
    path = tmp_path / "a.txt"
    path.write_text(
        "美的集团拟斥资最高60亿元回购\n\n美的集团拟回购公司股份，回购资金总额不低于30亿元且不超过60亿元。\n",
        encoding="utf-8",
    )
    fs = [f for a in split_articles(read_document(path)) for f in extract_article(a, registry)]
    assert [(f.metric, f.value, f.low, f.high) for f in fs] == [("buyback", 4.5e9, 3e9, 6e9)]


# 3. a plan is not spending of the quarter


def test_capex_budget_is_guidance_of_the_current_year(registry: Registry) -> None:
    """資本支出預算 / 资本支出预算 / 'capex budget': capex guidance of the current year, not the quarter's
    capex carried from the sentence before."""
    for text in (
        "台達電第三季營收達1200億元。董事會同時通過資本支出預算約95億元。",
        "台达电第三季营收达1200亿元。董事会同时通过资本支出预算约95亿元。",
        (
            "Delta Electronics said third-quarter revenue reached NT$120 billion. "
            "Its board approved a capex budget of about NT$9.5 billion."
        ),
    ):
        got = by_metric(text, registry)
        assert got[("revenue", 1.2e11)].period == "2025Q3", text
        capex = got[("capex_guidance", 9.5e9)]
        assert (capex.period, capex.kind) == ("FY2025", "guidance"), text
        assert ("capex", 9.5e9) not in got


def test_a_capex_budget_keeps_the_year_it_is_for(registry: Registry) -> None:
    """台達電2026年資本支出預算: the budget of 2026."""
    got = by_metric("台達電2026年資本支出預算約95億元。", registry)
    assert got[("capex_guidance", 9.5e9)].period == "FY2026"


def test_investment_between_two_years_is_a_multi_year_commitment(registry: Registry) -> None:
    """'invest X between 2025 and 2027' / 'from 2026 through 2028' / 2025年至2027年投资X: a commitment of
    the span, not capex guidance of the quarter."""
    for text, span in (
        (
            (
                "Kakao said third-quarter revenue rose 9%. It plans to invest 800 billion won in AI data "
                "centers between 2025 and 2027."
            ),
            "2025..2027",
        ),
        ("Kakao will invest 800 billion won in AI from 2026 through 2028, it said.", "2026..2028"),
        ("美的集团计划2025年至2027年投资120亿元建设数据中心。", "2025..2027"),
        ("美的集團計劃在2025年至2027年間投資120億元於人工智慧。", "2025..2027"),
    ):
        fs = [f for f in facts(text, registry) if f.unit != "pct"]
        got = [(f.metric, f.kind, f.period) for f in fs]
        assert got == [("investment_commitment", "commitment", span)], text


# 4. a share move beside a revenue figure; a multiple said roughly


def test_premarket_move_after_revenue_is_a_share_move(registry: Registry) -> None:
    """美股盘前一度下跌逾4% / 'fell 4% premarket' after a revenue growth: the shares' move."""
    for text in (
        "京东第三季度营收同比增长12%，美股盘前一度下跌逾4%。",
        "京東第三季營收年增12%，美股盤前一度下跌逾4%。",
        "JD said third-quarter revenue rose 12% but its stock fell 4% in premarket trading.",
    ):
        got = by_metric(text, registry)
        assert set(got) == {("revenue_growth_yoy", 12.0), ("share_price_change", -4.0)}, text
        assert got[("share_price_change", -4.0)].period is None


def test_more_than_doubled_is_a_lower_bound(registry: Registry) -> None:
    """'more than doubled' / 超过翻倍: a multiple of at least 2 (qualifier gt), 'nearly tripled' about 3;
    a plain 翻倍 is exactly 2."""
    cases = (
        ("Kakao said third-quarter net income more than doubled.", 2.0, "gt"),
        ("京东第三季度净利润超过翻倍。", 2.0, "gt"),
        ("Kakao said its net income nearly tripled.", 3.0, "approx"),
        ("京東第三季淨利翻倍。", 2.0, None),
    )
    for text, value, qualifier in cases:
        fs = facts(text, registry)
        assert [(f.metric, f.value, f.unit, f.qualifier) for f in fs] == [
            ("net_income_growth_yoy", value, "x", qualifier)
        ], text


def test_an_earlier_range_from_x_to_y_previously_is_one_figure(registry: Registry) -> None:
    """'raised … to $12.4 billion from $11.9 billion to $12.1 billion previously': the earlier forecast is
    one range; 'rose from $5 billion to $7 billion' stays two figures."""
    qs = find_quantities(normalize("to $12.4 billion from $11.9 billion to $12.1 billion previously"))
    assert [(q.value, q.low, q.high) for q in qs] == [(12.4e9, None, None), (12e9, 11.9e9, 12.1e9)]
    qs = find_quantities(normalize("revenue rose from $5 billion to $7 billion"))
    assert [(q.value, q.low) for q in qs] == [(5e9, None), (7e9, None)]
    got = by_metric(
        "Oracle raised its annual revenue forecast to $67.4 billion from $66.9 billion to $67.1 billion "
        "previously.",
        registry,
    )
    assert set(got) == {("revenue", 67.4e9), ("revenue", 67e9)}
