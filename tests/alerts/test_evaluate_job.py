"""The evaluate job keeps one compiled evaluator per rules version."""

from __future__ import annotations

from jobs.evaluate import compiled
from tests.alerts.conftest import make_rules

SPEC = {"name": "r", "series": "prices.close", "condition": "value < 100"}
FACT = {"name": "f", "series": "facts.capex_guidance", "condition": "revision_pct > 10"}


def test_one_compiled_evaluator_per_rules_version() -> None:
    """Ticks of one rules version share its evaluators; a reload (a new list) compiles anew."""
    rules = make_rules(SPEC, FACT)
    first = compiled(rules)
    assert compiled(rules) is first
    assert [r.name for r in first.at_close.rules] == ["r", "f"]
    assert [r.name for r in first.between.rules] == ["f"]   # between closes: fact rules only
    reloaded = make_rules(SPEC, FACT)
    assert compiled(reloaded) is not first and compiled(reloaded).rules is reloaded
