"""The alert lifecycle: ``metrics.alerting.lifecycle.transition`` from a table of cases, and its laws."""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metrics.alerting.backtest import compress, replay
from metrics.alerting.lifecycle import AlertState, Evaluation, Step, initial, step, transition
from metrics.alerting.rules import Rule, parse_rules

T0 = dt.datetime(2025, 3, 3, 21, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)


def rule(**kw: Any) -> Rule:
    spec: dict[str, Any] = {
        "name": "r",
        "series": "prices.close",
        "condition": "value < 100",
        "repeat_interval": "0",
    }
    spec.update(kw)
    rules, errors = parse_rules({"rules": [spec]})
    assert not errors, errors
    return rules[0]


def run(
    r: Rule, holds: list[bool | None], *, step: dt.timedelta = DAY, statements: list[str | None] | None = None
) -> list[tuple[int, str | None, bool, str]]:
    """Feed ``holds`` (one evaluation per ``step``); the (index, change, notify, reason) of each step
    that changed or notified."""
    state: AlertState | None = None
    out = []
    for i, h in enumerate(holds):
        s = statements[i] if statements else None
        st_: Step = transition(
            state, Evaluation("r", "X", h, value=float(i), statement=s), r, now=T0 + i * step
        )
        if st_.change is not None or st_.notify:
            out.append((i, st_.change, st_.notify, st_.reason))
        state = st_.state
    return out


T, F, N = True, False, None

CASES = [
    # (rule fields, holds per daily evaluation, expected (index, change, notify, reason))
    ({"for": "0"}, [F, T, T, F], [(1, "firing", True, "fired"), (3, "resolved", True, "resolved")]),
    ({"for": "0"}, [T], [(0, "firing", True, "fired")]),
    ({"for": "0 bars"}, [T, F], [(0, "firing", True, "fired"), (1, "resolved", True, "resolved")]),
    ({"for": "2 bars"}, [T, T, T, T], [(0, "pending", False, "pending"), (2, "firing", True, "fired")]),
    ({"for": "1 bar"}, [T, T], [(0, "pending", False, "pending"), (1, "firing", True, "fired")]),
    # pending that fails returns to inactive silently; the next holding one starts over
    (
        {"for": "2 bars"},
        [T, T, F, T, T, T],
        [(0, "pending", False, "pending"), (3, "pending", False, "pending"), (5, "firing", True, "fired")],
    ),
    # missing data does not count as a bar, nor break the pending run
    ({"for": "2 bars"}, [T, N, T, N, T], [(0, "pending", False, "pending"), (4, "firing", True, "fired")]),
    # a duration: the first evaluation at least that long after the first holding one
    ({"for": "2d"}, [T, T, T], [(0, "pending", False, "pending"), (2, "firing", True, "fired")]),
    ({"for": "36h"}, [T, T, T], [(0, "pending", False, "pending"), (2, "firing", True, "fired")]),
    ({"for": "1d"}, [T, T], [(0, "pending", False, "pending"), (1, "firing", True, "fired")]),
    # durations count time, so missing data in between still counts
    ({"for": "2d"}, [T, N, T], [(0, "pending", False, "pending"), (2, "firing", True, "fired")]),
    # keep_firing_for counts from the first failing evaluation
    (
        {"keep_firing_for": "2d"},
        [T, F, F, F],
        [(0, "firing", True, "fired"), (3, "resolved", True, "resolved")],
    ),
    # ... and restarts when the condition holds again
    (
        {"keep_firing_for": "2d"},
        [T, F, T, F, F, F],
        [(0, "firing", True, "fired"), (5, "resolved", True, "resolved")],
    ),
    ({"keep_firing_for": "1d"}, [T, F, F], [(0, "firing", True, "fired"), (2, "resolved", True, "resolved")]),
    # missing data never resolves, even past keep_firing_for; the next failing evaluation does
    ({}, [T, N, N, N], [(0, "firing", True, "fired")]),
    (
        {"keep_firing_for": "1d"},
        [T, F, N, N, F],
        [(0, "firing", True, "fired"), (4, "resolved", True, "resolved")],
    ),
    # repeat_interval re-notifies a still-firing alert, without a state change
    (
        {"repeat_interval": "2d"},
        [T, T, T, T, T],
        [(0, "firing", True, "fired"), (2, None, True, "repeat"), (4, None, True, "repeat")],
    ),
    ({"repeat_interval": "0"}, [T, T, T, T], [(0, "firing", True, "fired")]),
    # re-notifications go on while kept firing
    (
        {"repeat_interval": "1d", "keep_firing_for": "3d"},
        [T, F, F],
        [(0, "firing", True, "fired"), (1, None, True, "repeat"), (2, None, True, "repeat")],
    ),
    # after a resolve the alert can go through the whole cycle again
    (
        {"for": "1 bars"},
        [T, T, F, T, T],
        [
            (0, "pending", False, "pending"),
            (1, "firing", True, "fired"),
            (2, "resolved", True, "resolved"),
            (3, "pending", False, "pending"),
            (4, "firing", True, "fired"),
        ],
    ),
    ({}, [N, N, F, N], []),
    # keep_firing_for in bars: resolved at the N-th failing evaluation after the first failing one
    (
        {"keep_firing_for": "2 bars"},
        [T, F, F, F],
        [(0, "firing", True, "fired"), (3, "resolved", True, "resolved")],
    ),
    ({"keep_firing_for": "0 bars"}, [T, F],
     [(0, "firing", True, "fired"), (1, "resolved", True, "resolved")]),
    # ... a holding evaluation restarts the count; missing data is not a bar
    (
        {"keep_firing_for": "1 bars"},
        [T, F, T, F, N, N, F],
        [(0, "firing", True, "fired"), (6, "resolved", True, "resolved")],
    ),
    ({"for": "3 bars"}, [T, T, T, F], [(0, "pending", False, "pending")]),
]


@pytest.mark.parametrize(("fields", "holds", "expected"), CASES)
def test_transition_table(fields: dict[str, Any], holds: list[bool | None], expected: list[Any]) -> None:
    """Each row of the table: a rule's timing and a sequence of evaluations give exactly these changes."""
    assert run(rule(**fields), holds) == expected


def test_pending_state_counts_holding_evaluations() -> None:
    """A pending state records when it started and how many holding evaluations followed."""
    r = rule(**{"for": "5 bars"})
    s = transition(None, Evaluation("r", "X", True, 1.0), r, now=T0).state
    s = transition(s, Evaluation("r", "X", True, 2.0), r, now=T0 + DAY).state
    assert (s.state, s.active_since, s.pending_evals, s.value) == ("pending", T0, 1, 2.0)


def test_firing_state_records_times() -> None:
    """A firing state records when it fired and notified, and the first failing evaluation after."""
    r = rule(keep_firing_for="5d")
    s = transition(None, Evaluation("r", "X", True), r, now=T0).state
    assert (s.state, s.fired_at, s.last_notified_at) == ("firing", T0, T0)
    s = transition(s, Evaluation("r", "X", False), r, now=T0 + DAY).state
    assert (s.state, s.cleared_since) == ("firing", T0 + DAY)
    s = transition(s, Evaluation("r", "X", True), r, now=T0 + 2 * DAY).state
    assert s.cleared_since is None


def test_resolved_returns_to_inactive() -> None:
    """After a resolve the instance is inactive again with no pending or firing times."""
    r = rule()
    s = transition(None, Evaluation("r", "X", True), r, now=T0).state
    step = transition(s, Evaluation("r", "X", False), r, now=T0 + DAY)
    assert step.change == "resolved"
    assert (step.state.state, step.state.fired_at, step.state.active_since) == ("inactive", None, None)


def test_fact_rule_fires_once_per_new_statement() -> None:
    """A fact rule fires for each new statement, never again for the same one."""
    r = rule(series="facts.capex_guidance", condition="revision_pct > 10")
    got = run(r, [T, T, T, T, T], statements=["a", "a", "b", "b", "a"])
    assert got == [
        (0, "firing", True, "fired"),
        (2, "firing", True, "new_statement"),
        (4, "firing", True, "new_statement"),
    ]
    # re-ingesting the same statement (same fact_id) changes nothing
    assert run(r, [T, T, T], statements=["a", "a", "a"]) == [(0, "firing", True, "fired")]


def test_price_rule_ignores_statements() -> None:
    """Only fact series treat a new statement as a new event."""
    assert run(rule(), [T, T], statements=["a", "b"]) == [(0, "firing", True, "fired")]


def test_missing_data_keeps_state_untouched() -> None:
    """An evaluation without data returns the very same state."""
    r = rule()
    s = transition(None, Evaluation("r", "X", True), r, now=T0).state
    step = transition(s, Evaluation("r", "X", None), r, now=T0 + 10 * DAY)
    assert step.state is s and step.change is None and not step.notify and step.reason == "missing_data"


@pytest.mark.parametrize(("fields", "holds", "expected"), CASES)
def test_transition_is_step_plus_reminders(fields: dict[str, Any], holds: list[bool | None],
                                           expected: list[Any]) -> None:
    """``transition`` changes states exactly as the one ``step`` function does; it only adds reminders."""
    r = rule(**fields)
    by_transition: AlertState | None = None
    by_step = initial("r", "X")
    for i, h in enumerate(holds):
        ev = Evaluation("r", "X", h, value=float(i))
        t = transition(by_transition, ev, r, now=T0 + i * DAY)
        s = step(by_step, h, T0 + i * DAY, None, r, value=float(i))
        assert (t.change, t.state.state, t.state.fired_at) == (s.change, s.state.state, s.state.fired_at)
        assert t.notify == (s.notify or t.repeat)
        by_transition, by_step = t.state, s.state


def test_evaluation_from_row() -> None:
    """An evaluation is built from a row of ``evaluate``."""
    ev = Evaluation.from_row(
        {
            "rule": "r",
            "entity": "NVDA",
            "holds": True,
            "value": 3.0,
            "statement": None,
            "period": None,
            "data_at": None,
        }
    )
    assert ev == Evaluation("r", "NVDA", True, 3.0)


timing = st.fixed_dictionaries(
    {
        "for": st.sampled_from(["0", "1 bars", "3 bars", "1d", "2d", "36h"]),
        "keep_firing_for": st.sampled_from(["0", "1d", "2d", "3d", "1 bars", "3 bars"]),
        "repeat_interval": st.sampled_from(["0", "1d", "2d"]),
    }
)
evaluations = st.lists(
    st.tuples(st.sampled_from([True, False, None]), st.integers(1, 48), st.sampled_from(["s1", "s2", None])),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(fields=timing, evs=evaluations, facts=st.booleans())
def test_never_two_firings_without_resolve(fields: dict[str, str], evs: list[Any], facts: bool) -> None:
    """Between two firing notifications there is a resolve, unless the second is a re-notification
    (marked ``repeat``) or, for a fact series, is about a new statement."""
    r = rule(**fields, **({"series": "facts.revenue"} if facts else {}))
    state: AlertState | None = None
    now = T0
    firing_statement: str | None = None
    is_firing = False
    for holds, hours, statement in evs:
        now += dt.timedelta(hours=hours)
        step = transition(state, Evaluation("r", "X", holds, statement=statement), r, now=now)
        if step.change == "firing":
            assert not is_firing or (
                r.is_fact_series and step.reason == "new_statement" and statement != firing_statement
            )
            is_firing, firing_statement = True, statement
        elif step.change == "resolved":
            assert is_firing
            is_firing = False
        elif step.notify:
            assert step.repeat and is_firing
        if holds is None:
            assert step.state == (state or step.state) and step.change is None
        state = step.state
        assert (state.state == "firing") == is_firing


@settings(max_examples=300, deadline=None)
@given(
    fields=st.fixed_dictionaries({
        "for": st.sampled_from(["0", "1 bars", "2d"]),
        "keep_firing_for": st.sampled_from(["0 bars", "1 bars", "3 bars", "2d"]),
    }),
    rows=st.lists(st.tuples(st.sampled_from(["A", "B"]), st.sampled_from([True, False, None])), max_size=60),
)
def test_backtest_rows_kept_with_keep_in_bars(fields: dict[str, str], rows: list[Any]) -> None:
    """The backtest's row compression keeps every change when ``keep_firing_for`` counts bars."""
    r = rule(**fields)
    rows = sorted(rows, key=lambda x: x[0])
    df = pl.DataFrame({"entity": [x[0] for x in rows], "__t": [i * 86400 for i in range(len(rows))],
                       "holds": [x[1] for x in rows], "statement": [None] * len(rows)},
                      schema={"entity": pl.String, "__t": pl.Int64, "holds": pl.Boolean,
                              "statement": pl.String})

    def changes(d: pl.DataFrame) -> list[tuple[str, int, str]]:
        got = replay(r, d["entity"].to_list(), d["__t"].to_list(), d["holds"].to_list())
        return [(d["entity"][i], d["__t"][i], c) for i, c in got]

    assert changes(compress(df, r)) == changes(df)
