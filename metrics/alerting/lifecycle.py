"""The alert lifecycle as one pure function: ``transition(prev, evaluation, rule, *, now) -> Step``.

One instance per (rule, entity). States are ``inactive``, ``pending`` and ``firing``; a resolve
returns the instance to ``inactive`` and is reported as the change ``"resolved"``. Timing follows
the contract (Prometheus semantics):

- inactive + holds: ``pending`` (or ``firing`` at once when ``for`` is ``"0"``);
- pending + holds: ``firing`` at the N-th evaluation after the first holding one (``for = "N
  bars"``; each one in between held) or at the first evaluation at least ``for`` after it (a
  duration); pending + fails: back to ``inactive`` silently (no change reported);
- firing + fails: ``keep_firing_for`` counts from the first failing evaluation (restarting when the
  condition holds again); ``resolved`` at the first failing evaluation at least that far from it;
- firing + holds: a re-notification (reason ``"repeat"``, no change) every ``repeat_interval``
  (zero: never); for a fact series, a new statement is a new event: change ``"firing"`` again,
  reason ``"new_statement"``;
- holds is None (the series is missing for the entity): nothing changes, in any state. Missing
  data never resolves an alert; staleness is a rule of its own (``age_days``, ``stale_bars``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Any, Literal

from metrics.alerting.rules import Rule

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
    last_notified_at: dt.datetime | None = None
    value: float | None = None
    statement: str | None = None


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


def _due(rule: Rule, s: AlertState, evals: int, now: dt.datetime) -> bool:
    if rule.hold.bars is not None:
        return evals >= rule.hold.bars
    return s.active_since is not None and now - s.active_since >= rule.hold.duration


def transition(prev: AlertState | None, ev: Evaluation, rule: Rule, *, now: dt.datetime) -> Step:
    """The next state of ``prev`` (None: inactive) after evaluation ``ev`` at ``now``."""
    s = prev if prev is not None else initial(rule.name, ev.entity)
    holds = ev.holds
    if holds is None:
        return Step(s, None, False, "missing_data")
    seen = replace(s, value=ev.value)
    if s.state == "inactive":
        if not holds:
            return Step(seen, None, False, "inactive")
        if rule.hold.immediate:
            fired = replace(
                seen,
                state="firing",
                active_since=now,
                pending_evals=0,
                fired_at=now,
                cleared_since=None,
                last_notified_at=now,
                statement=ev.statement,
            )
            return Step(fired, "firing", True, "fired")
        pending = replace(
            seen,
            state="pending",
            active_since=now,
            pending_evals=0,
            fired_at=None,
            cleared_since=None,
            statement=ev.statement,
        )
        return Step(pending, "pending", False, "pending")
    if s.state == "pending":
        if not holds:
            return Step(initial(s.rule, s.entity), None, False, "pending_cleared")
        evals = s.pending_evals + 1
        if _due(rule, s, evals, now):
            fired = replace(
                seen,
                state="firing",
                pending_evals=evals,
                fired_at=now,
                cleared_since=None,
                last_notified_at=now,
                statement=ev.statement,
            )
            return Step(fired, "firing", True, "fired")
        return Step(replace(seen, pending_evals=evals, statement=ev.statement), None, False, "pending")
    # firing
    if holds:
        held = replace(seen, cleared_since=None)
        if rule.is_fact_series and ev.statement is not None and ev.statement != s.statement:
            renewed = replace(held, statement=ev.statement, fired_at=now, last_notified_at=now)
            return Step(renewed, "firing", True, "new_statement")
        return _maybe_repeat(held, rule, now, "firing")
    since = s.cleared_since or now
    if now - since >= rule.keep_firing_for:
        resolved = replace(
            initial(s.rule, s.entity), value=ev.value, last_notified_at=now, statement=s.statement
        )
        return Step(resolved, "resolved", True, "resolved")
    return _maybe_repeat(replace(seen, cleared_since=since), rule, now, "keep_firing")


def _maybe_repeat(s: AlertState, rule: Rule, now: dt.datetime, reason: str) -> Step:
    last = s.last_notified_at
    interval = rule.repeat_interval
    if interval > dt.timedelta(0) and last is not None and now - last >= interval:
        return Step(replace(s, last_notified_at=now), None, True, "repeat")
    return Step(s, None, False, reason)
