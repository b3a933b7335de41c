"""The state database's schema: its tables, the UTC timestamp type, and the row value types.

Owns the SQLAlchemy ``metadata`` and every table of the state database (listed in
``metrics.alerting.state``), the conversions between an ``alert_states`` row and ``AlertState``,
and the value types a tick writes (``TickWrites``) and a silence holds (``Silence``). No I/O here:
``metrics.alerting.state_engine`` opens the database and ``metrics.alerting.state`` reads and writes it.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from metrics.alerting.lifecycle import AlertState

LEADERSHIP = "daemon"   # the name of the one row of ``leadership``
NOTIFICATION_STATUSES = ("queued", "delivered", "dead", "disabled", "silenced")


class UTCDateTime(sa.types.TypeDecorator[dt.datetime]):
    """A timestamp stored as naive UTC and read back tz-aware (SQLite keeps no zone)."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: sa.Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: the state database stores UTC only")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(self, value: dt.datetime | None, dialect: sa.Dialect) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


TS = UTCDateTime()
metadata = sa.MetaData()

meta = sa.Table(
    "meta", metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.String(256), nullable=False),
)

alert_states = sa.Table(
    "alert_states", metadata,
    sa.Column("rule", sa.String(200), primary_key=True),
    sa.Column("entity", sa.String(200), primary_key=True),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("active_since", TS),
    sa.Column("pending_evals", sa.Integer, nullable=False, default=0),
    sa.Column("fired_at", TS),
    sa.Column("cleared_since", TS),
    sa.Column("cleared_evals", sa.Integer, default=0),      # null in files from before it
    sa.Column("last_notified_at", TS),
    sa.Column("value", sa.Float),
    sa.Column("statement", sa.String(200)),
    sa.Column("fired_fields", sa.JSON),                     # template values when it fired
    sa.Column("notified_state", sa.String(16)),             # last told: none | firing | resolved
    sa.Column("notified_fired_at", TS),
    sa.Column("notified_at", TS),
    sa.Column("updated_at", TS, nullable=False),
)

transitions = sa.Table(
    "transitions", metadata,
    sa.Column("alert_id", sa.String(64), primary_key=True),
    sa.Column("rule", sa.String(200), nullable=False),
    sa.Column("entity", sa.String(200), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("at", TS, nullable=False),
    sa.Column("value", sa.Float),
    sa.Column("severity", sa.String(32)),
    sa.Column("summary", sa.Text),
    sa.Column("statement", sa.String(200)),
    sa.Column("recorded", sa.Boolean, nullable=False, default=False),
    sa.Column("created_at", TS, nullable=False),
    sa.Index("ix_transitions_recorded", "recorded"),
)

notifications = sa.Table(
    "notifications", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("idempotency_key", sa.String(64), nullable=False, unique=True),
    sa.Column("rule", sa.String(200), nullable=False),
    sa.Column("entity", sa.String(200), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("channel", sa.String(100), nullable=False),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("next_attempt_at", TS, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("status", sa.String(16), nullable=False, default="queued"),
    sa.Column("last_error", sa.Text),
    sa.Column("delivered_at", TS),
    sa.Column("claimed_by", sa.String(200)),                # the delivering worker holding the lease
    sa.Column("claim_until", TS),                           # its lease ends (another may claim after)
    sa.Index("ix_notifications_due", "status", "next_attempt_at"),
)

delivery_attempts = sa.Table(
    "delivery_attempts", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("notification_id", sa.Integer, nullable=False, index=True),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("at", TS, nullable=False),
    sa.Column("outcome", sa.String(16), nullable=False),   # delivered | retry | dead | disabled
    sa.Column("error", sa.Text),
)

silences = sa.Table(
    "silences", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("rule", sa.String(200), nullable=False),
    sa.Column("entity", sa.String(200)),                    # null: every entity of the rule
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("expires_at", TS, nullable=False),
)

endpoints = sa.Table(
    "endpoints", metadata,
    sa.Column("channel", sa.String(100), primary_key=True),
    sa.Column("disabled_at", TS),
    sa.Column("reason", sa.Text),
)

evaluations = sa.Table(
    "evaluations", metadata,
    sa.Column("at", TS, primary_key=True),                  # the evaluation time of the rule set
    sa.Column("ran_at", TS, nullable=False),                # wall time of the run
    sa.Column("rules", sa.Integer, nullable=False),
    sa.Column("instances", sa.Integer, nullable=False),
    sa.Column("transitions", sa.Integer, nullable=False),
    sa.Column("notifications", sa.Integer, nullable=False),
)

job_runs = sa.Table(
    "job_runs", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("job", sa.String(100), nullable=False, index=True),
    sa.Column("started_at", TS, nullable=False),
    sa.Column("finished_at", TS),
    sa.Column("status", sa.String(16), nullable=False),     # running | ok | failed
    sa.Column("summary", sa.JSON),
)

leadership = sa.Table(
    "leadership", metadata,
    sa.Column("name", sa.String(64), primary_key=True),    # "daemon": the one leadership there is
    sa.Column("epoch", sa.BigInteger, nullable=False),      # bumped by every new leader (fencing token)
    sa.Column("holder", sa.String(200)),                    # the leader's replica id (host:pid)
    sa.Column("since", TS),                                 # when it became leader
    sa.Column("heartbeat_at", TS),                          # the leader's last heartbeat
)

replicas = sa.Table(
    "replicas", metadata,
    sa.Column("replica_id", sa.String(200), primary_key=True),   # host:pid
    sa.Column("host", sa.String(200), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("started_at", TS, nullable=False),
    sa.Column("heartbeat_at", TS, nullable=False),
    sa.Column("role", sa.String(16), nullable=False),             # leader | follower
    sa.Column("epoch", sa.BigInteger),                            # the leader's epoch (null: follower)
)

ALERT_STATE_FIELDS = ("rule", "entity", "state", "active_since", "pending_evals", "fired_at",
                      "cleared_since", "cleared_evals", "last_notified_at", "value", "statement",
                      "fired_fields", "notified_state", "notified_fired_at", "notified_at")


def to_state(row: Mapping[str, Any]) -> AlertState:
    """The ``AlertState`` of an ``alert_states`` row (a row from before the notified_* columns, where
    ``notified_state`` is null, counts a firing alert as notified)."""
    fields: dict[str, Any] = {f: row.get(f) for f in ALERT_STATE_FIELDS}
    fields["cleared_evals"] = fields["cleared_evals"] or 0
    fields["pending_evals"] = fields["pending_evals"] or 0
    if fields["notified_state"] is None and fields["state"] == "firing":
        fields["notified_state"], fields["notified_fired_at"] = "firing", fields["fired_at"]
    return AlertState(**fields)


def state_row(s: AlertState, *, now: dt.datetime) -> dict[str, Any]:
    """The ``alert_states`` row of ``s``, updated at ``now``."""
    row = {f: getattr(s, f) for f in ALERT_STATE_FIELDS}
    v = row["value"]
    row["value"] = None if isinstance(v, float) and not math.isfinite(v) else v
    row["updated_at"] = now
    return row


@dataclass
class TickWrites:
    """What one evaluation tick writes, in one transaction (``StateDB.apply_tick``)."""

    states: list[AlertState] = field(default_factory=list)        # changed instances
    transitions: list[dict[str, Any]] = field(default_factory=list)
    notifications: list[dict[str, Any]] = field(default_factory=list)
    evaluation: dict[str, Any] = field(default_factory=dict)       # the ``evaluations`` row


@dataclass(frozen=True, slots=True)
class Silence:
    """A rule (and optionally one entity) muted until ``expires_at``."""

    id: int
    rule: str
    entity: str | None
    reason: str
    created_at: dt.datetime
    expires_at: dt.datetime

    def matches(self, rule: str, entity: str, *, now: dt.datetime) -> bool:
        """True when this silence covers ``(rule, entity)`` at ``now``."""
        return (self.rule == rule and (self.entity is None or self.entity == entity)
                and self.created_at <= now < self.expires_at)
