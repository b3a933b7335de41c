"""The outbox: what a tick enqueues (``outbox_rows``: idempotency keys, silences, digests) and
its delivery.

Delivery through the outbox: at least once, with backoff, dead letters and disabled endpoints.

``deliver_due`` claims the queued notifications whose ``next_attempt_at`` has come, oldest first,
one at a time (``StateDB.claim_due``: a short transaction, ``FOR UPDATE SKIP LOCKED`` on
PostgreSQL, that leases the row to this worker for ``delivery.claim_lease_s``), sends it through
its channel's notifier outside any transaction, then records the outcome and releases the claim.
So several processes (replicas) deliver from one outbox and each notification is sent once; a
worker that dies holding a claim leaves it to be taken over when the lease ends. A notification is
marked ``delivered`` only after the notifier returned, in its own transaction: a crash between the
two re-sends it (after the lease) with the same idempotency key (``Message-ID``, ``webhook-id``),
and the receiver drops the duplicate. That window is the only source of duplicates: at least once,
and exactly once when no process dies between a send and its commit. The lease must exceed one
send's worst time (the channel's timeout); a lease that ran out before the outcome was recorded
leaves the notification to whoever claimed it next (``record_attempt`` checks the claim).

Retry policy (``settings.delivery``): a transient failure schedules the next attempt after an
exponential backoff with full jitter, ``uniform(0, min(max, base * 2**(attempts-1)))``, but never
sooner than the receiver's ``Retry-After``; after ``max_attempts`` the notification is dead
(``status='dead'``, ``last_error``). A permanent failure is dead at once. 410 Gone disables the
channel: its queued notifications then go straight to ``status='disabled'``. A channel that is not
configured (renamed in settings) makes its notifications dead with that reason.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import socket
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from metrics.alerting.notify import Notification, Notifier
from metrics.alerting.render import digest_payload
from metrics.alerting.rules import Rule
from metrics.alerting.state import Silence, StateDB, stable_hash
from metrics.errors import (
    DeliveryError,
    EndpointGoneError,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from metrics.log import get_logger
from metrics.settings import DeliverySettings

log = get_logger(__name__)


@dataclass
class DeliveryReport:
    """What one ``deliver_due`` run did: counts per outcome and the errors met."""

    delivered: int = 0
    retried: int = 0
    dead: int = 0
    disabled: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def attempted(self) -> int:
        return self.delivered + self.retried + self.dead

    def as_dict(self) -> dict[str, Any]:
        return {"delivered": self.delivered, "retried": self.retried, "dead": self.dead,
                "disabled": self.disabled, "errors": list(self.errors)}


def backoff_delay(attempts: int, settings: DeliverySettings, rng: random.Random,
                  retry_after: float | None = None) -> float:
    """Seconds before the next attempt after ``attempts`` failed ones (full jitter, Retry-After floor)."""
    cap = min(settings.backoff_max_s, settings.backoff_base_s * 2 ** max(0, attempts - 1))
    delay = rng.uniform(0.0, cap)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return delay


def worker_id() -> str:
    """A name for one delivering worker: host, process id and a random suffix (unique per call)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def deliver_due(db: StateDB, notifiers: Mapping[str, Notifier], *, now: dt.datetime,
                settings: DeliverySettings | None = None, rng: random.Random | None = None,
                limit: int | None = None, worker: str | None = None) -> DeliveryReport:
    """Claim and send up to ``limit`` (``settings.batch_size``) due notifications of the outbox as
    ``worker`` (default: a fresh ``worker_id()``); see the module docstring for the policy.

    Each claim's lease starts at ``now`` plus the time this call has run so far, so a long run
    never hands out leases that are already over."""
    settings = settings or DeliverySettings()
    rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
    worker = worker or worker_id()
    lease = dt.timedelta(seconds=settings.claim_lease_s)
    started = time.monotonic()
    report = DeliveryReport()
    disabled = set(db.disabled_endpoints())
    for _ in range(limit or settings.batch_size):
        until = now + dt.timedelta(seconds=time.monotonic() - started) + lease
        claimed = db.claim_due(now=now, limit=1, worker=worker, until=until)
        if not claimed:
            break
        row = claimed[0]
        channel = row["channel"]
        if channel in disabled:
            db.record_attempt(row, now=now, status="disabled", attempts=row["attempts"],
                              error=f"endpoint {channel!r} disabled")
            report.disabled += 1
            log.warning("outbox.disabled", id=row["id"], key=row["idempotency_key"], channel=channel)
            continue
        notifier = notifiers.get(channel)
        attempts = row["attempts"] + 1
        if notifier is None:
            db.record_attempt(row, now=now, status="dead", attempts=attempts,
                              error=f"channel {channel!r} is not configured")
            report.dead += 1
            report.errors.append(f"{row['idempotency_key'][:12]}: channel {channel!r} not configured")
            log.error("outbox.dead", id=row["id"], key=row["idempotency_key"], channel=channel,
                      error="channel not configured")
            continue
        n = Notification(key=row["idempotency_key"], rule=row["rule"], entity=row["entity"],
                         state=row["state"], channel=channel, payload=row["payload"], now=now,
                         id=row["id"], attempt=attempts)
        try:
            notifier.send(n)
        except TransientDeliveryError as e:
            if attempts >= settings.max_attempts:
                db.record_attempt(row, now=now, status="dead", attempts=attempts, error=str(e))
                report.dead += 1
                report.errors.append(f"{n.key[:12]}: {e}")
                log.error("outbox.dead", id=n.id, key=n.key, channel=channel, attempts=attempts,
                          error=str(e))
                continue
            delay = backoff_delay(attempts, settings, rng, e.retry_after)
            next_at = now + dt.timedelta(seconds=delay)
            db.record_attempt(row, now=now, status="queued", attempts=attempts, error=str(e),
                              next_at=next_at)
            report.retried += 1
            log.warning("outbox.retry_scheduled", id=n.id, key=n.key, channel=channel, attempts=attempts,
                        delay_s=round(delay, 3), retry_after=e.retry_after, error=str(e))
            continue
        except PermanentDeliveryError as e:
            db.record_attempt(row, now=now, status="dead", attempts=attempts, error=str(e),
                              disable_channel=isinstance(e, EndpointGoneError))
            if isinstance(e, EndpointGoneError):
                disabled.add(channel)
                log.error("outbox.endpoint_disabled", channel=channel, error=str(e))
            report.dead += 1
            report.errors.append(f"{n.key[:12]}: {e}")
            log.error("outbox.dead", id=n.id, key=n.key, channel=channel, attempts=attempts, error=str(e))
            continue
        except DeliveryError as e:  # pragma: no cover - every notifier raises one of the two above
            raise TypeError(f"notifier {channel!r} raised a bare DeliveryError") from e
        db.record_attempt(row, now=now, status="delivered", attempts=attempts, error=None)
        report.delivered += 1
        log.info("outbox.delivered", id=n.id, key=n.key, channel=channel, attempts=attempts)
    return report


# -- enqueueing -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One notification to send, before it is split per channel."""

    rule: Rule
    entity: str
    payload: dict[str, Any]
    fired_at: dt.datetime | None
    statement: str | None
    repeat: int


def outbox_rows(outbox: Sequence[Outgoing], silences: Sequence[Silence], *, at: dt.datetime,
                now: dt.datetime) -> list[dict[str, Any]]:
    """The outbox rows of one tick at ``at``: a silenced notification alone (status ``silenced``),
    the others one per channel, or one digest (``metrics.alerting.render.digest_payload``) per
    channel when the tick has several for it."""
    due = at if at < now else now
    rows: list[dict[str, Any]] = []
    per_channel: dict[str, list[dict[str, Any]]] = {}
    for o in outbox:
        muted = any(s.matches(o.rule.name, o.entity, now=now) for s in silences)
        for channel in o.rule.channels:
            row = {"idempotency_key": idempotency_key(o.rule.name, o.entity, o.payload["state"],
                                                      fired_at=o.fired_at, statement=o.statement,
                                                      repeat=o.repeat, channel=channel),
                   "rule": o.rule.name, "entity": o.entity, "state": o.payload["state"],
                   "channel": channel, "payload": o.payload, "created_at": now, "next_attempt_at": due,
                   "attempts": 0, "status": "silenced" if muted else "queued"}
            (rows if muted else per_channel.setdefault(channel, [])).append(row)
    for channel, group in per_channel.items():
        if len(group) == 1:
            rows.extend(group)
            continue
        keys = sorted(r["idempotency_key"] for r in group)
        payload = digest_payload([{**r["payload"], "key": r["idempotency_key"]} for r in group], at=at)
        rows.append({"idempotency_key": stable_hash("digest", channel, *keys), "rule": "digest",
                     "entity": payload["entity"], "state": payload["state"], "channel": channel,
                     "payload": payload, "created_at": now, "next_attempt_at": due, "attempts": 0,
                     "status": "queued"})
    return rows


def repeat_number(fired_at: dt.datetime | None, at: dt.datetime, interval: dt.timedelta) -> int:
    """Which reminder of a firing alert a notification at ``at`` is (0: the first notification)."""
    if fired_at is None or interval <= dt.timedelta(0) or at <= fired_at:
        return 0
    return int((at - fired_at) // interval)


def idempotency_key(rule: str, entity: str, state: str, *, fired_at: dt.datetime | None,
                    statement: str | None, repeat: int, channel: str) -> str:
    """A notification's idempotency key: sha256 of rule|entity|state|fired_at|statement|repeat-no|channel."""
    return stable_hash(rule, entity, state, fired_at, statement, repeat, channel)


def requeue_dead(db: StateDB, *, now: dt.datetime, channel: str | None = None) -> int:
    """Queue dead and disabled notifications (of one channel, or all) again and re-enable the endpoint(s)."""
    return db.requeue_dead(now=now, channel=channel)
