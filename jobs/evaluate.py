"""The evaluate job: run the rules at every evaluation point since the last one, in order.

Evaluation points are each trading-day close of ``EVAL_EXCHANGE`` (every rule, as the backtest
does: one bar per session) plus the scheduled tick itself, ``now``, where only the fact rules
without a hold in bars are evaluated (a new statement alerts within ``evaluate_every_s``; price
series and bar counts only move at closes). A close is due once its bars can be in the store:
``prices.fetch_delay_minutes`` + ``SETTLE`` after it (at once when fetching is off); until then no
tick is evaluated past it, so it is never skipped.

After downtime the closes missed since the state database's last evaluation are replayed oldest
first, so every transition is recorded at its own close: all but the last as one batch
(``metrics.alerting.tick.run_catch_up``: the rules evaluated at every close at once, the bars read
once, then each close stepped in order, in one state-database transaction; it writes what one
``run_tick`` per close would), the last close and the tick ``now`` by ``run_tick`` (the last close
evaluated in the same batch as the others: ``Evaluator.evaluate_many``, its frame given to
``run_tick``). Which closes:
of those with bars in the store (before the end of the price history) the latest
``scheduler.replay_max_days``, and of those without bars only the latest (it moves staleness to
now: the stale-data rule fires at start, not at the next close). The choice depends on the store
and ``now`` only, not on the last evaluation, so a run killed half-way and started again evaluates
the same closes as a run never killed. The first evaluation of a store is such a catch-up over the
end of its price history (a first run over the bundled sample shows the shipped rules firing).

A catch-up notifies as Alertmanager does: every replayed close but the last is evaluated ``quiet``
(transitions recorded, nothing sent), and the last one notifies what changed and is still current
against what was last sent, grouped per channel into one digest; reminders only for the alerts
still firing then. Ticks are idempotent (stable keys), so a point evaluated twice after a crash
notifies nothing twice. The transitions of the replayed points are appended to the ``alerts``
dataset once, by the last point's tick (one Delta commit, not one per close; they are in the state
database from their own tick on). The facts are read once for all the points of a run, and one compiled
evaluator is kept per rules version (and per subset of them). The rules file is reloaded first if it
changed (a bad file keeps the last good rules: ``rules_error`` in the summary).

With several replicas only the leader evaluates, and each tick is fenced by its epoch
(``jobs.leader``): a tick (or the batch of quiet closes) refused because another replica leads now
(``tick.fenced``) wrote nothing, and the run stops there (``fenced`` in the summary). A signal stops
the batch before its next close (what was stepped is committed).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from jobs import calendars
from jobs.services import Services
from metrics.alerting.evaluate import Evaluator
from metrics.alerting.rules import Rule
from metrics.alerting.tick import recent_bars, record_transitions, run_catch_up, run_tick
from metrics.errors import Fenced
from metrics.log import get_logger

log = get_logger(__name__)

EVAL_EXCHANGE = calendars.DEFAULT_EXCHANGE
SETTLE = dt.timedelta(minutes=30)   # after the scheduled fetch, time for it to finish


@dataclass(frozen=True, slots=True)
class Point:
    """One evaluation point: a session's close (every rule) or a scheduled tick (fact rules)."""

    at: dt.datetime
    close: bool


def evaluation_points(last: dt.datetime | None, now: dt.datetime, *, max_closes: int,
                      history_end: dt.datetime | None = None,
                      due_after: dt.timedelta = dt.timedelta(0),
                      fetched: tuple[dt.datetime, dt.timedelta] | None = None) -> list[Point]:
    """Due closes in ``(last, now]``, then the tick ``now``; see the module docstring for which.

    ``history_end`` is the end of the stored price history (None: every close has bars). A close
    is due ``due_after`` after it, or as soon as a fetch finished at ``fetched[0]``, at least
    ``fetched[1]`` (the fetch delay) after it; while one is not due yet, the tick is left out (it
    would pass it). Without ``last`` (the first evaluation) the closes start ``max_closes`` sessions
    before the end of the history.
    """
    if last is not None and last >= now:
        return []
    anchor = min(now, history_end) if history_end is not None else now
    start = last if last is not None else anchor - dt.timedelta(days=2 * max_closes + 10)
    closes = calendars.closes_between(EVAL_EXCHANGE, start, now)
    due = [c for c in closes
           if c + due_after <= now or (fetched is not None and fetched[0] >= c + fetched[1])]
    with_bars = [c for c in due if history_end is None or c < history_end]
    without = [c for c in due if history_end is not None and c >= history_end]
    picked = (with_bars[-max_closes:] if max_closes > 0 else []) + without[-1:]
    points = [Point(c, close=True) for c in picked]
    if last is not None and len(with_bars) > max_closes:
        log.warning("evaluate.replay_truncated", last=last.isoformat(), missed=len(with_bars),
                    replayed=max_closes, limit="scheduler.replay_max_days")
    if len(due) == len(closes) and (not points or points[-1].at < now):
        points.append(Point(now, close=False))
    return points


def tick_rules(rules: Sequence[Rule]) -> list[Rule]:
    """The rules evaluated between closes: fact series whose hold is not counted in bars."""
    return [r for r in rules if r.is_fact_series and r.hold.bars is None]


def last_fetch(services: Services) -> dt.datetime | None:
    """When the last successful fetch of ``EVAL_EXCHANGE``'s tickers (or of all) finished."""
    names = ("prices", f"prices-{EVAL_EXCHANGE}")
    ends = [r["finished_at"] for r in services.db.last_job_runs()
            if r["job"] in names and r["status"] == "ok" and r["finished_at"] is not None]
    return max(ends, default=None)


def history_end(services: Services) -> dt.datetime | None:
    """The end (midnight UTC after) of the latest day with a price bar in the store, if any."""
    latest = services.store.scan("prices").select(pl.col("date").max()).collect().item()
    if latest is None:
        return None
    return dt.datetime.combine(latest + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)


@dataclass(frozen=True, slots=True)
class Compiled:
    """One rules version compiled once: all rules (for closes) and ``tick_rules`` (between closes)."""

    rules: list[Rule]
    at_close: Evaluator
    between: Evaluator

    @classmethod
    def of(cls, rules: list[Rule]) -> Compiled:
        return cls(rules, Evaluator(rules), Evaluator(tick_rules(rules)))


_compiled: list[Compiled] = []   # the current rules version's (at most one)


def compiled(rules: list[Rule]) -> Compiled:
    """The compiled evaluators of ``rules``, built once per rules version (``RulesHolder`` gives a
    new list on each reload), so the daemon does not rebuild them every tick."""
    if not _compiled or _compiled[0].rules is not rules:
        _compiled[:] = [Compiled.of(rules)]
    return _compiled[0]


def run(services: Services, *, now: dt.datetime) -> dict[str, Any]:
    """Reload rules if changed, then ``run_tick`` at every missed evaluation point up to ``now``."""
    services.rules.refresh()
    rules = services.rules.rules
    prices = services.settings.prices
    last = services.db.last_evaluation()
    delay = dt.timedelta(minutes=prices.fetch_delay_minutes)
    points = evaluation_points(
        last, now, max_closes=services.settings.scheduler.replay_max_days,
        history_end=history_end(services),
        due_after=delay + SETTLE if prices.fetch else dt.timedelta(0),
        fetched=(fetched, delay) if (fetched := last_fetch(services)) is not None else None)
    summary: dict[str, Any] = {"rules": len(rules), "closes": sum(p.close for p in points), "evaluated": 0,
                               "transitions": 0, "notifications": 0,
                               "from": points[0].at if points else None, "to": None}
    if services.rules.error:
        summary["rules_error"] = services.rules.error
    # one read (and de-duplication) of the facts serves every point; the bars are read per point,
    # each a window of dates (the whole price history need not be held in memory)
    facts = services.store.scan("facts").collect().lazy() if points else None
    last_close = max((p.at for p in points if p.close), default=None)
    fence = services.election.fence if services.election is not None else None
    unrecorded = False   # a replayed point's transitions wait for the last point's one append
    # the quiet closes (all but the last close: a prefix of the points) are stepped as one batch
    quiet = [p for p in points if p.close and p.at != last_close]
    last_frame: pl.DataFrame | None = None   # the last close's evaluation, computed with the quiet ones
    if quiet and compiled(rules).at_close.rules and not services.stop.is_set():
        at_close = compiled(rules).at_close
        assert facts is not None and last_close is not None  # there are points, and closes
        frames = at_close.evaluate_many(recent_bars(services.store), facts,
                                        [*(p.at for p in quiet), last_close], with_features=True)
        last_frame = frames[-1]
        try:
            reports = run_catch_up(services.store, services.db, at_close.rules, now=now,
                                   ats=[p.at for p in quiet], facts=facts, evaluator=at_close,
                                   fence=fence, stop=services.stop, frames=frames[:-1])
        except Fenced as e:  # another replica leads now: this one wrote nothing and stops here
            log.warning("tick.fenced", at=quiet[0].at.isoformat(), epoch=e.epoch, current=e.current)
            summary["fenced"] = True
            return summary
        for report in reports:
            summary["evaluated"] += 0 if report.skipped else 1
            summary["transitions"] += len(report.transitions)
            summary["to"] = report.at
        unrecorded = bool(reports)
        if len(reports) < len(quiet):  # a signal came during the batch
            summary["stopped_early"] = True
            if unrecorded:
                record_transitions(services.store, services.db, now=now)
            return summary
    for point in points[len(quiet):]:
        if services.stop.is_set():
            summary["stopped_early"] = True
            break
        evaluator = compiled(rules).at_close if point.close else compiled(rules).between
        subset = evaluator.rules
        if not subset:
            continue
        try:
            final = point is points[-1]
            report = run_tick(services.store, services.db, subset, now=now, at=point.at, facts=facts,
                              evaluator=evaluator, quiet=point.close and point.at != last_close,
                              record=final, fence=fence,
                              frame=last_frame if point.close and point.at == last_close else None)
            unrecorded = not final
        except Fenced as e:  # another replica leads now: this one wrote nothing and stops here
            log.warning("tick.fenced", at=point.at.isoformat(), epoch=e.epoch, current=e.current)
            summary["fenced"] = True
            break
        summary["evaluated"] += 0 if report.skipped else 1
        summary["transitions"] += len(report.transitions)
        summary["notifications"] += report.notifications
        summary["to"] = point.at
    if unrecorded:  # stopped before the last point: append what the replayed ones recorded
        record_transitions(services.store, services.db, now=now)
    return summary
