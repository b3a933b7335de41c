"""The daemon's schedule on APScheduler 3.11 (the only module that imports it).

=========  ====================================================================================
ingest     every ``scheduler.ingest_every_s``
prices     per exchange, ``prices.fetch_delay_minutes`` after its regular close, Monday to Friday
           in the exchange's time zone; days that are not sessions of its calendar are skipped
evaluate   every ``scheduler.evaluate_every_s``, and at once after a prices run stored new bars
deliver    every ``scheduler.deliver_every_s``, and at once after an evaluation queued notifications
compact    daily at ``scheduler.compact_hour_utc``:00 UTC
=========  ====================================================================================

Every replica runs this schedule. The jobs that must run once (``LEADER_JOBS``: seed, ingest,
prices, evaluate, compact) run only on the leader (``jobs.leader``), which is checked when each
run starts: on a follower they are skipped (a ``job.skipped`` debug line). ``deliver`` runs on every
replica (the outbox's claims make that safe). A leader's job runs log with its ``epoch``.

Every job: ``coalesce`` (runs missed while the daemon was busy or asleep collapse into one),
``max_instances=1`` (a job never overlaps itself), ``misfire_grace_time`` of
``scheduler.misfire_grace_s``. Jobs live in memory: the schedule is rebuilt from the settings at
every start, and what was missed while the daemon was down is replayed by the jobs themselves
(the evaluate job from the state database's last evaluation; prices fetch only missing days).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from jobs import calendars, compact, deliver, evaluate, ingest, prices
from jobs.runner import JobFn, JobResult, execute
from jobs.services import Services
from metrics.log import get_logger, log_context

if TYPE_CHECKING:
    from apscheduler.triggers.cron import CronTrigger

log = get_logger(__name__)

Clock = Callable[[], dt.datetime]
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

JOBS: dict[str, JobFn] = {
    "seed": prices.seed,
    "ingest": ingest.run,
    "prices": prices.run,
    "evaluate": evaluate.run,
    "deliver": deliver.run,
    "compact": compact.run,
}


LEADER_JOBS = frozenset({"seed", "ingest", "prices", "evaluate", "compact"})


def run_job(name: str, services: Services, *, now: dt.datetime, **kwargs: Any) -> JobResult | None:
    """Run job ``name`` (``prices-XNYS``: job ``prices``) unless it must run once and this replica
    does not lead (None then). A leader's run logs with its epoch.

    The check is made when the run starts: a leader that loses its leadership in the middle of a
    fetch or an ingest finishes it (best effort; their writes are idempotent), while a tick is
    refused inside its own transaction (the fence).
    """
    job = name.split("-", 1)[0]
    election = services.election
    if job in LEADER_JOBS and not services.leads():
        log.debug("job.skipped", job=name, reason="follower")
        return None
    epoch = election.epoch if election is not None and job in LEADER_JOBS else None
    with log_context(epoch=epoch) if epoch is not None else log_context():
        return execute(name, JOBS[job], services, now=now, **kwargs)


def utc_now() -> dt.datetime:
    """The wall clock, tz-aware UTC (read once per job run)."""
    return dt.datetime.now(dt.UTC)


def fetch_trigger(exchange: str, delay_minutes: int) -> tuple[CronTrigger, str]:
    """A cron trigger at the exchange's regular close plus ``delay_minutes`` on its weekdays.

    Returns the trigger and a readable description. A delay that crosses midnight shifts the
    weekdays (Friday's close + 10 h fires on Saturday).
    """
    from apscheduler.triggers.cron import CronTrigger  # noqa: PLC0415 - apscheduler is heavy; loaded only when used

    close = calendars.regular_close(exchange)
    base = dt.datetime.combine(dt.date(2024, 1, 1), close.close)  # a Monday
    at = base + dt.timedelta(minutes=delay_minutes)
    shift = (at.date() - base.date()).days
    days = ",".join(_DAYS[(i + shift) % 7] for i in range(5))
    trigger = CronTrigger(day_of_week=days, hour=at.hour, minute=at.minute, timezone=close.tz)
    return trigger, f"{days} {at:%H:%M} {close.tz}"


def session_of_fetch(exchange: str, now: dt.datetime, delay_minutes: int) -> dt.date:
    """The exchange-local session day a fetch at ``now`` (close + delay) is for."""
    tz = calendars.calendar(exchange).tz
    return (now - dt.timedelta(minutes=delay_minutes)).astimezone(tz).date()


class Schedule:
    """The daemon's scheduler: builds the jobs from ``services.settings`` and runs them on threads."""

    def __init__(self, services: Services, *, clock: Clock = utc_now, workers: int = 4) -> None:
        # APScheduler loads when the schedule is built: after the start-up jobs and the first alerts
        from apscheduler.executors.pool import ThreadPoolExecutor  # noqa: PLC0415 - apscheduler is heavy; loaded only when used
        from apscheduler.schedulers.background import BackgroundScheduler  # noqa: PLC0415 - apscheduler is heavy; loaded only when used

        self.services = services
        self.clock = clock
        s = services.settings.scheduler
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
        self.scheduler = BackgroundScheduler(
            timezone=dt.UTC,
            # fetches run one at a time (one rate-limited source); the other jobs share a pool
            executors={"default": ThreadPoolExecutor(workers), "prices": ThreadPoolExecutor(1)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": s.misfire_grace_s},
        )
        self.exchanges: dict[str, str] = {}

    def run(self, job: str, **kwargs: Any) -> JobResult | None:
        """Run ``job`` now (unless the daemon is stopping), then wake the jobs that follow it."""
        if self.services.stop.is_set():
            return None
        now = self.clock()
        exchange = kwargs.get("exchange")
        delay = self.services.settings.prices.fetch_delay_minutes
        if exchange is not None and not calendars.is_session(
                exchange, session_of_fetch(exchange, now, delay)):
            log.info("prices.skipped", exchange=exchange, reason="not a session")
            return None
        name = f"{job}-{exchange}" if exchange is not None else job  # one status row per exchange
        result = run_job(name, self.services, now=now, **kwargs)
        if result is None:
            return None
        if job == "prices" and result.summary.get("rows"):
            self.wake("evaluate")
        if job == "evaluate" and result.summary.get("notifications"):
            self.wake("deliver")
        return result

    def wake(self, job_id: str) -> None:
        """Make ``job_id`` run as soon as a worker is free (coalesced with its own schedule)."""
        job = self.scheduler.get_job(job_id)
        if job is not None:
            job.modify(next_run_time=utc_now())

    def build(self, exchanges: dict[str, list[str]]) -> None:
        """Add every job: the intervals, the daily compaction and one fetch per exchange."""
        from apscheduler.triggers.cron import CronTrigger  # noqa: PLC0415 - apscheduler is heavy; loaded only when used
        from apscheduler.triggers.interval import IntervalTrigger  # noqa: PLC0415 - apscheduler is heavy; loaded only when used

        s = self.services.settings.scheduler
        add = self.scheduler.add_job
        add(self.run, IntervalTrigger(seconds=s.ingest_every_s), args=["ingest"], id="ingest")
        add(self.run, IntervalTrigger(seconds=s.evaluate_every_s), args=["evaluate"], id="evaluate")
        add(self.run, IntervalTrigger(seconds=s.deliver_every_s), args=["deliver"], id="deliver")
        add(self.run, CronTrigger(hour=s.compact_hour_utc, minute=0, timezone=dt.UTC), args=["compact"],
            id="compact")
        delay = self.services.settings.prices.fetch_delay_minutes
        for exchange, tickers in exchanges.items():
            trigger, when = fetch_trigger(exchange, delay)
            add(self.run, trigger, args=["prices"], kwargs={"exchange": exchange}, id=f"prices-{exchange}",
                executor="prices")
            self.exchanges[exchange] = when
            log.info("prices.scheduled", exchange=exchange, tickers=len(tickers), at=when)

    def start(self) -> None:
        self.scheduler.start()

    def next_runs(self) -> dict[str, str]:
        """Each job's next fire time (ISO, UTC)."""
        return {j.id: j.next_run_time.astimezone(dt.UTC).isoformat() for j in self.scheduler.get_jobs()
                if j.next_run_time is not None}

    def shutdown(self) -> None:
        """Stop scheduling and wait for the jobs in hand to finish."""
        self.scheduler.shutdown(wait=True)
