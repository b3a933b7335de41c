"""Rules files: the contract's format, validated at load with errors naming the rule and field."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from metrics.alerting.rules import (
    Hold,
    check_rules,
    load_rules,
    parse_duration,
    parse_hold,
    parse_rules,
)
from metrics.errors import ConfigError, RuleError

PROJECT = Path(__file__).resolve().parents[2]

CONTRACT_EXAMPLE = """
[[rules]]
name = "nvda-below-100"
series = "prices.close"
entities = ["NVDA"]
condition = "value < 100"
for = "2d"
keep_firing_for = "0d"
repeat_interval = "1d"
severity = "warning"
channels = ["log"]
summary = "{entity} closed at {value:.2f}"
"""


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "rules.toml"
    p.write_text(text, encoding="utf-8")
    return p


def errors_of(spec: dict[str, Any], channels: list[str] | None = None) -> list[RuleError]:
    base: dict[str, Any] = {"name": "r1", "series": "prices.close", "condition": "value < 1"}
    base.update(spec)
    base = {k: v for k, v in base.items() if v is not None}
    return parse_rules({"rules": [base]}, channels=channels)[1]


def test_contract_example_loads(tmp_path: Path) -> None:
    """The rules file of the contract loads with every field as written."""
    (r,) = load_rules(write(tmp_path, CONTRACT_EXAMPLE))
    assert r.name == "nvda-below-100" and r.series == "prices.close" and r.entities == ("NVDA",)
    assert r.hold == Hold(duration=dt.timedelta(days=2))
    assert r.keep_firing_for == Hold(duration=dt.timedelta(0)) and r.repeat_interval == dt.timedelta(days=1)
    assert (r.severity, r.channels, r.source, r.column, r.shape) == (
        "warning",
        ("log",),
        "prices",
        "close",
        "prices",
    )
    assert r.render_summary({"entity": "NVDA", "value": 99.5}) == "NVDA closed at 99.50"


def test_shipped_rules_are_valid() -> None:
    """config/rules.toml validates against the shipped settings' channels."""
    path = PROJECT / "config" / "rules.toml"
    assert check_rules(path, channels=["log"]) == []
    names = {r.name for r in load_rules(path)}
    assert len(names) >= 5


def test_defaults() -> None:
    """Omitted fields take their defaults: all entities, fire at once, log channel."""
    (r,), errs = parse_rules({"rules": [{"name": "a", "series": "facts.revenue", "condition": "value > 0"}]})
    assert not errs
    assert r.entities is None and r.hold.immediate and r.channels == ("log",) and r.is_fact_series


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", dt.timedelta(0)),
        ("30m", dt.timedelta(minutes=30)),
        ("2d", dt.timedelta(days=2)),
        ("1h30m", dt.timedelta(hours=1, minutes=30)),
        ("1.5h", dt.timedelta(hours=1.5)),
        ("1w", dt.timedelta(weeks=1)),
        ("0d", dt.timedelta(0)),
        ("45s", dt.timedelta(seconds=45)),
    ],
)
def test_durations(text: str, expected: dt.timedelta) -> None:
    """Durations are numbers with s, m, h, d or w, possibly combined, or "0"."""
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "2", "2 days", "d", "-1d", "1y", "2d junk", "bars"])
def test_bad_durations(text: str) -> None:
    """Anything else is rejected."""
    with pytest.raises(ValueError, match="bad duration"):
        parse_duration(text)


def test_hold_in_bars() -> None:
    """``for`` takes "N bars" too, "0 bars" firing at once."""
    assert parse_hold("3 bars") == Hold(bars=3)
    assert parse_hold("1 bar") == Hold(bars=1)
    assert parse_hold("0 bars").immediate and parse_hold("0").immediate
    assert not parse_hold("2d").immediate


@pytest.mark.parametrize(
    ("spec", "field", "fragment"),
    [
        ({"colour": "red"}, "colour", "unknown key"),
        ({"for": "2 days"}, "for", "bad 'for'"),
        ({"keep_firing_for": "soon"}, "keep_firing_for", "bad 'keep_firing_for'"),
        ({"repeat_interval": "1y"}, "repeat_interval", "bad duration"),
        ({"series": "prices.closing"}, "series", "unknown prices name 'closing'"),
        ({"series": "facts.profit"}, "series", "unknown facts name 'profit'"),
        ({"series": "derived.ebit_margin"}, "series", "unknown derived name"),
        ({"series": "news.close"}, "series", "unknown series"),
        ({"condition": "valeu < 3"}, "condition", "does not compile"),
        ({"condition": "value <<< 3"}, "condition", "does not compile"),
        ({"condition": "value + 3"}, "condition", "not boolean"),
        ({"condition": "revision_pct > 10"}, "condition", "does not compile"),  # a fact feature on prices
        ({"severity": "fatal"}, "severity", "unknown severity"),
        ({"channels": ["pager"]}, "channels", "unknown channel 'pager'"),
        ({"summary": "{entity} {price}"}, "summary", "unknown field {price}"),
        ({"summary": "{entity"}, "summary", "bad summary"),
        ({"entities": []}, "entities", "non-empty"),
        ({"name": ""}, "name", "at least 1"),
        ({"condition": None}, "condition", "required"),
    ],
)
def test_invalid_field_names_rule_and_field(spec: dict[str, Any], field: str, fragment: str) -> None:
    """Each kind of mistake is a RuleError naming the rule and the field."""
    errs = errors_of(spec, channels=["log", "ops"])
    assert errs, spec
    e = errs[0]
    assert e.field == field and fragment in str(e)
    assert e.rule in ("r1", "#1")
    assert f"field {field!r}" in str(e)


def test_fact_features_allowed_on_fact_series() -> None:
    """Fact series may use revision_pct, period and kind; derived statement series too."""
    assert not errors_of(
        {
            "series": "facts.capex_guidance",
            "condition": "revision_pct > 10 and period like 'FY%' and kind = 'guidance'",
        }
    )
    assert not errors_of({"series": "derived.net_margin", "condition": "value < 10"})
    assert errors_of({"series": "derived.market_cap", "condition": "revision_pct > 1"})


def test_check_rules_lists_every_error(tmp_path: Path) -> None:
    """check_rules reports all errors of all rules, not just the first."""
    path = write(
        tmp_path,
        """
[[rules]]
name = "a"
series = "prices.close"
condition = "value < 1"
for = "soon"
colour = "red"

[[rules]]
name = "b"
series = "facts.nothing"
condition = "value < 1"
channels = ["pager"]

[[rules]]
name = "a"
series = "prices.close"
condition = "value < 2"

[[rules]]
name = "ok"
series = "prices.close"
condition = "value < 2"
""",
    )
    errs = check_rules(path, channels=["log"])
    got = {(e.rule, e.field) for e in errs}
    assert got == {("a", "colour"), ("b", "series"), ("b", "channels"), ("a", "name")}
    assert all(str(path) in str(e) for e in errs)
    with pytest.raises(RuleError):
        load_rules(path, channels=["log"])


def test_not_toml_is_a_config_error(tmp_path: Path) -> None:
    """A file that is not TOML, or has other top-level keys, is a ConfigError naming the file."""
    with pytest.raises(ConfigError, match="not valid TOML"):
        check_rules(write(tmp_path, "[[rules]\nname ="))
    with pytest.raises(ConfigError, match="unknown key"):
        check_rules(write(tmp_path, "[[rule]]\nname = 'x'\n"))
    with pytest.raises(ConfigError, match="not found"):
        check_rules(tmp_path / "missing.toml")


def test_summary_with_null_value_renders() -> None:
    """A summary whose numeric field is null renders as n/a instead of failing."""
    (r,), _ = parse_rules(
        {
            "rules": [
                {
                    "name": "a",
                    "series": "prices.close",
                    "condition": "value < 1",
                    "summary": "{entity}: {sma_200:.2f} ({rule})",
                }
            ]
        }
    )
    assert r.render_summary({"entity": "X", "sma_200": None}) == "X: n/a (a)"
    assert r.render_summary({"entity": "X", "sma_200": 1.5}) == "X: 1.50 (a)"
