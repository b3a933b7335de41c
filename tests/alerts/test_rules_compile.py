"""Conditions checked once per shape give the verdicts of compiling each as written."""

from __future__ import annotations

import pytest

from metrics.alerting.rules import check_condition, compile_condition

CONDITIONS = [
    "value < 100",
    "value < 100.5 and age_days > 4",
    "change_pct_5 <= -10",
    "value < sma_200 * 0.9",
    "stale_bars >= 3",
    "round(value, 2) > 1",
    "period like 'FY2025%'",
    "kind = 'actual' and revision_pct > 1e1",
    "value + 1",
    "value <",
    "nope > 1",
    "period = 2025",
]


@pytest.mark.parametrize("shape", ["prices", "facts"])
@pytest.mark.parametrize("condition", CONDITIONS)
def test_check_condition_agrees_with_compile_condition(condition: str, shape: str) -> None:
    """``check_condition`` raises exactly when ``compile_condition`` does, with the same message."""
    try:
        compile_condition(condition, shape)  # type: ignore[arg-type]
        expected = None
    except ValueError as e:
        expected = str(e)
    try:
        check_condition(condition, shape)  # type: ignore[arg-type]
        got = None
    except ValueError as e:
        got = str(e)
    assert got == expected
