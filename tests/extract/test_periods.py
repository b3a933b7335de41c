"""Period expressions (metrics/extraction/periods.py) resolved against the article date and fiscal year."""

from __future__ import annotations

from datetime import date

import pytest

from metrics.extraction.periods import current_fiscal_year, find_periods, last_quarter

NOV = date(2025, 11, 20)


@pytest.mark.parametrize(
    ("text", "fye", "period"),
    [
        ("2025年前三季度营收", 12, "2025-9M"),
        ("2024年前三季营收", 12, "2024-9M"),
        ("2025年上半年", 12, "2025H1"),
        ("2025上半年亏损", 12, "2025H1"),
        ("2024年下半年", 12, "2024H2"),
        ("2025年第三季度", 12, "2025Q3"),
        ("2026年Q1", 12, "2026Q1"),
        ("第二季度", 12, "2025Q2"),
        ("上季度", 12, "2025Q3"),
        ("last quarter", 12, "2025Q3"),
        ("下一财年", 6, "FY2027"),
        ("本财年", 6, "FY2026"),
        ("next fiscal year", 1, "FY2027"),
        ("FY26 Q3", 6, "FY2026Q3"),
        ("fiscal 2026", 9, "FY2026"),
        ("2026财年", 3, "FY2026"),
        ("未来8年", 12, "2025..2032"),
        ("未来三年", 12, "2025..2027"),
        ("over the next five years", 12, "2025..2029"),
        ("2025-2027年间", 12, "2025..2027"),
        ("自2018年以来", 12, "2018..2025"),
        ("今年", 12, "FY2025"),
        ("去年", 12, "FY2024"),
        ("明年", 12, "FY2026"),
        ("年底", 12, "FY2025"),
        ("到2029年", 12, "FY2029"),
        ("the third quarter of 2025", 12, "2025Q3"),
    ],
)
def test_period_names(text: str, fye: int, period: str) -> None:
    """Each expression resolves to the gold period name for a November 2025 article."""
    spans = find_periods(text, published=NOV, fiscal_year_end=fye)
    assert [p.period for p in spans][-1] == period


def test_relative_periods_need_a_date() -> None:
    """Without a publication date a relative period is unknowable (None), an absolute one is not."""
    assert find_periods("上季度", published=None)[0].period is None
    assert find_periods("2025年第三季度", published=None)[0].period == "2025Q3"


def test_fiscal_year_helpers() -> None:
    """A June fiscal year end puts November 2025 in FY2026; the last quarter before January is Q4."""
    assert current_fiscal_year(date(2025, 11, 1), 6) == 2026
    assert current_fiscal_year(date(2025, 5, 1), 6) == 2025
    assert current_fiscal_year(date(2025, 11, 1), 12) == 2025
    assert last_quarter(date(2026, 1, 10)) == (2025, 4)
    assert last_quarter(date(2025, 8, 1)) == (2025, 2)


def test_spans_do_not_overlap() -> None:
    """Overlapping expressions keep the longest (2025年前三季度, not 2025年)."""
    spans = find_periods("2025年前三季度和2026年", published=NOV)
    assert [p.period for p in spans] == ["2025-9M", "FY2026"]
