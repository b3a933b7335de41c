"""The ``jobs`` section of ``metrics status``: each job's last run, its outcome and its lag.

A run recorded as ``running`` whose daemon is gone (killed with SIGKILL, a power loss) shows as
``stale``; the next daemon start records it as ``interrupted``.

``lag_s`` is the time since the job's last run finished; for the evaluations, ``evaluated_to`` is
the last evaluation time of the rule set and ``closes_behind`` the trading-day closes since then
that the daemon has not evaluated yet (it replays them at its next evaluate run).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from jobs import calendars
from jobs.leader import STALE_AFTER_S
from jobs.lock import current_holder, holder_since
from metrics.alerting.leader import is_postgres, leadership_status
from metrics.alerting.state import StateDB
from metrics.settings import Settings

SUMMARY_KEYS = ("documents", "facts", "rows", "tickers", "evaluated", "transitions", "notifications",
                "delivered", "retried", "dead", "failed", "deferred")


STALE = "stale"


def _stale(started: dt.datetime | None, *, holder: str | None, since: dt.datetime | None) -> bool:
    """A run still ``running`` is stale when no daemon holds the store, or the one that does started
    after the run did (the run's daemon died without finishing it)."""
    if holder is None:
        return True
    return started is not None and since is not None and started < since


def _holder(db: StateDB, settings: Settings, *, now: dt.datetime) -> tuple[str | None, dt.datetime | None]:
    """The daemon running the jobs and since when: the file lock's holder on SQLite, the leader
    (unless its heartbeat is stale or it stopped) on PostgreSQL."""
    if not is_postgres(settings.database_url):
        return current_holder(settings.root), holder_since(settings.root)
    lead = leadership_status(db, now=now, stale_after_s=STALE_AFTER_S)
    if lead["leader"] is None or lead["stale"]:
        return None, None
    if lead["leader"] not in {r["replica"] for r in lead["replicas"]}:
        return None, None        # it stopped cleanly (its replica row is gone)
    return f"leader {lead['leader']} (epoch {lead['epoch']})", lead["since"]


def _expected_every(settings: Settings) -> dict[str, float]:
    s = settings.scheduler
    return {"ingest": s.ingest_every_s, "evaluate": s.evaluate_every_s, "deliver": s.deliver_every_s,
            "compact": 86400.0, "prices": 2 * 86400.0}  # prices: Friday's fetch is followed by Monday's


def jobs_status(db: StateDB, settings: Settings, *, now: dt.datetime) -> dict[str, Any]:
    """Last run of every job with its lag, the evaluation backlog, and the daemon holding the store."""
    every = _expected_every(settings)
    holder, since = _holder(db, settings, now=now)
    jobs = []
    for run in db.last_job_runs():
        finished = run["finished_at"]
        status = run["status"]
        if status == "running" and _stale(run["started_at"], holder=holder, since=since):
            status = STALE
        lag = (now - finished).total_seconds() if finished is not None else None
        summary = run["summary"] or {}
        kind = run["job"].split("-", 1)[0]          # prices-XNYS -> prices
        counts = " ".join(f"{k}={summary[k]}" for k in SUMMARY_KEYS if k in summary)
        jobs.append({
            "job": run["job"],
            "status": status,
            "finished_at": finished.replace(microsecond=0) if finished is not None else None,
            "duration_s": summary.get("duration_s"),
            "lag_s": round(lag, 1) if lag is not None else None,
            "overdue": bool(lag is not None and kind in every and lag > 2 * every[kind]),
            "counts": counts,
            "failed_inputs": "; ".join(str(f)[:200] for f in (summary.get("failures") or [])[:3]) or None,
            "error": summary.get("error") or summary.get("rules_error") or (
                "no daemon is running this job: it was killed (kill -9, power loss) before it finished"
                if status == STALE else None),
        })
    last = db.last_evaluation()
    behind = len(calendars.closes_between(calendars.DEFAULT_EXCHANGE, last, now)) if last else None
    return {
        "daemon": holder,
        "jobs": jobs,
        "evaluated_to": last,
        "closes_behind": behind,
    }
