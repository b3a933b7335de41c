"""The daemon's main: lock the store, check the configuration, run the start-up jobs, then schedule.

Start-up, in order: on SQLite take ``<root>/daemon.lock`` (a second daemon on the same store exits 2
naming the holder; the lock is the leadership); on PostgreSQL no file lock: replicas, sharing a
root or not, elect a leader through the state database (``jobs.leader``), and only the leader runs
the jobs that must run once (``jobs.scheduler.LEADER_JOBS``); load the company registry and the
rules (an error refuses to start: exit 2, naming the file, rule and field); seed prices from
``prices.seed_files`` if the store has none; then ingest, prices, evaluate (replaying missed
closes) and deliver run at once. On a first start (just seeded) the fetch is left to its schedule
so that facts and alerts show immediately, even offline. The web view (``[http] enabled``) starts
once those jobs are done, so that loading it does not delay the first alerts; its bind address is
checked before any job (a public address without a token refuses to start).
``--once`` runs every job (compact too) and exits; otherwise the schedule of ``jobs.scheduler``
takes over until SIGTERM or SIGINT, which let the jobs in hand finish (a replay stops after its
current tick) and exit 0.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from types import FrameType

from jobs.leader import HEARTBEAT_S, Election, LeaderLock, replica_id
from jobs.lock import DaemonLock
from jobs.prices import tickers_by_exchange
from jobs.runner import JobResult
from jobs.scheduler import LEADER_JOBS, Clock, Schedule, run_job, utc_now
from jobs.services import Services, build_services
from jobs.web.server import check_bind, serving
from metrics.alerting.leader import AdvisoryLock, FileLockHeld, is_postgres
from metrics.errors import ConfigError
from metrics.log import get_logger
from metrics.settings import Settings
from metrics.store.prices import PriceSource

log = get_logger("jobs.daemon")

SQLITE_HEARTBEAT_S = 5.0   # one daemon per root there: the heartbeat only feeds ``metrics status``
STARTUP_JOBS = ("seed", "ingest", "prices", "evaluate", "deliver")
ONCE_JOBS = (*STARTUP_JOBS, "compact")
# A first start (the store was just seeded from the sample) shows alerts at once: the fetch waits
# for its schedule. A restart fetches first, so the closes it replays have their bars.
FIRST_START_JOBS = ("ingest", "evaluate", "deliver")


@contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """While inside, SIGTERM and SIGINT set ``stop`` (the jobs in hand finish); then restore.

    The handler only sets the event: it runs on the main thread between two bytecodes, possibly
    while that thread holds the log's lock, so the ``daemon.stopping`` event is logged by a watcher
    thread instead.
    """
    if threading.current_thread() is not threading.main_thread():  # signals only reach the main thread
        yield
        return
    received: list[str] = []

    def handler(signum: int, _frame: FrameType | None) -> None:
        received.append(signal.Signals(signum).name)
        stop.set()

    def watch() -> None:
        stop.wait()
        if received:
            log.info("daemon.stopping", signal=received[0], pid=os.getpid())

    previous = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}
    watcher = threading.Thread(target=watch, name="stop-watcher", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
        stop.set()  # ends the watcher (it logs only if a signal came)
        watcher.join(timeout=5)


def run_jobs(services: Services, names: tuple[str, ...], clock: Clock) -> list[JobResult]:
    """Run ``names`` in order, each with its own reading of the clock (a follower skips those only
    the leader runs); stop early on a signal."""
    results = []
    for name in names:
        if services.stop.is_set():
            break
        result = run_job(name, services, now=clock())
        if result is not None:
            results.append(result)
    return results


def mark_interrupted(services: Services, *, now: dt.datetime,
                     only: frozenset[str] | None = None) -> list[str]:
    """Record as ``interrupted`` the runs a killed daemon left ``running``; returns their jobs.

    Called once the leadership is held: no other daemon can be running them. With several
    replicas (``only``: the jobs only the leader runs) the others' deliveries are left alone.
    """
    names = []
    for run in services.db.last_job_runs():
        if run["status"] == "running" and (only is None or run["job"].split("-", 1)[0] in only):
            services.db.finish_job(run["id"], now=now, status="interrupted", summary={
                "error": "interrupted: the daemon stopped (killed?) before this run finished"})
            names.append(run["job"])
    return names


def exit_status(results: list[JobResult]) -> int:
    """0 when every job ran and no input failed; 1 when a job raised or some inputs failed."""
    return 1 if any(r.status != "ok" or r.inputs_failed for r in results) else 0


def main(settings: Settings, *, once: bool = False, now: dt.datetime | None = None,
         price_source: PriceSource | None = None, clock: Clock | None = None) -> int:
    """Run the daemon; returns the exit status. Raises ``ConfigError`` (refused) or ``DaemonLocked``.

    ``now`` (tests and replays, with ``once``) fixes the time every job sees; ``clock`` (tests on a
    simulated clock) gives it at each reading. Leadership runs on the wall clock either way.
    """
    if clock is None:
        clock = (lambda: now) if now is not None else utc_now
    replica = replica_id()
    postgres = is_postgres(settings.database_url)
    services = build_services(settings, price_source=price_source, application_name=replica)
    store_lock: AbstractContextManager[object] = (
        nullcontext() if postgres else DaemonLock(settings.root, now=clock()))
    try:
        with stop_on_signals(services.stop), store_lock:
            services.registry  # noqa: B018 - a bad companies file refuses to start
            if services.notifiers and services.channel_errors:  # a channel that cannot send refuses too
                name, error = sorted(services.channel_errors.items())[0]
                raise ConfigError(error, source=settings.config / "settings.toml", key=f"channels.{name}")
            rules = services.rules.load()
            services.store.init()  # missing tables are created here, once, before any writer runs
            interrupted: list[str] = []

            def acquired(epoch: int) -> None:
                del epoch
                only = LEADER_JOBS if postgres else None
                interrupted[:] = mark_interrupted(services, now=clock(), only=only)

            lock: LeaderLock = AdvisoryLock(settings.database_url, application_name=replica) if postgres \
                else FileLockHeld()
            services.election = Election(services.db, lock, replica=replica, on_acquired=acquired,
                                         stopping=services.stop,
                                         heartbeat_s=HEARTBEAT_S if postgres else SQLITE_HEARTBEAT_S)
            services.election.start()   # one round now: a lone replica leads before its first job
            log.info("daemon.started", pid=os.getpid(), root=str(settings.root), once=once,
                     rules=len(rules), rules_file=str(settings.rules_file), inbox=str(settings.inbox),
                     channels=sorted(settings.channels), interrupted=interrupted, replica=replica,
                     leader=services.leads(), epoch=services.election.epoch)
            if once:
                results = run_jobs(services, ONCE_JOBS, clock)
                log.info("daemon.stopped", once=True, jobs=len(results))
                return exit_status(results)
            if settings.http.enabled:
                check_bind(settings.http.host, settings)
            return _serve(services, clock)
    finally:
        if services.election is not None:
            services.election.stop()
        services.close()


def _serve(services: Services, clock: Clock) -> int:
    """The start-up jobs, then the schedule until a signal sets ``services.stop``."""

    seeded = run_jobs(services, ("seed",), clock)
    first_start = bool(seeded and seeded[0].summary.get("files"))
    if first_start:
        log.info("daemon.first_start", seeded=seeded[0].summary.get("rows"),
                 prices="fetched after each exchange's next close (or: metrics prices fetch)")
    run_jobs(services, FIRST_START_JOBS if first_start else STARTUP_JOBS[1:], clock)
    if services.stop.is_set():
        log.info("daemon.stopped", once=False)
        return 0
    with serving(services.settings):  # the web view and /metrics when [http] enabled
        log.info("daemon.ready", see_alerts="metrics alerts", see_jobs="metrics status",
                 query='metrics query "select * from facts"', stop="Ctrl-C or SIGTERM")
        schedule = Schedule(services, clock=clock)
        schedule.build(tickers_by_exchange(services))
        schedule.start()
        log.info("daemon.scheduled", next=schedule.next_runs())
        while not services.stop.wait(1.0):
            pass
        schedule.shutdown()
    log.info("daemon.stopped", once=False)
    return 0
