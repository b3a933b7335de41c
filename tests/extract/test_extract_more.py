"""Wider coverage of the extractor: English cues, English fiscal periods, Chinese month references, a
unit carried across an enumeration, a floor-and-stretch range, and the publication year of an
article dated by a month-day only. Sentences are our own."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from metrics.extraction.documents import read_document, split_articles
from metrics.extraction.entities import Registry
from metrics.extraction.extract import Fact, extract_text
from metrics.extraction.normalize import ascii_lower, fold_width
from metrics.extraction.periods import find_periods


def facts(text: str, registry: Registry, published: date = date(2025, 10, 30)) -> list[Fact]:
    return extract_text(text, registry, published=published)


def one(text: str, registry: Registry, published: date = date(2025, 10, 30)) -> Fact:
    fs = facts(text, registry, published)
    assert len(fs) == 1, fs
    return fs[0]


@pytest.mark.parametrize(
    ("text", "metric", "value", "unit"),
    [
        ("Oracle reported sales of $16.1 billion.", "revenue", 16.1e9, "USD"),
        ("Intel swung to a net loss of $2.9 billion.", "net_loss", 2.9e9, "USD"),
        ("Rivian's operating loss narrowed to $1.1 billion.", "operating_loss", 1.1e9, "USD"),
        ("Microsoft's gross margin was 68.8%.", "gross_margin", 68.8, "pct"),
        ("OpenAI is now valued at $500 billion.", "valuation", 500e9, "USD"),
        ("Anthropic raised $13 billion in a Series F round.", "funding_raised", 13e9, "USD"),
        ("Nvidia reached a market value of $5 trillion.", "market_cap", 5e12, "USD"),
        ("Apple authorized a $100 billion share buyback.", "buyback", 100e9, "USD"),
        ("Alphabet announced a $70 billion repurchase program.", "buyback", 70e9, "USD"),
        ("Nvidia had 24.3 billion shares outstanding.", "shares_outstanding", 24.3e9, "count"),
        ("Verizon offers a dividend yield of 6.5%.", "dividend_yield", 6.5, "pct"),
        ("Alphabet held cash and equivalents of $98.5 billion.", "cash", 98.5e9, "USD"),
        ("Nvidia's B200 is priced at $40,000 per chip.", "unit_price", 40_000.0, "USD"),
        ("Salesforce now has more than 150,000 customers.", "customers", 150_000.0, "count"),
        ("AMD shipped 500,000 MI300 accelerators.", "units", 500_000.0, "count"),
        ("Oracle will build a 1.2 GW data center in Texas.", "power_capacity", 1.2, "GW"),
    ],
)
def test_english_cues(registry: Registry, text: str, metric: str, value: float, unit: str) -> None:
    """Each English metric phrase names its metric, with the figure's value and unit."""
    f = one(text, registry)
    assert (f.metric, f.unit) == (metric, unit)
    assert f.value == pytest.approx(value)


def test_english_guidance_words_and_trailing_year(registry: Registry) -> None:
    """'would be ... in 2025' is capex guidance for FY2025: modal verb, and a period after the figure."""
    f = one("Meta said capital expenditures would be $70 billion to $72 billion in 2025.", registry)
    assert (f.metric, f.kind, f.period, f.low, f.high) == ("capex_guidance", "guidance", "FY2025", 70e9, 72e9)


def test_english_outlook_cut_full_year(registry: Registry) -> None:
    """'cut its full-year revenue outlook' is revenue guidance for the current fiscal year."""
    f = one("Intel cut its full-year revenue outlook to $52 billion.", registry)
    assert (f.metric, f.kind, f.period) == ("revenue", "guidance", "FY2025")


def test_year_count_is_not_a_count(registry: Registry) -> None:
    """A year before an English noun ('2025 chips') is not a count."""
    assert facts("Nvidia shipped 2025 chips were in short supply.", registry) == []


@pytest.mark.parametrize(
    ("text", "fye", "period"),
    [
        ("Q3 FY26", 1, "FY2026Q3"),
        ("fiscal Q1", 6, "FY2026Q1"),
        ("fiscal Q3 2026", 6, "FY2026Q3"),
        ("the third quarter of fiscal 2026", 8, "FY2026Q3"),
        ("the September quarter", 12, "2025Q3"),
        ("the December quarter", 12, "2025Q4"),
        ("the August quarter", 8, "FY2025Q4"),
        ("fourth-quarter", 12, "2025Q4"),
        ("full-year", 9, "FY2025"),
        ("full-year", 12, "FY2025"),
        ("full year 2024", 12, "FY2024"),
        ("明年一季度", 12, "2026Q1"),
        ("截至今年9月的季度", 12, "2025Q3"),
        ("2025年6月止的季度", 12, "2025Q2"),
        ("今年9月", 12, ""),
        ("8月份", 12, ""),
    ],
)
def test_more_periods(text: str, fye: int, period: str) -> None:
    """English fiscal forms, quarters named by their last month, full-year, and Chinese months
    ("" = a month without 季度: the text states no period)."""
    spans = find_periods(text, published=date(2025, 10, 30), fiscal_year_end=fye)
    assert [p.period for p in spans] == [period]


def test_month_day_is_not_a_period() -> None:
    """A full date (12月8日) is an event date, not a period."""
    assert find_periods("12月8日", published=date(2025, 12, 9)) == []


def test_month_without_quarter_leaves_period_null(registry: Registry) -> None:
    """今年9月 before a figure gives no period (not the whole year); before a month's own figure
    (9月的营收) it is that month; with 季度 it is the quarter ending then: the company's fiscal quarter
    when its fiscal year does not end in December."""
    f = one("微软今年9月的营收为200亿美元。", registry, date(2025, 11, 20))
    assert (f.metric, f.period) == ("revenue", "2025-09")
    g = one("微软截至今年9月的季度营收为777亿美元。", registry, date(2025, 11, 20))
    assert (g.metric, g.period) == ("revenue", "FY2026Q1")
    h = one("亚马逊截至今年9月的季度营收为1800亿美元。", registry, date(2025, 11, 20))
    assert (h.metric, h.period) == ("revenue", "2025Q3")


def test_counter_carried_across_enumeration(registry: Registry) -> None:
    """In '从300万颗增至400万、500万' the bare amounts after a count are counts of the same thing."""
    fs = facts("英伟达今年向客户交付芯片从300万颗增至400万、500万。", registry, date(2025, 11, 20))
    assert sorted((f.metric, f.unit, f.value) for f in fs) == [
        ("units", "count", 3e6),
        ("units", "count", 4e6),
        ("units", "count", 5e6),
    ]


def test_floor_and_stretch_is_a_range(registry: Registry) -> None:
    """'保底10万、冲刺12万' after a count is one range of counts from the floor to the stretch."""
    fs = facts("台积电计划明年将封装月产能从8万片提高到保底10万、冲刺12万,以满足芯片订单。", registry,
               date(2025, 11, 20))
    ranged = [f for f in fs if f.low is not None]
    assert [(f.metric, f.unit, f.low, f.high) for f in ranged] == [("units", "count", 1e5, 1.2e5)]


def published_of(path: Path, text: str) -> date | None:
    """The publication date of the one article of ``text``, written as a document at ``path``."""
    path.write_text(text, encoding="utf-8")
    (art,) = split_articles(read_document(path))
    return art.published


def test_publication_year_ignores_next_years_plans(tmp_path: Path) -> None:
    """A December month-day in an article planning for next year's first quarter is published in the
    earlier year, even when next year is the year the text names most."""
    text = (
        "芯片大厂加急备货\n"
        "据供应链人士12月20日透露,该厂要求在2027年Q1前完成扩产,2027年一季度出货将明显增加,"
        "并已为2027年上半年预留产能。市场人士认为,2027年的需求仍将强劲。(某财经媒体)\n"
    )
    assert published_of(tmp_path / "plans.txt", text) == date(2026, 12, 20)


def test_publication_year_reported_quarter_kept(tmp_path: Path) -> None:
    """A month-day early in a year with that year's first-quarter figures keeps that year."""
    text = (
        "一季度业绩出炉\n"
        "该公司4月28日公布,2026年第一季度营收同比增长,2026年一季度净利润创新高,"
        "管理层对全年保持乐观。(某财经媒体)\n"
    )
    assert published_of(tmp_path / "report.txt", text) == date(2026, 4, 28)


def test_fast_text_folds_keep_results() -> None:
    """The fast width fold and ASCII lowering equal their character-table definitions."""
    text = "ＡＢＣ１２３，微軟　Ｑ３ NVIDIA É\u00a0x"
    table = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)} | {0x3000: 0x20, 0xA0: 0x20}
    assert fold_width(text) == text.translate(table)
    assert ascii_lower(text) == text.translate({cp: cp + 32 for cp in range(65, 91)})
