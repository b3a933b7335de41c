"""General period and headline fixes found with the fifth held-out batch (issue 7), each on sentences of
our own (never dev, seed or held-out text): a year right after a clause's comma, fiscal halves and
quarters of companies whose year does not end in December (中期業績, 截至9月30日止六個月, 'the second
quarter of its fiscal year', 'the quarter ending in December'), a headline figure qualified 逾/more than
that the body states precisely, and buyback amounts said with 'of stock'. The article date is 2025-11-20
unless a test says otherwise."""

from __future__ import annotations

from datetime import date

import pytest

from metrics.extraction.entities import Registry
from metrics.extraction.extract import Fact, extract_text
from metrics.extraction.normalize import normalize
from metrics.extraction.periods import find_periods

NOV = date(2025, 11, 20)


def facts(text: str, registry: Registry, published: date | None = NOV) -> list[Fact]:
    return extract_text(text, registry, published=published)


def by_metric(text: str, registry: Registry, published: date | None = NOV) -> dict[tuple[str, float], Fact]:
    return {(f.metric, round(f.value, 4)): f for f in facts(text, registry, published)}


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
