"""One evaluation tick: evaluate the rules, step every alert instance, persist, enqueue, record.

``run_tick(store, db, rules, *, now, at=None, evaluator=None, quiet=False)``:

1. evaluates every rule over the store point-in-time at ``at`` (default ``now``) with the compiled
   ``evaluator`` of the rules (one per rules version, built here when none is given); no database
   lock is held meanwhile. The bars of the tick's window are read through ``recent_bars``: the read
   is kept (one, the latest) and used again while the prices table's snapshot (version and data
   files) and the window's first day stay the same, as between two price fetches of a day;
2. in ONE write transaction (``StateDB.apply_tick``): skips the tick if ``at`` is not after the last
   evaluation (a replayed or out-of-order tick changes nothing), steps the instances that hold or
   are not inactive through ``metrics.alerting.lifecycle.transition``, and writes the changed
   states, every transition, the notifications and the evaluation time;
3. appends the unrecorded transitions to the ``alerts`` Parquet dataset and marks them recorded.

What is notified is the difference between an instance's state and what its receivers were last
told (``notified_state``/``notified_fired_at``), as Alertmanager does: ``firing`` when it fires in
an episode not yet announced, ``resolved`` when an announced episode is over, a ``reminder`` when
the lifecycle says one is due. A ``quiet`` tick (a missed close replayed before the last one of a
catch-up) records its transitions but notifies nothing, so after a catch-up only the state changes
still current are sent, and reminders only for alerts still firing. The notifications of one tick
and channel travel as one digest (``metrics.alerting.render.digest_payload``) when there are several.

``run_catch_up(store, db, rules, *, now, ats)`` is ``run_tick(..., at=a, quiet=True, record=False)``
at each of ``ats`` in turn (a catch-up's replayed closes but its last), as a batch: the rules
evaluated at every point at once (``Evaluator.evaluate_many``), then each point stepped in order in
ONE transaction (``StateDB.apply_ticks``); the same states, transitions, evaluations and log lines.

Crash safety: the database commits first; the Parquet append is second and idempotent (``alert_id``
is a stable hash, the dataset keeps one row per id), and every tick first re-appends what a crash
left unrecorded. Notification idempotency keys are sha256 of ``rule|entity|state|fired_at|statement|
repeat-no|channel`` (a digest's: of its members' keys) and the outbox ignores a key it already has.
A silenced instance still changes state; its notification is stored alone with status ``silenced``.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import polars as pl
from sqlalchemy.engine import Connection

from metrics.alerting.evaluate import BarsSince, Evaluator
from metrics.alerting.lifecycle import AlertState, Evaluation, Step, transition
from metrics.alerting.outbox import Outgoing, outbox_rows, repeat_number
from metrics.alerting.render import Kind, build_payload, charts, finite, jsonable, notification_text
from metrics.alerting.rules import Rule, template_values
from metrics.alerting.state import StateDB, TickWrites, alert_id, flush_transitions
from metrics.errors import StoreError
from metrics.log import get_logger
from metrics.store.tables import Store

log = get_logger(__name__)


@dataclass
class TickReport:
    """What one tick did."""

    at: dt.datetime
    skipped: bool = False                 # ``at`` was not after the last evaluation
    rules: int = 0
    instances: int = 0                    # (rule, entity) rows evaluated
    stepped: int = 0                      # instances that went through ``transition``
    transitions: list[dict[str, Any]] = field(default_factory=list)
    notifications: int = 0                # newly queued (a digest counts once)
    silenced: int = 0                     # newly stored as silenced
    recorded: int = 0                     # transitions appended to the alerts dataset

    def as_dict(self) -> dict[str, Any]:
        return {"at": self.at.isoformat(), "skipped": self.skipped, "rules": self.rules,
                "instances": self.instances, "stepped": self.stepped,
                "transitions": len(self.transitions), "notifications": self.notifications,
                "silenced": self.silenced, "recorded": self.recorded}


_WindowKey = tuple[str, int | None, int, dt.date]
_window: list[tuple[_WindowKey, pl.DataFrame]] = []   # the latest window read (at most one)
_window_lock = threading.Lock()


def recent_bars(store: Store) -> BarsSince:
    """``store.scan("prices", since=D)`` (and the whole table for None), the rows since D read once
    per snapshot of the table: the read is kept while the table's version, its data files and D stay
    the same (a write, a compaction or another table at the same place reads again)."""

    def bars(since: dt.date | None) -> pl.LazyFrame:
        if since is None:
            return store.scan("prices")
        key = (store.table_uri("prices"), store.table_version("prices"),
               hash(tuple(store.part_files("prices"))), since)
        with _window_lock:
            kept = _window[0] if _window else None
        if kept is not None and kept[0] == key:
            return kept[1].lazy()
        # read after the key: a write in between is at worst read under the older key (read again)
        frame = store.scan("prices", since=since).collect()
        with _window_lock:
            _window[:] = [(key, frame)]
        return frame.lazy()

    return bars


def run_tick(store: Store, db: StateDB, rules: Sequence[Rule], *, now: dt.datetime,
             at: dt.datetime | None = None, facts: pl.LazyFrame | None = None,
             evaluator: Evaluator | None = None, quiet: bool = False, record: bool = True,
             fence: Callable[[Connection], None] | None = None,
             frame: pl.DataFrame | None = None) -> TickReport:
    """Evaluate ``rules`` at ``at`` (default ``now``) and persist the outcome; see the module docstring.

    ``facts`` may carry the ``facts`` dataset already read (a replay reads it once for all its
    ticks); ``evaluator`` the compiled ``Evaluator(rules)`` (the daemon keeps one per rules version);
    ``fence`` the leadership check run first in the tick's transaction (``StateDB.apply_tick``): when
    it raises ``Fenced`` nothing is written and the error propagates. ``record=False`` leaves the
    step 3 append to a later tick (a catch-up appends the transitions of all its points once, at
    its last one, instead of one Delta commit per replayed close). ``frame`` is the evaluation at
    ``at`` already computed (``evaluator.evaluate(..., with_features=True)``, or its point of an
    ``evaluate_many`` batch: a catch-up evaluates its last close with its quiet ones).
    """
    at = at or now
    report = TickReport(at=at, rules=len(rules))
    if record:
        report.recorded += _flush_quietly(store, db, now=now)
    by_name = {r.name: r for r in rules}
    evaluator = evaluator or Evaluator(list(rules))
    df = frame if frame is not None else evaluator.evaluate(
        recent_bars(store), facts if facts is not None else store.scan("facts"), at=at, with_features=True)
    report.instances = df.height
    silences = db.silences(now=now)

    def plan(prior: dict[tuple[str, str], AlertState]) -> TickWrites:
        writes, outbox = _step_all(by_name, df, prior, at=at, now=now, quiet=quiet, report=report)
        chart_of = charts(store, by_name, {(o.rule.name, o.entity) for o in outbox
                                           if o.payload["state"] == "firing"}, at)
        for o in outbox:
            o.payload["chart"] = chart_of.get((o.rule.name, o.entity))
        writes.notifications = outbox_rows(outbox, silences, at=at, now=now)
        writes.evaluation = {"rules": len(rules), "instances": df.height,
                             "transitions": len(writes.transitions),
                             "notifications": len(writes.notifications)}
        return writes

    new = db.apply_tick(at, list(by_name), plan, now=now, fence=fence)
    if new is None:
        report.skipped, report.transitions = True, []
        log.info("tick.skipped", at=at.isoformat())
        return report
    report.silenced = sum(n["status"] == "silenced" for n in new)
    report.notifications = len(new) - report.silenced
    _log_transitions(report)
    if record:
        report.recorded += _flush_quietly(store, db, now=now)
    log.info("tick.done", **report.as_dict())
    return report


def run_catch_up(store: Store, db: StateDB, rules: Sequence[Rule], *, now: dt.datetime,
                 ats: Sequence[dt.datetime], facts: pl.LazyFrame | None = None,
                 evaluator: Evaluator | None = None, fence: Callable[[Connection], None] | None = None,
                 stop: threading.Event | None = None,
                 frames: Sequence[pl.DataFrame] | None = None) -> list[TickReport]:
    """Quiet ticks at ``ats`` (ascending: the replayed closes of a catch-up but its last), as a batch:
    the same states, transitions and evaluations, and the same log lines, as ``run_tick(..., at=a,
    quiet=True, record=False)`` at each in turn, computed at once.

    The rules are evaluated at every point first (``Evaluator.evaluate_many``: the bars read once),
    then each point is stepped in order, every transition recorded at its own point, in ONE write
    transaction (``StateDB.apply_ticks``): a crash writes nothing, and the restarted run evaluates
    the same points again. ``fence`` is checked first in it (``Fenced``: nothing written). When
    ``stop`` is set before a point, that point and those after it are left out. Returns one report
    per point stepped or skipped (``skipped``: not after the last evaluation). ``frames`` are the
    evaluations at ``ats`` already computed (``evaluate_many``, e.g. with the catch-up's last close).
    """
    if not ats:
        return []
    by_name = {r.name: r for r in rules}
    evaluator = evaluator or Evaluator(list(rules))
    if frames is None:
        frames = evaluator.evaluate_many(
            recent_bars(store), facts if facts is not None else store.scan("facts"), ats, with_features=True)
    reports = [TickReport(at=at, rules=len(rules), instances=df.height)
               for at, df in zip(ats, frames, strict=True)]

    def plan(i: int, prior: dict[tuple[str, str], AlertState]) -> TickWrites | None:
        if stop is not None and stop.is_set():
            return None
        at, df, report = ats[i], frames[i], reports[i]
        writes, _ = _step_all(by_name, df, prior, at=at, now=now, quiet=True, report=report)  # no outbox
        writes.evaluation = {"rules": len(rules), "instances": df.height,
                             "transitions": len(writes.transitions), "notifications": 0}
        return writes

    done = db.apply_ticks(ats, list(by_name), plan, now=now, fence=fence)
    for report, writes in zip(reports, done, strict=False):  # ``done`` stops where a signal came
        if writes is None:
            report.skipped, report.transitions = True, []
            log.info("tick.skipped", at=report.at.isoformat())
            continue
        _log_transitions(report)
        log.info("tick.done", **report.as_dict())
    return reports[:len(done)]


def _log_transitions(report: TickReport) -> None:
    """One ``alert.transition`` line per transition of the tick at ``report.at``."""
    for t in report.transitions:
        log.info("alert.transition", rule=t["rule"], entity=t["entity"], state=t["state"],
                 at=report.at.isoformat(), value=t["value"])


# -- stepping -----------------------------------------------------------------------------------


def _candidates(df: pl.DataFrame, active: set[tuple[str, str]]) -> pl.DataFrame:
    """Rows that can change state or be notified: those that hold, and those of active instances."""
    mask = pl.col("holds").fill_null(False)
    if active:
        keys = pl.DataFrame({"rule": [k[0] for k in active], "entity": [k[1] for k in active]},
                            schema={"rule": pl.String, "entity": pl.String})
        return pl.concat([df.filter(mask), df.filter(~mask).join(keys, on=["rule", "entity"], how="semi")])
    return df.filter(mask)


def _kind(prev: AlertState | None, cur: AlertState, step: Step) -> Kind | None:
    """What to notify: the difference between ``cur`` and what was last told (``prev``'s notified_*)."""
    told = prev.notified_state if prev is not None else None
    told_at = prev.notified_fired_at if prev is not None else None
    if cur.state == "firing" and (told != "firing" or told_at != cur.fired_at):
        return "firing"
    if cur.state != "firing" and told == "firing":
        return "resolved"
    return "reminder" if step.repeat else None


def _step_all(rules: Mapping[str, Rule], df: pl.DataFrame, prior: dict[tuple[str, str], AlertState], *,
              at: dt.datetime, now: dt.datetime, quiet: bool,
              report: TickReport) -> tuple[TickWrites, list[Outgoing]]:
    """Step every candidate instance; the writes (states, transitions) and what to notify."""
    writes, outbox = TickWrites(), []
    active = {k for k, s in prior.items() if s.state != "inactive" or s.notified_state == "firing"}
    for row in _candidates(df, active).iter_rows(named=True):
        rule = rules.get(row["rule"])
        if rule is None:
            continue
        key = (rule.name, str(row["entity"]))
        prev = prior.get(key)
        step = transition(prev, Evaluation.from_row(row), rule, now=at)
        report.stepped += 1
        values = template_values(rule, row)
        fired = ({k: jsonable(v) for k, v in values.items()} if step.change == "firing"
                 else prev.fired_fields if prev is not None else None)
        kind = None if quiet else _kind(prev, step.state, step)
        told = prev or step.state
        # what the receivers know: updated when notified, else carried over (the lifecycle's
        # ``initial`` state of a resolve would forget it)
        new = replace(step.state, fired_fields=fired,
                      notified_state=told.notified_state or "none", notified_fired_at=told.notified_fired_at,
                      notified_at=told.notified_at, last_notified_at=told.last_notified_at)
        if kind is not None:
            new = replace(new, notified_state="resolved" if kind == "resolved" else "firing",
                          notified_fired_at=told.notified_fired_at if kind == "resolved" else new.fired_at,
                          notified_at=at, last_notified_at=at)
        if new != prev:
            writes.states.append(new)
        fired_at = told.notified_fired_at if kind == "resolved" else new.fired_at
        if step.change is not None:
            text = (notification_text(rule, "resolved", values, fired=fired, fired_at=prev.fired_at)
                    if step.change == "resolved" and prev is not None else rule.render_summary(row))
            t = {"alert_id": alert_id(rule.name, key[1], step.change, at), "rule": rule.name,
                 "entity": key[1], "state": step.change, "at": at, "value": finite(row.get("value")),
                 "severity": rule.severity, "summary": text, "statement": step.state.statement,
                 "recorded": False, "created_at": now}
            writes.transitions.append(t)
            report.transitions.append({k: v for k, v in t.items() if k not in ("recorded", "created_at")})
        if kind is not None:
            repeat = repeat_number(fired_at, at, rule.repeat_interval) if kind == "reminder" else 0
            statement = told.statement if kind == "resolved" else new.statement
            shown = values if kind != "firing" or fired is None else {**values, **fired}
            payload = build_payload(rule, kind, row, values=shown, fired=fired, fired_at=fired_at, at=at,
                                    repeat=repeat, reason=step.reason, statement=statement)
            outbox.append(Outgoing(rule, key[1], payload, fired_at, statement, repeat))
    return writes, outbox


def record_transitions(store: Store, db: StateDB, *, now: dt.datetime) -> int:
    """Append the transitions not yet in the ``alerts`` dataset (those of ticks run with
    ``record=False``); a busy or failing store only postpones it to the next tick."""
    return _flush_quietly(store, db, now=now)


def _flush_quietly(store: Store, db: StateDB, *, now: dt.datetime) -> int:
    """``flush_transitions``, but a busy or failing store only postpones it to the next tick."""
    try:
        return flush_transitions(store, db, now=now)
    except (StoreError, OSError) as e:
        log.warning("tick.record_postponed", error=str(e))
        return 0


__all__ = ["TickReport", "recent_bars", "record_transitions", "run_catch_up", "run_tick"]
