"""The ``jobs`` section of ``metrics status``: each job's last run, its outcome and its lag.

``lag_s`` is the time since the job's last run finished; for the evaluations, ``evaluated_to`` is
the last evaluation time of the rule set and ``closes_behind`` the trading-day closes since then
that the daemon has not evaluated yet (it replays them at its next evaluate run).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from jobs import calendars
from jobs.lock import current_holder
from metrics.alerting.state import StateDB
from metrics.settings import Settings

SUMMARY_KEYS = ("documents", "facts", "rows", "tickers", "evaluated", "transitions", "notifications",
                "delivered", "retried", "dead", "failed")


def _expected_every(settings: Settings) -> dict[str, float]:
    s = settings.scheduler
    return {"ingest": s.ingest_every_s, "evaluate": s.evaluate_every_s, "deliver": s.deliver_every_s,
            "compact": 86400.0, "prices": 2 * 86400.0}  # prices: Friday's fetch is followed by Monday's


def jobs_status(db: StateDB, settings: Settings, *, now: dt.datetime) -> dict[str, Any]:
    """Last run of every job with its lag, the evaluation backlog, and the daemon holding the store."""
    every = _expected_every(settings)
    jobs = []
    for run in db.last_job_runs():
        finished = run["finished_at"]
        lag = (now - finished).total_seconds() if finished is not None else None
        summary = run["summary"] or {}
        kind = run["job"].split("-", 1)[0]          # prices-XNYS -> prices
        counts = " ".join(f"{k}={summary[k]}" for k in SUMMARY_KEYS if k in summary)
        jobs.append({
            "job": run["job"],
            "status": run["status"],
            "finished_at": finished.replace(microsecond=0) if finished is not None else None,
            "duration_s": summary.get("duration_s"),
            "lag_s": round(lag, 1) if lag is not None else None,
            "overdue": bool(lag is not None and kind in every and lag > 2 * every[kind]),
            "counts": counts,
            "error": summary.get("error") or summary.get("rules_error"),
        })
    last = db.last_evaluation()
    behind = len(calendars.closes_between(calendars.DEFAULT_EXCHANGE, last, now)) if last else None
    return {
        "daemon": current_holder(settings.root),
        "jobs": jobs,
        "evaluated_to": last,
        "closes_behind": behind,
    }
