"""One evaluation tick: evaluate the rules, step every alert instance, persist, enqueue, record.

``run_tick(store, db, rules, *, now, at=None)``:

1. evaluates every rule over the store point-in-time at ``at`` (default ``now``) with
   ``metrics.alerting.evaluate.evaluate`` (vectorized; no database lock is held meanwhile);
2. in ONE write transaction of the state database: skips the tick if ``at`` is not after the
   last evaluation (a replayed or out-of-order tick changes nothing), loads the prior states, applies
   ``metrics.alerting.lifecycle.transition`` to the instances that hold or are not inactive (the others cannot
   change), writes the changed states, the transitions (``recorded = false``), one notification
   per channel of the rule for each step that notifies, and the evaluation time;
3. appends the unrecorded transitions to the ``alerts`` Parquet dataset and marks them recorded.

Crash safety: the database commits first; the Parquet append is second and idempotent (``alert_id``
is a stable hash, the dataset keeps one row per id), and every tick first re-appends what a crash
left unrecorded. Notification idempotency keys are sha256 of ``rule|entity|state|fired_at|statement|
repeat-no`` and the outbox ignores a key it already has (``ON CONFLICT DO NOTHING``), so neither a
replayed tick nor re-ingested documents enqueue anything twice. A silenced instance still changes
state; its notifications are stored with status ``silenced`` and never sent.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import polars as pl
import sqlalchemy as sa

from metrics.alerting.lifecycle import AlertState, Evaluation, Step, transition
from metrics.alerting.render import Kind, build_payload, charts, finite, jsonable, notification_text
from metrics.alerting.rules import Rule, template_values
from metrics.alerting.state import (
    ALERT_STATE_FIELDS,
    Silence,
    StateDB,
    alert_states,
    evaluated_to,
    evaluations,
    insert_ignore,
    notifications,
    transitions,
    upsert,
)
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
    notifications: int = 0                # newly queued
    silenced: int = 0                     # newly stored as silenced
    recorded: int = 0                     # transitions appended to the alerts dataset

    def as_dict(self) -> dict[str, Any]:
        return {"at": self.at.isoformat(), "skipped": self.skipped, "rules": self.rules,
                "instances": self.instances, "stepped": self.stepped,
                "transitions": len(self.transitions), "notifications": self.notifications,
                "silenced": self.silenced, "recorded": self.recorded}


def _hash(*parts: object) -> str:
    text = "|".join("" if p is None else (p.isoformat() if isinstance(p, dt.datetime) else str(p))
                    for p in parts)
    return hashlib.sha256(text.encode()).hexdigest()


def alert_id(rule: str, entity: str, state: str, at: dt.datetime) -> str:
    """Stable id of a transition (the ``alerts`` dataset key)."""
    return _hash("alert", rule, entity, state, at)


def repeat_number(fired_at: dt.datetime | None, at: dt.datetime, interval: dt.timedelta) -> int:
    """Which reminder of a firing alert a notification at ``at`` is (0: the first notification)."""
    if fired_at is None or interval <= dt.timedelta(0) or at <= fired_at:
        return 0
    return int((at - fired_at) // interval)


def idempotency_key(rule: str, entity: str, state: str, *, fired_at: dt.datetime | None,
                    statement: str | None, repeat: int, channel: str) -> str:
    """A notification's idempotency key: sha256 of rule|entity|state|fired_at|statement|repeat-no|channel."""
    return _hash(rule, entity, state, fired_at, statement, repeat, channel)


def _to_state(row: Mapping[str, Any]) -> AlertState:
    fields = {f: row[f] for f in ALERT_STATE_FIELDS}
    fields["cleared_evals"] = fields["cleared_evals"] or 0
    return AlertState(**fields)


def _state_row(s: AlertState, *, now: dt.datetime) -> dict[str, Any]:
    row = {f: getattr(s, f) for f in ALERT_STATE_FIELDS}
    row["value"] = finite(row["value"])
    row["updated_at"] = now
    return row


def _silenced(silences: Sequence[Silence], rule: str, entity: str, now: dt.datetime) -> bool:
    return any(s.matches(rule, entity, now=now) for s in silences)


def _candidates(df: pl.DataFrame, active: set[tuple[str, str]]) -> pl.DataFrame:
    """Rows that can change state: those that hold, and those whose prior state is not inactive."""
    mask = pl.col("holds").fill_null(False)
    if active:
        keys = pl.DataFrame({"rule": [k[0] for k in active], "entity": [k[1] for k in active]},
                            schema={"rule": pl.String, "entity": pl.String})
        return pl.concat([df.filter(mask), df.filter(~mask).join(keys, on=["rule", "entity"], how="semi")])
    return df.filter(mask)


def _fired(prev: AlertState | None, step: Step) -> AlertState:
    """The firing episode a notification of ``step`` is about: a resolve reports the one it ends."""
    return prev if step.change == "resolved" and prev is not None else step.state


def _kind(step: Step) -> Kind:
    return "resolved" if step.change == "resolved" else "reminder" if step.repeat else "firing"


def flush_transitions(store: Store, db: StateDB, *, now: dt.datetime) -> int:
    """Append transitions not yet in the ``alerts`` dataset, then mark them recorded; returns how many."""
    cols = [transitions.c[c] for c in ("alert_id", "rule", "entity", "state", "at", "value", "severity",
                                       "summary", "statement")]
    with db.read() as conn:
        rows = [dict(r._mapping) for r in conn.execute(
            sa.select(*cols).where(transitions.c.recorded.is_(False)).order_by(transitions.c.at))]
    if not rows:
        return 0
    df = pl.DataFrame(rows, schema={"alert_id": pl.String, "rule": pl.String, "entity": pl.String,
                                    "state": pl.String, "at": pl.Datetime("us", "UTC"),
                                    "value": pl.Float64, "severity": pl.String, "summary": pl.String,
                                    "statement": pl.String})
    df = df.with_columns(pl.lit(now).cast(pl.Datetime("us", "UTC")).alias("recorded_at"))
    store.append("alerts", df, now=now)
    ids = [r["alert_id"] for r in rows]
    with db.write() as conn:
        for i in range(0, len(ids), 500):
            conn.execute(transitions.update().where(transitions.c.alert_id.in_(ids[i:i + 500]))
                         .values(recorded=True))
    return len(rows)


def _flush_quietly(store: Store, db: StateDB, *, now: dt.datetime) -> int:
    """``flush_transitions``, but a busy or failing store only postpones it to the next tick."""
    try:
        return flush_transitions(store, db, now=now)
    except (StoreError, OSError) as e:
        log.warning("tick.record_postponed", error=str(e))
        return 0


def _evaluate(store: Store, rules: Sequence[Rule], at: dt.datetime,
              facts: pl.LazyFrame | None) -> pl.DataFrame:
    from metrics.alerting.evaluate import evaluate

    facts = facts if facts is not None else store.scan("facts")
    return evaluate(list(rules), store.scan("prices"), facts, at=at, with_features=True)


def run_tick(store: Store, db: StateDB, rules: Sequence[Rule], *, now: dt.datetime,
             at: dt.datetime | None = None, facts: pl.LazyFrame | None = None) -> TickReport:
    """Evaluate ``rules`` at ``at`` (default ``now``) and persist the outcome; see the module docstring.

    ``facts`` may carry the ``facts`` dataset already read (a replay reads it once for all its
    ticks); by default the store's is scanned.
    """
    at = at or now
    report = TickReport(at=at, rules=len(rules))
    report.recorded += _flush_quietly(store, db, now=now)
    by_name = {r.name: r for r in rules}
    df = _evaluate(store, rules, at, facts)
    report.instances = df.height
    silences = db.silences(now=now)
    with db.write() as conn:
        last = evaluated_to(conn)
        if last is not None and at <= last:
            report.skipped = True
            log.info("tick.skipped", at=at.isoformat(), last=last.isoformat())
            return report
        q = sa.select(*(alert_states.c[f] for f in ALERT_STATE_FIELDS))
        if len(by_name) <= 500:
            q = q.where(alert_states.c.rule.in_(list(by_name)))
        prior = {(r.rule, r.entity): _to_state(dict(r._mapping))
                 for r in conn.execute(q) if r.rule in by_name}
        active = {k for k, s in prior.items() if s.state != "inactive"}
        todo = _candidates(df, active)
        new_states: list[dict[str, Any]] = []
        trans_rows: list[dict[str, Any]] = []
        outbox: list[tuple[Rule, str, dict[str, Any], AlertState, int]] = []
        for row in todo.iter_rows(named=True):
            rule = by_name.get(row["rule"])
            if rule is None:
                continue
            key = (rule.name, str(row["entity"]))
            prev = prior.get(key)
            step = transition(prev, Evaluation.from_row(row), rule, now=at)
            report.stepped += 1
            values = template_values(rule, row)
            if step.change == "firing":
                fields = {k: jsonable(v) for k, v in values.items()}
                step = replace(step, state=replace(step.state, fired_fields=fields))
            if step.state != prev:
                new_states.append(_state_row(step.state, now=now))
            if step.change is not None:
                ep = _fired(prev, step)
                text = (notification_text(rule, "resolved", values, fired=ep.fired_fields,
                                          fired_at=ep.fired_at)
                        if step.change == "resolved" else rule.render_summary(row))
                t = {"alert_id": alert_id(rule.name, key[1], step.change, at), "rule": rule.name,
                     "entity": key[1], "state": step.change, "at": at, "value": finite(row.get("value")),
                     "severity": rule.severity, "summary": text,
                     "statement": step.state.statement, "recorded": False, "created_at": now}
                trans_rows.append(t)
            if step.notify:
                ep = _fired(prev, step)
                kind = _kind(step)
                repeat = repeat_number(ep.fired_at, at, rule.repeat_interval) if step.repeat else 0
                payload = build_payload(rule, kind, row, values=values, fired=ep.fired_fields,
                                        fired_at=ep.fired_at, at=at, repeat=repeat, reason=step.reason,
                                        statement=ep.statement)
                outbox.append((rule, key[1], payload, ep, repeat))
        wanted = {(o[0].name, o[1]) for o in outbox if o[2]["state"] == "firing"}
        chart_of = charts(store, by_name, wanted, at)
        note_rows: list[dict[str, Any]] = []
        for rule, entity, payload, ep, repeat in outbox:
            payload["chart"] = chart_of.get((rule.name, entity))
            state = payload["state"]
            muted = _silenced(silences, rule.name, entity, now)
            for channel in rule.channels:
                note_rows.append({
                    "idempotency_key": idempotency_key(rule.name, entity, state, fired_at=ep.fired_at,
                                                       statement=ep.statement, repeat=repeat,
                                                       channel=channel),
                    "rule": rule.name, "entity": entity, "state": state, "channel": channel,
                    "payload": payload,
                    "created_at": now, "next_attempt_at": at if at < now else now, "attempts": 0,
                    "status": "silenced" if muted else "queued",
                })
        upsert(conn, alert_states, new_states, ["rule", "entity"])
        insert_ignore(conn, transitions, trans_rows, "alert_id")
        for n in insert_ignore(conn, notifications, note_rows, "idempotency_key"):
            if n["status"] == "silenced":
                report.silenced += 1
            else:
                report.notifications += 1
        upsert(conn, evaluations, [{"at": at, "ran_at": now, "rules": len(rules), "instances": df.height,
                                    "transitions": len(trans_rows), "notifications": len(note_rows)}],
               ["at"])
    report.transitions = [{k: v for k, v in t.items() if k not in ("recorded", "created_at")}
                          for t in trans_rows]
    for t in report.transitions:
        log.info("alert.transition", rule=t["rule"], entity=t["entity"], state=t["state"],
                 at=at.isoformat(), value=t["value"])
    report.recorded += _flush_quietly(store, db, now=now)
    log.info("tick.done", **report.as_dict())
    return report


__all__ = ["TickReport", "alert_id", "flush_transitions", "idempotency_key", "run_tick"]
