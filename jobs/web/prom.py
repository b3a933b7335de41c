"""``/metrics``: the daemon's health in the Prometheus text format, read from the state database.

A custom collector (``StateCollector``) reads the state database (and the store's document
registry) at scrape time, so the numbers are the same whether ``metrics serve`` or the daemon
answers, and they survive restarts. Families (all prefixed ``metrics_``)::

    job_runs_total{job,status}                  counter  runs recorded in job_runs
    job_duration_seconds_sum/_count{job,status} counter  summed run durations
    job_last_success_timestamp_seconds{job}     gauge    end of the last ok run
    job_running{job}                            gauge    runs started and not finished
    ingest_documents_total, ingest_facts_total, ingest_failures_total   counters of the ingest job
    documents{status}                           gauge    documents in the registry (ok, failed)
    price_fetch_failures_total{job}             counter  tickers that failed in price fetch runs
    alerts{rule,state}                          gauge    alert instances by state
    alert_transitions_total{rule,state}         counter  state changes
    notifications{channel,status}               gauge    outbox rows by status
    delivery_attempts_total{channel,outcome}    counter  send attempts
    outbox_queued, outbox_oldest_due_age_seconds, outbox_dead_letters   gauges
    silences_active                             gauge
    last_evaluation_timestamp_seconds           gauge    the rule set's last evaluation time
    state_db_up                                 gauge    1 when the state database answered
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import polars as pl
import sqlalchemy as sa
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from metrics.alerting.state import (
    StateDB,
    alert_states,
    delivery_attempts,
    evaluations,
    job_runs,
    notifications,
    silences,
    transitions,
)
from metrics.errors import StoreError
from metrics.log import get_logger
from metrics.store.tables import Store

CONTENT_TYPE = CONTENT_TYPE_LATEST
log = get_logger(__name__)


def _ts(v: dt.datetime | None) -> float:
    return v.timestamp() if v is not None else 0.0


def _summed(key: str) -> sa.ColumnElement[float]:
    """sum(summary[key]) of job_runs as a float (JSON path: SQLite json_extract, PostgreSQL ->>)."""
    return sa.func.coalesce(sa.func.sum(job_runs.c.summary[key].as_float()), 0.0)


class StateCollector(Collector):
    """Collects every family of the module docstring from ``db`` and ``store`` at ``now()``."""

    def __init__(self, db: StateDB, store: Store | None, *, now: Callable[[], dt.datetime]) -> None:
        self.db = db
        self.store = store
        self.now = now

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("metrics_state_db_up", "1 when the state database answered the scrape.")
        try:
            families = list(self._from_db())
        except (StoreError, sa.exc.SQLAlchemyError) as e:
            log.warning("web.metrics_failed", error=str(e))
            up.add_metric([], 0.0)
            yield up
            return
        up.add_metric([], 1.0)
        yield up
        yield from families
        yield from self._from_store()

    def _from_db(self) -> Iterator[Metric]:
        now = self.now()
        with self.db.read() as conn:
            runs = CounterMetricFamily(
                "metrics_job_runs", "Job runs recorded, by job and status.", labels=["job", "status"]
            )
            dur = CounterMetricFamily(
                "metrics_job_duration_seconds", "Summed duration of job runs.", labels=["job", "status"]
            )
            q = (
                sa.select(job_runs.c.job, job_runs.c.status, sa.func.count(), _summed("duration_s"))
                .where(job_runs.c.status != "running")
                .group_by(job_runs.c.job, job_runs.c.status)
            )
            for job, status, n, total in conn.execute(q):
                runs.add_metric([job, status], float(n))
                dur.add_metric([job, status], float(total or 0.0))
            yield runs
            yield dur

            last_ok = GaugeMetricFamily(
                "metrics_job_last_success_timestamp_seconds",
                "Unix time the job's last successful run ended.",
                labels=["job"],
            )
            for job, at in conn.execute(
                sa.select(job_runs.c.job, sa.func.max(job_runs.c.finished_at))
                .where(job_runs.c.status == "ok")
                .group_by(job_runs.c.job)
            ):
                last_ok.add_metric([job], _ts(at))
            yield last_ok

            running = GaugeMetricFamily(
                "metrics_job_running", "Runs started and not finished.", labels=["job"]
            )
            for job, n in conn.execute(
                sa.select(job_runs.c.job, sa.func.count())
                .where(job_runs.c.status == "running")
                .group_by(job_runs.c.job)
            ):
                running.add_metric([job], float(n))
            yield running

            ingest = conn.execute(
                sa.select(_summed("documents"), _summed("facts"), _summed("failed")).where(
                    job_runs.c.job == "ingest"
                )
            ).one()
            for name, text, value in (
                ("metrics_ingest_documents", "Documents ingested by the daemon's ingest job.", ingest[0]),
                ("metrics_ingest_facts", "Facts stored by the daemon's ingest job.", ingest[1]),
                ("metrics_ingest_failures", "Documents that failed in the ingest job.", ingest[2]),
            ):
                yield CounterMetricFamily(name, text, value=float(value or 0.0))

            fetch = CounterMetricFamily(
                "metrics_price_fetch_failures", "Tickers that failed in price fetch runs.", labels=["job"]
            )
            for job, failed in conn.execute(
                sa.select(job_runs.c.job, _summed("failed"))
                .where(job_runs.c.job.like("prices%"))
                .group_by(job_runs.c.job)
            ):
                fetch.add_metric([job], float(failed or 0.0))
            yield fetch

            yield _counts(GaugeMetricFamily(
                "metrics_alerts", "Alert instances by rule and state.", labels=["rule", "state"]
            ), conn, alert_states.c.rule, alert_states.c.state)
            yield _counts(CounterMetricFamily(
                "metrics_alert_transitions", "Alert state changes by rule and state.",
                labels=["rule", "state"],
            ), conn, transitions.c.rule, transitions.c.state)
            yield _counts(GaugeMetricFamily(
                "metrics_notifications", "Notifications in the outbox by channel and status.",
                labels=["channel", "status"],
            ), conn, notifications.c.channel, notifications.c.status)
            yield _counts(CounterMetricFamily(
                "metrics_delivery_attempts", "Send attempts by channel and outcome.",
                labels=["channel", "outcome"],
            ), conn, notifications.c.channel, delivery_attempts.c.outcome,
                join=(notifications, notifications.c.id == delivery_attempts.c.notification_id))

            queued = conn.execute(
                sa.select(sa.func.count()).where(notifications.c.status == "queued")
            ).scalar()
            oldest_due = conn.execute(
                sa.select(sa.func.min(notifications.c.next_attempt_at)).where(
                    notifications.c.status == "queued", notifications.c.next_attempt_at <= now
                )
            ).scalar()
            dead = conn.execute(sa.select(sa.func.count()).where(notifications.c.status == "dead")).scalar()
            active = conn.execute(
                sa.select(sa.func.count())
                .select_from(silences)
                .where(silences.c.created_at <= now, silences.c.expires_at > now)
            ).scalar()
            last_eval = conn.execute(sa.select(sa.func.max(evaluations.c.at))).scalar()
        yield GaugeMetricFamily(
            "metrics_outbox_queued", "Notifications waiting to be sent.", value=float(queued or 0)
        )
        yield GaugeMetricFamily(
            "metrics_outbox_oldest_due_age_seconds",
            "How long the oldest due notification has been waiting (0: none due).",
            value=max(0.0, (now - oldest_due).total_seconds()) if oldest_due else 0.0,
        )
        yield GaugeMetricFamily(
            "metrics_outbox_dead_letters", "Notifications given up on (dead letters).", value=float(dead or 0)
        )
        yield GaugeMetricFamily("metrics_silences_active", "Silences in force.", value=float(active or 0))
        yield GaugeMetricFamily(
            "metrics_last_evaluation_timestamp_seconds",
            "Unix time of the rule set's last evaluation (0: never).",
            value=_ts(last_eval),
        )

    def _from_store(self) -> Iterator[Metric]:
        docs = GaugeMetricFamily(
            "metrics_documents", "Documents in the store's registry by status.", labels=["status"]
        )
        if self.store is not None:
            try:
                df = self.store.scan("documents").group_by("status").agg(pl.len()).collect()
            except Exception as e:  # a damaged registry must not break the scrape
                log.warning("web.metrics_documents_failed", error=str(e))
            else:
                for status, n in df.iter_rows():
                    docs.add_metric([str(status)], float(n))
        yield docs


def exposition(db: StateDB, store: Store | None, *, now: dt.datetime) -> bytes:
    """The text exposition of ``StateCollector`` at ``now``."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StateCollector(db, store, now=lambda: now))
    return generate_latest(registry)


def _counts(
    family: GaugeMetricFamily | CounterMetricFamily, conn: sa.Connection, *columns: Any,
    join: tuple[Any, Any] | None = None,
) -> Metric:
    """``family`` with one sample per group of ``columns``: the number of rows in that group."""
    query = sa.select(*columns, sa.func.count())
    if join is not None:
        query = query.join(*join)
    for *labels, n in conn.execute(query.group_by(*columns)):
        family.add_metric([str(v) for v in labels], float(n))
    return family
