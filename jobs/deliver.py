"""The deliver job: send the outbox's due notifications through their channels.

At least once: a notification leaves the outbox only when its channel accepted it; failures are
retried with backoff by the outbox (``delivery`` settings) and end as dead letters after the last
attempt. Every attempt carries the notification's idempotency key. Batches of
``delivery.batch_size`` are sent until nothing is due (or the daemon is stopping).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from jobs.services import Services
from metrics.alerting.outbox import deliver_due


def run(services: Services, *, now: dt.datetime) -> dict[str, Any]:
    """Deliver every notification due at ``now``."""

    settings = services.settings.delivery
    summary: dict[str, Any] = {"delivered": 0, "retried": 0, "dead": 0, "disabled": 0, "batches": 0,
                               "failures": []}
    while not services.stop.is_set():
        report = deliver_due(services.db, services.notifiers, now=now, settings=settings)
        summary["batches"] += 1
        for key in ("delivered", "retried", "dead", "disabled"):
            summary[key] += getattr(report, key)
        summary["failures"] += report.errors
        if report.delivered + report.retried + report.dead + report.disabled < settings.batch_size:
            break
    summary["failed"] = summary["dead"]
    return summary
