"""Runs one job: records it in the state database's ``job_runs`` and logs one canonical line.

Every run, whatever its outcome, ends in exactly one ``job.finished`` event with the job's name,
status, duration and the counts of its summary. A job that raises is recorded as ``failed`` (with
the error) and never takes the daemon down; ``failed > 0`` in a summary means some inputs failed
(named in ``failures``) while the others were processed.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from jobs.services import Services
from metrics.log import get_logger

log = get_logger("jobs")

JobFn = Callable[..., dict[str, Any]]


@dataclass(frozen=True, slots=True)
class JobResult:
    """The outcome of one run: status ``ok`` or ``failed`` (raised), and the job's summary."""

    job: str
    status: str
    summary: dict[str, Any]

    @property
    def inputs_failed(self) -> int:
        """How many inputs (documents, tickers, notifications) failed in this run."""
        return int(self.summary.get("failed", 0) or 0)


def _counts(summary: dict[str, Any]) -> dict[str, Any]:
    """The scalar entries of a summary (lists such as ``failures`` stay out of the log line)."""
    return {k: v for k, v in summary.items() if isinstance(v, int | float | str | bool) or v is None}


def execute(job: str, fn: JobFn, services: Services, *, now: dt.datetime, **kwargs: Any) -> JobResult:
    """Run ``fn(services, now=now, **kwargs)`` as job ``job``; record and log it; never raise."""
    started = time.monotonic()
    run_id: int | None = None
    try:
        run_id = services.db.start_job(job, now=now)
        summary = dict(fn(services, now=now, **kwargs))
        status = "ok"
    except Exception as e:  # a job's failure is reported, never fatal to the daemon
        summary = {"error": f"{type(e).__name__}: {e}"}
        status = "failed"
        log.error("job.failed", job=job, error=summary["error"], exc_info=True)
    duration = round(time.monotonic() - started, 3)
    summary["duration_s"] = duration
    if run_id is not None:
        try:
            services.db.finish_job(run_id, now=now + dt.timedelta(seconds=duration), status=status,
                                   summary=_jsonable(summary))
        except Exception as e:  # the run happened; failing to record it must not hide that
            log.error("job.record_failed", job=job, error=str(e))
    level = log.info if status == "ok" and not summary.get("failed") else log.warning
    level("job.finished", job=job, status=status, **_counts(summary))
    for failure in summary.get("failures", [])[:20]:
        log.warning("job.input_failed", job=job, failure=failure)
    return JobResult(job, status, summary)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, int | float | str | bool) or value is None:
        return value
    return str(value)
