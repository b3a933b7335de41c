"""The alert lifecycle as one pure function: ``transition(prev, evaluation, rule, *, now) -> Step``.

One instance per (rule, entity). States are ``inactive``, ``pending`` and ``firing``; a resolve
returns the instance to ``inactive`` and is reported as the change ``"resolved"``. Timing follows
the contract (Prometheus semantics):

- inactive + holds: ``pending`` (or ``firing`` at once when ``for`` is ``"0"``);
- pending + holds: ``firing`` at the N-th evaluation after the first holding one (``for = "N
  bars"``; each one in between held) or at the first evaluation at least ``for`` after it (a
  duration); pending + fails: back to ``inactive`` silently (no change reported);
- firing + fails: ``keep_firing_for`` counts from the first failing evaluation (restarting when the
  condition holds again); ``resolved`` at the first failing evaluation at least that far from it
  (a duration) or at the N-th failing evaluation after it (``"N bars"``, as ``for``);
- firing + holds: a re-notification (reason ``"repeat"``, no change) every ``repeat_interval``
  (zero: never); for a fact series, a new statement is a new event: change ``"firing"`` again,
  reason ``"new_statement"``;
- holds is None (the series is missing for the entity): nothing changes, in any state. Missing
  data never resolves an alert; staleness is a rule of its own (``age_days``, ``stale_bars``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

from metrics.alerting.rules import Hold, Rule

State = Literal["inactive", "pending", "firing"]
Change = Literal["pending", "firing", "resolved"]


@dataclass(frozen=True, slots=True)
class Evaluation:
    """One evaluation of a rule for one entity (a row of ``metrics.alerting.evaluate.evaluate``)."""

    rule: str
    entity: str
    holds: bool | None
    value: float | None = None
    statement: str | None = None
    period: str | None = None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Evaluation:
        """From a dict with at least ``rule``, ``entity`` and ``holds``."""
        return cls(
            rule=row["rule"],
            entity=row["entity"],
            holds=row["holds"],
            value=row.get("value"),
            statement=row.get("statement"),
            period=row.get("period"),
        )


@dataclass(frozen=True, slots=True)
class AlertState:
    """The stored state of one (rule, entity) instance."""

    rule: str
    entity: str
    state: State = "inactive"
    active_since: dt.datetime | None = None  # the first holding evaluation of this episode
    pending_evals: int = 0  # holding evaluations after that first one
    fired_at: dt.datetime | None = None
    cleared_since: dt.datetime | None = None  # first failing evaluation while firing
    cleared_evals: int = 0  # failing evaluations after that first one
    last_notified_at: dt.datetime | None = None
    value: float | None = None
    statement: str | None = None
    # kept by the tick (``metrics.alerting.tick``), not by ``step``: the template values when the
    # alert last fired, and what the receivers were last told (firing | resolved, of which firing)
    fired_fields: Mapping[str, Any] | None = None
    notified_state: str | None = None
    notified_fired_at: dt.datetime | None = None
    notified_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class Step:
    """The result of one transition: the new state, the change to report, whether to notify, why."""

    state: AlertState
    change: Change | None
    notify: bool
    reason: str

    @property
    def repeat(self) -> bool:
        """A re-notification of a still-firing alert (not a state change)."""
        return self.reason == "repeat"


def initial(rule: str, entity: str) -> AlertState:
    """The state of an instance never evaluated before."""
    return AlertState(rule=rule, entity=entity)


def _due(hold: Hold, since: dt.datetime | None, evals: int, at: dt.datetime) -> bool:
    """Whether a run that started at ``since`` with ``evals`` evaluations after it reached ``hold``."""
    if hold.bars is not None:
        return evals >= hold.bars
    return since is not None and at - since >= hold.duration


def step(
    s: AlertState,
    holds: bool | None,
    at: dt.datetime,
    statement: str | None,
    rule: Rule,
    *,
    value: float | None = None,
) -> Step:
    """The lifecycle itself: state ``s`` after one evaluation at ``at``; see the module docstring.

    The one home of the state machine: ``transition`` (live ticks) adds re-notifications on top,
    ``metrics.alerting.backtest.replay`` loops over it. ``notify`` is true for the changes
    ``firing`` and ``resolved``; ``value`` is kept in the state (missing data keeps the old one).
    """
    if holds is None:
        return Step(s, None, False, "missing_data")
    seen = replace(s, value=value)
    if s.state == "inactive":
        if not holds:
            return Step(seen, None, False, "inactive")
        if rule.hold.immediate:
            fired = replace(
                seen,
                state="firing",
                active_since=at,
                pending_evals=0,
                fired_at=at,
                cleared_since=None,
                cleared_evals=0,
                last_notified_at=at,
                statement=statement,
            )
            return Step(fired, "firing", True, "fired")
        pending = replace(
            seen,
            state="pending",
            active_since=at,
            pending_evals=0,
            fired_at=None,
            cleared_since=None,
            statement=statement,
        )
        return Step(pending, "pending", False, "pending")
    if s.state == "pending":
        if not holds:
            return Step(initial(s.rule, s.entity), None, False, "pending_cleared")
        evals = s.pending_evals + 1
        if _due(rule.hold, s.active_since, evals, at):
            fired = replace(
                seen,
                state="firing",
                pending_evals=evals,
                fired_at=at,
                cleared_since=None,
                last_notified_at=at,
                statement=statement,
            )
            return Step(fired, "firing", True, "fired")
        return Step(replace(seen, pending_evals=evals, statement=statement), None, False, "pending")
    # firing
    if holds:
        held = replace(seen, cleared_since=None, cleared_evals=0)
        if rule.is_fact_series and statement is not None and statement != s.statement:
            renewed = replace(held, statement=statement, fired_at=at, last_notified_at=at)
            return Step(renewed, "firing", True, "new_statement")
        return Step(held, None, False, "firing")
    since, evals = (s.cleared_since, s.cleared_evals + 1) if s.cleared_since is not None else (at, 0)
    if _due(rule.keep_firing_for, since, evals, at):
        resolved = replace(initial(s.rule, s.entity), value=value, last_notified_at=at, statement=s.statement)
        return Step(resolved, "resolved", True, "resolved")
    return Step(replace(seen, cleared_since=since, cleared_evals=evals), None, False, "keep_firing")


def transition(prev: AlertState | None, ev: Evaluation, rule: Rule, *, now: dt.datetime) -> Step:
    """The next state of ``prev`` (None: inactive) after evaluation ``ev`` at ``now``.

    ``step``, plus a re-notification (reason ``"repeat"``) of a still-firing alert every
    ``repeat_interval`` since its last notification.
    """
    s = prev if prev is not None else initial(rule.name, ev.entity)
    out = step(s, ev.holds, now, ev.statement, rule, value=ev.value)
    if out.change is None and out.state.state == "firing" and ev.holds is not None:
        return _maybe_repeat(out.state, rule, now, out.reason)
    return out


def _maybe_repeat(s: AlertState, rule: Rule, now: dt.datetime, reason: str) -> Step:
    last = s.last_notified_at
    interval = rule.repeat_interval
    if interval > dt.timedelta(0) and last is not None and now - last >= interval:
        return Step(replace(s, last_notified_at=now), None, True, "repeat")
    return Step(s, None, False, reason)
