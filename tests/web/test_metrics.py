"""``/metrics``: the Prometheus text format, parsed with prometheus_client's own parser."""

from __future__ import annotations

import datetime as dt

from prometheus_client.parser import text_string_to_metric_families

from metrics.alerting.state import open_db
from tests.web.conftest import Site
from tests.web.helpers import client


def scrape(site: Site) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of ``/metrics``: (name, sorted labels) -> value."""
    with client(site) as c:
        r = c.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain; version=")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(r.text) for s in family.samples}


def test_metrics_count_alerts_notifications_and_the_outbox(built_site: Site) -> None:
    """Alerts by rule and state, notifications by channel and status, attempts and the outbox are exported."""
    m = scrape(built_site)
    assert m[("metrics_state_db_up", ())] == 1.0
    assert m[("metrics_alerts", (("rule", "acme-under-100"), ("state", "firing")))] == 1.0
    assert m[("metrics_alerts", (("rule", "bolt-over-50"), ("state", "inactive")))] == 1.0
    assert m[("metrics_alert_transitions_total", (("rule", "acme-under-100"), ("state", "pending")))] == 2.0
    assert m[("metrics_notifications", (("channel", "ops"), ("status", "queued")))] == 5.0
    assert m[("metrics_delivery_attempts_total", (("channel", "ops"), ("outcome", "retry")))] == 5.0
    assert m[("metrics_outbox_queued", ())] == 5.0
    assert m[("metrics_outbox_dead_letters", ())] == 0.0
    # the first ops notification was due at NOW - 30 min + its backoff (under 30 s)
    assert 29 * 60 < m[("metrics_outbox_oldest_due_age_seconds", ())] <= 30 * 60
    assert m[("metrics_documents", (("status", "failed"),))] == 1.0
    assert m[("metrics_last_evaluation_timestamp_seconds", ())] == dt.datetime(
        2026, 3, 6, 21, tzinfo=dt.UTC).timestamp()


def test_metrics_of_job_runs(site: Site) -> None:
    """Runs, durations, last success, ingest counts and price fetch failures come from job_runs."""
    db = open_db(site.settings.database_url)
    t0 = dt.datetime(2026, 3, 6, 20, tzinfo=dt.UTC)
    try:
        for i, (job, status, summary) in enumerate([
                ("ingest", "ok", {"documents": 2, "facts": 7, "failed": 1, "duration_s": 1.5}),
                ("ingest", "ok", {"documents": 1, "facts": 3, "failed": 0, "duration_s": 0.5}),
                ("prices-XNYS", "ok", {"tickers": 4, "failed": 3, "duration_s": 2.0}),
                ("evaluate", "failed", {"error": "boom", "duration_s": 0.25})]):
            run = db.start_job(job, now=t0 + dt.timedelta(minutes=i))
            db.finish_job(run, now=t0 + dt.timedelta(minutes=i, seconds=5), status=status, summary=summary)
        db.start_job("deliver", now=t0)
    finally:
        db.close()
    m = scrape(site)
    assert m[("metrics_job_runs_total", (("job", "ingest"), ("status", "ok")))] == 2.0
    assert m[("metrics_job_duration_seconds_total", (("job", "ingest"), ("status", "ok")))] == 2.0
    assert m[("metrics_job_runs_total", (("job", "evaluate"), ("status", "failed")))] == 1.0
    assert m[("metrics_job_last_success_timestamp_seconds", (("job", "ingest"),))] == (
        t0 + dt.timedelta(minutes=1, seconds=5)).timestamp()
    assert ("metrics_job_last_success_timestamp_seconds", (("job", "evaluate"),)) not in m
    assert m[("metrics_job_running", (("job", "deliver"),))] == 1.0
    assert m[("metrics_ingest_documents_total", ())] == 3.0
    assert m[("metrics_ingest_facts_total", ())] == 10.0
    assert m[("metrics_ingest_failures_total", ())] == 1.0
    assert m[("metrics_price_fetch_failures_total", (("job", "prices-XNYS"),))] == 3.0


def test_every_metric_the_readme_names_is_exported(built_site: Site) -> None:
    """The README's metric table and sample alert rules name only metrics that /metrics serves."""
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Prometheus", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"\bmetrics_[a-z_]+[a-z]", section))
    with client(built_site) as c:
        families = list(text_string_to_metric_families(c.get("/metrics").text))
    exported = {f.name for f in families} | {f"{f.name}_total" for f in families if f.type == "counter"}
    assert named and named <= exported, named - exported


def test_a_broken_state_database_still_answers_the_scrape(site: Site) -> None:
    """A state database that fails to answer gives metrics_state_db_up 0 (for Prometheus to page on)."""
    import sqlite3
    from contextlib import closing

    with client(site) as c:
        with closing(sqlite3.connect(site.settings.root / "state.db")) as raw:
            raw.execute("DROP TABLE job_runs")      # after the app opened (and migrated) it
        r = c.get("/metrics")
    assert r.status_code == 200
    m = {s.name: s.value for family in text_string_to_metric_families(r.text) for s in family.samples}
    assert m["metrics_state_db_up"] == 0.0
    assert not any(name.startswith("metrics_job_") for name in m)
