"""Rules found with the fourth held-out batch, each on sentences of our own (never dev or seed text):
a month's own figure, headline figures, spending on data centers as capex, 本季度 after a reported
quarter, and the lexicon entries added with them. The article date is 2025-11-20 unless a test says
otherwise."""

from __future__ import annotations

from datetime import date

import pytest

from metrics.extraction.entities import Registry
from metrics.extraction.extract import Fact, extract_text
from metrics.extraction.periods import find_periods

NOV = date(2025, 11, 20)


def facts(text: str, registry: Registry, published: date | None = NOV) -> list[Fact]:
    return extract_text(text, registry, published=published)


def by_metric(text: str, registry: Registry, published: date | None = NOV) -> dict[tuple[str, float], Fact]:
    return {(f.metric, round(f.value, 4)): f for f in facts(text, registry, published)}


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
