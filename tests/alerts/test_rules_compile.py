"""Conditions checked once per shape give the verdicts of compiling each as written; the checks of a
load, cached per text and shape, give each rule its verdict alone; placeholders; field order."""

from __future__ import annotations

import dataclasses
import gc
from pathlib import Path
from typing import Any

import pytest
from conftest import make_rules
from pydantic import ValidationError

from metrics.alerting.evaluate import Evaluator
from metrics.alerting.rules import (
    _plain_spec,
    _RuleSpec,
    check_condition,
    compile_condition,
    parse_rules,
    read_rules,
)
from metrics.errors import ConfigError

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


# ------------------------------------------------------------------ the parameter placeholder __p<N>

PLACEHOLDER = ["value < 5 and value > __p0", "value > __p1", 'value < "__p0"', "__p0 + 1 > value"]


@pytest.mark.parametrize("condition", PLACEHOLDER)
def test_a_condition_naming_a_parameter_is_rejected(condition: str) -> None:
    """``__p0`` is the name ``templatize`` gives the first number: a condition naming it would read
    that number (``value < 5 and value > __p0`` held as ``value < 5 and value > 5``)."""
    with pytest.raises(ValueError, match=r"names '__p[01]': names __p<N> are reserved"):
        check_condition(condition, "prices")
    rules, errors = parse_rules({"rules": [{"name": "r", "series": "prices.close", "condition": condition}]})
    assert not rules
    assert [(e.rule, e.field) for e in errors] == [("r", "condition")]
    assert "reserved for the condition's numbers" in str(errors[0])


def test_placeholder_text_in_strings_and_longer_names_is_allowed() -> None:
    (rule,) = make_rules(
        {"name": "r", "series": "facts.revenue", "condition": "period like '__p0%' and revision_pct > 1"}
    )
    assert rule.condition_fields == ("period", "revision_pct")
    with pytest.raises(ValueError, match="does not compile"):  # an unknown column, as before
        check_condition("x__p0 > 1", "prices")


def test_the_evaluator_rejects_a_condition_naming_a_parameter() -> None:
    """A rule built without ``parse_rules`` meets the same check when the evaluator compiles it."""
    (rule,) = make_rules({"name": "r", "series": "prices.close", "condition": "value < 5"})
    with pytest.raises(ValueError, match="reserved"):
        Evaluator([dataclasses.replace(rule, condition="value < 5 and value > __p0")])


# ------------------------------------------------------------------------- the condition's fields

@pytest.mark.parametrize(
    ("condition", "fields"),
    [
        # "value" is a prefix of "value_usd": both were found at 0 and ordered by set iteration
        ("value_usd > 1 and value < 2 and kind = 'actual'", ("value_usd", "value", "kind")),
        # a name inside a quoted string does not count as its place
        ("kind = 'value' and value_usd > 1 and value > 2", ("kind", "value_usd", "value")),
        ("sma_20 < sma_50 and change_pct_20 < -1.5", ("sma_20", "sma_50", "change_pct_20")),
        ("revision_pct > 5 and period like 'FY%'", ("revision_pct", "period")),
    ],
)
def test_condition_fields_in_text_order(condition: str, fields: tuple[str, ...]) -> None:
    (rule,) = make_rules({"name": "r", "series": "facts.revenue", "condition": condition})
    assert rule.condition_fields == fields


# ------------------------------------------------- checks once per shape == checks of each rule alone

TABLES: list[dict[str, Any]] = [
    {"name": "a", "series": "prices.close", "condition": "value < 100", "summary": "{entity} {value:.2f}"},
    {"name": "b", "series": "prices.close", "condition": "value < 7.5", "for": "2 bars"},
    {"name": "c", "series": "prices.close", "condition": "valu < 1"},
    {"name": "d", "series": "prices.close", "condition": "valu < 2"},
    {"name": "e", "series": "prices.close", "condition": "value + 1"},
    {"name": "f", "series": "prices.close", "condition": "round(value, 2) > 1.5"},
    {"name": "g", "series": "prices.close", "condition": "round(value, 3) > 1.5", "for": "2 days"},
    {"name": "h", "series": "prices.close", "condition": "value < 1", "for": "2 days"},
    {"name": "i", "series": "prices.closing", "condition": "value < 1"},
    {"name": "j", "series": "prices.closing", "condition": "value < 2"},
    {"name": "k", "series": "facts.revenue", "condition": "revision_pct > 1", "summary": "{period}"},
    {"name": "l", "series": "prices.close", "condition": "revision_pct > 1", "summary": "{period}"},
    {"name": "m", "series": "prices.close", "condition": "value < 1", "summary_reminder": "{nope}"},
    {"name": "n", "series": "prices.close", "condition": "value < 2", "summary_reminder": "{nope}"},
    {"name": "o", "series": "prices.close", "condition": "value < 1", "summary_resolved": "{fired_value}"},
    {"name": "p", "series": "prices.close", "condition": "value < 1", "repeat_interval": "2 bars"},
    {"name": "q", "series": "prices.close", "condition": "value < 2", "repeat_interval": "2 bars"},
    {"name": "r", "series": "prices.close", "condition": "value < 1", "channels": ["log", "pager"]},
    {"name": "s", "series": 5, "condition": "value < 1"},
    {"name": "t", "series": "prices.close", "condition": "value < 1", "hold": "1d"},
    {"name": "u", "series": "prices.close", "condition": "value < 1", "colour": "red"},
    {"name": "", "series": "prices.close", "condition": "value < 1"},
    {"name": "w", "series": "prices.close", "condition": "value < 1", "entities": [" A ", "B"]},
    {"name": "x", "series": "prices.close", "condition": "value < 1", "entities": ["A", " "]},
    {"name": "y", "series": "prices.close", "condition": "value < 1", "entities": "A"},
    {"name": "z", "series": "prices.close", "condition": "value < 1", "severity": "page"},
    {"name": "z2", "series": "derived.market_cap", "condition": "value > 1e12 and change_pct_5 < -3"},
]


def test_one_load_gives_the_verdicts_of_loading_each_rule_alone() -> None:
    """Checks cached over a load (per duration text, series, condition shape, template) give each
    rule the rule and the errors it gets when it is the only one of its file."""
    rules, errors = parse_rules({"rules": TABLES}, channels=["log"])
    alone_rules, alone_errors = [], []
    for i, table in enumerate(TABLES):
        r, e = parse_rules({"rules": [table]}, channels=["log"])
        alone_rules += r
        alone_errors += [str(x).replace("rule '#1'", f"rule '#{i + 1}'") for x in e]  # a nameless rule
    assert rules == alone_rules
    assert [str(e) for e in errors] == alone_errors
    assert {r.name for r in rules} == {"a", "b", "f", "t", "w", "k", "o", "z2"}


def test_plain_tables_skip_pydantic_with_its_result() -> None:
    """A table of plain TOML values gives the fields ``_RuleSpec`` gives; others go to pydantic."""
    for table in TABLES:
        spec = _plain_spec(table)
        try:
            validated = dict(_RuleSpec.model_validate(table))
        except ValidationError:
            assert spec is None, table
            continue
        if spec is not None:
            assert spec == validated, table
    assert _plain_spec(TABLES[0]) is not None
    assert _plain_spec(TABLES[19]) is None  # "hold" is a field name pydantic accepts: its business


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"rules": 5}, "rules: Input should be a valid list"),
        ({"rules": [1]}, "rules.0: Input should be a valid dictionary"),
        ({"rules": [{1: "x"}]}, "rules.0.1.[key]: Input should be a valid string"),
        ({"other": 1, "rules": []}, "other: unknown key (a rules file holds only [[rules]] tables)"),
    ],
)
def test_a_file_that_is_not_a_list_of_rule_tables(data: dict[Any, Any], message: str) -> None:
    """Data of another shape than parsed TOML's list of tables is left to pydantic, for its messages."""
    with pytest.raises(ConfigError) as e:
        parse_rules(data)
    assert str(e.value) == message


@pytest.mark.parametrize("enabled", [True, False])
def test_a_load_leaves_the_garbage_collector_as_it_found_it(tmp_path: Path, enabled: bool) -> None:
    path = tmp_path / "rules.toml"
    path.write_text('[[rules]]\nname = "a"\nseries = "prices.close"\ncondition = "value < 1"\n')
    was = gc.isenabled()
    try:
        if not enabled:
            gc.disable()
        assert [r.name for r in read_rules(path)[0]] == ["a"]
        assert gc.isenabled() is enabled
        with pytest.raises(ConfigError):
            read_rules(tmp_path / "missing.toml")
        assert gc.isenabled() is enabled
    finally:
        if was:
            gc.enable()
