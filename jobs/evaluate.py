"""The evaluate job: run the rules at every evaluation point since the last one, in order.

Evaluation points are each trading-day close of ``EVAL_EXCHANGE`` plus the scheduled tick itself
(``now``). After downtime the closes missed since the state database's last evaluation are
replayed one ``run_tick`` each, oldest first (at most ``scheduler.replay_max_days`` of them), so an
alert that should have fired in between fires, at its own close; ticks are idempotent (stable
keys), so a point evaluated twice after a crash notifies nothing twice. The first evaluation of a
store replays the latest closes of its price history (a first run over the bundled sample shows
the shipped rules firing on history). The rules file is reloaded first if it changed (a bad file
keeps the last good rules: ``rules_error`` in the summary).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl

from jobs import calendars
from jobs.services import Services
from metrics.log import get_logger

log = get_logger(__name__)

EVAL_EXCHANGE = calendars.DEFAULT_EXCHANGE


def evaluation_points(last: dt.datetime | None, now: dt.datetime, *, max_closes: int,
                      history_end: dt.datetime | None = None) -> list[dt.datetime]:
    """Closes in ``(last, now]`` (the latest ``max_closes`` of them), then ``now`` itself.

    The very first evaluation (``last`` None) replays the latest ``max_closes`` closes up to
    ``history_end`` (the end of the stored price history, when it stops before ``now``), so the
    rules fire on recent history at once, then evaluates ``now``.
    """
    if last is not None and last >= now:
        return []
    end = min(now, history_end) if last is None and history_end is not None else now
    start = last if last is not None else end - dt.timedelta(days=2 * max_closes + 10)
    closes = calendars.closes_between(EVAL_EXCHANGE, start, end)
    points = closes[-max_closes:] if max_closes > 0 else []
    if last is not None and len(closes) > len(points):
        log.warning("evaluate.replay_truncated", last=last.isoformat(), missed=len(closes),
                    replayed=len(points), limit="scheduler.replay_max_days")
    if not points or points[-1] < now:
        points.append(now)
    return points


def history_end(services: Services) -> dt.datetime | None:
    """The end (midnight UTC after) of the latest day with a price bar in the store, if any."""
    latest = services.store.scan("prices").select(pl.col("date").max()).collect().item()
    if latest is None:
        return None
    return dt.datetime.combine(latest + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)


def run(services: Services, *, now: dt.datetime) -> dict[str, Any]:
    """Reload rules if changed, then ``run_tick`` at every missed evaluation point up to ``now``."""
    from metrics.tick import run_tick

    services.rules.refresh()
    rules = services.rules.rules
    last = services.db.last_evaluation()
    points = evaluation_points(last, now, max_closes=services.settings.scheduler.replay_max_days,
                               history_end=history_end(services) if last is None else None)
    summary: dict[str, Any] = {"rules": len(rules), "points": len(points), "evaluated": 0,
                               "transitions": 0, "notifications": 0,
                               "from": points[0] if points else None, "to": None}
    if services.rules.error:
        summary["rules_error"] = services.rules.error
    for at in points:
        if services.stop.is_set():
            summary["stopped_early"] = True
            break
        report = run_tick(services.store, services.db, rules, now=now, at=at)
        summary["evaluated"] += 0 if report.skipped else 1
        summary["transitions"] += len(report.transitions)
        summary["notifications"] += report.notifications
        summary["to"] = at
        if len(points) > 1:
            log.debug("evaluate.replayed", at=at.isoformat(), transitions=len(report.transitions))
    return summary
