"""Notification templates: plain fields with bounded widths, checked per series, one text per state."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from metrics.alerting.render import notification_text
from metrics.alerting.rules import parse_rules, template_fields, template_values
from metrics.alerting.templates import MAX_LENGTH, MAX_WIDTH, TemplateError, check_template, parse, render
from tests.alerts.conftest import make_rules

FIRED = dt.datetime(2025, 3, 3, 21, 0, tzinfo=dt.UTC)


def errors_of(**spec: Any) -> list[str]:
    base: dict[str, Any] = {"name": "drop", "series": "prices.close", "condition": "change_pct_5 <= -10"}
    _, errors = parse_rules({"rules": [{**base, **spec}]})
    return [str(e) for e in errors]


@pytest.mark.parametrize("template", [
    "{entity.__class__.__mro__}",
    "{entity[0]}",
    "{0}",
    "{}",
    "{value:>20000000}",
    "{value:.999f}",
    "{value:{width}}",
    "{entity!r}",
])
def test_templates_name_fields_only_with_bounded_widths(template: str) -> None:
    """Attribute access, indexing, positional fields, huge widths, nested specs, conversions are refused."""
    with pytest.raises(TemplateError):
        parse(template)


def test_rules_check_refuses_unsafe_templates_naming_the_rule() -> None:
    """A rules file with an unsafe template gets an error naming the rule and the template key."""
    [msg] = errors_of(summary_resolved="{entity.__class__.__mro__}")
    assert "'drop'" in msg and "summary_resolved" in msg and "fields only" in msg
    [msg] = errors_of(summary="{value:>20000000}")
    assert "'drop'" in msg and "over the limit" in msg


def test_rules_check_knows_the_fields_of_each_series() -> None:
    """A fact-only field in a price rule's template, or an unknown one, is an error; formats must apply."""
    [msg] = errors_of(summary="{entity} revised {revision_pct:.1f}")
    assert "unknown field {revision_pct}" in msg and "'drop'" in msg
    [msg] = errors_of(summary_reminder="{entity} {price}")
    assert "unknown field {price}" in msg
    [msg] = errors_of(summary="{entity:.2f} fell")
    assert "does not apply to entity" in msg
    [msg] = errors_of(summary="{stale_bars:s} sessions")
    assert "does not apply" in msg
    assert errors_of(summary="{entity} {fired_value}") != []     # fired_* only where there was a firing
    assert errors_of(summary_resolved="{entity} {value:.2f}, was {fired_value:.2f} on {fired_at}") == []
    assert errors_of(series="facts.capex_guidance", condition="revision_pct > 10",
                     summary="{entity} {revision_pct:+.1f} % in {period} ({statement})") == []


def test_check_template_accepts_every_field_plainly() -> None:
    """Every field a series offers can be named without a format spec."""
    for shape in ("prices", "facts"):
        fields = template_fields(shape, fired=True)
        check_template(" ".join(f"{{{k}}}" for k in fields), fields)


@given(st.text(max_size=40), st.one_of(st.none(), st.floats(), st.integers(), st.text(max_size=20)))
def test_render_never_raises(template: str, value: object) -> None:
    """Any template over any value renders to bounded text without raising."""
    text = render(template, {"value": value, "entity": "E"})
    assert len(text) <= max(MAX_LENGTH, len(template))


def test_render_shows_nulls_and_misfits_plainly() -> None:
    """A null or non-finite value is n/a; a spec that does not fit the value shows it plainly."""
    assert render("{entity} at {value:.2f}", {"entity": "E", "value": 1.234}) == "E at 1.23"
    assert render("{entity} at {value:.2f}", {"entity": "E", "value": None}) == "E at n/a"
    assert render("{entity} at {value:.2f}", {"entity": "E", "value": float("nan")}) == "E at n/a"
    assert render("{value:.2f}", {"value": "text"}) == "text"
    assert render(f"{{value:>{MAX_WIDTH}}}", {"value": 1}).strip() == "1"


def _fall_rule(**over: Any) -> Any:
    (r,) = make_rules({"name": "fall", "series": "prices.close", "condition": "change_pct_5 <= -10",
                       "summary": "{entity} moved {change_pct_5:+.1f} % in 5 sessions to {value:.2f}",
                       **over})
    return r


FIRED_ROW = {"entity": "QCOM", "value": 140.0, "change_pct_5": -18.2, "data_at": dt.date(2025, 3, 3)}
LATER_ROW = {"entity": "QCOM", "value": 171.0, "change_pct_5": 3.1, "data_at": dt.date(2025, 3, 12)}


def test_each_kind_of_notification_tells_its_own_state() -> None:
    """Firing shows the values at firing; a resolve says what changed; a reminder says it still fires."""
    r = _fall_rule()
    fired = template_values(r, FIRED_ROW)
    now = template_values(r, LATER_ROW)
    assert notification_text(r, "firing", fired, fired=None, fired_at=None) == (
        "QCOM moved -18.2 % in 5 sessions to 140.00")
    assert notification_text(r, "resolved", now, fired=fired, fired_at=FIRED) == (
        "fall resolved for QCOM: change_pct_5 now +3.1 %, was -18.2 % when it fired on 2025-03-03")
    assert notification_text(r, "reminder", now, fired=fired, fired_at=FIRED) == (
        "Reminder, firing since 2025-03-03: QCOM moved -18.2 % in 5 sessions to 140.00 "
        "(now change_pct_5 +3.1 %)")


def test_rules_may_give_their_own_reminder_and_resolved_texts() -> None:
    """``summary_reminder`` and ``summary_resolved`` see the values now and ``fired_*`` from the firing."""
    r = _fall_rule(summary_resolved="{entity} back to {change_pct_5:+.1f} % (was {fired_change_pct_5:+.1f} % "
                                    "on {fired_at})",
                   summary_reminder="{entity} still down since {fired_at}")
    fired = template_values(r, FIRED_ROW)
    now = template_values(r, LATER_ROW)
    assert notification_text(r, "resolved", now, fired=fired, fired_at=FIRED) == (
        "QCOM back to +3.1 % (was -18.2 % on 2025-03-03)")
    assert notification_text(r, "reminder", now, fired=fired, fired_at=FIRED) == (
        "QCOM still down since 2025-03-03")


def test_dates_take_strftime_specs() -> None:
    """A date field may be formatted with strftime directives; other fields may not."""
    assert errors_of(summary="{entity}: last bar {data_at:%d %b %Y}") == []
    assert errors_of(summary_resolved="{entity} fired {fired_at:%d/%m}") == []
    [msg] = errors_of(summary="{value:%Y}")
    assert "does not apply to value" in msg
    assert render("{data_at:%d %b %Y}", {"data_at": "2026-05-29"}) == "29 May 2026"
    assert render("{data_at:%d %b}", {"data_at": "not a date"}) == "not a date"
