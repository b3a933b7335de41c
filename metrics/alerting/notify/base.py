"""The notification value and the ``Notifier`` protocol (contract in ``metrics.alerting.notify``).

Kept apart from the package so the implementations (email, webhook, log) import it without a cycle.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class Notification:
    """One notification for one channel, as the outbox hands it to a notifier."""

    key: str                       # idempotency key: identical on every attempt
    rule: str
    entity: str
    state: str                     # firing | resolved
    channel: str
    payload: Mapping[str, Any]     # see metrics.alerting.render for the fields
    now: dt.datetime               # time of this attempt (signature timestamps, Date header)
    id: int = 0                    # outbox row id (0 when not from the outbox)
    attempt: int = 1               # 1 for the first attempt


@runtime_checkable
class Notifier(Protocol):
    """Sends notifications through one configured channel (see the module docstring)."""

    channel: str

    def send(self, notification: Notification) -> None:
        """Deliver ``notification`` or raise Transient/PermanentDeliveryError."""

    def close(self) -> None:
        """Release connections; the notifier is not used afterwards."""
