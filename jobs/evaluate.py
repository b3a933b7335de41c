"""The evaluate job: run the rules at every evaluation point since the last one, in order.

Evaluation points are each trading-day close of ``EVAL_EXCHANGE`` (every rule, as the backtest
does: one bar per session) plus the scheduled tick itself, ``now``, where only the fact rules
without a hold in bars are evaluated (a new statement alerts within ``evaluate_every_s``; price
series and bar counts only move at closes). A close is due once its bars can be in the store:
``prices.fetch_delay_minutes`` + ``SETTLE`` after it (at once when fetching is off); until then no
tick is evaluated past it, so it is never skipped.

After downtime the closes missed since the state database's last evaluation are replayed one
``run_tick`` each, oldest first (at most ``scheduler.replay_max_days`` of them), so an alert that
should have fired in between fires, at its own close; ticks are idempotent (stable keys), so a point
evaluated twice after a crash notifies nothing twice. The facts are read once for all the points of
a run. The first evaluation of a store replays the latest closes of its price history (a first run
over the bundled sample shows the shipped rules firing on history). The rules file is reloaded
first if it changed (a bad file keeps the last good rules: ``rules_error`` in the summary).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import polars as pl

from jobs import calendars
from jobs.services import Services
from metrics.log import get_logger

if TYPE_CHECKING:
    from metrics.alerting.rules import Rule

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
    """Due closes in ``(last, now]`` (the latest ``max_closes`` of them), then the tick ``now``.

    A close is due ``due_after`` after it, or as soon as a fetch finished at ``fetched[0]``, at
    least ``fetched[1]`` (the fetch delay) after it; while one is not due yet, the tick is left out
    (it would pass it). The very first evaluation (``last`` None) replays the latest ``max_closes``
    closes up to ``history_end`` (the end of the stored price history, when it stops before
    ``now``), then ticks at ``now``.
    """
    if last is not None and last >= now:
        return []
    end = min(now, history_end) if last is None and history_end is not None else now
    start = last if last is not None else end - dt.timedelta(days=2 * max_closes + 10)
    closes = calendars.closes_between(EVAL_EXCHANGE, start, end)
    due = [c for c in closes
           if c + due_after <= now or (fetched is not None and fetched[0] >= c + fetched[1])]
    points = [Point(c, close=True) for c in (due[-max_closes:] if max_closes > 0 else [])]
    if last is not None and len(due) > len(points):
        log.warning("evaluate.replay_truncated", last=last.isoformat(), missed=len(due),
                    replayed=len(points), limit="scheduler.replay_max_days")
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


def run(services: Services, *, now: dt.datetime) -> dict[str, Any]:
    """Reload rules if changed, then ``run_tick`` at every missed evaluation point up to ``now``."""
    from metrics.alerting.tick import run_tick

    services.rules.refresh()
    rules = services.rules.rules
    prices = services.settings.prices
    last = services.db.last_evaluation()
    delay = dt.timedelta(minutes=prices.fetch_delay_minutes)
    points = evaluation_points(
        last, now, max_closes=services.settings.scheduler.replay_max_days,
        history_end=history_end(services) if last is None else None,
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
    for point in points:
        if services.stop.is_set():
            summary["stopped_early"] = True
            break
        subset = rules if point.close else tick_rules(rules)
        if not subset:
            continue
        report = run_tick(services.store, services.db, subset, now=now, at=point.at, facts=facts)
        summary["evaluated"] += 0 if report.skipped else 1
        summary["transitions"] += len(report.transitions)
        summary["notifications"] += report.notifications
        summary["to"] = point.at
    return summary
